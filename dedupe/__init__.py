"""dedupe: find copies, rewrites and teasers in news feeds, and group the rest by topic."""

from importlib.metadata import PackageNotFoundError, version

from dedupe.detector import Detector
from dedupe.settings import Settings
from dedupe.story import Report, Story, Verdict

try:
    __version__ = version("dedupe")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Detector", "Report", "Settings", "Story", "Verdict", "__version__"]

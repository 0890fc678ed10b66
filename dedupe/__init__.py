"""dedupe: find copies, rewrites and teasers in news feeds, and group the rest by topic."""

from dedupe.detector import Detector
from dedupe.settings import Settings
from dedupe.story import Report, Story, Verdict

__all__ = ["Detector", "Report", "Settings", "Story", "Verdict", "__version__"]


def __getattr__(name: str) -> str:
    # The version is looked up when asked for: importlib.metadata costs a pre-publication check
    # a tenth of its start-up.
    if name != "__version__":
        raise AttributeError(f"module 'dedupe' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dedupe")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"

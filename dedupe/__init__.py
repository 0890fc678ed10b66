"""dedupe: find copies, rewrites and teasers in news feeds, and group the rest by topic."""

from dedupe.detector import Detector
from dedupe.settings import Settings
from dedupe.story import Report, Story, Verdict

__all__ = ["Detector", "Report", "Settings", "Story", "Verdict"]

"""The two methods under test, run the same way and read into one shape.

Both the detector and the baseline answer with a ``Prediction``: groups (scored by
co-membership), the pairs they linked directly, and for the detector the relation of each pair
and the topics. Scoring code never looks at either method's own types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter

from benchmarks import baseline
from dedupe.story import Story


@dataclass(frozen=True, slots=True)
class Prediction:
    """What one method said about one corpus.

    ``groups`` holds (canonical, members) with the canonical among the members; ``pairs`` maps
    each directly linked pair (as a frozenset) to its relation, "match" for the baseline.
    """

    groups: tuple[tuple[str, frozenset[str]], ...]
    pairs: dict[frozenset[str], str]
    topics: tuple[frozenset[str], ...] = ()
    stories: int = 0
    seconds: float = 0.0
    group_of: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "group_of",
            {story_id: n for n, (_, members) in enumerate(self.groups) for story_id in members},
        )

    def same_group(self, a: str, b: str) -> bool:
        group = self.group_of.get(a)
        return group is not None and group == self.group_of.get(b)

    def linked(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.pairs


Method = Callable[[Sequence[Story], bool], Prediction]


def run_detector(stories: Sequence[Story], topics: bool) -> Prediction:
    """``Detector().scan`` with default settings: what users get."""
    from dedupe import Detector

    start = perf_counter()
    report = Detector().scan(list(stories), topics=topics)
    seconds = perf_counter() - start
    return Prediction(
        groups=tuple(
            (group.canonical, frozenset({group.canonical, *(m.id for m in group.members)}))
            for group in report.groups
        ),
        pairs={frozenset((pair.a, pair.b)): pair.relation for pair in report.pairs},
        topics=tuple(frozenset(topic.members) for topic in report.topics),
        stories=len(stories),
        seconds=seconds,
    )


def run_baseline(stories: Sequence[Story], topics: bool) -> Prediction:
    """The datasketch recipe; it has no topics, so ``topics`` is ignored."""
    start = perf_counter()
    result = baseline.scan(stories)
    seconds = perf_counter() - start
    return Prediction(
        groups=tuple((members[0], frozenset(members)) for members in result.groups),
        pairs={frozenset(pair): "match" for pair in result.pairs},
        stories=len(stories),
        seconds=seconds,
    )


METHODS: dict[str, Method] = {"dedupe": run_detector, "baseline": run_baseline}

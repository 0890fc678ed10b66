"""Scores of predicted groupings against labels.

Pairwise scores are counted from contingency tables rather than by listing pairs, so that a set
with clusters of hundreds (UCI) costs no more than one with pairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts of true positives, false positives and false negatives, and what follows."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        """2TP / (2TP + FP + FN): 0, not undefined, when positives exist and none was found."""
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else None


def pairs_within(sizes: Iterable[int]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def cluster_pair_scores(predicted: Mapping[str, Hashable], truth: Mapping[str, Hashable]) -> Scores:
    """Pairwise scores over every pair of the ids in ``truth``.

    ``predicted`` maps ids to a cluster; an id it lacks is a singleton. A pair is predicted when
    both ids share a cluster and true when both share a label.
    """
    predicted_cluster = {i: predicted.get(i, ("singleton", i)) for i in truth}
    both = pairs_within(Counter((predicted_cluster[i], truth[i]) for i in truth).values())
    said = pairs_within(Counter(predicted_cluster.values()).values())
    true = pairs_within(Counter(truth.values()).values())
    return Scores(tp=both, fp=said - both, fn=true - both)


def labelled_pair_scores(
    same_group: Callable[[str, str], bool], pairs: Iterable[tuple[str, str, bool]]
) -> Scores:
    """Pairwise scores over labelled pairs only: ``(a, b, is_positive)``.

    Unlabelled pairs count neither way, so this precision is over the labelled negatives.
    """
    tp = fp = fn = 0
    for a, b, positive in pairs:
        merged = same_group(a, b)
        tp += merged and positive
        fp += merged and not positive
        fn += positive and not merged
    return Scores(tp=tp, fp=fp, fn=fn)


def harmonic_mean(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def bcubed(predicted: Mapping[str, Hashable], truth: Mapping[str, Hashable]) -> tuple[float, float]:
    """B-cubed precision and recall (Bagga & Baldwin 1998), averaged over the ids in ``truth``.

    Per story: the share of its predicted cluster that truly belongs with it, and the share of
    its true cluster that was put with it. Unlike pair counts, big clusters do not dominate.
    """
    predicted_cluster = {i: predicted.get(i, ("singleton", i)) for i in truth}
    joint = Counter((predicted_cluster[i], truth[i]) for i in truth)
    predicted_size = Counter(predicted_cluster.values())
    true_size = Counter(truth.values())
    precision = recall = 0.0
    for i in truth:
        shared = joint[predicted_cluster[i], truth[i]]
        precision += shared / predicted_size[predicted_cluster[i]]
        recall += shared / true_size[truth[i]]
    return precision / len(truth), recall / len(truth)

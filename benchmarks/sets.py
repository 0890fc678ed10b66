"""The labelled sets: each builds its corpus, has every method scan it once, and scores the answers.

A set returns table rows: one metric, its value for each method, and the number of labelled items
it rests on. Corpora shared by two sets (BBC, Reuters) are scanned once per run.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations
from pathlib import Path

from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from benchmarks.baseline import connected_components
from benchmarks.data import (
    REPO_ROOT,
    Corpus,
    load_ag_news,
    load_bbc,
    load_reuters,
    load_semeval,
    load_uci,
    normalize_space,
)
from benchmarks.label_merges import (
    MERGE_LABELS,
    non_positive_merges,
    read_merge_labels,
    sample_of,
)
from benchmarks.label_reuters import LABELS_FILE, read_labels
from benchmarks.methods import Method, Prediction
from benchmarks.metrics import Scores, bcubed, cluster_pair_scores, harmonic_mean
from benchmarks.metrics import labelled_pair_scores as score_pairs
from benchmarks.variants import (
    LOOK_ALIKE,
    VARIANT_KINDS,
    SyndicationSet,
    make_syndication_set,
    spread_in_time,
)
from benchmarks.web_pages import web_pages
from dedupe.story import Story

Value = float | int | str | None

SYNDICATION_BASES = 600
SYNDICATION_DISTRACTORS = 400
# About 4.4 stories per base (variants at 0.6 each, look-alikes) plus the distractors.
SYNDICATION_STORIES = 3_000
# Which relation each variant should be reported with (a retitle keeps the text: either fits).
EXPECTED_RELATION = {
    "exact": {"exact"},
    "near-copy": {"near-duplicate"},
    "retitled": {"exact", "near-duplicate"},
    "rewrite": {"syndicated"},
    "teaser": {"teaser"},
}
# SemEval's Overall runs from 1 (same story) to 4; the middle is left out as undecided.
SEMEVAL_SAME = 1.5
SEMEVAL_DIFFERENT = 3.5
# A skipped WARC record's message starts with its page's URL; the reasons are counted without it.
PAGE_URL = re.compile(r"^\S+://\S*: ")
SEED_PAGE = REPO_ROOT / "seeds" / "feed-page.txt"
SEED_EXPECTED = REPO_ROOT / "seeds" / "expected.json"


@dataclass(frozen=True, slots=True)
class Row:
    set: str
    metric: str
    values: dict[str, Value]
    n: int | str


@dataclass
class Run:
    """One benchmark run: where the data is, the seed, the size cap and the methods compared."""

    data: Path
    seed: int
    limit: int | None
    methods: dict[str, Method]
    scans: dict[tuple[str, bool], dict[str, Prediction]] = field(default_factory=dict)

    def predict(
        self, corpus: str, stories: Sequence[Story], topics: bool = False
    ) -> tuple[dict[str, Prediction], bool]:
        """Every method's answer on a corpus, and whether it was scanned just now (not cached)."""
        key = (corpus, topics)
        fresh = key not in self.scans
        if fresh:
            self.scans[key] = {
                name: method(stories, topics) for name, method in self.methods.items()
            }
        return self.scans[key], fresh

    def sample(self, stories: Sequence[Story], keep: AbstractSet[str] = frozenset()) -> list[Story]:
        """At most ``limit`` stories: all of ``keep``, then others at random; in input order."""
        if self.limit is None or len(stories) <= self.limit:
            return list(stories)
        others = [s for s in stories if s.id not in keep]
        room = max(self.limit - (len(stories) - len(others)), 0)
        chosen = {s.id for s in random.Random(self.seed).sample(others, room)} | keep
        return [s for s in stories if s.id in chosen]


MetricFn = Callable[[Prediction], Value]


def rows_for(
    name: str,
    predictions: dict[str, Prediction],
    metrics: Iterable[tuple[str, MetricFn, int | str]],
    fresh: bool = False,
) -> list[Row]:
    """One row per metric with every method's value; a scan-time row when the scan was fresh."""
    rows = [
        Row(name, metric, {method: fn(p) for method, p in predictions.items()}, n)
        for metric, fn, n in metrics
    ]
    if fresh:
        size = max((p.stories for p in predictions.values()), default=0)
        rows.append(
            Row(name, "scan seconds", {m: f"{p.seconds:.1f}" for m, p in predictions.items()}, size)
        )
    return rows


def prf_metrics(
    label: str, score: Callable[[Prediction], Scores], n: int | str
) -> list[tuple[str, MetricFn, int | str]]:
    """Precision, recall and F1 rows from one scoring function."""
    return [
        (f"precision{label}", lambda p: score(p).precision, n),
        (f"recall{label}", lambda p: score(p).recall, n),
        (f"F1{label}", lambda p: score(p).f1, n),
    ]


def share(pairs: Sequence[tuple[str, str]], test: Callable[[str, str], bool]) -> float | None:
    return sum(test(a, b) for a, b in pairs) / len(pairs) if pairs else None


# --- syndication -------------------------------------------------------------------------------


def syndication_corpus(run: Run) -> SyndicationSet:
    """The variants of BBC articles, scaled down under ``--limit``."""
    scale = 1.0 if run.limit is None else min(1.0, run.limit / SYNDICATION_STORIES)
    return make_syndication_set(
        load_bbc(run.data).stories,
        bases=max(10, round(SYNDICATION_BASES * scale)),
        distractors=round(SYNDICATION_DISTRACTORS * scale),
        seed=run.seed,
    )


def syndication_metrics(
    corpus: SyndicationSet, scanned_id: Mapping[str, str] | None = None
) -> list[tuple[str, MetricFn, int | str]]:
    """The rows of ``syndication``. ``scanned_id`` maps a story's id in ``corpus`` to its id in
    the scan (a page read back gets an id of its own); a story missing from it was never scanned
    (a page lost), so its pairs count as missed."""

    def sid(story_id: str) -> str:
        return scanned_id.get(story_id, story_id) if scanned_id is not None else story_id

    truth = {sid(story_id): label for story_id, label in corpus.truth().items()}
    true_pairs = cluster_pair_scores({}, truth).fn
    by_kind = {
        kind: [(sid(v.base), sid(v.story.id)) for v in corpus.variants if v.kind == kind]
        for kind in (*VARIANT_KINDS, LOOK_ALIKE)
    }

    def relation_right(p: Prediction) -> float | None:
        linked = [
            (p.pairs[frozenset((sid(v.base), sid(v.story.id)))], v.kind)
            for v in corpus.variants
            if v.positive and p.linked(sid(v.base), sid(v.story.id))
        ]
        if not linked or all(relation == "match" for relation, _ in linked):
            return None
        return sum(relation in EXPECTED_RELATION[kind] for relation, kind in linked) / len(linked)

    metrics = prf_metrics(
        " (all pairs)", lambda p: cluster_pair_scores(p.group_of, truth), true_pairs
    )
    metrics += [
        (f"recall: {kind}", lambda p, k=kind: share(by_kind[k], p.same_group), len(by_kind[kind]))
        for kind in VARIANT_KINDS
    ]
    metrics += [
        (
            "look-alike false-merge rate",
            lambda p: share(by_kind[LOOK_ALIKE], p.same_group),
            len(by_kind[LOOK_ALIKE]),
        ),
        (
            "relation right (of linked copies)",
            relation_right,
            len(truth) - len(set(truth.values())),
        ),
    ]
    return metrics


def syndication(run: Run, name: str = "syndication") -> list[Row]:
    """Seeded variants of BBC articles (see ``variants.py``), scored over every pair; with
    ``syndication-dated``, each copy published 5 to 90 days after its source."""
    corpus = syndication_corpus(run)
    if name == "syndication-dated":
        corpus = spread_in_time(corpus, run.seed)
    predictions, fresh = run.predict(name, corpus.stories)
    return rows_for(name, predictions, syndication_metrics(corpus), fresh)


def syndication_web(run: Run) -> list[Row]:
    """The ``syndication`` stories as article pages of three site templates (``web_pages.py``),
    read back by ``dedupe.ingest.read`` from a folder of pages and from a WARC, each read story
    taken back to its label through its URL; both methods scan the stories read."""
    from dedupe.ingest import InputError, read

    corpus = syndication_corpus(run)
    rows = []
    with web_pages(corpus.stories, run.seed) as pages:
        id_of_url = {url: story_id for story_id, url in pages.url_of.items()}
        for source, path in (("pages", pages.folder), ("warc", pages.warc)):
            name = f"syndication-web ({source})"
            errors: list[InputError] = []
            stories = list(read([path], errors=errors))
            scanned_id = {id_of_url[s.url]: s.id for s in stories if s.url in id_of_url}
            reasons = Counter(PAGE_URL.sub("", e.message) for e in errors)
            predictions, fresh = run.predict(name, stories)
            lost = "; ".join(f"{count} {reason}" for reason, count in reasons.most_common())
            read_row = Row(
                name,
                "stories read / pages written",
                dict.fromkeys(predictions, f"{len(scanned_id)} / {len(pages.url_of)}"),
                f"{len(pages.url_of)}" + (f" (skipped: {lost})" if lost else ""),
            )
            metrics = syndication_metrics(corpus, scanned_id)
            rows += [read_row, *rows_for(name, predictions, metrics, fresh)]
    return rows


# --- exact duplicates --------------------------------------------------------------------------


def exact_truth(
    stories: Sequence[Story], split: AbstractSet[frozenset[str]] = frozenset()
) -> dict[str, Hashable]:
    """Each story's class: identical bodies (whitespace aside) share one, except pairs in
    ``split`` (hand-labelled *different* though identical)."""
    by_body: dict[str, list[str]] = {}
    for story in stories:
        by_body.setdefault(normalize_space(story.body), []).append(story.id)
    truth: dict[str, Hashable] = {}
    for ids in by_body.values():
        pairs = [(a, b) for a, b in combinations(ids, 2) if frozenset((a, b)) not in split]
        for component in connected_components(ids, pairs):
            truth.update(dict.fromkeys(component, component[0]))
        for story_id in ids:
            truth.setdefault(story_id, story_id)
    return truth


@dataclass(frozen=True, slots=True)
class Audit:
    """A method's merges that are not positives, and what the hand-labelled sample says of them.

    ``read`` is how many of the method's sampled pairs (its ``SAMPLE`` lowest-ranked, see
    ``label_merges.py``) carry a label; ``same`` how many of those are the same story.
    """

    merges: int
    sampled: int
    read: int
    same: int

    @property
    def true_share(self) -> float | None:
        return self.same / self.read if self.read else None


def audit(
    prediction: Prediction, truth: Mapping[str, Hashable], labels: Mapping[frozenset[str], bool]
) -> Audit:
    merges = non_positive_merges((members for _, members in prediction.groups), truth)
    sampled = sample_of(merges)
    read = [labels[frozenset(p)] for p in sampled if frozenset(p) in labels]
    return Audit(len(merges), len(sampled), len(read), sum(read))


def exact_rows(
    name: str,
    run: Run,
    corpus: str,
    stories: Sequence[Story],
    split: AbstractSet[frozenset[str]] = frozenset(),
    topics: bool = False,
) -> list[Row]:
    """Identical bodies (whitespace aside) as positives, except the pairs in ``split``.

    Precision against these positives is a lower bound: a merge of two different bodies counts
    as false even when the two are a real correction or rewrite. The audited rows correct it with
    a hand-labelled sample of each method's non-positive merges (``labels/*_merges.csv``).
    ``topics`` asks for the scan that the topics set will reuse.
    """
    truth = exact_truth(stories, split)
    predictions, fresh = run.predict(corpus, stories, topics=topics)
    true_pairs = cluster_pair_scores({}, truth).fn
    labels = read_merge_labels(MERGE_LABELS[name])
    audits = {id(p): audit(p, truth, labels) for p in predictions.values()}

    def score(p: Prediction) -> Scores:
        return cluster_pair_scores(p.group_of, truth)

    def audited_precision(p: Prediction) -> float | None:
        scores, found = score(p), audits[id(p)]
        if found.merges and found.true_share is None:
            return None
        merged = scores.tp + scores.fp
        right = scores.tp + (found.merges * found.true_share if found.merges else 0)
        return right / merged if merged else None

    read = "; ".join(
        f"{m}: read {a.read} of {a.merges}"
        + (f" ({a.sampled - a.read} drawn but unlabelled)" if a.read < a.sampled else "")
        for m, a in ((m, audits[id(p)]) for m, p in predictions.items())
    )
    metrics: list[tuple[str, MetricFn, int | str]] = [
        ("recall", lambda p: score(p).recall, true_pairs),
        ("precision (lower bound)", lambda p: score(p).precision, true_pairs),
        ("F1 (lower bound)", lambda p: score(p).f1, true_pairs),
        ("merged pairs that are not positives", lambda p: score(p).fp, len(stories)),
        (
            "same story among those read (audit)",
            lambda p: f"{audits[id(p)].same} of {audits[id(p)].read}",
            read,
        ),
        ("precision (audited)", audited_precision, read),
        (
            "F1 (audited)",
            lambda p: harmonic_mean(audited_precision(p), score(p).recall),
            read,
        ),
    ]
    return rows_for(name, predictions, metrics, fresh)


def bbc_stories(run: Run) -> tuple[list[Story], Corpus]:
    bbc = load_bbc(run.data)
    bodies = Counter(normalize_space(s.body) for s in bbc.stories)
    duplicated = {s.id for s in bbc.stories if bodies[normalize_space(s.body)] > 1}
    return run.sample(bbc.stories, keep=duplicated), bbc


def bbc_exact(run: Run) -> list[Row]:
    """BBC's own 136 pairs of identical bodies (36 of them under different headlines)."""
    stories, _ = bbc_stories(run)
    return exact_rows("bbc-exact", run, "bbc", stories, topics=True)


def reuters_labels() -> list[tuple[str, str, bool, str]]:
    return [
        (f"reuters-{r['newid_a']}", f"reuters-{r['newid_b']}", r["label"] == "same", r["kind"])
        for r in read_labels(LABELS_FILE)
    ]


def reuters_stories(run: Run) -> list[Story]:
    """All of Reuters, or under ``--limit`` the labelled and duplicated stories plus others."""
    stories = load_reuters(run.data)
    bodies = Counter(normalize_space(s.body) for s in stories)
    keep = {s.id for s in stories if bodies[normalize_space(s.body)] > 1}
    keep |= {story_id for a, b, _, _ in reuters_labels() for story_id in (a, b)}
    return run.sample(stories, keep=keep)


def reuters_split() -> set[frozenset[str]]:
    """Hand-labelled "different" pairs: not positives even where the bodies are identical."""
    return {frozenset((a, b)) for a, b, same, _ in reuters_labels() if not same}


def reuters_exact(run: Run) -> list[Row]:
    """Reuters' identical bodies; the hand-labelled "different" pairs among them (two companies'
    identical dividend notices, a weekly notice that reads the same) are not positives."""
    return exact_rows("reuters-exact", run, "reuters", reuters_stories(run), reuters_split())


def reuters_labelled(run: Run) -> list[Row]:
    """The hand-labelled Reuters pairs in ``labels/reuters_pairs.csv``, over the whole corpus."""
    labels = reuters_labels()
    predictions, fresh = run.predict("reuters", reuters_stories(run))
    pairs = [(a, b, same) for a, b, same, _ in labels]
    metrics = prf_metrics("", lambda p: score_pairs(p.same_group, pairs), len(pairs))
    metrics.append(("F1 (linked pairs)", lambda p: score_pairs(p.linked, pairs).f1, len(pairs)))
    kinds = Counter((same, kind) for _, _, same, kind in labels)
    for (same, kind), count in sorted(kinds.items(), key=lambda item: (not item[0][0], item[0][1])):
        of_kind = [(a, b) for a, b, s, k in labels if (s, k) == (same, kind)]
        metric = f"recall: {kind}" if same else f"false-merge rate: {kind}"
        metrics.append((metric, lambda p, pairs=of_kind: share(pairs, p.same_group), count))
    return rows_for("reuters-labelled", predictions, metrics, fresh)


# --- SemEval -----------------------------------------------------------------------------------


def semeval(run: Run) -> list[Row]:
    """SemEval-2022 Task 8 pairs, all texts scanned as one corpus, scored on the decided pairs."""
    decided = [
        p
        for p in load_semeval(run.data)
        if p.overall <= SEMEVAL_SAME or p.overall >= SEMEVAL_DIFFERENT
    ]
    stories = list({s.id: s for p in decided for s in (p.a, p.b)}.values())
    predictions, fresh = run.predict("semeval", stories)
    labelled = [(p.a.id, p.b.id, p.overall <= SEMEVAL_SAME) for p in decided]
    positives = sum(same for _, _, same in labelled)
    n = f"{positives}+{len(labelled) - positives}"
    metrics = prf_metrics("", lambda p: score_pairs(p.same_group, labelled), n)
    for language in sorted({p.language for p in decided}):
        subset = [
            (p.a.id, p.b.id, p.overall <= SEMEVAL_SAME) for p in decided if p.language == language
        ]
        same = sum(s for _, _, s in subset)
        metrics.append(
            (
                f"F1 {language}",
                lambda p, subset=subset: score_pairs(p.same_group, subset).f1,
                f"{same}+{len(subset) - same}",
            )
        )
    return rows_for("semeval", predictions, metrics, fresh)


# --- UCI ---------------------------------------------------------------------------------------


def uci(run: Run) -> list[Row]:
    """Headlines only; the aggregator's story clusters are the labels."""
    corpus = load_uci(run.data)
    stories = run.sample(corpus.stories)
    truth = {s.id: corpus.labels[s.id] for s in stories}
    predictions, fresh = run.predict("uci", stories)
    metrics = prf_metrics(
        " (pairs)",
        lambda p: cluster_pair_scores(p.group_of, truth),
        cluster_pair_scores({}, truth).fn,
    )

    def b3(p: Prediction) -> tuple[float, float]:
        return bcubed(p.group_of, truth)

    metrics += [
        ("B-cubed precision", lambda p: b3(p)[0], len(truth)),
        ("B-cubed recall", lambda p: b3(p)[1], len(truth)),
        ("B-cubed F1", lambda p: harmonic_mean(*b3(p)), len(truth)),
    ]
    return rows_for("uci", predictions, metrics, fresh)


# --- topics ------------------------------------------------------------------------------------


def topic_labels(prediction: Prediction, ids: Iterable[str]) -> list[str]:
    """Each story's topic: a group member takes its canonical's; a story in none is alone."""
    topic_of = {i: n for n, members in enumerate(prediction.topics) for i in members}
    labels = []
    for story_id in ids:
        group = prediction.group_of.get(story_id)
        anchor = prediction.groups[group][0] if group is not None else story_id
        topic = topic_of.get(anchor, topic_of.get(story_id))
        labels.append(f"t{topic}" if topic is not None else f"alone:{anchor}")
    return labels


def kmeans_reference(stories: Sequence[Story], k: int, seed: int) -> list[str]:
    """TF-IDF and k-means told the true number of classes: a yardstick, not a competitor."""
    vectors = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2, max_df=0.5)
    matrix = vectors.fit_transform([f"{s.title}\n{s.body}" for s in stories])
    return [str(c) for c in KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(matrix)]


def topic_rows(
    name: str, run: Run, corpus: str, stories: Sequence[Story], labels: Mapping[str, str]
) -> list[Row]:
    """ARI and NMI of the detector's topics, with the k-means yardstick in the baseline column."""
    predictions, fresh = run.predict(corpus, stories, topics=True)
    ids = [s.id for s in stories]
    truth = [labels[i] for i in ids]
    k = len(set(truth))
    reference = kmeans_reference(stories, k, run.seed)
    rows = []
    for metric, score in (("ARI", adjusted_rand_score), ("NMI", normalized_mutual_info_score)):
        values: dict[str, Value] = {
            m: score(truth, topic_labels(p, ids)) if m != "baseline" else score(truth, reference)
            for m, p in predictions.items()
        }
        rows.append(
            Row(name, f"{metric} (baseline column: TF-IDF k-means, k={k})", values, len(ids))
        )
    rows += rows_for(
        name,
        {m: p for m, p in predictions.items() if m != "baseline"},
        [
            ("topics found", lambda p: len(p.topics), len(ids)),
            (
                "share of stories in a topic",
                lambda p: sum(len(t) for t in p.topics) / len(ids),
                len(ids),
            ),
        ],
        fresh,
    )
    return rows


def topics(run: Run) -> list[Row]:
    """BBC sections and AG News classes against the detector's topics (``scan(topics=True)``)."""
    stories, bbc = bbc_stories(run)
    ag = load_ag_news(run.data)
    return [
        *topic_rows("topics (BBC)", run, "bbc", stories, bbc.labels),
        *topic_rows("topics (AG News)", run, "ag-news", run.sample(ag.stories), ag.labels),
    ]


# --- seed --------------------------------------------------------------------------------------


def expected_groups(path: Path) -> set[frozenset[str]]:
    """The groups of ``seeds/expected.json``: a version 1 report (members as ids or as
    {"id": ...}), or simply {"groups": [[id, ...], ...]}."""
    report = json.loads(path.read_text(encoding="utf-8"))
    groups = set()
    for group in report["groups"]:
        if isinstance(group, list):
            groups.add(frozenset(group))
            continue
        members = {m if isinstance(m, str) else m["id"] for m in group["members"]}
        if group.get("canonical"):
            members.add(group["canonical"])
        groups.add(frozenset(members))
    return groups


def seed(run: Run) -> list[Row]:
    """The seed feed page read by ``dedupe.ingest.read``: are its groups exactly the expected?"""
    from dedupe.ingest import read

    stories = list(read([SEED_PAGE]))
    predictions, _ = run.predict("seed", stories)
    if not SEED_EXPECTED.exists():
        missing = "n/a (no seeds/expected.json)"
        return [
            Row("seed", "groups exactly right", dict.fromkeys(predictions, missing), len(stories))
        ]
    expected = expected_groups(SEED_EXPECTED)
    expected_pairs = [(a, b, True) for group in expected for a in group for b in group if a < b]

    def exactly_right(p: Prediction) -> str:
        return "yes" if {members for _, members in p.groups} == expected else "no"

    return rows_for(
        "seed",
        predictions,
        [
            ("groups exactly right", exactly_right, len(stories)),
            (
                "expected pairs found",
                lambda p: score_pairs(p.same_group, expected_pairs).recall,
                len(expected_pairs),
            ),
            (
                "pairs merged beyond expected",
                lambda p: (
                    sum(len(m) * (len(m) - 1) // 2 for _, m in p.groups)
                    - score_pairs(p.same_group, expected_pairs).tp
                ),
                len(stories),
            ),
        ],
    )


SETS: dict[str, Callable[[Run], list[Row]]] = {
    "syndication": syndication,
    "syndication-dated": partial(syndication, name="syndication-dated"),
    "syndication-web": syndication_web,
    "bbc-exact": bbc_exact,
    "reuters-exact": reuters_exact,
    "reuters-labelled": reuters_labelled,
    "semeval": semeval,
    "uci": uci,
    "topics": topics,
    "seed": seed,
}

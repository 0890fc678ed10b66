"""The one entry point: ``Detector``, used alike by the CLI, by crawlers and by the benchmarks.

``scan`` is the batch job over a corpus; ``check`` and ``add`` answer for one story at a time
against an index of what was published.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from dedupe.fingerprint import Fingerprint, fingerprint, fingerprint_story
from dedupe.group import group_pairs
from dedupe.index import Index, band_keys, candidate_pairs
from dedupe.settings import Settings
from dedupe.storage import open_storage
from dedupe.story import Match, Pair, Report, Story, Verdict
from dedupe.verify import verify

log = logging.getLogger("dedupe")


def _unique_ids(stories: Iterable[Story]) -> list[Story]:
    """Stories sorted by id, with one entry per id.

    The same record given twice counts once. Different stories under one id are all kept: the
    one whose content hashes lowest keeps the id and the others get ``id~2``, ``id~3``, ..., so
    the outcome does not depend on input order.
    """
    by_id: defaultdict[str, dict[str, Story]] = defaultdict(dict)
    for story in stories:
        content = hashlib.blake2b(repr(story.to_dict()).encode("utf-8"), digest_size=8).hexdigest()
        by_id[story.id].setdefault(content, story)
    unique: list[Story] = []
    for story_id, versions in by_id.items():
        ordered = [versions[k] for k in sorted(versions)]
        if len(ordered) > 1:
            log.warning(
                "%d different stories share the id %r; renamed %s~2...",
                len(ordered),
                story_id,
                story_id,
            )
        unique.append(ordered[0])
        for number, story in enumerate(ordered[1:], start=2):
            unique.append(replace(story, id=f"{story_id}~{number}"))
    return sorted(unique, key=lambda s: s.id)


class Detector:
    """Finds copies, rewrites and teasers of news stories.

    Args:
        index: where published stories are kept for ``check`` and ``add``; None keeps them in
            memory. Opened on first use, so making a Detector costs nothing.
        settings: the tunables; the defaults are the benchmarked ones.

    Example:
        >>> detector = Detector()
        >>> detector.add(Story(id="a", title="Rates held", body="The bank held rates at 4%."))
        Verdict(story_id='a', matches=())
    """

    def __init__(self, index: str | None = None, settings: Settings | None = None) -> None:
        self.index = index
        self.settings = settings if settings is not None else Settings()
        self._index: Index | None = None

    @property
    def index_(self) -> Index:
        if self._index is None:
            self._index = Index(open_storage(self.index), self.settings)
        return self._index

    # --- batch -------------------------------------------------------------------------------

    def scan(
        self,
        stories: Iterable[Story],
        *,
        topics: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Report:
        """Group the copies in a corpus and cluster the rest into topics.

        ``progress`` is called with the number of stories fingerprinted since the last call.
        """
        settings = self.settings
        unique = _unique_ids(stories)
        fps = self._fingerprint(unique, progress)
        by_id = {fp.id: fp for fp in fps}

        copies: defaultdict[str, list[str]] = defaultdict(list)
        classes: defaultdict[str, list[Fingerprint]] = defaultdict(list)
        for fp in fps:
            classes[fp.text_key].append(fp)
        reps: list[Fingerprint] = []
        for same_text in classes.values():
            rep = min(same_text, key=self._fitness(set()))
            reps.append(rep)
            copies[rep.id] = sorted(fp.id for fp in same_text if fp is not rep)
        reps.sort(key=lambda fp: fp.id)

        pairs: list[Pair] = []
        keys = band_keys(reps, settings)
        for i, j in candidate_pairs(keys, settings.max_bucket):
            pair = verify(reps[i], reps[j], settings)
            if pair is not None:
                pairs.append(pair)

        teasers = {p.b for p in pairs if p.relation == "teaser"}
        key = self._fitness(teasers)
        groups, kept = group_pairs(pairs, copies, lambda i: key(by_id[i]))

        found_topics: tuple = ()
        if settings.topics if topics is None else topics:
            from dedupe.topics import cluster_topics

            grouped = {m.id for g in groups for m in g.members}
            docs = [
                (fp.id, fp.title_words + fp.words)
                for fp in fps
                if fp.id not in grouped or any(g.canonical == fp.id for g in groups)
            ]
            found_topics = cluster_topics(docs, settings)
        return Report(
            stories=len(fps),
            groups=groups,
            pairs=kept,
            topics=found_topics,
            titles={fp.id: fp.story.title for fp in fps},
        )

    def _fingerprint(
        self, stories: Sequence[Story], progress: Callable[[int], None] | None
    ) -> list[Fingerprint]:
        fps: list[Fingerprint] = []
        step = 1000
        for start in range(0, len(stories), step):
            fps.extend(fingerprint(stories[start : start + step], self.settings))
            if progress is not None:
                progress(min(step, len(stories) - start))
        return fps

    @staticmethod
    def _fitness(teasers: set[str]) -> Callable[[Fingerprint], tuple]:
        """How fit a story is to be its group's original, lowest first: not a teaser, earliest
        published, fullest, then by id."""
        latest = datetime.max.replace(tzinfo=UTC)

        def key(fp: Fingerprint) -> tuple:
            published = fp.published
            is_teaser = fp.truncated or fp.id in teasers
            return (is_teaser, published is None, published or latest, -fp.size, fp.id)

        return key

    # --- one story at a time -----------------------------------------------------------------

    def check(self, story: Story) -> Verdict:
        """Was this story already published? Looks in the index; stores nothing."""
        fp = fingerprint_story(story, self.settings)
        return Verdict(story.id, self._matches(fp, self.index_.candidates(fp)))

    def add(self, story: Story, *, only_new: bool = False) -> Verdict:
        """Store a story and say whether it was already published.

        Storing comes first and is atomic; the story is then checked against the stories that
        arrived before it. So of two copies offered at once, by threads or processes sharing one
        index, exactly one is new. With ``only_new``, a story found published is removed again.
        A story whose id is held is never stored twice.
        """
        fp = fingerprint_story(story, self.settings)
        seq = self.index_.add([fp])[0]
        if seq is None:
            return Verdict(story.id, self._matches(fp, self.index_.candidates(fp)))
        verdict = Verdict(story.id, self._matches(fp, self.index_.candidates(fp, before=seq)))
        if only_new and verdict.is_duplicate:
            self.index_.storage.remove([story.id])
        return verdict

    def add_many(self, stories: Iterable[Story]) -> int:
        """Store stories without checking them (bulk loading); returns how many were new."""
        fps = fingerprint(_unique_ids(stories), self.settings)
        return sum(seq is not None for seq in self.index_.add(fps))

    def _matches(self, fp: Fingerprint, candidates: Sequence[Story]) -> tuple[Match, ...]:
        matches = []
        for other in fingerprint(candidates, self.settings):
            pair = verify(other, fp, self.settings)
            if pair is not None:
                title = other.story.title
                matches.append(Match(other.id, pair.relation, pair.score, pair.evidence, title))
        return tuple(sorted(matches, key=lambda m: (-m.score, m.story_id)))

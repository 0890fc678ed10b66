"""The one entry point: ``Detector``, used alike by the CLI, by crawlers and by the benchmarks.

``scan`` is the batch job over a corpus; ``check`` and ``add`` answer for one story at a time
against an index of what was published.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from dedupe.fingerprint import Fingerprint, fingerprint
from dedupe.group import exact_copies, group_pairs, original_first
from dedupe.index import Index, band_keys, candidate_pairs
from dedupe.pipeline import version_names
from dedupe.settings import Settings
from dedupe.storage import IndexStats, UnstorableStory, open_storage
from dedupe.story import Pair, Report, Story, Topic, Verdict
from dedupe.verify import dated, explain, verify

log = logging.getLogger("dedupe")

# Stories are fingerprinted in batches of this many: big enough for numpy to pay, small enough
# that a batch in flight per worker costs little memory.
BATCH = 1000


def story_digest(story: Story) -> bytes:
    """A stable digest of a record's every field: two records under one id are one story only
    when their digests agree."""
    return hashlib.blake2b(repr(story.to_dict()).encode("utf-8"), digest_size=16).digest()


def fingerprint_batch(job: tuple[list[Story], Settings]) -> tuple[list[Fingerprint], np.ndarray]:
    """Fingerprints and band keys of a batch: the unit of work of every engine's workers."""
    stories, settings = job
    fps = fingerprint(stories, settings)
    return fps, band_keys(fps, settings)


class _Clock:
    """Logs how long each stage of a scan took (``dedupe -v``): where a big corpus spends it."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self, message: str, *args: object) -> None:
        now = time.perf_counter()
        log.info(message + " (%.1f s)", *args, now - self._last)
        self._last = now


class _Spill:
    """The scanned stories, in a temporary file: only the few whose matches are explained are
    read back, so a scan's memory does not grow with the texts. Not compressed: compressing each
    story took a third of the loop that reads the input (100k stories), and the file is on disk."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()
        self._where: list[tuple[int, int]] = []

    def add(self, story: Story) -> int:
        data = pickle.dumps(story, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(0, 2)
        self._where.append((self._file.tell(), len(data)))
        self._file.write(data)
        return len(self._where) - 1

    def __getitem__(self, number: int) -> Story:
        offset, size = self._where[number]
        self._file.seek(offset)
        # Our own temporary file, written by this process a moment ago: nothing foreign to unpickle.
        return pickle.loads(self._file.read(size))

    def __len__(self) -> int:
        return len(self._where)

    def close(self) -> None:
        self._file.close()


class Detector:
    """Finds copies, rewrites and teasers of news stories.

    Args:
        index: where published stories are kept for ``check`` and ``add``; None keeps them in
            memory. Opened on first use, so making a Detector costs nothing.
        settings: the tunables; the defaults are the benchmarked ones.
        jobs: processes that fingerprint in parallel during ``scan``; None (the default) uses
            one per core, 1 stays in this process. A corpus of one batch stays in this process.
        create_index: make the index on first use if it does not exist yet, as a crawler that
            adds wants; False opens only an existing index, so that a mistyped path or prefix
            is refused (``StorageError``) rather than taken for an empty archive.

    Example:
        >>> detector = Detector()
        >>> detector.add(Story(id="a", title="Rates held", body="The bank held rates at 4%."))
        Verdict(story_id='a', matches=())
    """

    def __init__(
        self,
        index: str | None = None,
        settings: Settings | None = None,
        jobs: int | None = None,
        *,
        create_index: bool = True,
    ) -> None:
        self.index = index
        self.settings = settings if settings is not None else Settings()
        self.jobs = jobs
        self.create_index = create_index
        self._index: Index | None = None
        self._index_lock = threading.Lock()

    @property
    def index_(self) -> Index:
        """The index, opened on first use: by one thread only, however many ask at once (each
        would otherwise open an index of its own, and a memory index would lose stories)."""
        index = self._index
        if index is None:
            with self._index_lock:
                if self._index is None:
                    storage = open_storage(self.index, self.create_index)
                    self._index = Index(storage, self.settings)
                index = self._index
        return index

    # --- batch -------------------------------------------------------------------------------

    def scan(
        self,
        stories: Iterable[Story],
        *,
        topics: bool | None = None,
        progress: Callable[[int], None] | None = None,
        texts: bool = False,
    ) -> Report:
        """Group the copies in a corpus and cluster the rest into topics.

        ``stories`` is read once, as a stream. ``progress`` is called with the number of stories
        fingerprinted since its last call. ``texts``: keep the grouped stories in
        ``Report.texts``, for a report that shows them (HTML); a scan otherwise holds no texts.
        """
        spill = _Spill()
        try:
            return self._scan(
                stories, spill, self.settings.topics if topics is None else topics, progress, texts
            )
        finally:
            spill.close()

    def _scan(
        self,
        stories: Iterable[Story],
        spill: _Spill,
        topics: bool,
        progress: Callable[[int], None] | None,
        texts: bool,
    ) -> Report:
        settings = self.settings
        clock = _Clock()
        fps, keys, places, folded = self._fingerprint_all(stories, spill, progress)
        clock.lap("read and fingerprinted %d stories", len(fps))
        by_id = {fp.id: fp for fp in fps}

        reps, copies = exact_copies(fps, settings)
        candidates = candidate_pairs(keys[reps], settings.max_bucket)
        clock.lap("%d candidate pairs", len(candidates))
        pairs: list[Pair] = []
        for i, j in candidates:
            pair = verify(fps[reps[i]], fps[reps[j]], settings)
            if pair is not None:
                pairs.append(pair)
        clock.lap("verified: %d pairs accepted", len(pairs))

        fitness = original_first({p.b for p in pairs if p.relation == "teaser"})
        groups, kept = group_pairs(pairs, copies, lambda i: fitness(by_id[i]))
        # The word hashes served verification and grouping; evidence reads the spilled texts and
        # topics the topic words, so a million stories' hashes (gigabytes) can go now.
        del keys, candidates
        for fp in fps:
            fp.forget_words()
        kept = tuple(
            explain(p, spill[places[p.a]], spill[places[p.b]], settings)
            if p.relation != "exact"
            else dated(p, by_id[p.a].published, by_id[p.b].published)
            for p in kept
        )
        clock.lap("%d groups, %d pairs explained", len(groups), len(kept))

        found_topics: tuple[Topic, ...] = ()
        if topics:
            from dedupe.topics import cluster_topics

            grouped = {m.id for g in groups for m in g.members}
            canonicals = {g.canonical for g in groups}
            docs = [
                (fp.id, fp.topic_words) for fp in fps if fp.id not in grouped or fp.id in canonicals
            ]
            found_topics = cluster_topics(docs, settings)
            clock.lap("%d topics", len(found_topics))
        grouped_texts: dict[str, Story] = {}
        if texts:
            for member in (m for g in groups for m in g.members):
                story = spill[places[member.id]]
                # A story renamed for sharing its id with another (``id~2``) keeps its new name.
                grouped_texts[member.id] = (
                    story if story.id == member.id else replace(story, id=member.id)
                )
        return Report(
            stories=len(fps),
            groups=groups,
            pairs=kept,
            topics=found_topics,
            folded=folded,
            titles={fp.id: fp.title for fp in fps},
            texts=grouped_texts,
        )

    def _fingerprint_all(
        self,
        stories: Iterable[Story],
        spill: _Spill,
        progress: Callable[[int], None] | None,
    ) -> tuple[list[Fingerprint], np.ndarray, dict[str, int], int]:
        """Fingerprints and band keys of every story, in id order, where each story was spilled,
        and how many records were folded.

        Every record read is a story, with one exception: a record that repeats an id given to it
        (or its url) with the very same fields is the same story read twice (one feed fetched
        twice) and is folded into it. Identical records with no id or url are distinct stories,
        exact copies of each other. Stories that share an id keep distinct names (``id~2``, ...:
        ``version_names``), given in the order of their records' digests so that the outcome does
        not depend on input order.
        """
        fps: list[Fingerprint] = []
        key_batches: list[np.ndarray] = []
        spilled: list[int] = []
        first_of: dict[str, int] = {}
        versions: defaultdict[str, list[int]] = defaultdict(list)
        folded = 0
        # Digests of the records whose id repeats, by spill number: each is read back and hashed
        # once, however many repeats meet it.
        digests: dict[int, bytes] = {}

        def digest_of(number: int) -> bytes:
            if number not in digests:
                digests[number] = story_digest(spill[number])
            return digests[number]

        def batches() -> Iterator[list[Story]]:
            nonlocal folded
            batch: list[Story] = []
            for story in stories:
                seen = first_of.get(story.id)
                if seen is None:
                    first_of[story.id] = spill.add(story)
                else:
                    digest = story_digest(story)
                    if not story.id_from_content:
                        known = [seen, *versions.get(story.id, ())]
                        if any(digest_of(k) == digest for k in known):
                            folded += 1
                            continue
                    number = spill.add(story)
                    digests[number] = digest
                    versions[story.id].append(number)
                spilled.append(len(spill) - 1)
                batch.append(story)
                if len(batch) == BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        for batch_fps, batch_keys in self._map_batches(batches()):
            for fp in batch_fps:
                # Words come back from a worker as new strings per batch: keeping one copy of each
                # word saved a fifth of the memory per story on 30,000 stories of the 1M corpus.
                fp.topic_words = tuple(map(sys.intern, fp.topic_words))
            fps.extend(batch_fps)
            key_batches.append(batch_keys)
            if progress is not None:
                progress(len(batch_fps))

        if folded:
            log.warning("folded %d record(s) that repeat another's id and every field", folded)
        where = {spill_number: n for n, spill_number in enumerate(spilled)} if versions else {}
        names = version_names(
            {story_id: 1 + len(extra) for story_id, extra in versions.items()}, first_of
        )
        for story_id, extra in versions.items():
            numbers = sorted([first_of[story_id], *extra], key=digest_of)
            if not spill[numbers[0]].id_from_content:
                log.warning(
                    "%d different stories share the id %r; renamed %s",
                    len(numbers),
                    story_id,
                    ", ".join(names[story_id][1:]),
                )
            for spill_number, name in zip(numbers, names[story_id], strict=True):
                fps[where[spill_number]].id = name

        order = sorted(range(len(fps)), key=lambda n: fps[n].id)
        keys = np.concatenate(key_batches) if key_batches else np.zeros((0, 0), dtype=np.uint64)
        places = {fps[n].id: spilled[n] for n in order}
        return [fps[n] for n in order], keys[order], places, folded

    def _map_batches(
        self, batches: Iterator[list[Story]]
    ) -> Iterator[tuple[list[Fingerprint], np.ndarray]]:
        """Fingerprint batches, in parallel when ``jobs`` > 1, in order, with at most two batches
        per worker in flight so that reading never runs far ahead of fingerprinting."""
        jobs = self.jobs or os.cpu_count() or 1
        first = next(batches, None)
        second = next(batches, None) if jobs > 1 else None
        if second is None:
            # One batch (a draft, a small feed): starting workers would cost more than it saves.
            for batch in itertools.chain([first] if first else [], batches):
                yield fingerprint_batch((batch, self.settings))
            return
        batches = itertools.chain([first, second], batches)
        # Workers ignore Ctrl-C and leave it to this process, which ends the pool on the way out:
        # a terminal sends SIGINT to every process of the job, and each worker printed a traceback.
        ignore_interrupts = (signal.SIGINT, signal.SIG_IGN)
        context = multiprocessing.get_context()
        with context.Pool(jobs, signal.signal, ignore_interrupts) as pool:
            pending: deque = deque()
            for batch in batches:
                pending.append(pool.apply_async(fingerprint_batch, ((batch, self.settings),)))
                if len(pending) >= 2 * jobs:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

    # --- one story at a time -----------------------------------------------------------------

    def check(self, story: Story) -> Verdict:
        """Was this story already published? Looks in the index; stores nothing."""
        return self.index_.check(story)

    def add(self, story: Story, *, only_new: bool = False) -> Verdict:
        """Store a story and say whether it was already published.

        Storing comes first and is atomic; the story is then checked against the stories that
        arrived before it. So of two copies offered at once, by threads or processes sharing one
        index, exactly one is new. With ``only_new``, a story found published is removed again.
        A story whose id is held is never stored twice.

        Raises:
            UnstorableStory: the story cannot be stored as given (text that is not valid
                Unicode, extra fields JSON cannot hold); the message names it.
        """
        return self.index_.add(story, only_new=only_new)

    def add_many(
        self, stories: Iterable[Story], *, errors: list[UnstorableStory] | None = None
    ) -> int:
        """Store stories without checking them (bulk loading); returns how many were new.

        A story that cannot be stored (see ``add``) never costs the others their place: the
        rest of its batch is stored. With ``errors``, its error is appended there and loading
        goes on; without, it is raised once its batch is stored.
        """
        added = 0
        stream = iter(stories)
        while batch := list(itertools.islice(stream, BATCH)):
            added += self.index_.add_many(batch, errors)
        return added

    def remove(self, ids: Sequence[str]) -> int:
        """Forget stories by id; how many were held."""
        return self.index_.remove(ids)

    def prune(self, before: datetime) -> int:
        """Forget the stories published (else added) before ``before``: an index of news need
        not grow forever."""
        return self.index_.prune(before)

    def stats(self) -> IndexStats:
        return self.index_.stats()

    def stored(self, ids: Sequence[str]) -> list[Story]:
        """The stored stories with these ids, in their order; ids not held are left out. A
        verdict names its matches; a report that shows their texts reads them here."""
        return self.index_.stored(ids)

    def close(self) -> None:
        """Release the index's connections; what it holds stays."""
        with self._index_lock:
            index, self._index = self._index, None
        if index is not None:
            index.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

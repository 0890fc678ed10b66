"""The one entry point: ``Detector``, used alike by the CLI, by crawlers and by the benchmarks.

``scan`` is the batch job over a corpus; ``check`` and ``add`` answer for one story at a time
against an index of what was published.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import signal
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from dedupe.fingerprint import Prints
from dedupe.index import Index
from dedupe.ingest import ByteBlock, InputError, LineBlock, Reading
from dedupe.pipeline import (
    Stage,
    explained,
    find_groups,
    fingerprint_batch,
    load_compiled,
    pair_rows,
    passages,
    report_groups,
    report_pairs,
    story_digest,
    topic_rows,
    version_names,
)
from dedupe.rows import release_freed, scatter_order
from dedupe.settings import Settings
from dedupe.spill import Spill, SpillFile, read_spilled, read_spilled_texts, write_spilled
from dedupe.storage import IndexStats, UnstorableStory, open_storage
from dedupe.story import Report, Story, Topic, Verdict
from dedupe.verify import Verified, explain_texts

if TYPE_CHECKING:
    import multiprocessing.pool

log = logging.getLogger("dedupe")

# Stories are fingerprinted in batches of this many: big enough for the compiled loops to pay,
# small enough that a batch in flight per worker costs little memory.
BATCH = 1000
# Pairs a worker explains at once: the texts it reads back and tokenizes for them are held until
# it is done (some 100 MB for 4,000 pairs, a gigabyte for a million stories' pairs in 8 parts).
_PAIRS_PER_JOB = 4000


@dataclass(frozen=True, slots=True)
class _Read:
    """What a scan keeps of the stories it read, beside their fingerprints and band keys, row by
    row in id order: ids, titles, and each story's number in the spill; how many records were
    folded, and the text of the topic words."""

    ids: list[str]
    titles: list[str]
    numbers: np.ndarray
    folded: int
    words: dict[int, str]


class _Clock:
    """Logs how long each stage of a scan took, the CPU time this process spent on it (beside
    the wall time, it tells whether this process or its workers held the stage up), and the most
    memory this process has held so far (``dedupe -v``): where a big corpus spends them."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self._cpu = time.process_time()

    def lap(self, message: str, *args: object) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        log.info(
            message + " (%.1f s, %.1f s CPU here, peak %s)",
            *args, now - self._last, cpu - self._cpu, _peak_memory(),
        )  # fmt: skip
        self._last, self._cpu = now, cpu


def _peak_memory() -> str:
    """The peak resident memory of this process, for people: "1.2 GB"."""
    try:
        import resource
    except ImportError:  # Windows
        return "unknown"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux counts kilobytes, macOS bytes.
    return f"{peak / (2**30 if sys.platform == 'darwin' else 2**20):.1f} GB"


@dataclass(frozen=True, slots=True)
class _Batch:
    """A batch of stories fingerprinted: fingerprints, band keys, the topic words this process
    had not sent before (so that each word's text crosses once), what a scan keeps of each story,
    where the stories are spilled (``places`` in ``file``), and for a block of lines what each
    of its records was (``outcomes``: None for a story, else its error)."""

    prints: Prints
    keys: np.ndarray
    words: list[tuple[int, str]]
    ids: list[str]
    titles: list[str]
    from_content: list[bool]
    file: SpillFile
    places: np.ndarray
    outcomes: list[InputError | None]


# The topic words each process has sent, by scan (its spill folder): the main process runs many
# scans, and a worker inherits what the main process already holds.
_SENT: dict[str, dict[int, str]] = {}
# True in a scan's worker processes (``_worker_started``).
_IN_WORKER = False


def _fingerprint_spilled(
    directory: str,
    file: SpillFile,
    places: np.ndarray,
    settings: Settings,
    topics: bool,
    stories: list[Story] | None = None,
) -> _Batch:
    """A batch of stories that the main process read and spilled: read back from the spill in
    a worker, as they are (``stories``) in the main process."""
    if stories is None:
        none = np.zeros(len(places), np.int64)
        stories = read_spilled([file], np.column_stack([none, places, none]))
    return _batch(directory, stories, file, places, [], settings, topics)


def _fingerprint_lines(
    directory: str, block: LineBlock | ByteBlock, settings: Settings, topics: bool
) -> _Batch:
    """A block of JSON Lines, parsed here (reading's costliest part, done by the workers side
    by side). Copied lines are found again in their copy; other lines' stories are spilled to
    this process's own file."""
    if isinstance(block, ByteBlock):
        items, places = block.parse()
        file = SpillFile(block.path, block.source, block.encoding)
        stories = [item for item in items if isinstance(item, Story)]
    else:
        items = block.parse()
        stories = [item for item in items if isinstance(item, Story)]
        file, places = write_spilled(directory, stories)
    outcomes = [None if isinstance(item, Story) else item for item in items]
    return _batch(directory, stories, file, places, outcomes, settings, topics)


def _batch(
    directory: str,
    stories: list[Story],
    file: SpillFile,
    places: np.ndarray,
    outcomes: list[InputError | None],
    settings: Settings,
    topics: bool,
) -> _Batch:
    words = _SENT.setdefault(directory, {}) if topics else None
    known = len(words) if words is not None else 0
    prints, keys = fingerprint_batch(stories, settings, words)
    if _IN_WORKER:
        # A worker's arrays of one batch, freed, are kept by glibc for the next (some 100 MB of
        # a worker's, held through the rest of the scan once reading is done): given back.
        release_freed()
    return _Batch(
        prints,
        keys,
        list(itertools.islice(words.items(), known, None)) if words else [],
        [story.id for story in stories],
        [story.title for story in stories],
        [story.id_from_content for story in stories],
        file,
        places,
        outcomes,
    )


def _worker_started() -> None:
    """A worker process's start: it ignores Ctrl-C and leaves it to the main process, which ends
    the pool on the way out (a terminal sends SIGINT to every process of the job, and each
    worker printed a traceback)."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _explain_spilled(
    files: list[SpillFile], places: np.ndarray, pairs: np.ndarray, settings: Settings
) -> list[tuple[str, ...]]:
    """A worker's share of the shared passages: pairs of the stories at these places, of which
    only the texts are read back."""
    return explain_texts(read_spilled_texts(files, places), pairs, settings)


def _load_topics() -> None:
    """Import the topics stage while the workers fingerprint: this process mostly waits for
    them then, and importing scikit-learn is a second of the topics stage otherwise."""
    from dedupe.topics import load_partition

    load_partition()


class _Pending(Mapping[int, tuple[str, ...]]):
    """Shared passages that the workers are finding, pair by pair, waited for when first read."""

    def __init__(self, jobs: list[tuple[np.ndarray, multiprocessing.pool.AsyncResult]]) -> None:
        self._jobs = jobs
        self._found: dict[int, tuple[str, ...]] | None = None

    def _all(self) -> dict[int, tuple[str, ...]]:
        if self._found is None:
            self._found = {
                k: shared
                for part, job in self._jobs
                for k, shared in zip(part.tolist(), job.get(), strict=True)
            }
        return self._found

    def __getitem__(self, pair: int) -> tuple[str, ...]:
        return self._all()[pair]

    def __iter__(self) -> Iterator[int]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


class _Workers:
    """The worker processes of one scan, started only when it has more than one batch and
    kept for its end (explaining), then ended."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.pool: multiprocessing.pool.Pool | None = None

    def start(self) -> multiprocessing.pool.Pool:
        if self.pool is None:
            # Imported here: a draft's check never starts workers.
            import multiprocessing

            context = multiprocessing.get_context()
            self.pool = context.Pool(self.jobs, _worker_started)
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


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
        stage: Callable[[Stage, int], None] | None = None,
    ) -> Report:
        """Group the copies in a corpus and cluster the rest into topics.

        ``stories`` is read once, as a stream. ``progress`` is called with the number of stories
        fingerprinted since its last call. ``texts``: keep the grouped stories in
        ``Report.texts``, for a report that shows them (HTML); a scan otherwise holds no texts.
        ``stage`` is told, once reading is done, of each stage as it starts, with how many
        things it works on, so that a display can say what a long scan is doing:
        ``("candidates", stories)``, ``("verifying", candidate pairs)``, ``("grouping",
        accepted pairs)``, ``("explaining", pairs reported)``, then with topics ``("topics",
        stories clustered)`` and with texts ``("texts", stories grouped)``.
        """
        spill = Spill()
        workers = _Workers(self.jobs or os.cpu_count() or 1)
        collecting = gc.isenabled()
        # A scan makes millions of objects that live until its end (records, the report's
        # members and pairs) and no cycles: collecting them again and again, in this process and
        # in the workers forked from it, cost a tenth of a scan.
        gc.disable()
        try:
            topics = self.settings.topics if topics is None else topics
            stage = stage or (lambda name, count: None)
            return self._scan(stories, spill, workers, topics, progress, texts, stage)
        finally:
            workers.close()
            spill.close()
            _SENT.pop(spill.directory, None)
            if collecting:
                gc.enable()

    def _scan(
        self,
        stories: Iterable[Story],
        spill: Spill,
        workers: _Workers,
        topics: bool,
        progress: Callable[[int], None] | None,
        texts: bool,
        stage: Callable[[Stage, int], None],
    ) -> Report:
        settings = self.settings
        clock = _Clock()
        prints, keys, read = self._fingerprint_all(stories, spill, workers, topics, progress)
        ids, numbers = read.ids, read.numbers
        clock.lap("read and fingerprinted %d stories", len(ids))
        verified, grouped = find_groups(prints, keys, settings, clock.lap, stage)
        # Word hashes and band keys served verification and grouping; a million stories' worth
        # (gigabytes) can go before the texts are read back.
        topic_words, published = prints.topic_words, prints.published
        del prints, keys
        release_freed()
        wanted = explained(grouped, verified)
        stage("explaining", len(wanted))
        # The workers find the passages while this process makes the groups and the topics'
        # partition; the pairs are made once the passages come.
        shared = self._passages(verified, wanted, numbers, spill, workers)
        groups = report_groups(grouped, verified, ids)
        clock.lap("%d groups", len(groups))

        found_topics: tuple[Topic, ...] = ()
        if topics:
            from dedupe.topics import cluster_topics

            rows = topic_rows(grouped, len(ids))
            stage("topics", len(rows))
            found_topics = cluster_topics(
                [ids[r] for r in rows.tolist()],
                topic_words.take(rows),
                read.words,
                settings,
                workers.pool.imap if workers.pool else map,
            )
            clock.lap("%d topics", len(found_topics))
        pairs = report_pairs(grouped, verified, ids, published, shared)
        clock.lap("%d pairs explained", len(pairs))
        grouped_texts: dict[str, Story] = {}
        if texts:
            members = grouped.members
            stage("texts", len(members))
            for row, story in zip(members.tolist(), spill.stories(numbers[members]), strict=True):
                # A story renamed for sharing its id with another (``id~2``) keeps its new name.
                grouped_texts[ids[row]] = (
                    story if story.id == ids[row] else replace(story, id=ids[row])
                )
        return Report(
            stories=len(ids),
            groups=groups,
            pairs=pairs,
            topics=found_topics,
            folded=read.folded,
            titles=dict(zip(ids, read.titles, strict=True)),
            texts=grouped_texts,
        )

    def _fingerprint_all(
        self,
        stories: Iterable[Story],
        spill: Spill,
        workers: _Workers,
        topics: bool,
        progress: Callable[[int], None] | None,
    ) -> tuple[Prints, np.ndarray, _Read]:
        """Fingerprints and band keys of every story, in id order, and what else the scan
        keeps of each (apart, so that the fingerprints can go once spent).

        Every record read is a story, with one exception: a record that repeats an id given to it
        (or its url) with the very same fields is the same story read twice (one feed fetched
        twice) and is folded into it. Identical records with no id or url are distinct stories,
        exact copies of each other. Stories that share an id keep distinct names (``id~2``, ...:
        ``version_names``), given in the order of their records' digests so that the outcome does
        not depend on input order.

        Stories are known by their row in the spill; a folded one keeps its row but is left out.
        """
        ids: list[str] = []
        titles: list[str] = []
        from_content: list[bool] = []
        rows: list[int] = []
        first_of: dict[str, int] = {}
        versions: defaultdict[str, list[int]] = defaultdict(list)
        folded = 0
        # Digests of the stories whose id repeats, by number: each is hashed once, however many
        # repeats meet it.
        digests: dict[int, bytes] = {}

        def digest_at(row: int) -> bytes:
            return story_digest(spill.stories(np.array([row]))[0])

        def digest_of(number: int) -> bytes:
            if number not in digests:
                digests[number] = digest_at(rows[number])
            return digests[number]

        printed: list[Prints] = []
        keyed: list[np.ndarray] = []
        words: dict[int, str] = {}
        reading = stories if isinstance(stories, Reading) else None
        for batch in self._map_batches(stories, spill, workers, topics):
            if reading is not None and batch.outcomes:
                reading.settle(batch.outcomes)
            first = spill.record(batch.file, batch.places)
            printed.append(batch.prints)
            keyed.append(batch.keys)
            words.update(batch.words)
            for k, story_id in enumerate(batch.ids):
                number = len(ids)
                seen = first_of.get(story_id)
                if seen is None:
                    first_of[story_id] = number
                else:
                    digest = digest_at(first + k)
                    if not batch.from_content[k]:
                        known = [seen, *versions.get(story_id, ())]
                        if any(digest_of(n) == digest for n in known):
                            folded += 1
                            continue
                    digests[number] = digest
                    versions[story_id].append(number)
                ids.append(story_id)
                titles.append(batch.titles[k])
                from_content.append(batch.from_content[k])
                rows.append(first + k)
            if progress is not None:
                progress(len(batch.ids))

        if folded:
            log.warning("folded %d record(s) that repeat another's id and every field", folded)
        names = version_names(
            {story_id: 1 + len(extra) for story_id, extra in versions.items()}, first_of
        )
        for story_id, extra in versions.items():
            numbers = sorted([first_of[story_id], *extra], key=digest_of)
            if not from_content[numbers[0]]:
                log.warning(
                    "%d different stories share the id %r; renamed %s",
                    len(numbers),
                    story_id,
                    ", ".join(names[story_id][1:]),
                )
            for number, name in zip(numbers, names[story_id], strict=True):
                ids[number] = name

        by_id = sorted(range(len(ids)), key=ids.__getitem__)
        order = np.array(rows, dtype=np.int64)[by_id]
        if not printed:
            empty, no_keys = fingerprint_batch([], self.settings)
            printed.append(empty)
            keyed.append(no_keys)
        # Both lists are emptied as their parts are gathered.
        prints = Prints.gather(printed, order)
        keys = scatter_order(keyed, order)
        release_freed()
        return (
            prints,
            keys,
            _Read(
                ids=[ids[n] for n in by_id],
                titles=[titles[n] for n in by_id],
                numbers=order,
                folded=folded,
                words=words,
            ),
        )

    def _map_batches(
        self, stories: Iterable[Story], spill: Spill, workers: _Workers, topics: bool
    ) -> Iterator[_Batch]:
        """Fingerprint the stories a batch at a time, in parallel when ``jobs`` > 1, in order,
        with at most two batches per worker in flight so that reading never runs far ahead of
        fingerprinting. JSON Lines are parsed by the workers (``Reading.blocks``), copied to the
        spill as they are read; stories read here are spilled here and read back by the
        workers."""
        if isinstance(stories, Reading):
            blocks: Iterator[list[Story] | LineBlock | ByteBlock] = stories.blocks(
                BATCH, spill.directory
            )
        else:
            stream = iter(stories)
            blocks = iter(lambda: list(itertools.islice(stream, BATCH)), [])

        def jobs() -> Iterator[tuple[Callable[..., _Batch], tuple, list[Story] | None]]:
            """Each batch's work, and the stories this process read for it, if it read them."""
            for block in blocks:
                if isinstance(block, LineBlock | ByteBlock):
                    yield _fingerprint_lines, (spill.directory, block, self.settings, topics), None
                else:
                    file, places = write_spilled(spill.directory, block)
                    job = (spill.directory, file, places, self.settings, topics)
                    yield _fingerprint_spilled, job, block

        work = jobs()
        first = next(work, None)
        second = next(work, None) if workers.jobs > 1 else None
        if second is None:
            # One batch (a draft, a small feed): starting workers would cost more than it saves.
            for function, args, held in itertools.chain([first] if first else [], work):
                yield function(*args) if held is None else _fingerprint_spilled(*args, held)
            return
        # The compiled loops are loaded here, once, and every worker started after inherits
        # them: each loading them itself cost half a second of a core.
        load_compiled(self.settings)
        pool = workers.start()
        if topics:
            # Started once the workers are forked, never before: a fork copies the locks a
            # thread holds.
            threading.Thread(target=_load_topics, name="dedupe-topics", daemon=True).start()
        pending: deque = deque()
        # A worker reads the stories this process spilled from the spill, not from the pipe.
        for function, args, _ in itertools.chain([first, second], work):
            pending.append(pool.apply_async(function, args))
            if len(pending) >= 2 * workers.jobs:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def _passages(
        self,
        verified: Verified,
        wanted: np.ndarray,
        numbers: np.ndarray,
        spill: Spill,
        workers: _Workers,
    ) -> Mapping[int, tuple[str, ...]]:
        """The shared passages of the pairs reported (``pipeline.passages``), shared out among
        the workers when the scan has them (explaining reads back and tokenizes the texts), who
        find them while this process makes the report's groups (``_Pending``)."""
        if workers.pool is None or len(wanted) < 2 * BATCH:
            return passages(
                verified, wanted, lambda rows: spill.stories(numbers[rows]), self.settings
            )
        jobs = []
        parts = max(4 * workers.jobs, -(-len(wanted) // _PAIRS_PER_JOB))
        for part in np.array_split(wanted, parts):
            rows, pairs = pair_rows(verified, part)
            places = spill.places(numbers[rows])
            job = workers.pool.apply_async(
                _explain_spilled, (spill.files, places, pairs, self.settings)
            )
            jobs.append((part, job))
        return _Pending(jobs)

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

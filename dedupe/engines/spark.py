"""The Spark engine: ``Detector.scan`` as Spark jobs, for corpora beyond one machine.

The stages are the local engine's own batch functions (``pipeline``), run by Spark's Python
workers over Arrow record batches (``mapInArrow``): a batch of stories is fingerprinted in one
call, a batch of candidate pairs verified in one. Fingerprints travel between executors as Arrow
columns, each set of hashes one binary value (its uint32s), so that joins and groupings run in
the JVM and a worker turns a batch back into the arrays the compiled loops read without a Python
loop per story. What the local engine does in memory between the stages (unique ids, exact
classes, band buckets, candidate pairs, connected components) is done here by Spark shuffles
that reproduce it step for step, so that on the same stories both engines give the same report.

Install with ``pip install "dedupe[spark]"``; executors import ``dedupe`` too, so it must be
installed on every node (or shipped with ``--py-files``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial

import numpy as np
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.accumulators import Accumulator
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DoubleType,
    FloatType,
    IntegerType,
    IntegralType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from dedupe.detector import BATCH
from dedupe.fingerprint import Prints
from dedupe.group import Copies, fitness, group, text_classes
from dedupe.index import band_weights
from dedupe.ingest.records import BODY_ALIASES, story_from_record
from dedupe.pipeline import (
    fingerprint_batch,
    report_groups,
    report_pairs,
    story_digest,
    teasers_of,
    version_names,
)
from dedupe.rows import Rows
from dedupe.settings import Settings
from dedupe.story import STORY_FIELDS, Group, Pair, Report, Story, Topic
from dedupe.verify import Verified, explain, verify

log = logging.getLogger("dedupe")

# A fingerprint's sets, each stored as one binary value per story (uint32s; first_seen uint16s).
_SETS = ("shingles", "content", "first_seen", "numbers", "names", "topic_words")
# One row per story read: its own id, the hash of its record (to tell two stories under one id
# apart), whether its id came from its content, the fingerprint, its band keys (0: none), the
# texts that explaining a pair needs, and the text of topic words first seen in the batch.
_PRINTS = StructType(
    [
        StructField("story_id", StringType(), False),
        StructField("digest", BinaryType(), False),
        StructField("from_content", BooleanType(), False),
        StructField("title", StringType(), False),
        StructField("body", StringType(), False),
        StructField("published", LongType(), False),
        StructField("size", LongType(), False),
        StructField("keys", ArrayType(IntegerType(), False), False),
        StructField("text_key", BinaryType(), False),
        *(StructField(name, BinaryType(), False) for name in _SETS),
        StructField("title_text", StringType(), False),
        StructField("truncated", BooleanType(), False),
        StructField("headline_only", BooleanType(), False),
        StructField(
            "words",
            ArrayType(
                StructType(
                    [StructField("hash", LongType(), False), StructField("word", StringType())]
                ),
                False,
            ),
            False,
        ),
    ]
)
# What ``verify`` measured of an accepted pair, besides its ends and relation.
_MEASURES = (
    "score", "title_similarity", "containment", "jaccard", "days_apart", "number_agreement",
    "name_agreement",
)  # fmt: skip
_FINGERPRINT = ["published", "size", "text_key", *_SETS, "title_text", "truncated", "headline_only"]
_VERIFIED = StructType(
    [
        StructField("a", StringType(), False),
        StructField("b", StringType(), False),
        StructField("relation", ByteType(), False),
        *(StructField(name, DoubleType(), False) for name in _MEASURES),
    ]
)
_TEXT_COLUMNS = frozenset(STORY_FIELDS[1:]) | frozenset(BODY_ALIASES)


def scan_dataframe(
    df: DataFrame, settings: Settings | None = None, *, topics: bool = True
) -> Report:
    """Scan a DataFrame of stories; the same report as ``Detector(settings=settings).scan``.

    Columns are the JSONL fields (id, title, body or text or content, url, source, published,
    language); any other column is kept in each story's ``extra``. A null is an absent field, as a
    DataFrame read from JSONL has nulls where a record lacked the key. Rows with no text, or with
    a date that is not one, are skipped with a warning, as ``dedupe scan`` skips bad records.
    """
    _check_columns(df)
    skipped = df.sparkSession.sparkContext.accumulator(0)
    settings = settings or Settings()
    read = partial(_records_to_stories, skipped=skipped)
    report = _scan(df.sparkSession, df, read, settings, topics)
    if skipped.value:
        log.warning("skipped %d rows that are not stories (no text, or a bad date)", skipped.value)
    return report


def scan_stories(
    stories: Iterable[Story],
    master: str = "local[2]",
    settings: Settings | None = None,
    topics: bool = True,
    app_name: str = "dedupe",
    conf: Mapping[str, str] | None = None,
) -> Report:
    """Scan stories read on the driver (``dedupe scan --engine spark``) on a Spark cluster.

    Gets or creates the SparkSession of ``master`` (an existing session is reused, whatever its
    master); ``conf`` adds Spark settings to a new one, such as ``spark.driver.memory``.
    """
    conf = dict(conf or {})
    if master.startswith("local"):
        # Local workers must import this very installation of dedupe, not whatever "python3" is.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Local mode runs every task in the driver's JVM, whose default heap (1 GB) a scan of
        # 100,000 stories outgrows: a quarter of the machine's memory, unless told otherwise.
        conf.setdefault("spark.driver.memory", _local_driver_memory())
    # Spark's own stage bars would write over dedupe's messages on stderr.
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    table = _story_table(list(stories))
    # Two slices per core balance the load; slices of at most four batches bound a task's memory.
    slices = max(2 * spark.sparkContext.defaultParallelism, -(-table.num_rows // (4 * BATCH)))
    df = spark.createDataFrame(table).repartition(slices)
    return _scan(spark, df, _table_to_stories, settings or Settings(), topics)


def _local_driver_memory() -> str:
    """A quarter of this machine's memory (at least 1 GB), as Spark writes sizes: "6g"."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return "2g"
    return f"{max(1, total // 4 // 2**30)}g"


def _story_table(stories: Sequence[Story]) -> pa.Table:
    """Stories as an Arrow table: their fields, the unknown ones as JSON, and whether the id
    came from the content (which a story made again from its fields could not tell)."""
    columns = {
        name: pa.array([getattr(s, name) for s in stories], pa.string()) for name in STORY_FIELDS
    }
    columns["extra"] = pa.array([json.dumps(s.extra) for s in stories], pa.string())
    columns["from_content"] = pa.array([s.id_from_content for s in stories], pa.bool_())
    return pa.table(columns)


def _table_to_stories(records: list[dict]) -> list[Story]:
    return [
        Story(
            **{name: record[name] for name in STORY_FIELDS},
            extra=json.loads(record["extra"]),
            id_from_content=record["from_content"],
        )
        for record in records
    ]


def _records_to_stories(records: list[dict], skipped: Accumulator) -> list[Story]:
    stories = []
    for record in records:
        story = story_from_record(
            {k: v for k, v in record.items() if v is not None}, "dataframe", None
        )
        if isinstance(story, Story):
            stories.append(story)
        else:
            skipped.add(1)
    return stories


def _check_columns(df: DataFrame) -> None:
    """Refuse, on the driver, the column types a story cannot have, before any task fails."""
    for column in df.schema.fields:
        kind = column.dataType
        if column.name == "id":
            if not isinstance(kind, StringType | IntegralType | FloatType | DoubleType):
                raise ValueError(
                    f"column 'id' must be a string or number, not {kind.simpleString()}"
                )
        elif column.name in _TEXT_COLUMNS and not isinstance(kind, StringType):
            raise ValueError(
                f"column {column.name!r} must be a string, not {kind.simpleString()}"
                " (cast it, e.g. dates to ISO 8601 text)"
            )


def _scan(spark: SparkSession, df: DataFrame, read, settings: Settings, topics: bool) -> Report:
    # Shuffles get as many partitions as the input, not Spark SQL's 200: each Python task costs
    # a worker round trip, and 200 of them for a small corpus cost more than the work.
    parts = max(2 * spark.sparkContext.defaultParallelism, df.rdd.getNumPartitions())
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    raw = df.mapInArrow(partial(_fingerprint, read=read, settings=settings), _PRINTS)
    raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
    prints, folded = _unique_ids(spark, raw)
    accepted: DataFrame | None = None
    try:
        copies = _exact_classes(spark, prints, parts, settings)
        reps = prints.select("id").join(
            copies.select(F.explode("copies").alias("id")), "id", "left_anti"
        )
        candidates = _candidate_pairs(spark, prints, reps, settings)
        accepted = _verify(candidates, prints, settings).persist(StorageLevel.MEMORY_AND_DISK)
        groups, kept = _groups(copies, prints, accepted, settings)
        kept = _explain(spark, prints, kept, settings)

        found_topics: tuple[Topic, ...] = ()
        if topics:
            from dedupe.topics import cluster_topics

            ids, words = _topic_words(spark, prints, groups)
            vocabulary = dict(
                raw.select(F.explode("words").alias("w")).select("w.hash", "w.word").distinct()
                .rdd.map(tuple).collect()
            )  # fmt: skip
            found_topics = cluster_topics(ids, words, vocabulary, settings)
        titles = dict(sorted(prints.select("id", "title").rdd.map(tuple).collect()))
        return Report(
            stories=len(titles),
            groups=groups,
            pairs=kept,
            topics=found_topics,
            folded=folded,
            titles=titles,
        )
    finally:
        if accepted is not None:
            accepted.unpersist()
        prints.unpersist()
        raw.unpersist()
        spark.conf.set("spark.sql.shuffle.partitions", before)


# --- fingerprints as Arrow columns -----------------------------------------------------------


def _fingerprint(
    batches: Iterator[pa.RecordBatch], read, settings: Settings
) -> Iterator[pa.RecordBatch]:
    """The local engine's batches, per Arrow batch: stories, fingerprints and band keys. Each
    topic word's text is written once per task, in the row of the batch that first met it."""
    words: dict[int, str] = {}
    for records in batches:
        stories = read(records.to_pylist())
        for start in range(0, len(stories), BATCH):
            batch = stories[start : start + BATCH]
            known = len(words)
            prints, keys = fingerprint_batch(batch, settings, words)
            new = list(words.items())[known:]
            yield _prints_batch(batch, prints, keys, new)


def _binary(rows: Rows) -> pa.Array:
    """Each row's values as one binary value."""
    offsets = (rows.offsets * rows.values.itemsize).astype(np.int32)
    return pa.Array.from_buffers(
        pa.binary(),
        len(rows),
        [
            None,
            pa.py_buffer(offsets),
            pa.py_buffer(np.ascontiguousarray(rows.values).view(np.uint8)),
        ],
    )


def _rows(column: pa.Array, dtype: type = np.uint32) -> Rows:
    """Binary values of ``dtype`` values (``_binary``) back as rows, without a copy per row."""
    _, offsets, data = column.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int32)[
        column.offset : column.offset + len(column) + 1
    ]
    values = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data else b""
    values = np.frombuffer(values, dtype=dtype) if len(values) else np.empty(0, dtype)
    size = np.dtype(dtype).itemsize
    return Rows(values, ((offsets - offsets[0]) // size).astype(np.int64))


def _prints_batch(
    stories: Sequence[Story], prints: Prints, keys: np.ndarray, words: list[tuple[int, str]]
) -> pa.RecordBatch:
    count = len(stories)
    word_offsets = np.full(count + 1, len(words), dtype=np.int32)
    word_offsets[0] = 0
    word_list = pa.ListArray.from_arrays(
        pa.array(word_offsets),
        pa.StructArray.from_arrays(
            [
                pa.array([h for h, _ in words], pa.int64()),
                pa.array([w for _, w in words], pa.string()),
            ],
            names=["hash", "word"],
        ),
    )
    columns = {
        "story_id": pa.array([s.id for s in stories], pa.string()),
        "digest": pa.array([story_digest(s) for s in stories], pa.binary()),
        "from_content": pa.array([s.id_from_content for s in stories], pa.bool_()),
        "title": pa.array([s.title for s in stories], pa.string()),
        "body": pa.array([s.body for s in stories], pa.string()),
        "published": pa.array(prints.published),
        "size": pa.array(prints.size.astype(np.int64)),
        "keys": pa.ListArray.from_arrays(
            pa.array(np.arange(0, keys.size + 1, max(keys.shape[1], 1), dtype=np.int32)),
            pa.array(keys.ravel().view(np.int32)),
        ),
        "text_key": _binary(
            Rows(prints.text_key.view(np.uint32).ravel(), np.arange(count + 1) * 4)
        ),
        **{name: _binary(getattr(prints, name)) for name in _SETS},
        "title_text": pa.array(prints.title_text, pa.string()),
        "truncated": pa.array(prints.truncated),
        "headline_only": pa.array(prints.headline_only),
        "words": word_list,
    }
    return pa.RecordBatch.from_pydict(columns)


def _prints_of(batch: pa.RecordBatch, prefix: str) -> Prints:
    """The fingerprints held in a batch's columns ``prefix + name`` (what verifying reads)."""
    column = lambda name: batch.column(prefix + name)  # noqa: E731
    count = batch.num_rows
    text_key = _rows(column("text_key")).values.view(np.uint64).reshape(count, 2)
    empty = Rows.empty(count)
    return Prints(
        size=column("size").to_numpy().astype(np.int32),
        shingles=_rows(column("shingles")),
        content=_rows(column("content")),
        first_seen=_rows(column("first_seen"), np.uint16),
        numbers=_rows(column("numbers")),
        names=_rows(column("names")),
        title_words=empty,
        topic_words=empty,
        title_text=tuple(column("title_text").to_pylist()),
        text_key=text_key,
        truncated=column("truncated").to_numpy(zero_copy_only=False),
        headline_only=column("headline_only").to_numpy(zero_copy_only=False),
        published=column("published").to_numpy(),
    )


# --- the stages between batches, as Spark shuffles -------------------------------------------


def _unique_ids(spark: SparkSession, raw: DataFrame) -> tuple[DataFrame, int]:
    """Ids made unique as ``Detector._fingerprint_all`` does (persisted), and how many records
    were folded: a record that repeats a given id with the same fields is folded into it
    (identical records whose id came from their content are all kept); the stories of one id are
    named by ``version_names`` in the order of their digests."""
    # Nearly every id is held by one story: only the stories of the few ids held by several
    # are shuffled by id (with their fingerprints), the others go straight through.
    shared_ids = raw.groupBy("story_id").count().where(F.col("count") > 1).select("story_id")
    shared_ids = shared_ids.localCheckpoint()
    alone = (
        raw.drop("words")
        .join(F.broadcast(shared_ids), "story_id", "left_anti")
        .withColumnRenamed("story_id", "id")
        .select("id", "title", "body", "keys", *_FINGERPRINT)
    )
    if not shared_ids.take(1):
        prints = alone.persist(StorageLevel.MEMORY_AND_DISK)
        prints.count()
        return prints, 0
    record = Window.partitionBy("story_id", "digest")
    given = F.when(~F.col("from_content"), 1).otherwise(0)
    kept = (
        raw.drop("words")
        .join(F.broadcast(shared_ids), "story_id", "left_semi")
        .withColumn("copy", F.row_number().over(record.orderBy("from_content")))
        .withColumn("given", F.sum(given).over(record))
        .where(F.col("from_content") | (F.col("copy") == 1))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # Each record of a given id beyond the first with the same digest was folded.
    folded = kept.where(~F.col("from_content")).agg(F.sum(F.col("given") - 1)).collect()[0][0] or 0
    versions = Window.partitionBy("story_id").orderBy("digest")
    ranked = kept.withColumn("rank", F.row_number().over(versions))
    shared = dict(
        ranked.groupBy("story_id").count().where(F.col("count") > 1).rdd.map(tuple).collect()
    )
    # A renamed story must not take the id of any story of the corpus.
    taken = set(raw.select("story_id").rdd.map(lambda r: r[0]).collect())
    names = version_names(shared, taken) if shared else {}
    renamed = spark.createDataFrame(
        [(i, rank, name) for i, listed in names.items() for rank, name in enumerate(listed, 1)],
        "story_id string, rank int, name string",
    )
    prints = (
        ranked.join(F.broadcast(renamed), ["story_id", "rank"], "left")
        .withColumn("id", F.coalesce("name", "story_id"))
        .select("id", "title", "body", "keys", *_FINGERPRINT)
        .unionByName(alone)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    prints.count()
    kept.unpersist()
    return prints, folded


def _exact_classes(
    spark: SparkSession, prints: DataFrame, parts: int, settings: Settings
) -> DataFrame:
    """(representative id, ids of its exact copies) for every text held by several stories,
    chosen by ``group.text_classes`` itself; most texts are held by one story and never leave the
    JVM."""
    holders = Window.partitionBy("text_key")
    shared = (
        prints.withColumn("holders", F.count("*").over(holders))
        .where(F.col("holders") > 1)
        .select("text_key", "id", "published", "size", "truncated")
    )
    classes = (
        shared.rdd.map(lambda row: (row.text_key, (row.id, row.published, row.size, row.truncated)))
        .groupByKey(parts)
        .flatMap(lambda item: _same_text(sorted(item[1]), settings))
    )
    return spark.createDataFrame(classes, "id string, copies array<string>")


def _same_text(members: list[tuple[str, int, int, bool]], settings: Settings) -> list[tuple]:
    ids = [m[0] for m in members]
    published = np.array([m[1] for m in members], dtype=np.int64)
    size = np.array([m[2] for m in members], dtype=np.int64)
    truncated = np.array([m[3] for m in members], dtype=np.bool_)
    rank = fitness(truncated, published, size, np.zeros(len(ids), dtype=np.bool_))
    keys = np.zeros((len(ids), 2), dtype=np.uint64)
    _, copies = text_classes(keys, published, size, rank, settings)
    held: dict[int, list[str]] = {}
    for copy, rep in zip(copies.rows.tolist(), copies.of.tolist(), strict=True):
        held.setdefault(rep, []).append(ids[copy])
    return [(ids[rep], copies_of_rep) for rep, copies_of_rep in held.items()]


def _bucket_pairs(
    members: Sequence[str], max_bucket: int, weight: int
) -> Iterator[tuple[str, str, int]]:
    """``candidate_pairs``' rule for one bucket, its members in id order: every pair, or in a
    bucket larger than ``max_bucket`` each member with the first ``max_bucket`` members only;
    each with the weight of the bucket's band."""
    members = sorted(members)
    for i, a in enumerate(members[:max_bucket]):
        for b in members[i + 1 :]:
            yield a, b, weight


def _candidate_pairs(
    spark: SparkSession, prints: DataFrame, reps: DataFrame, settings: Settings
) -> DataFrame:
    """(a, b), a < b: representatives that share a band key, each pair once, by the rules of
    ``index.candidate_pairs``: a bucket is one key in one band, and a story with more than
    ``max_partners`` partners keeps those it shares the most with (the weights of the bands
    they share), ties to the lower id; a pair stays when either of its stories keeps it."""
    keys = (
        prints.join(reps, "id", "left_semi")
        .select("id", F.posexplode("keys").alias("band", "key"))
        .where(F.col("key") != 0)
    )
    buckets = (
        keys.groupBy("band", "key")
        .agg(F.collect_list("id").alias("members"))
        .where(F.size("members") > 1)
    )
    max_bucket = settings.max_bucket
    weights = band_weights(settings).tolist()
    pairs = buckets.rdd.flatMap(
        lambda row: _bucket_pairs(row.members, max_bucket, weights[row.band])
    )
    shared = (
        spark.createDataFrame(pairs, "a string, b string, weight long")
        .groupBy("a", "b")
        .agg(F.sum("weight").alias("shared"))
    )
    ends = shared.select(F.col("a").alias("story"), F.col("b").alias("other"), "a", "b", "shared")
    ends = ends.unionByName(
        shared.select(F.col("b").alias("story"), F.col("a").alias("other"), "a", "b", "shared")
    )
    partners = Window.partitionBy("story").orderBy(F.desc("shared"), F.asc("other"))
    return (
        ends.withColumn("rank", F.row_number().over(partners))
        .where(F.col("rank") <= settings.max_partners)
        .select("a", "b")
        .distinct()
    )


def _verify(candidates: DataFrame, prints: DataFrame, settings: Settings) -> DataFrame:
    """The accepted pairs, verified on the executors beside their fingerprints, a batch of pairs
    in one call of ``verify``: (a, b) ordered as ``verify.order`` orders them."""
    ends = [
        prints.select(F.col("id").alias(end), *(F.col(c).alias(f"{end}_{c}") for c in _FINGERPRINT))
        for end in "ab"
    ]
    joined = candidates.join(ends[0], "a").join(ends[1], "b")
    return joined.mapInArrow(partial(_verify_batches, settings=settings), _VERIFIED)


def _verify_batches(
    batches: Iterator[pa.RecordBatch], settings: Settings
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        count = batch.num_rows
        both = Prints.concat([_prints_of(batch, "a_"), _prints_of(batch, "b_")])
        ids = batch.column("a").to_pylist() + batch.column("b").to_pylist()
        # ``order`` breaks ties by row, as rows are in id order in the local engine: here each
        # pair's a (the lower id) is in the first half of the rows, its b in the second.
        pairs = np.stack([np.arange(count), np.arange(count, 2 * count)], axis=1)
        found = verify(both, pairs, settings)
        yield pa.RecordBatch.from_pydict(
            {
                "a": pa.array([ids[r] for r in found.a.tolist()], pa.string()),
                "b": pa.array([ids[r] for r in found.b.tolist()], pa.string()),
                "relation": pa.array(found.relation.astype(np.int8)),
                **{name: pa.array(getattr(found, name)) for name in _MEASURES},
            }
        )


def _groups(
    copies: DataFrame, prints: DataFrame, accepted: DataFrame, settings: Settings
) -> tuple[tuple[Group, ...], list[Pair]]:
    """Groups numbered g1, g2, ... by canonical id, and their pairs in that order, made on the
    driver by the local engine's own ``group``, ``report_groups`` and ``report_pairs``: the
    accepted pairs and the exact copies are a small share of the stories (33,000 pairs at
    100,000 stories), and their stories, laid out as rows in id order with the facts grouping
    reads, are grouped as the local engine groups all its rows. Components found by Spark joins
    instead (label propagation, a dozen rounds of shuffles) took a quarter of a scan."""
    pairs = accepted.collect()
    held = [(row.id, copy) for row in copies.collect() for copy in row.copies]
    involved = _grouped_ids(accepted, copies)
    facts = {
        row.id: row
        for row in prints.join(F.broadcast(involved), "id")
        .select("id", "published", "size", "truncated")
        .collect()
    }
    ids = sorted(facts)
    row_of = {story_id: n for n, story_id in enumerate(ids)}
    count = len(ids)
    published = np.array([facts[i].published for i in ids], dtype=np.int64).reshape(count)
    size = np.array([facts[i].size for i in ids], dtype=np.int64).reshape(count)
    truncated = np.array([facts[i].truncated for i in ids], dtype=np.bool_).reshape(count)
    verified = Verified(
        a=np.array([row_of[p.a] for p in pairs], dtype=np.int64),
        b=np.array([row_of[p.b] for p in pairs], dtype=np.int64),
        relation=np.array([p.relation for p in pairs], dtype=np.uint8),
        **{name: np.array([p[name] for p in pairs], dtype=np.float64) for name in _MEASURES},
    )
    copy_rows = sorted((row_of[copy], row_of[rep]) for rep, copy in held)
    rows, of = np.array(copy_rows, dtype=np.int64).reshape(-1, 2).T
    rank = fitness(truncated, published, size, teasers_of(verified, count))
    grouped = group(verified, Copies(rows, of), rank, count)
    groups = report_groups(grouped, verified, ids)
    return groups, list(report_pairs(grouped, verified, ids, published, {}))


def _grouped_ids(accepted: DataFrame, copies: DataFrame) -> DataFrame:
    """The ids of the stories grouping reads: both ends of each accepted pair, each exact copy
    and its representative."""
    return (
        accepted.select(F.col("a").alias("id"))
        .union(accepted.select(F.col("b").alias("id")))
        .union(copies.select("id"))
        .union(copies.select(F.explode("copies").alias("id")))
        .distinct()
    )


def _explain(
    spark: SparkSession, prints: DataFrame, kept: list[Pair], settings: Settings
) -> tuple[Pair, ...]:
    """The shared passages of every kept pair but exact copies, found on the executors that hold
    both texts, a batch of pairs in one call of ``explain``."""
    wanted = [(n, p.a, p.b) for n, p in enumerate(kept) if p.relation != "exact"]
    if not wanted:
        return tuple(kept)
    pairs = spark.createDataFrame(wanted, "n long, a string, b string")
    texts = [
        prints.select(
            F.col("id").alias(end),
            F.col("title").alias(f"{end}_title"),
            F.col("body").alias(f"{end}_body"),
        )
        for end in "ab"
    ]
    rows = pairs.join(texts[0], "a").join(texts[1], "b")
    schema = StructType(
        [
            StructField("n", LongType(), False),
            StructField("shared", ArrayType(StringType(), False), False),
        ]
    )
    found = dict(
        rows.mapInArrow(partial(_explain_batches, settings=settings), schema)
        .rdd.map(lambda r: (r.n, tuple(r.shared)))
        .collect()
    )
    return tuple(
        replace(p, evidence=replace(p.evidence, shared=found[n])) if n in found else p
        for n, p in enumerate(kept)
    )


def _explain_batches(
    batches: Iterator[pa.RecordBatch], settings: Settings
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        records = batch.to_pydict()
        count = batch.num_rows
        stories = [
            Story(title=title, body=body)
            for end in "ab"
            for title, body in zip(records[f"{end}_title"], records[f"{end}_body"], strict=True)
        ]
        pairs = np.stack([np.arange(count), np.arange(count, 2 * count)], axis=1)
        shared = explain(stories, pairs, settings)
        yield pa.RecordBatch.from_pydict(
            {
                "n": pa.array(records["n"], pa.int64()),
                "shared": pa.array([list(s) for s in shared], pa.list_(pa.string())),
            }
        )


def _topic_words(
    spark: SparkSession, prints: DataFrame, groups: Sequence[Group]
) -> tuple[list[str], Rows]:
    """(ids, topic words) of the stories in no group and of each group's canonical, as locally."""
    docs = prints.select("id", "topic_words")
    copies = [(m.id,) for g in groups for m in g.members if m.id != g.canonical]
    if copies:
        docs = docs.join(spark.createDataFrame(copies, "id string"), "id", "left_anti")
    found = sorted(docs.rdd.map(tuple).collect())
    words = [np.frombuffer(w, dtype=np.uint32) for _, w in found]
    return [story_id for story_id, _ in found], Rows.of(words)

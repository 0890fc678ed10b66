"""The Spark engine: ``Detector.scan`` as Spark jobs, for corpora beyond one machine.

The stages are the local engine's own functions (``fingerprint``, ``band_keys``, ``exact_copies``,
``verify``, ``group_pairs``, ``explain``, ``cluster_topics``), called inside Spark tasks. What the
local engine does in memory between them (unique ids, exact classes, band buckets, candidate pairs,
connected components) is done here by Spark shuffles that reproduce it step for step, so that on
the same stories both engines give the same report.

Fingerprints travel between executors pickled in a binary column: DataFrame joins and groupings
then run in the JVM, far cheaper than Python RDD shuffles, and unpickling touches only our own
objects, written by the same job. A pickled fingerprint keeps its story's own id; the row's ``id``
is the unique one.

Install with ``pip install "dedupe[spark]"``; executors import ``dedupe`` too, so it must be
installed on every node (or shipped with ``--py-files``).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from itertools import islice

import numpy as np
from pyspark import RDD, StorageLevel
from pyspark.accumulators import Accumulator
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DoubleType,
    FloatType,
    IntegralType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from dedupe.detector import BATCH, fingerprint_batch, story_digest
from dedupe.fingerprint import Fingerprint
from dedupe.group import exact_copies, group_pairs, original_first
from dedupe.ingest.records import BODY_ALIASES, story_from_record
from dedupe.pipeline import version_names
from dedupe.settings import Settings
from dedupe.story import STORY_FIELDS, Group, Pair, Report, Story, Topic
from dedupe.verify import dated, explain, verify

log = logging.getLogger("dedupe")

# One row per story read: its own id, the hash of its record (to tell two stories under one id
# apart), whether its id came from its content, the pickled fingerprint, its band keys (0: none)
# and what explaining a pair needs.
_PRINTS = StructType(
    [
        StructField("story_id", StringType(), False),
        StructField("digest", StringType(), False),
        StructField("from_content", BooleanType(), False),
        StructField("published", StringType(), True),
        StructField("fp", BinaryType(), False),
        StructField("keys", ArrayType(LongType(), False), False),
        StructField("text_key", BinaryType(), False),
        StructField("title", StringType(), False),
        StructField("body", StringType(), False),
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
    stories = df.rdd.mapPartitions(partial(_stories_from_rows, skipped=skipped))
    report = _scan(df.sparkSession, stories, settings or Settings(), topics)
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
    if master.startswith("local"):
        # Local workers must import this very installation of dedupe, not whatever "python3" is.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    stories = list(stories)
    sc = spark.sparkContext
    # Two slices per core balance the load; slices of at most four batches bound a task's memory.
    slices = max(2 * sc.defaultParallelism, -(-len(stories) // (4 * BATCH)))
    return _scan(spark, sc.parallelize(stories, slices), settings or Settings(), topics)


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


def _stories_from_rows(rows: Iterable[Row], skipped: Accumulator) -> Iterator[Story]:
    for row in rows:
        record = {k: v for k, v in row.asDict(recursive=True).items() if v is not None}
        story = story_from_record(record, "dataframe", None)
        if isinstance(story, Story):
            yield story
        else:
            skipped.add(1)


def _scan(spark: SparkSession, stories: RDD, settings: Settings, topics: bool) -> Report:
    # Shuffles get as many partitions as the input, not Spark SQL's 200: each Python task costs
    # a worker round trip, and 200 of them for a small corpus cost more than the work.
    parts = max(2 * spark.sparkContext.defaultParallelism, stories.getNumPartitions())
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    rows = stories.mapPartitions(partial(_fingerprint_rows, settings=settings))
    raw = spark.createDataFrame(rows, _PRINTS, verifySchema=False)
    prints, folded = _unique_ids(spark, raw)
    accepted: RDD | None = None
    try:
        copies = _exact_classes(spark, prints, parts, settings)
        reps = prints.select("id").join(
            copies.select(F.explode("copies").alias("id")), "id", "left_anti"
        )
        candidates = _candidate_pairs(spark, prints, reps, settings.max_bucket)
        accepted = _verify(candidates, prints, settings).persist(StorageLevel.MEMORY_AND_DISK)
        labels = _components(spark, accepted)
        groups, kept = _groups(reps, copies, labels, prints, accepted, parts)
        kept = _explain(spark, prints, kept, settings)

        found_topics: tuple[Topic, ...] = ()
        if topics:
            from dedupe.topics import cluster_topics

            found_topics = cluster_topics(_topic_docs(spark, prints, groups), settings)
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
        spark.conf.set("spark.sql.shuffle.partitions", before)


def _fingerprint_rows(stories: Iterator[Story], settings: Settings) -> Iterator[tuple]:
    """The local engine's batches, per partition: fingerprints and band keys, vectorized."""
    while batch := list(islice(stories, BATCH)):
        fps, keys = fingerprint_batch((batch, settings))
        for story, fp, row in zip(batch, fps, keys, strict=True):
            yield (
                story.id,
                story_digest(story).hex(),
                story.id_from_content,
                story.published,
                pickle.dumps(fp, protocol=pickle.HIGHEST_PROTOCOL),
                row.view(np.int64).tolist(),
                fp.text_key,
                story.title,
                story.body,
            )


def _load(blob: bytes, story_id: str) -> Fingerprint:
    fp = pickle.loads(blob)  # our own fingerprint, pickled by this job
    fp.id = story_id
    return fp


def _unique_ids(spark: SparkSession, raw: DataFrame) -> tuple[DataFrame, int]:
    """Ids made unique as ``Detector._fingerprint_all`` does (persisted), and how many records
    were folded: a record that repeats a given id with the same fields is folded into it
    (identical records whose id came from their content are all kept); the stories of one id are
    named by ``version_names`` in the order of their digests (hex digests sort as the bytes do)."""
    record = Window.partitionBy("story_id", "digest")
    given = F.when(~F.col("from_content"), 1).otherwise(0)
    kept = (
        raw.withColumn("copy", F.row_number().over(record.orderBy("from_content")))
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
    names = (
        version_names(shared, set(kept.select("story_id").rdd.map(lambda r: r[0]).collect()))
        if shared
        else {}
    )
    renamed = spark.createDataFrame(
        [(i, rank, name) for i, listed in names.items() for rank, name in enumerate(listed, 1)],
        "story_id string, rank int, name string",
    )
    prints = (
        ranked.join(F.broadcast(renamed), ["story_id", "rank"], "left")
        .withColumn("id", F.coalesce("name", "story_id"))
        .select("id", "published", "fp", "keys", "text_key", "title", "body")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    prints.count()
    kept.unpersist()
    return prints, folded


def _exact_classes(
    spark: SparkSession, prints: DataFrame, parts: int, settings: Settings
) -> DataFrame:
    """(representative id, ids of its exact copies) for every text held by several stories,
    chosen by ``exact_copies`` itself; most texts are held by one story and never leave the JVM."""
    holders = Window.partitionBy("text_key")
    shared = (
        prints.withColumn("holders", F.count("*").over(holders))
        .where(F.col("holders") > 1)
        .select("text_key", "id", "fp")
    )
    classes = (
        shared.rdd.map(lambda row: (row.text_key, _load(row.fp, row.id)))
        .groupByKey(parts)
        .flatMap(lambda item: exact_copies(list(item[1]), settings)[1].items())
    )
    return spark.createDataFrame(classes, "id string, copies array<string>")


def _bucket_pairs(members: Sequence[str], max_bucket: int) -> Iterator[tuple[str, str]]:
    """``candidate_pairs``' rule for one bucket, its members in id order: every pair, or in a
    bucket larger than ``max_bucket`` each member with the first ``max_bucket`` members only."""
    members = sorted(members)
    for i, a in enumerate(members[:max_bucket]):
        for b in members[i + 1 :]:
            yield a, b


def _candidate_pairs(
    spark: SparkSession, prints: DataFrame, reps: DataFrame, max_bucket: int
) -> DataFrame:
    """(a, b), a < b: representatives that share a band key, each pair once. A bucket is one key
    in one band, as ``candidate_pairs`` cuts one band column at a time."""
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
    pairs = buckets.rdd.flatMap(lambda row: _bucket_pairs(row.members, max_bucket))
    return spark.createDataFrame(pairs, "a string, b string").distinct()


def _verify(candidates: DataFrame, prints: DataFrame, settings: Settings) -> RDD:
    """The accepted pairs (``Pair``), verified on the executors beside their fingerprints."""
    ends = [prints.select(F.col("id").alias(end), F.col("fp").alias(f"fp_{end}")) for end in "ab"]
    joined = candidates.join(ends[0], "a").join(ends[1], "b")

    def verified(rows: Iterable[Row]) -> Iterator[Pair]:
        for row in rows:
            pair = verify(_load(row.fp_a, row.a), _load(row.fp_b, row.b), settings)
            if pair is not None:
                yield pair

    return joined.rdd.mapPartitions(verified)


def _components(spark: SparkSession, accepted: RDD) -> DataFrame:
    """(id, label): the connected components of the accepted pairs, labelled by their least id.

    Min-label propagation with pointer jumping (each story takes its label's label too), so a
    chain of n stories settles in about log n rounds, not n.
    """
    edges = spark.createDataFrame(accepted.map(lambda p: (p.a, p.b)), "src string, dst string")
    edges = edges.union(edges.select("dst", "src")).localCheckpoint()
    labels = edges.select(F.col("src").alias("id"), F.col("src").alias("label")).distinct()
    labels = labels.localCheckpoint()
    while True:
        offered = edges.join(labels.withColumnRenamed("id", "src"), "src").select(
            F.col("dst").alias("id"), "label"
        )
        lowest = labels.unionByName(offered).groupBy("id").agg(F.min("label").alias("label"))
        roots = lowest.select(F.col("id").alias("label"), F.col("label").alias("root"))
        jumped = lowest.join(roots, "label").select("id", F.col("root").alias("label"))
        jumped = jumped.localCheckpoint()
        changed = (
            jumped.join(labels.withColumnRenamed("label", "before"), "id")
            .where(F.col("label") != F.col("before"))
            .count()
        )
        labels = jumped
        if not changed:
            return labels


def _group_component(
    members: Iterable[tuple[Fingerprint, Sequence[str]]], pairs: Iterable[Pair]
) -> list[tuple[Group, list[Pair]]]:
    """``group_pairs`` on one component, as ``Detector._scan`` calls it on all: merging never
    crosses components, so the groups are the same. Each group comes with its kept pairs."""
    members = list(members)
    pairs = list(pairs)
    by_id = {fp.id: fp for fp, _ in members}
    copies = {fp.id: list(ids) for fp, ids in members}
    fitness = original_first({p.b for p in pairs if p.relation == "teaser"})
    groups, kept = group_pairs(pairs, copies, lambda i: fitness(by_id[i]))
    group_of = {m.id: g.canonical for g in groups for m in g.members}
    return [(g, [p for p in kept if group_of[p.a] == g.canonical]) for g in groups]


def _groups(
    reps: DataFrame,
    copies: DataFrame,
    labels: DataFrame,
    prints: DataFrame,
    accepted: RDD,
    parts: int,
) -> tuple[tuple[Group, ...], list[Pair]]:
    """Groups numbered g1, g2, ... by canonical id, and their pairs in that order, as locally.

    A component is a set of representatives joined by accepted pairs, or one representative with
    exact copies and no accepted pair, labelled by itself.
    """
    members = (
        reps.join(copies, "id", "left")
        .join(labels, "id", "left")
        .where(F.col("label").isNotNull() | F.col("copies").isNotNull())
        .join(prints.select("id", "fp"), "id")
        .select(F.coalesce("label", "id").alias("component"), "id", "fp", "copies")
        .rdd.map(lambda row: (row.component, (_load(row.fp, row.id), row.copies or [])))
    )
    pairs = (
        accepted.map(lambda p: (p.a, p))
        .join(labels.rdd.map(tuple), parts)
        .map(lambda item: (item[1][1], item[1][0]))
    )
    found = members.cogroup(pairs, parts).flatMap(lambda item: _group_component(*item[1])).collect()
    found.sort(key=lambda item: item[0].canonical)
    groups = tuple(replace(g, id=f"g{number}") for number, (g, _) in enumerate(found, start=1))
    return groups, [p for _, kept in found for p in kept]


def _explain(
    spark: SparkSession, prints: DataFrame, kept: list[Pair], settings: Settings
) -> tuple[Pair, ...]:
    """``explain`` every kept pair on the executors that hold both texts; exact copies get only
    the days between them, as locally."""
    if not kept:
        return ()
    wanted = spark.createDataFrame(
        [(n, p.a, p.b) for n, p in enumerate(kept)], "n long, a string, b string"
    )
    texts = [
        prints.select(
            F.col("id").alias(end),
            F.col("title").alias(f"title_{end}"),
            F.col("body").alias(f"body_{end}"),
            F.col("published").alias(f"published_{end}"),
        )
        for end in "ab"
    ]
    rows = wanted.join(texts[0], "a").join(texts[1], "b")
    pairs = spark.sparkContext.broadcast(dict(enumerate(kept)))

    def explained(r: Row) -> tuple[int, Pair]:
        a = Story(id=r.a, title=r.title_a, body=r.body_a, published=r.published_a)
        b = Story(id=r.b, title=r.title_b, body=r.body_b, published=r.published_b)
        pair = pairs.value[r.n]
        if pair.relation == "exact":
            return r.n, dated(pair, a.published_at(), b.published_at())
        return r.n, explain(pair, a, b, settings)

    try:
        done = dict(rows.rdd.map(explained).collect())
    finally:
        pairs.unpersist()
    return tuple(done[n] for n in range(len(kept)))


def _topic_docs(
    spark: SparkSession, prints: DataFrame, groups: Sequence[Group]
) -> list[tuple[str, tuple[str, ...]]]:
    """(id, topic words) of the stories in no group and of each group's canonical, as locally."""
    docs = prints.select("id", "fp")
    copies = [(m.id,) for g in groups for m in g.members if m.id != g.canonical]
    if copies:
        docs = docs.join(spark.createDataFrame(copies, "id string"), "id", "left_anti")
    return docs.rdd.map(lambda row: (row.id, _load(row.fp, row.id).topic_words)).collect()

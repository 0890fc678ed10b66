"""The Spark engine gives exactly the local engine's report, on Spark in local mode.

Needs pyspark and a Java runtime: without them these tests skip, or fail when CI=true.
"""

import json
import os
import shutil
import sys
from dataclasses import replace

import pytest

from benchmarks.variants import make_syndication_set
from dedupe import Detector, Story
from dedupe.ingest import read
from dedupe.settings import Settings
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, SEED, articles, edited


def missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'dedupe[spark]')"
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        return "no Java runtime"
    return None


@pytest.fixture(scope="module")
def spark():
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("dedupe-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def same_as_local(
    stories: list[Story], topics: bool = True, settings: Settings | None = None
) -> None:
    from dedupe.engines.spark import scan_stories

    settings = settings or Settings()
    local = Detector(settings=settings).scan(stories, topics=topics)
    spark = scan_stories(stories, "local[2]", settings=settings, topics=topics)
    # As lists of JSON lines: pytest points at the first line that differs, where its diff of
    # two large dicts or strings would take minutes.
    assert lines(spark.to_dict()) == lines(local.to_dict())
    assert list(spark.titles.items()) == list(local.titles.items())


def lines(report: dict) -> list[str]:
    return json.dumps(report, indent=1).splitlines()


def test_the_seed_page_gives_the_local_report(spark):
    same_as_local(list(read([SEED])))


def test_collisions_and_copies_give_the_local_report(spark):
    stories = [
        HARBOUR,
        HARBOUR_TEASER,
        RAIL,
        RAIL,  # the same record twice counts once
        Story(id="rail", title="Another story under the same id", body="Short text."),
        Story(id="rail", title="A third one", body="Also under the id rail, but different."),
        Story(id="harbour-copy", title=HARBOUR.title, body=HARBOUR.body),
        Story(id="harbour-copy-2", title=HARBOUR.title, body=HARBOUR.body),
        Story(title=RAIL.title, body=RAIL.body),  # no id: derived from the content
        Story(title=RAIL.title, body=RAIL.body),  # the same again: another story, an exact copy
        Story(id="rail~2", title="Holds the name a renamed story would take", body="Text."),
        Story(url="https://example.com/h", title="Fetched twice", body="Folded, and counted."),
        Story(url="https://example.com/h", title="Fetched twice", body="Folded, and counted."),
        edited(HARBOUR, "harbour-late", {"Tuesday": "Monday"}, published="2025-06-01T09:00:00Z"),
        Story(url="https://example.com/rail", title=RAIL.title, body=RAIL.body + " Updated."),
        edited(HARBOUR, "harbour-fix", {"31 votes to 12": "31 votes to 13"}),
        edited(RAIL, "rail-later", {"Monday": "Tuesday"}, published="2025-03-02T09:00:00Z"),
    ]
    same_as_local(stories)


def test_a_generated_syndication_corpus_gives_the_local_report(spark):
    corpus = make_syndication_set(articles(700, seed=7), bases=250, distractors=350, seed=7)
    stories = list(corpus.stories)
    assert len(stories) > 1200
    same_as_local(stories, topics=False)


def test_a_cap_on_partners_keeps_the_same_pairs_in_both_engines(spark):
    # At two partners a story, most stories of this corpus lose some of their candidates.
    corpus = make_syndication_set(articles(300, seed=3), bases=120, distractors=150, seed=3)
    same_as_local(list(corpus.stories), topics=False, settings=Settings(max_partners=2))


def test_a_dataframe_of_stories_gives_the_local_report(spark):
    from dedupe.engines.spark import scan_dataframe

    rows = [
        (HARBOUR.id, HARBOUR.title, HARBOUR.body, HARBOUR.published, "wire"),
        (None, HARBOUR_TEASER.title, HARBOUR_TEASER.body, None, None),
        ("rail", RAIL.title, RAIL.body, RAIL.published, "desk-1"),
        # The same text under the same id, told apart by an unknown field only: kept, renamed.
        ("rail", RAIL.title, RAIL.body, RAIL.published, "desk-2"),
        ("empty", None, "  ", None, None),  # no text: skipped, as dedupe scan skips it
    ]
    df = spark.createDataFrame(
        rows, "id string, title string, body string, published string, desk string"
    )
    teaser = Story(title=HARBOUR_TEASER.title, body=HARBOUR_TEASER.body)
    stories = [
        replace(HARBOUR, extra={"desk": "wire"}),
        teaser,
        replace(RAIL, extra={"desk": "desk-1"}),
        replace(RAIL, extra={"desk": "desk-2"}),
    ]
    report = scan_dataframe(df)
    assert report.to_dict() == Detector().scan(stories).to_dict()
    assert list(report.titles) == sorted(["harbour", teaser.id, "rail", "rail~2"])
    assert report.groups[0].canonical == "harbour"


def test_a_column_of_the_wrong_type_is_refused_before_any_task(spark):
    from dedupe.engines.spark import scan_dataframe

    df = spark.createDataFrame(
        [("a", "Title", "Body", 3)], "id string, title string, body string, published int"
    )
    with pytest.raises(ValueError, match="'published' must be a string"):
        scan_dataframe(df)

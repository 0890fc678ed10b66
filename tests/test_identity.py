"""Every record read is a story: ids are unique, deterministic, and nothing read vanishes."""

import itertools
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

import dedupe
from dedupe import Detector, Settings, Story
from tests.conftest import HARBOUR, RAIL, edited

ITEM = {"title": "Port strike ends after 12 days", "body": "Dock workers in Valdora returned to work on Friday after a 12-day strike over pay, the union said."}  # fmt: skip


def scan(stories, **settings):
    return Detector(settings=Settings(topics=False, **settings)).scan(stories)


def test_identical_records_without_ids_are_exact_copies_not_one_story():
    report = scan([Story(**ITEM) for _ in range(3)])
    assert report.stories == 3 and report.folded == 0
    (group,) = report.groups
    base = group.canonical
    assert base.startswith("c-")
    assert {m.id: m.relation for m in group.members} == {
        base: "original",
        f"{base}~2": "exact",
        f"{base}~3": "exact",
    }


def test_ids_do_not_depend_on_input_order():
    stories = [
        Story(**ITEM),
        Story(**ITEM, source="Wire A"),
        Story(**ITEM),
        Story(**ITEM, source="Wire B", published="2025-03-04T10:00:00Z"),
        Story(id="x", title="One story", body="About the harbour of Valdora and its cranes."),
        Story(id="x", title="Another", body="About night trains between Valdora and the capital."),
    ]
    reports = {
        json.dumps(scan(list(order)).to_dict(), sort_keys=True)
        for order in itertools.permutations(stories)
    }
    assert len(reports) == 1


def test_a_record_repeating_its_id_and_fields_is_folded_and_counted():
    report = scan([RAIL, RAIL, RAIL, HARBOUR])
    assert report.stories == 2
    assert report.folded == 2
    assert json.loads(report.to_json())["folded"] == 2


def test_a_url_names_a_story_across_fetches():
    item = Story(url="https://example.com/strike", **ITEM)
    report = scan([item, item])
    assert (report.stories, report.folded) == (1, 1)


def test_renamed_ids_never_land_on_another_story():
    a = Story(id="dup", title="One", body="The first story about the harbour and its new cranes.")
    b = Story(id="dup", title="Two", body="A second story about the night trains to the capital.")
    c = Story(id="dup~2", title="Three", body="A third story, about seagrass beds in the bay.")
    for order in itertools.permutations([a, b, c]):
        report = scan(list(order))
        assert sorted(report.titles) == ["dup", "dup~2", "dup~3"]
        assert report.titles["dup~2"] == "Three"


def later(story: Story, new_id: str, days: float) -> Story:
    moment = datetime.fromisoformat(story.published) + timedelta(days=days)
    return edited(story, new_id, {"welcomed": "praised"}, published=moment.isoformat())


def test_copies_are_found_whatever_their_dates():
    copy = later(HARBOUR, "copy-60-days", 60)
    report = scan([HARBOUR, copy, RAIL])
    (group,) = report.groups
    assert {m.id for m in group.members} == {"harbour", "copy-60-days"}
    (pair,) = report.pairs
    assert pair.evidence.days_apart == pytest.approx(60)
    assert pair.to_dict()["evidence"]["days_apart"] == 60.0


def test_a_window_asked_for_refuses_copies_further_apart():
    near, far = later(HARBOUR, "near", 3), later(HARBOUR, "far", 30)
    exact_far = Story(
        id="exact-far", title=HARBOUR.title, body=HARBOUR.body, published="2025-05-01"
    )
    report = scan([HARBOUR, near, far, exact_far], window_days=7)
    grouped = {m.id for g in report.groups for m in g.members if g.canonical == "harbour"}
    assert grouped == {"harbour", "near"}
    assert Detector(settings=Settings(window_days=7)).check(far).is_duplicate is False


def test_short_notices_weeks_apart_are_the_next_notice_not_a_copy():
    notice = dict(title="Valdora Shipping sets quarterly dividend", body="Valdora Shipping Co said it set a quarterly dividend of 12 cents per share, payable April 1 to holders of record March 15.")  # fmt: skip
    week_one = Story(id="w1", published="2025-03-04T09:00:00Z", **notice)
    resent = Story(id="w1-resent", published="2025-03-04T15:00:00Z", **notice)
    next_quarter = Story(id="q2", published="2025-06-03T09:00:00Z", **notice)
    report = scan([week_one, resent, next_quarter])
    assert [sorted(m.id for m in g.members) for g in report.groups] == [["w1", "w1-resent"]]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (datetime(2025, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=2))), "2025-03-04T07:30:00Z"),
        (datetime(2025, 3, 4, 9, 30), "2025-03-04T09:30:00"),
        (date(2025, 3, 4), "2025-03-04"),
        ("2025-03-04T09:30:00+02:00", "2025-03-04T09:30:00+02:00"),
        ("  ", None),
        (None, None),
    ],
)
def test_a_story_takes_a_crawlers_dates(given, kept):
    story = Story(id="s", title="t", body="b", published=given)
    assert story.published == kept
    assert Detector().add(story).is_duplicate is False


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("yesterday", "not an ISO 8601 date"),
        (1741078800, "must be a datetime, a date or ISO 8601 text, not int"),
        ("9999-12-31T23:59:59-01:00", "outside the calendar"),
    ],
)
def test_a_date_that_is_not_one_is_refused(given, message):
    with pytest.raises(ValueError, match=message):
        Story(id="s", title="t", body="b", published=given)


def test_verdicts_and_reports_serialize_in_one_call():
    detector = Detector()
    detector.add(HARBOUR)
    verdict = detector.add(edited(HARBOUR, "copy", {"welcomed": "praised"}))
    record = json.loads(verdict.to_json())
    assert record["verdict"] == "duplicate" and record["matches"][0]["id"] == "harbour"
    assert json.loads(scan([HARBOUR, RAIL]).to_json())["version"] == 1


def test_the_package_says_its_version_and_ships_its_types():
    assert dedupe.__version__[0].isdigit()
    assert Path(dedupe.__file__).with_name("py.typed").exists()


@pytest.mark.parametrize("field", ["id", "title", "body", "url", "source", "language"])
def test_a_field_that_is_not_text_is_refused(field):
    with pytest.raises(TypeError, match=f"{field} must be text"):
        Story(**{"title": "t", "body": "b", field: 12})

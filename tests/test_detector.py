import json
import threading

from dedupe import Detector, Story
from dedupe.settings import Settings
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, articles, edited


def test_scan_groups_copies_and_names_the_original():
    copy = edited(HARBOUR, "copy", {"welcomed": "praised"}, published="2025-03-05T09:00:00Z")
    exact = Story(id="exact", title=HARBOUR.title, body=HARBOUR.body)
    report = Detector().scan([HARBOUR_TEASER, RAIL, copy, HARBOUR, exact], topics=False)
    assert report.stories == 5
    assert len(report.groups) == 1
    group = report.groups[0]
    assert group.canonical == "harbour"  # earliest published, and not the teaser
    relations = {m.id: m.relation for m in group.members}
    assert relations == {
        "harbour": "original",
        "exact": "exact",
        "copy": "near-duplicate",
        "harbour-teaser": "teaser",
    }
    assert group.relation == "syndicated"
    assert all({p.a, p.b} <= set(relations) for p in report.pairs)


def test_scan_is_independent_of_input_order():
    stories = [HARBOUR, HARBOUR_TEASER, RAIL, edited(HARBOUR, "copy", {"welcomed": "praised"})]
    first = Detector().scan(stories, topics=False).to_dict()
    second = Detector().scan(list(reversed(stories)), topics=False).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_scan_tells_each_stage_after_reading_as_it_starts():
    copy = edited(HARBOUR, "copy", {"welcomed": "praised"})
    stories = [HARBOUR, HARBOUR_TEASER, RAIL, copy]
    told: list[tuple[str, int]] = []
    report = Detector().scan(stories, texts=True, stage=lambda *stage: told.append(stage))
    names = [name for name, _ in told]
    assert names == ["candidates", "verifying", "grouping", "explaining", "topics", "texts"]
    counts = dict(told)
    assert counts["candidates"] == 4
    assert counts["verifying"] >= counts["grouping"] >= counts["explaining"] == len(report.pairs)
    assert counts["explaining"] == 2
    grouped = sum(len(group.members) for group in report.groups)
    assert counts["texts"] == grouped == 3
    # The stories in no group, and the canonical of each group.
    assert counts["topics"] == 4 - grouped + len(report.groups)
    told.clear()
    Detector().scan(stories, topics=False, stage=lambda *stage: told.append(stage))
    assert [name for name, _ in told] == ["candidates", "verifying", "grouping", "explaining"]


def test_different_stories_under_one_id_are_both_kept():
    a = Story(id="same", title="One", body="The first story about the harbour.")
    b = Story(id="same", title="Two", body="A second story about night trains.")
    for order in ([a, b], [b, a]):
        report = Detector().scan(order, topics=False)
        assert report.stories == 2 and set(report.titles) == {"same", "same~2"}
    assert Detector().scan([a, a], topics=False).stories == 1


def test_empty_and_title_only_stories_do_not_break_a_scan():
    stories = [
        Story(id="t1", title="Rates held"),
        Story(id="t2", title="Rates held"),
        Story(id="e", title="", body=""),
    ]
    report = Detector().scan(stories, topics=False)
    assert [[m.id for m in g.members] for g in report.groups] == [["t1", "t2"]]


def test_check_and_add_against_an_index():
    detector = Detector()
    assert not detector.add(HARBOUR).is_duplicate
    assert not detector.check(RAIL).is_duplicate
    verdict = detector.check(HARBOUR_TEASER)
    assert verdict.is_duplicate
    match = verdict.matches[0]
    assert (match.story_id, match.relation) == ("harbour", "teaser")
    assert match.evidence.shared
    # check stores nothing; adding the same story again reports it, and stores it once.
    assert not detector.check(RAIL).is_duplicate
    again = detector.add(HARBOUR)
    assert again.is_duplicate and again.matches[0].relation == "exact"
    assert len(detector.index_.storage) == 1


def test_a_score_floor_refuses_the_pairs_scored_below_it():
    teaser = Detector().scan([HARBOUR, HARBOUR_TEASER], topics=False).pairs[0]
    assert teaser.relation == "teaser"
    at_score = Detector(settings=Settings(min_score=teaser.score))
    assert at_score.scan([HARBOUR, HARBOUR_TEASER], topics=False).pairs == (teaser,)
    above = Detector(settings=Settings(min_score=min(1.0, teaser.score + 0.01)))
    report = above.scan([HARBOUR, HARBOUR_TEASER], topics=False)
    assert report.groups == () and report.pairs == ()
    above.add(HARBOUR)
    assert not above.check(HARBOUR_TEASER).is_duplicate
    # An exact copy scores 1: no floor refuses it.
    exact = Story(id="exact", title=HARBOUR.title, body=HARBOUR.body)
    assert Detector(settings=Settings(min_score=1.0)).scan([HARBOUR, exact]).groups


def test_a_story_replaced_under_its_id_is_judged_by_its_new_text(tmp_path):
    """Fingerprints of stored stories are kept between checks; a new text under the same id
    must not be judged by the old one's."""
    draft = edited(HARBOUR, "draft", {"welcomed": "praised"})
    with Detector(index=str(tmp_path / "index.sqlite")) as detector:
        detector.add(Story(id="stored", title=HARBOUR.title, body=HARBOUR.body))
        assert [m.story_id for m in detector.check(draft).matches] == ["stored"]
        detector.remove(["stored"])
        detector.add(Story(id="stored", title=RAIL.title, body=RAIL.body))
        assert detector.check(draft).matches == ()


def test_only_new_keeps_published_copies_out_of_the_index():
    detector = Detector()
    detector.add(HARBOUR)
    assert detector.add(HARBOUR_TEASER, only_new=True).is_duplicate
    assert "harbour-teaser" not in detector.index_.storage
    assert not detector.add(RAIL, only_new=True).is_duplicate
    assert "rail" in detector.index_.storage


def test_copies_offered_at_once_give_exactly_one_new():
    detector = Detector()
    copies = [Story(id=f"copy-{i}", title=HARBOUR.title, body=HARBOUR.body) for i in range(8)]
    verdicts: list = []
    threads = [
        threading.Thread(target=lambda s=s: verdicts.append(detector.add(s))) for s in copies
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not v.is_duplicate for v in verdicts) == 1


def test_add_is_safe_from_many_threads():
    detector = Detector()
    stories = [edited(RAIL, f"rail-{i}", {"Monday": f"Monday {i}"}) for i in range(40)]
    threads = [threading.Thread(target=detector.add, args=(s,)) for s in stories]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(detector.index_.storage) == 40


RUSSIAN = (
    "Правительство Казахстана сообщило во вторник, что с начала 2025 года из страны депортированы "
    "почти 10 000 иностранных граждан. По словам первого заместителя министра внутренних дел, "
    "большинство нарушителей прибыли из соседних государств и работали без разрешения. Министерство "
    "труда предложило ввести лицензии для частных агентств, которые отправляют граждан на работу за "
    "границу, а также усилить контроль на пограничных пунктах."
)
CHINESE = (
    "国家统计局周二公布的数据显示，今年前五个月全国规模以上工业企业利润同比增长百分之三点五，"
    "其中高技术制造业利润增长明显快于整体水平。分析人士认为，随着内需逐步恢复，"
    "下半年工业生产有望保持稳定增长，但外部环境的不确定性仍然较大。"
)


def test_copies_are_found_in_other_scripts():
    stories = [
        Story(id="ru", title="Депортации", body=RUSSIAN),
        Story(id="ru-copy", title="Депортации", body=RUSSIAN.replace("во вторник", "в среду")),
        Story(id="zh", title="工业利润", body=CHINESE),
        Story(id="zh-copy", title="工业利润增长", body=CHINESE.replace("周二", "周三")),
        Story(
            id="el",
            title="Λιμάνι",
            body="Το λιμάνι του Πειραιά θα διπλασιάσει τη χωρητικότητα των εμπορευματοκιβωτίων έως το 2028 σύμφωνα με το σχέδιο που εγκρίθηκε την Τρίτη από το περιφερειακό συμβούλιο.",
        ),
    ]
    report = Detector().scan(stories, topics=False)
    assert sorted(sorted(m.id for m in g.members) for g in report.groups) == [
        ["ru", "ru-copy"],
        ["zh", "zh-copy"],
    ]


def test_every_core_by_default_gives_the_report_of_one_process():
    stories = articles(2600, seed=3)
    stories += [edited(s, f"{s.id}-copy", {}, title=s.title + " (update)") for s in stories[:300]]
    parallel = Detector(jobs=2).scan(stories, topics=False)
    alone = Detector(jobs=1).scan(stories, topics=False)
    assert Detector().jobs is None  # resolved to one process per core when scanning
    assert parallel.to_dict() == alone.to_dict()
    assert len(parallel.groups) >= 300


def test_json_lines_parsed_by_workers_give_the_report_of_stories_read_here(tmp_path) -> None:
    from dedupe import detector as detector_module
    from dedupe.ingest import read

    stories = [*articles(40, seed=5), HARBOUR, HARBOUR_TEASER, RAIL]
    stories.append(edited(HARBOUR, "harbour-copy", {"Tuesday": "Monday"}))
    records = [json.dumps(s.to_dict()) for s in stories]
    records.insert(7, records[3])  # the same record twice: folded
    records.insert(20, '{"id": "broken"')  # a bad line: skipped, counted
    records.append(json.dumps({**stories[5].to_dict(), "title": "Another under the same id"}))
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    errors: list = []
    original_batch = detector_module.BATCH
    detector_module.BATCH = 8  # several batches, so that the workers parse most of them
    try:
        parallel = Detector(jobs=2).scan(read([path], errors=errors), topics=False)
    finally:
        detector_module.BATCH = original_batch
    here = Detector(jobs=1).scan(list(read([path])), topics=False)
    assert parallel.to_dict() == here.to_dict()
    assert parallel.folded == 1 and len(errors) == 1 and errors[0].line == 21
    assert f"{stories[5].id}~2" in parallel.titles

"""The JSON report schema shipped in the package describes what ``scan`` and ``check`` write."""

from __future__ import annotations

import copy
import io
import json
import math
import tomllib
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from dedupe import cli
from dedupe.report import write_report, write_verdicts
from dedupe.story import Evidence, Group, Match, Member, Pair, Report, Verdict
from tests.conftest import HARBOUR, HARBOUR_TEASER, RAIL, ROOT, SEED

SCHEMA = json.loads(files("dedupe").joinpath("report.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def written(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def seed_report() -> dict[str, Any]:
    return written("scan", str(SEED), "--format", "json")


def test_the_schema_is_valid_draft_2020_12_and_ships_in_the_package() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "report.schema.json" in pyproject["tool"]["setuptools"]["package-data"]["dedupe"]


def test_the_seed_report_is_valid(seed_report: dict[str, Any]) -> None:
    assert len(seed_report["groups"]) == 2 and seed_report["topics"]
    VALIDATOR.validate(seed_report)


def test_check_verdicts_are_valid(tmp_path) -> None:
    corpus = tmp_path / "published.jsonl"
    corpus.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in (HARBOUR, RAIL)))
    drafts = tmp_path / "drafts.jsonl"
    new = {"id": "library", "title": "Council opens a library", "body": "It holds 40,000 books."}
    drafts.write_text(json.dumps(HARBOUR_TEASER.to_dict()) + "\n" + json.dumps(new) + "\n")

    document = written("check", str(drafts), "--against", str(corpus), "--format", "json")

    assert [v["verdict"] for v in document["verdicts"]] == ["duplicate", "new"]
    VALIDATOR.validate(document)


def test_evidence_with_days_apart_and_unknown_keys_is_valid(seed_report: dict[str, Any]) -> None:
    report = copy.deepcopy(seed_report)
    report["pairs"][0]["evidence"] |= {"days_apart": 1.5, "facts_agreement": 1.0}
    VALIDATOR.validate(report)


def _without_version(report: dict[str, Any]) -> None:
    del report["version"]


def _version_2(report: dict[str, Any]) -> None:
    report["version"] = 2


def _unknown_relation(report: dict[str, Any]) -> None:
    report["pairs"][0]["relation"] = "copy"


def _score_as_text(report: dict[str, Any]) -> None:
    report["groups"][0]["members"][1]["score"] = "0.71"


def _member_without_id(report: dict[str, Any]) -> None:
    del report["groups"][0]["members"][0]["id"]


def _negative_days_apart(report: dict[str, Any]) -> None:
    report["pairs"][0]["evidence"]["days_apart"] = -1


def _evidence_without_shared(report: dict[str, Any]) -> None:
    del report["pairs"][0]["evidence"]["shared"]


def _group_of_one(report: dict[str, Any]) -> None:
    del report["groups"][0]["members"][1:]


def _topics_missing(report: dict[str, Any]) -> None:
    del report["topics"]


@pytest.mark.parametrize(
    "breaks",
    [
        _without_version,
        _version_2,
        _unknown_relation,
        _score_as_text,
        _member_without_id,
        _negative_days_apart,
        _evidence_without_shared,
        _group_of_one,
        _topics_missing,
    ],
)
def test_a_broken_report_is_invalid(seed_report: dict[str, Any], breaks) -> None:
    report = copy.deepcopy(seed_report)
    breaks(report)
    assert not VALIDATOR.is_valid(report)


def test_a_duplicate_verdict_without_matches_is_invalid() -> None:
    document = {"version": 1, "verdicts": [{"id": "d", "verdict": "duplicate", "matches": []}]}
    assert not VALIDATOR.is_valid(document)


NAN_PAIR = Pair("a", "b", "syndicated", math.nan, Evidence(90.0, 0.5, 0.4))


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_nan_is_refused_rather_than_written(fmt: str) -> None:
    group = Group("g1", "syndicated", "a", (Member("a", "original"), Member("b", "syndicated")))
    report = Report(stories=2, groups=(group,), pairs=(NAN_PAIR,))
    out = io.StringIO()
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_report(report, fmt, out)
    assert "NaN" not in out.getvalue()
    with pytest.raises(ValueError, match="not JSON compliant"):
        report.to_json()


def test_a_nan_in_a_verdict_is_refused_rather_than_written() -> None:
    match = Match("published", "teaser", math.inf, Evidence(math.nan, 0.5, 0.4), "Title")
    verdicts = [Verdict("new-draft"), Verdict("draft", (match,))]
    out = io.StringIO()
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_verdicts(verdicts, "json", out)
    assert out.getvalue() == ""
    with pytest.raises(ValueError, match="not JSON compliant"):
        verdicts[1].to_json()

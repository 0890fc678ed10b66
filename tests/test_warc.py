"""WARC archives as input, written by warcio itself as a crawler would write them."""

import gzip
import io
import json
import logging
import random
import re

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from dedupe import Story
from dedupe.ingest import InputError, read, warc
from tests.conftest import HARBOUR, RAIL
from tests.test_cli import run
from tests.web_pages import harbour_times_page, ledger_page, ledger_section_front

PORT_URL = "https://ledger.example/news/port?utm_source=feed"
RAIL_URL = "https://ledger.example/news/rail"
COPY_URL = "https://harbourtimes.example/port.html"
FRONT_URL = "https://ledger.example/news/"


def response(writer, url, body, content_type="text/html; charset=utf-8", status="200 OK"):
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=headers
    )
    record.rec_headers.replace_header("WARC-Date", "2025-03-05T06:00:00Z")
    writer.write_record(record)


def request(writer, url):
    headers = StatusAndHeaders(
        f"GET {url} HTTP/1.1", [("Host", url.split("/")[2])], is_http_request=True
    )
    writer.write_record(
        writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=headers)
    )


def crawl(gzip=True, image_bytes=1000):
    """A crawl as a crawler archives it: each page's request and response, a warcinfo record,
    an image, a redirect, a section front and a page with no date of its own."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip)
    writer.write_record(writer.create_warcinfo_record("crawl.warc.gz", {"software": "test"}))
    undated = Story(title=RAIL.title, body=RAIL.body)
    for url, html in [
        (PORT_URL, ledger_page(HARBOUR, "port", read_more=RAIL.title)),
        (FRONT_URL, ledger_section_front()),
        (
            RAIL_URL,
            re.sub(
                r"<meta property=.article:published_time[^>]*>", "", ledger_page(undated, "rail")
            ),
        ),
    ]:
        request(writer, url)
        response(writer, url, html.encode())
    # Random bytes do not compress: the archive is longer than what sniffing reads at once.
    image = random.Random(7).randbytes(image_bytes)
    response(writer, "https://ledger.example/img/lead.jpg", image, content_type="image/jpeg")
    response(writer, "http://ledger.example/", b"", status="301 Moved Permanently")
    request(writer, COPY_URL)
    response(writer, COPY_URL, harbour_times_page(HARBOUR, "port").encode(), "text/html")
    return buffer.getvalue()


def read_all(*inputs, **options):
    errors: list[InputError] = []
    return list(read(list(inputs), errors=errors, **options)), errors


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc", "crawl.bin"])
def test_the_html_responses_of_an_archive_are_its_stories(tmp_path, caplog, name):
    path = tmp_path / name
    path.write_bytes(crawl(gzip=name.endswith(".gz")))
    counted: list[int] = []
    with caplog.at_level(logging.INFO, logger="dedupe"):
        (stories, errors) = read_all(path, records=counted.append)
    assert [s.url for s in stories] == [PORT_URL, RAIL_URL, COPY_URL]
    assert [s.id for s in stories] == [Story(url=s.url).id for s in stories]
    assert [s.body for s in stories] == [HARBOUR.body, RAIL.body, HARBOUR.body]
    # The page's own date, else when it was fetched.
    assert [s.published for s in stories] == [
        HARBOUR.published,
        "2025-03-05T06:00:00Z",
        HARBOUR.published,
    ]
    assert [str(e) for e in errors] == [f"{path}: {FRONT_URL}: no article text found in page"]
    # warcinfo, four requests, the image and the redirect.
    assert f"{path}: skipped 7 non-article records" in caplog.messages
    # Every record is counted for progress: 3 stories, the front page, the 7 others.
    assert sum(counted) == 11


def test_a_truncated_archive_keeps_what_was_read_and_says_so(tmp_path):
    whole = crawl(image_bytes=200_000)
    for cut in (len(whole) - 300, len(whole) - 2000):
        path = tmp_path / "crawl.warc.gz"
        path.write_bytes(whole[:cut])
        (stories, errors) = read_all(path)
        assert [s.url for s in stories] == [PORT_URL, RAIL_URL]
        # gzip reads ahead: the end is found some records before the last.
        assert str(errors[-1]).startswith(f"{path}: truncated or corrupt WARC archive after ")
    plain = gzip.decompress(whole)
    for cut, problem in (
        (len(plain) - 300, f"the record of {COPY_URL} is cut short"),
        (plain.rindex(b"WARC/1") + 40, "a record header is cut or damaged"),
    ):
        path = tmp_path / "crawl.warc"
        path.write_bytes(plain[:cut])
        (stories, errors) = read_all(path)
        assert [s.url for s in stories] == [PORT_URL, RAIL_URL]
        assert (
            str(errors[-1])
            == f"{path}: truncated or corrupt WARC archive after 10 records: {problem}"
        )


def test_scan_of_an_archive_through_the_command_line(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(crawl())
    result = run("scan", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stories"] == 3
    groups = [sorted(m["id"] for m in g["members"]) for g in report["groups"]]
    assert groups == [sorted([Story(url=PORT_URL).id, Story(url=COPY_URL).id])]
    assert f"{FRONT_URL}: no article text found in page" in result.stderr


def test_a_page_too_large_is_skipped_and_the_archive_read_on(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    response(writer, PORT_URL, ledger_page(HARBOUR, "port").encode() + b" " * (1 << 20))
    response(writer, RAIL_URL, ledger_page(RAIL, "rail").encode())
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(buffer.getvalue())
    monkeypatch.setattr(warc, "MAX_PAGE_BYTES", 1 << 20)
    (stories, errors) = read_all(path)
    assert [s.url for s in stories] == [RAIL_URL]
    assert [str(e) for e in errors] == [f"{path}: {PORT_URL}: page is larger than 1 MB; skipped"]

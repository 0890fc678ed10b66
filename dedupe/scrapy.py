"""A Scrapy item pipeline that checks each scraped item against a shared index of stories.

Enable it in the project's settings::

    ITEM_PIPELINES = {"dedupe.scrapy.DedupePipeline": 300}
    DEDUPE_INDEX = "published.sqlite"         # or "redis://127.0.0.1:6379/0"
    DEDUPE_FIELDS = {"body": "text"}          # only the fields named otherwise than the defaults
    DEDUPE_DROP = True                        # False: keep copies, marked in item["dedupe"]
    DEDUPE_MARK_FIELD = "dedupe"              # where marks go; an Item class must declare it

Scrapy is an optional extra (``pip install "dedupe[scrapy]"``) and is imported only here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Self

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from dedupe.detector import Detector
from dedupe.storage import UnstorableStory
from dedupe.story import Story, Verdict

logger = logging.getLogger(__name__)

# The item fields tried for each story field, in order: the names scraped items use most often.
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline"),
    "body": ("body", "text", "content"),
    "url": ("url",),
    "published": ("published", "date"),
    "source": ("source",),
}


def field_names(setting: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``DEFAULT_FIELDS`` with the story fields that ``DEDUPE_FIELDS`` names otherwise; each
    may name one item field or a list tried in order."""
    unknown = sorted(set(setting) - set(DEFAULT_FIELDS))
    if unknown:
        raise ValueError(
            f"DEDUPE_FIELDS names unknown story fields {unknown}; "
            f"it maps {sorted(DEFAULT_FIELDS)} to item fields"
        )
    fields = dict(DEFAULT_FIELDS)
    for name, given in setting.items():
        fields[name] = (given,) if isinstance(given, str) else tuple(given)
    return fields


def item_value(item: ItemAdapter, names: Sequence[str]) -> Any:
    """The first of ``names`` the item holds a value for. A list of strings (paragraphs, as
    ``.getall()`` returns them) is joined into one text."""
    for name in names:
        value = item.get(name)
        if isinstance(value, list | tuple) and all(isinstance(part, str) for part in value):
            value = "\n\n".join(part.strip() for part in value if part.strip())
        if value is not None and value != "":
            return value
    return None


class DedupePipeline:
    """Stores each item as a story in ``DEDUPE_INDEX`` and drops (or marks) the items that
    copy one stored before, from this crawl, an earlier one or another process sharing it.

    ``Detector.add`` stores and checks in one atomic step, so of two copies crawled at once
    by processes sharing a Redis index exactly one is new. Its calls block the crawl while
    they run: against SQLite or Redis they take milliseconds, which a crawl waiting on the
    network does not notice, so they are not worth a thread pool.

    Items without text, with a date that is not one, or with fields that are not text are
    passed on untouched, counted as ``dedupe/skipped`` and logged: a crawl never stops for
    one odd page. An index that cannot be opened or written is an error, not a skip.
    """

    def __init__(
        self,
        index: str,
        stats: StatsCollector,
        fields: Mapping[str, Sequence[str]] | None = None,
        drop: bool = True,
        mark_field: str = "dedupe",
    ) -> None:
        self.index = index
        self.stats = stats
        self.fields = dict(fields) if fields is not None else dict(DEFAULT_FIELDS)
        self.drop = drop
        self.mark_field = mark_field
        self.detector: Detector | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        index = settings.get("DEDUPE_INDEX")
        if not index:
            # Not NotConfigured: Scrapy would disable the pipeline with a log line and the
            # crawl would pass every copy on, unnoticed.
            raise ValueError(
                "DedupePipeline needs DEDUPE_INDEX: a SQLite file path or a redis:// URL"
            )
        assert crawler.stats is not None
        return cls(
            index=str(index),
            stats=crawler.stats,
            fields=field_names(settings.getdict("DEDUPE_FIELDS")),
            drop=settings.getbool("DEDUPE_DROP", True),
            mark_field=settings.get("DEDUPE_MARK_FIELD", "dedupe"),
        )

    def open_spider(self, spider: object = None) -> None:
        """Opens the index now, so that a wrong path or an unreachable server stops the crawl
        before it fetches anything."""
        self.detector = Detector(self.index)
        self.detector.index_  # noqa: B018

    def close_spider(self, spider: object = None) -> None:
        if self.detector is not None:
            self.detector.close()
            self.detector = None

    def process_item(self, item: Any, spider: object = None) -> Any:
        """The item, marked when ``DEDUPE_DROP`` is false; ``DropItem`` for a copy."""
        assert self.detector is not None, "open_spider was not called"
        adapter = ItemAdapter(item)
        try:
            story = self.read_story(adapter)
        except (TypeError, ValueError) as error:
            return self.skip(item, str(error))
        if not (story.title.strip() or story.body.strip()):
            return self.skip(item, "no title or body")
        try:
            verdict = self.detector.add(story)
        except UnstorableStory as error:
            return self.skip(item, str(error))
        self.count(verdict)
        if verdict.is_duplicate and self.drop:
            best = verdict.matches[0]
            raise DropItem(
                f"{best.relation} of {best.story_id} (score {best.score:.2f}, "
                f"{best.title!r}): {story.url or story.id}"
            )
        if not self.drop:
            adapter[self.mark_field] = verdict.to_dict()
        return item

    def read_story(self, item: ItemAdapter) -> Story:
        """The item as a story; its id comes from its url, as for any story that has one.

        Raises:
            TypeError: a field holds something other than text.
            ValueError: the date is not one.
        """
        values = {name: item_value(item, names) for name, names in self.fields.items()}
        title, body = values["title"], values["body"]
        return Story(
            title="" if title is None else title,
            body="" if body is None else body,
            url=values["url"],
            source=values["source"],
            published=values["published"],
        )

    def count(self, verdict: Verdict) -> None:
        if verdict.is_duplicate:
            self.stats.inc_value(f"dedupe/duplicate/{verdict.matches[0].relation}")
        else:
            self.stats.inc_value("dedupe/new")

    def skip(self, item: Any, reason: str) -> Any:
        self.stats.inc_value("dedupe/skipped")
        url = item_value(ItemAdapter(item), self.fields["url"])
        logger.warning("dedupe skipped an item (%s): %s", reason, url or "no url")
        return item

"""HTML to the text a reader sees: paragraphs on their own lines, entities resolved."""

from __future__ import annotations

from html.parser import HTMLParser

# Elements that start a new line of text when rendered.
_BLOCKS = frozenset(
    """address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5
    h6 header hr li main nav ol p pre section table tr ul""".split()
)
# Elements whose content is not text for a reader.
_HIDDEN = frozenset({"script", "style", "template", "noscript"})
# Cells of one row stay on one line, apart.
_CELLS = frozenset({"td", "th"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden_depth += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """The end of a marked section ("<![CDATA[...]]>") at ``i``, -1 if it is unfinished.

        Python before 3.13 raises AssertionError on one it does not know ("<![ x"), and feeds
        hold them; HTML5 reads such a thing as a bogus comment, up to the next ">".
        """
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return -1 if end < 0 else end + 1


def html_to_text(html: str) -> str:
    """The text of an HTML fragment, one paragraph per line, spaces collapsed."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).split("\n"))
    return "\n".join(line for line in lines if line)

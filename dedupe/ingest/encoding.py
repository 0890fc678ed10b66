"""Telling the text encoding of an input from its first bytes.

UTF-8 and byte order marks are taken at their word. Anything else must be told with confidence or
is refused, because a wrong guess silently turns every accented or Cyrillic word into different
tokens and hides the very duplicates this tool looks for.

charset_normalizer's own first choice is not trusted for this: it ranks cp1250 or cp1257 first
for French, and Shift_JIS first for KOI8-R Russian. Instead every common legacy code page reads
the sample, and a reading is kept only if it is real text (no mojibake, little mess by
charset_normalizer's measure) whose common letters are those of a language that code page is
made for. Readings that still disagree on a common letter are weighed; if none is clearly better,
the input is refused.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import regex

from .errors import InputError

# Longest first; the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 control bytes that text does not contain (tab, newlines, form feed and escape excepted).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1b")
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
# More control bytes than this share of the head means binary data, whatever it decodes to. NUL
# counts like the others: one stray NUL costs its line, not the file.
_MAX_CONTROL_SHARE = 0.01
# A head that is not valid UTF-8 is still read as UTF-8, its invalid lines skipped one by one, when
# its valid multi-byte characters outnumber its invalid bytes this many times over. Legacy text
# holds valid UTF-8 sequences only by accident: measured on news text, at most 0.4 per invalid
# byte (EUC-JP Japanese; 0.2 in GBK, Shift_JIS and EUC-KR; none in cp1251, cp1252 or cp1253).
_UTF8_MAJORITY = 4
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_NOT_ASCII = re.compile("[^\x00-\x7f]")

# Legacy single-byte code pages, the most used first: of two readings that differ only in letters
# too rare to matter (a foreign name), the earlier code page's is taken.
_CODE_PAGE_ORDER = (
    "cp1252", "cp1251", "cp1250", "cp1256", "cp1254", "cp1253", "cp1257", "cp1255",
    "koi8_r", "koi8_u", "iso8859_2", "iso8859_16", "iso8859_9", "iso8859_13", "iso8859_7",
    "iso8859_8", "kz1048",
)  # fmt: skip
_WESTERN = ("cp1252",)
_CENTRAL_EUROPEAN = ("cp1250", "iso8859_2")
_BALTIC = ("cp1257", "iso8859_13")
_CYRILLIC = ("cp1251", "koi8_r")
_RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_ARABIC = "".join(chr(c) for c in range(0x620, 0x6D4) if chr(c).isalpha()) + "àâçèéêëîïôùûüœ"
# Each language's letters beyond ASCII (lower case) and the code pages its text is found in.
# Named as charset_normalizer names them, whose tables give the most frequent letters of each.
_LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "English": ("", _WESTERN),
    "Indonesian": ("", _WESTERN),
    "French": ("àâæçéèêëîïôœùûüÿ", _WESTERN),
    "German": ("äöüß", _WESTERN),
    "Spanish": ("áéíñóúü", _WESTERN),
    "Portuguese": ("àáâãçéêíóôõúü", _WESTERN),
    "Italian": ("àèéìíîòóùú", _WESTERN),
    "Dutch": ("áàéèëïóöüú", _WESTERN),
    "Danish": ("æøåéóü", _WESTERN),
    "Norwegian": ("æøåéóü", _WESTERN),
    "Swedish": ("åäöéü", _WESTERN),
    "Finnish": ("åäöšž", _WESTERN),
    "Polish": ("ąćęłńóśźż", _CENTRAL_EUROPEAN),
    "Czech": ("áčďéěíňóřšťúůýž", _CENTRAL_EUROPEAN),
    "Slovak": ("áäčďéíĺľňóôŕšťúýž", _CENTRAL_EUROPEAN),
    "Slovene": ("čćđšž", _CENTRAL_EUROPEAN),
    "Croatian": ("čćđšž", _CENTRAL_EUROPEAN),
    "Hungarian": ("áéíóöőúüű", _CENTRAL_EUROPEAN),
    "Romanian": ("ăâîșțşţ", ("cp1250", "iso8859_16", "iso8859_2")),
    "Turkish": ("çğıöşüâîû", ("cp1254", "iso8859_9")),
    "Lithuanian": ("ąčęėįšųūž", _BALTIC),
    "Latvian": ("āčēģīķļņšūž", _BALTIC),
    "Estonian": ("äöõüšž", _BALTIC),
    "Russian": (_RUSSIAN, _CYRILLIC),
    "Bulgarian": (_RUSSIAN, _CYRILLIC),
    "Ukrainian": ("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя", ("cp1251", "koi8_u")),
    "Belarusian": ("абвгдеёжзійклмнопрстуўфхцчшыьэюя", ("cp1251",)),
    "Serbian": ("абвгдђѓежзѕијклљмнњопрстћќуфхцчџш", ("cp1251",)),
    "Kazakh": (_RUSSIAN + "әғқңөұүһі", ("kz1048",)),
    "Greek": ("αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰς", ("cp1253", "iso8859_7")),
    "Hebrew": ("אבגדהוזחטיכךלמםנןסעפףצץקרשתװױײ", ("cp1255", "iso8859_8")),
    # cp1256 also carries the French letters of North African text.
    "Arabic": (_ARABIC, ("cp1256",)),
    "Farsi": (_ARABIC, ("cp1256",)),
}


@cache
def _typical_letters(code_page: str) -> frozenset[str]:
    """The letters beyond ASCII among the most frequent of the languages a code page is made
    for. charset_normalizer is imported only here and below, when a text is not UTF-8: it costs
    every command a twentieth of its start-up otherwise."""
    from charset_normalizer.constant import FREQUENCIES

    return frozenset(
        char
        for language, (_, code_pages) in _LANGUAGES.items()
        if code_page in code_pages
        for char in FREQUENCIES.get(language, ())
        if char > "\x7f"
    )


# Letter-like signs any Latin text may hold (ordinal indicators, micro).
_ANY_LANGUAGE = "ªºµ"
# A letter counts towards a reading's alphabet only if it is this common: a foreign name must not
# decide the language of a text.
_SIGNIFICANT_SHARE = 0.002
# Common letters allowed beyond a language's own: a name that recurs (Söder in Spanish text).
_FOREIGN_LETTERS = 1
# The wrong code page gives the bytes of letters as symbols ("urz±dzenia", "Tak± decyzję"),
# Icelandic letters (Turkish ğ ş in cp1252: "öðrenci"), letters of another script inside a word,
# or KOI8-R and cp1251 read for each other, lower case running into capitals ("пЕРВЫЙ"). Real
# text has next to none of these (a typo such as "r“b").
_SYMBOL = r"[^\p{L}\p{M}\s\x00-\x7f'’‘·\u00ad\u2010-\u2015\u200b-\u200f]"
_STRAY = "¤¦¨¬¯±´¶¸¹¼½¾×÷˘˛ˇ˝˙"
_OTHER_SCRIPT = r"[\p{Arabic}\p{Cyrillic}\p{Greek}\p{Hebrew}\u0591-\u05c7\u064b-\u065f\u0670]"
_MOJIBAKE = regex.compile(
    rf"\p{{L}}{_SYMBOL}\p{{L}}|\p{{L}}[{_STRAY}]|[{_STRAY}]\p{{L}}|[ðþÐÞ]"
    rf"|\p{{Latin}}{_OTHER_SCRIPT}|{_OTHER_SCRIPT}\p{{Latin}}"
    r"|(?![\x00-\x7f])\p{Ll}\p{Lu}|\p{Ll}(?![\x00-\x7f])\p{Lu}"
)
_MOJIBAKE_PER_CHAR = 1 / 2000
# charset_normalizer's mess measure: above this, a reading is noise.
_MAX_MESS = 0.2


@cache
def _cjk_encodings() -> list[str]:
    from charset_normalizer.constant import IANA_SUPPORTED
    from charset_normalizer.utils import is_multi_byte_encoding

    return [
        name
        for name in IANA_SUPPORTED
        if is_multi_byte_encoding(name) and not name.startswith("utf")
    ]


# Han, kana, Hangul and full-width forms; not half-width katakana, which is what single-byte
# Cyrillic or Latin text turns into when read as Shift_JIS.
_CJK_CHARACTER = re.compile(
    "[\u1100-\u11ff\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\uff01-\uff60\U00020000-\U0002fa1f]"
)
# The share of non-ASCII characters that must be CJK in a CJK reading.
_MIN_CJK_SHARE = 0.9
# CJK readings within this much of the least chaos are equally plausible.
_CHAOS_TIE = 0.05


def bom_encoding(head: bytes) -> str | None:
    """The encoding announced by a byte order mark, if any."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def detect_encoding(head: bytes, complete: bool, source: str) -> str:
    """The encoding of an input whose first bytes are ``head``; InputError if it cannot be told.

    ``complete`` says that ``head`` is the whole input, so a character cut at its end is an error.
    """
    if encoding := bom_encoding(head):
        return encoding
    if len(head.translate(None, _NOT_CONTROL)) > _MAX_CONTROL_SHARE * len(head):
        raise InputError(source, None, "not a text file (binary content)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError as err:
        not_utf8 = f"byte 0x{head[err.start]:02x} at offset {err.start} is not UTF-8"
    else:
        return "utf-8"
    # Only whole lines: a multi-byte character cut at the end of the head confuses the guess.
    sample = head if complete else head[: head.rfind(b"\n") + 1] or head
    if _mostly_utf8(sample):
        return "utf-8"
    encoding = _single_byte_encoding(sample) or _cjk_encoding(sample)
    if encoding is None:
        message = f"cannot tell the text encoding ({not_utf8}); convert the file to UTF-8"
        raise InputError(source, None, message)
    return encoding


def _mostly_utf8(sample: bytes) -> bool:
    """True for UTF-8 text with a few invalid bytes: a stray byte, a record pasted from cp1252."""
    text = sample.decode("utf-8", "surrogateescape")
    invalid = len(_ESCAPED_BYTE.findall(text))
    multi_byte = len(_NOT_ASCII.findall(text)) - invalid
    return multi_byte >= _UTF8_MAJORITY * invalid


@dataclass(frozen=True, slots=True)
class _Reading:
    code_page: str
    """The most used code page that reads the sample so."""
    foreign: int
    """How many common letters are foreign to the language of ``code_page`` it fits best."""
    letters: frozenset[str]
    """Its common letters beyond ASCII."""


def _single_byte_encoding(sample: bytes) -> str | None:
    readings: dict[str, _Reading] = {}
    for code_page in _CODE_PAGE_ORDER:
        try:
            text = sample.decode(code_page)
        except UnicodeDecodeError:
            continue
        if text not in readings and (reading := _plausible_reading(text, code_page)):
            readings[text] = reading
    # Readings alike in every common letter differ only in rare ones (a name): any will do, and
    # the most used code page's is taken. Otherwise the better readings are kept: those that fit
    # a language with fewer foreign letters, then those whose letters are more typical of their
    # code page's languages ("à" is among the most frequent letters of French; "ŕ", its cp1250
    # reading, of no language).
    preferences: tuple[Callable[[_Reading], int], ...] = (
        lambda reading: 0,
        lambda reading: -reading.foreign,
        lambda reading: len(reading.letters & _typical_letters(reading.code_page)),
    )
    candidates = list(readings.values())
    for preference in preferences:
        if not candidates:
            return None
        best = max(map(preference, candidates))
        candidates = [reading for reading in candidates if preference(reading) == best]
        if len({reading.letters for reading in candidates}) == 1:
            return candidates[0].code_page
    return None


def _plausible_reading(text: str, code_page: str) -> _Reading | None:
    """``text`` as a reading in ``code_page``; None if it does not read as real text."""
    if len(_MOJIBAKE.findall(text)) > _MOJIBAKE_PER_CHAR * len(text):
        return None
    from charset_normalizer.md import mess_ratio

    if mess_ratio(text, _MAX_MESS) >= _MAX_MESS:
        return None
    letters = _significant_letters(text)
    foreign = min(
        len(letters - set(alphabet + _ANY_LANGUAGE))
        for alphabet, code_pages in _LANGUAGES.values()
        if code_page in code_pages
    )
    return _Reading(code_page, foreign, letters) if foreign <= _FOREIGN_LETTERS else None


def _significant_letters(text: str) -> frozenset[str]:
    """The letters beyond ASCII common enough in ``text`` to tell its language."""
    counts = Counter(text.lower())
    letters = sum(count for char, count in counts.items() if char.isalpha())
    least = max(2, _SIGNIFICANT_SHARE * letters)
    return frozenset(
        c for c, count in counts.items() if c > "\x7f" and c.isalpha() and count >= least
    )


def _cjk_encoding(sample: bytes) -> str | None:
    # charset_normalizer's coherence is no help here (it is 0 for CJK), so a reading must be one
    # of a kind and look like CJK text.
    import charset_normalizer

    results = list(charset_normalizer.from_bytes(sample, cp_isolation=_cjk_encodings()))
    if not results:
        return None
    least_chaos = min(result.chaos for result in results)
    readings = {
        str(result): result.encoding
        for result in results
        if result.chaos <= least_chaos + _CHAOS_TIE and _looks_cjk(str(result))
    }
    return next(iter(readings.values())) if len(readings) == 1 else None


def _looks_cjk(text: str) -> bool:
    non_ascii = sum(1 for char in text if char > "\x7f")
    return len(_CJK_CHARACTER.findall(text)) >= _MIN_CJK_SHARE * non_ascii > 0

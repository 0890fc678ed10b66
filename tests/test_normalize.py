import numpy as np
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.normalize import clean, clean_batch, is_content, tokenize, tokenize_batch


def test_numbers_have_one_form():
    forms = [
        "10,000 people",
        "10 000 people",
        "10\u00a0000 people",
        "10000 people",
        "10'000 people",
    ]
    assert {tokenize(f).words for f in forms} == {("10000", "people")}


def test_decimals_and_years_are_not_joined():
    assert tokenize("7.5 million in 2024, 52,000 permits").words == (
        "7.5",
        "million",
        "in",
        "2024",
        "52000",
        "permits",
    )
    assert tokenize("growth of 7,5 percent").words == ("growth", "of", "7.5", "percent")


def test_case_quotes_and_width_are_folded():
    assert tokenize("Year\u2019s END").words == tokenize("year's end").words
    assert tokenize("ＡＢＣ News").words == ("abc", "news")  # NFKC folds full-width letters


def test_boilerplate_and_truncation_marks_are_removed():
    text, truncated = clean("LONDON (Reuters) - Shares rose.\nRead more\nSource Link")
    assert text == "Shares rose."
    assert not truncated
    for teaser in ["In comparison to May of the previous year, […]", "It was ...", "It was…"]:
        text, truncated = clean(teaser)
        assert truncated and not text.endswith(("]", "…", "..."))


def test_every_script_gives_tokens():
    assert tokenize("Москва и Киев").words == ("москва", "и", "киев")
    assert tokenize("Η Αθήνα").words == ("η", "αθήνα")
    assert tokenize("قال الوزير").words == ("قال", "الوزير")
    assert tokenize("Crème brûlée à Paris").words == ("crème", "brûlée", "à", "paris")
    # No spaces between words: overlapping character bigrams.
    assert tokenize("東京都知事").words == ("東京", "京都", "都知", "知事")
    assert tokenize("ภาษาไทย").words[:2] == ("ภา", "าษ")


def test_display_keeps_the_written_form():
    tokens = tokenize("First Deputy Minister Baurzhan Alenov")
    assert tokens.display[-1] == "Alenov" and tokens.words[-1] == "alenov"


def test_huge_text_is_cut():
    assert len(tokenize("word " * 50_000, max_tokens=1000).words) == 1000


def test_the_ascii_fast_path_folds_as_the_tables_do():
    from dedupe.charset import tables
    from dedupe.normalize import _ASCII_FOLD

    assert tables().fold[:128].tolist() == _ASCII_FOLD.tolist()


def test_content_words():
    assert is_content("kazakhstan") and not is_content("the") and not is_content("a")


def test_the_stop_words_are_scikit_learns():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from dedupe.normalize import STOP_WORDS

    assert STOP_WORDS == ENGLISH_STOP_WORDS


# The token rule as a pattern: the tokenizer's compiled loop must find exactly these tokens.
TOKEN = r"\p{Nd}+(?:[.,]\p{Nd}+)*|[\p{L}\p{M}\p{Nd}]+"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Zé9,.'’-\n:;") + ["\u0301", "١", "ß", "İ", "Σ"])))
def test_tokens_are_what_the_token_pattern_finds(text):
    tokens = tokenize(text)
    assert list(tokens.display) == regex.findall(TOKEN, tokens.text)
    assert list(tokens.words) == [token.casefold() for token in tokens.display]


# Pieces of texts around every test that lets ``clean_batch`` skip ``clean``: the starts of
# boilerplate lines in any case, lines near the length limit, datelines and brackets near the
# start, marks and "read more" at the end, every ASCII space and line break. Texts of these are
# ASCII, cleaned by the compiled passes; a few others, with a non-ASCII piece, by ``clean``.
PIECES = [
    "Read more", "READ MORE:", "read  more", "Source Link", "share this story", "Share This",
    "click here now", "Follow us on X", "like us on", "Advertisement", "REUTERS", "Reuter",
    "continue reading", "Related:", "More news", "more", "Morel", "related stories:",
    "LONDON (Reuters) - ", "(AP) --", "BERLIN (Bloomberg)-", "(dpa)", "(", ")", "[", "]", "[...]",
    "...", "..", ".", ":", " ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d",
    "\x1e", "\x1f", "x" * 20, "y" * 41, "Words of a sentence, ", "10,000 ",
]  # fmt: skip
NOT_ASCII = ["…", "\x85", "\u2028", "\xa0", "é"]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
        | st.lists(st.sampled_from(PIECES + NOT_ASCII), max_size=6).map("".join),
        max_size=8,
    )
)
def test_a_batch_is_cleaned_as_each_text_is(texts):
    cps, starts, stops, truncated = clean_batch(texts)
    for t, text in enumerate(texts):
        cleaned = cps[starts[t] : stops[t]].tobytes().decode("utf-32-le", "surrogatepass")
        assert (cleaned, bool(truncated[t])) == clean(text)


def test_a_batch_is_cleaned_as_each_text_is_at_the_limits():
    lines = [
        " " * lead + "Click here " + "x" * (size - 11 - lead)
        for size in range(57, 62)
        for lead in (0, 3)
    ]
    texts = [f"Body first.\n{line}\r\nBody last." for line in lines]
    texts += [f"{'W' * lead} (Reuters) - Text" for lead in range(37, 42)]
    texts += ["", " ", "x...", "x..", "read more", "Read More:", "Is it read more?", "x [ ... ]"]
    # The patterns at the end see its last 40 characters only.
    texts += [
        f"Text{' ' * spaces}{mark}" for spaces in range(28, 34) for mark in ("read more", "...")
    ]
    # And those at the start its first 80, of a long text too.
    texts += [f"Read more:{' ' * spaces}Text {'word ' * 30}..." for spaces in range(68, 73)]
    assert clean(f"Text{' ' * 31}read more") == ("Text", False)
    assert clean(f"Text{' ' * 32}read more") == ("Text ", False)
    cps, starts, stops, truncated = clean_batch(texts)
    for t, text in enumerate(texts):
        cleaned = cps[starts[t] : stops[t]].tobytes().decode("utf-32-le", "surrogatepass")
        assert (cleaned, bool(truncated[t])) == clean(text)


def test_names_are_read_from_the_whole_text_however_few_tokens_are_kept():
    text = "Nevertheless, the council led by Mirela Kostic met Anton Berisha and O'Neil-Smith."
    wanted = np.ones(1, dtype=np.bool_)
    names = tokenize_batch([text], 100, wanted).names_in(wanted)[0]
    assert len(names) == 5
    for kept in (1, 4, 8):
        assert np.array_equal(tokenize_batch([text], kept, wanted).names_in(wanted)[0], names)

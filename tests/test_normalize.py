import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.normalize import clean, is_content, tokenize


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

import pytest

from catalogue.titles import clean_text, parse_title, title_key


@pytest.mark.parametrize(
    ("raw", "title", "year", "alt"),
    [
        ("Matrix, The (1999)", "The Matrix", 1999, None),
        ("Toy Story (1995)", "Toy Story", 1995, None),
        ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
         "The City of Lost Children", 1995, "La Cité des enfants perdus"),
        ("Twelve Monkeys (a.k.a. 12 Monkeys) (1995)", "Twelve Monkeys", 1995, "12 Monkeys"),
        ("Homme qui aimait les femmes, L' (1977)", "L'Homme qui aimait les femmes", 1977, None),
        ("Babylon 5", "Babylon 5", None, None),
        ("Fawlty Towers (1975-1979)", "Fawlty Towers", 1975, None),
        ("  Alien \u00a0 (1979) ", "Alien", 1979, None),
    ],
)
def test_parse_title(raw: str, title: str, year: int | None, alt: str | None) -> None:
    parsed = parse_title(raw)
    assert (parsed.title, parsed.year, parsed.alt_title) == (title, year, alt)


def test_fixed_flag_only_when_the_display_title_changes() -> None:
    assert parse_title("Matrix, The (1999)").fixed
    assert not parse_title("Toy Story (1995)").fixed


def test_clean_text_normalises_unicode_and_space() -> None:
    assert clean_text("Ame\u0301lie\t (2001)\n") == "Amélie (2001)"


def test_title_key_ignores_accents_case_and_punctuation() -> None:
    assert title_key("Amélie", 2001) == title_key("AMELIE!", 2001) == "amelie|2001"

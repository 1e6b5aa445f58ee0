from pathlib import Path

import pytest

from catalogue.layouts import Layout
from catalogue.readers import BadFileError, Rejections, read_rows
from catalogue.sources import read_ratings


def test_missing_column_is_a_line_numbered_error(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_text("movieId,name\n1,Alien\n")
    with pytest.raises(BadFileError, match=r"movies\.csv:1: header lacks column\(s\) title"):
        list(read_rows(path, ("movieId", "title")))


def test_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_text('movieId,title\n1,"Alien (1979)"\n2,"Heat, (1995)",extra\n')
    with pytest.raises(BadFileError) as info:
        list(read_rows(path, ("movieId", "title")))
    assert info.value.line == 3


def test_quoted_newlines_keep_line_numbers_right(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,text\n1,"two\nlines"\n2,after\n')
    assert [line for line, _ in read_rows(path, ("id", "text"))] == [2, 4]


def test_bad_ratings_are_rejected_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text(
        "userId,movieId,rating,timestamp\n"
        "1,10,4.0,100\n"
        "1,11,4.3,100\n"   # off the half-star scale
        "x,12,3.0,100\n"   # not a number
        "1,10,4.0,100\n"   # duplicate of line 2
        "2,10,0.5,100\n"
    )
    rejections = Rejections()
    ratings = read_ratings(Layout("csv", tmp_path, tmp_path / "movies.csv", path), rejections)
    assert ratings[["userId", "movieId", "rating"]].values.tolist() == [[1, 10, 4.0], [2, 10, 0.5]]
    lines = [(r.line, r.reason.split()[0]) for r in rejections.rows]
    assert lines == [(3, "rating"), (4, "non-numeric"), (5, "duplicate")]

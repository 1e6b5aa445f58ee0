"""Every MovieLens layout reads into the same catalogue shapes, with line-numbered rejections."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalogue.build import build_catalogue
from catalogue.layouts import GROUPLENS_GENRES, find_layout
from catalogue.readers import BadFileError, Rejections
from catalogue.sources import read_movielens

# The same three films and four ratings, as each release ships them
AMELIE = "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"


def _flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in GROUPLENS_GENRES)


def write_csv(folder: Path) -> None:
    (folder / "movies.csv").write_text('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n'
                                       f'2,"{AMELIE}",Comedy|Romance\n3,"Usual Suspects, The (1995)",Crime|Thriller\n')
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,5.0,964982224\n"
                                        "2,3,3.5,964982931\n2,1,2.0,964983815\n")
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n2,0211915,194\n3,0114814,629\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,pixar,1\n2,1,Pixar,2\n")


def write_dat(folder: Path) -> None:  # ml-1m: '::' and latin-1
    (folder / "movies.dat").write_bytes("1::Toy Story (1995)::Animation|Children's|Comedy\n"
                                        f"2::{AMELIE}::Comedy|Romance\n"
                                        "3::Usual Suspects, The (1995)::Crime|Thriller\n".encode("latin-1"))
    (folder / "ratings.dat").write_text("1::1::4::964982703\n1::2::5::964982224\n2::3::3::964982931\n"
                                        "2::1::2::964983815\n")
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (folder / "tags.dat").write_text("1::1::pixar::1\n2::1::Pixar::2\n")


def write_grouplens_100k(folder: Path) -> None:  # ml-100k's zip: '|' and tab, latin-1
    toy, amelie, usual = _flags("Animation", "Children's", "Comedy"), _flags("Comedy", "Romance"), _flags("Crime",
                                                                                                          "Thriller")
    (folder / "u.item").write_bytes(
        (f"1|Toy Story (1995)|01-Jan-1995||http://imdb|{toy}\n"
         f"2|{AMELIE}|01-Jan-2001||http://imdb|{amelie}\n"
         f"3|Usual Suspects, The (1995)|14-Aug-1995||http://imdb|{usual}\n").encode("latin-1"))
    (folder / "u.data").write_text("1\t1\t4\t964982703\n1\t2\t5\t964982224\n2\t3\t3\t964982931\n2\t1\t2\t964983815\n")
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")


def write_recbole(folder: Path) -> None:  # the shared ml-100k
    (folder / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n"
        "2\tAmélie (Fabuleux destin d'Amélie Poulain, Le)\t2001\tComedy Romance\n"
        "3\tUsual Suspects, The\t1995\tCrime Thriller\n")
    (folder / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                          "1\t1\t4\t964982703\n1\t2\t5\t964982224\n2\t3\t3\t964982931\n"
                                          "2\t1\t2\t964983815\n")
    (folder / "ml-100k.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                                         "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n")


LAYOUTS = {"csv": write_csv, "dat": write_dat, "grouplens-100k": write_grouplens_100k, "recbole": write_recbole}


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_every_layout_gives_the_same_movies_and_ratings(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "release" / "unpacked"  # as a zip unpacks: one folder deeper
    folder.mkdir(parents=True)
    LAYOUTS[kind](folder)
    assert find_layout(tmp_path / "release").kind == kind
    rejections = Rejections()
    ml = read_movielens(tmp_path / "release", rejections)
    assert not rejections.rows
    assert ml.layout == kind
    assert [(m["movieId"], m["raw_title"]) for m in ml.movies] == [
        (1, "Toy Story (1995)"), (2, AMELIE), (3, "Usual Suspects, The (1995)")]
    assert "Children" in ml.movies[0]["genres"] and ml.movies[2]["genres"] == ["Crime", "Thriller"]
    assert ml.ratings[["userId", "movieId"]].values.tolist() == [[1, 1], [1, 2], [2, 3], [2, 1]]
    assert ml.ratings["rating"].iloc[0] == 4.0
    if kind in ("csv", "dat"):
        assert ml.tags == {1: ["pixar"]}  # tags counted case-insensitively
    if kind != "csv":
        assert ml.users["userId"].tolist() == [1, 2] and set(ml.users.columns) >= {"gender", "age", "occupation"}
    catalogue = build_catalogue(tmp_path / "release", None, None, prior_weight=10.0)
    assert [(m["title"], m["year"]) for m in catalogue.movies] == [
        ("Toy Story", 1995), ("Amélie", 2001), ("The Usual Suspects", 1995)]
    assert catalogue.movies[1]["alt_title"] == "Le Fabuleux destin d'Amélie Poulain"
    assert catalogue.report["layout"] == kind


def test_a_bad_row_is_rejected_with_its_line_in_every_layout(tmp_path: Path) -> None:
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation\nnot a movie line\nx::Heat (1995)::Crime\n")
    (tmp_path / "ratings.dat").write_text("1::1::4::964982703\n1::1::7::964982704\n")
    rejections = Rejections()
    ml = read_movielens(tmp_path, rejections)
    assert [m["movieId"] for m in ml.movies] == [1]
    assert [(r.file, r.line, r.reason.split(":")[0]) for r in rejections.rows] == [
        ("movies.dat", 2, "expected 3 fields split by '"), ("movies.dat", 3, "the movie id is not an integer"),
        ("ratings.dat", 2, "rating 7 not in 0.5..5.0 step 0.5")]


def test_a_folder_without_a_release_says_what_it_expected_and_what_it_holds(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadFileError) as info:
        find_layout(tmp_path)
    message = str(info.value)
    assert "movies.csv" in message and "movies.dat" in message and "u.item" in message and "<name>.item" in message
    assert "the folder holds notes.txt" in message


def test_tmdb_is_joined_by_title_and_year_where_a_release_has_no_links(tmp_path: Path, data_dir: Path) -> None:
    write_dat(tmp_path)
    catalogue = build_catalogue(tmp_path, data_dir / "tmdb-5000", None, prior_weight=10.0)
    toy = catalogue.movies[0]
    assert toy["tmdbId"] == 862 and toy["directors"] == ["John Lasseter"]
    assert catalogue.report["tmdb_by_title"] == sum(m["tmdbId"] is not None for m in catalogue.movies) >= 2

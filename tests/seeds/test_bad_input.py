"""Bad input: fatal problems raise SeedSourceError naming file, column and row; the rest are counted skips."""

import gzip

import pytest

from revdial.seeds.build import build_seeds
from revdial.seeds.errors import SeedSourceError
from revdial.seeds.sources import load_seeds_config


def _build(tiny, **source):
    return build_seeds(load_seeds_config(tiny(**source), base_dir=tiny.dir))


def test_missing_mapped_column_names_file_role_and_the_columns_there(tiny):
    with pytest.raises(SeedSourceError) as error:
        _build(tiny, tables={"reviews": {"columns": {"item_id": "item", "text": "review_body"}}})
    message = str(error.value)
    assert message.startswith("reviews.csv: column 'review_body' (mapped from role 'text') not found")
    assert message.endswith("columns are: rid, user, item, body, stars")
    assert error.value.file == "reviews.csv"


def test_missing_metadata_column_is_fatal_too(tiny):
    with pytest.raises(
        SeedSourceError, match="items.csv: column 'director' \\(a metadata column\\) not found"
    ):
        _build(tiny, tables={"items": {"metadata": ["director"]}})


def test_missing_file_names_it(tiny):
    with pytest.raises(SeedSourceError, match="ratings2.csv: the interactions table's file does not exist"):
        _build(tiny, tables={"interactions": {"path": "ratings2.csv"}})


def test_unreadable_gzip_names_the_file(tiny):
    (tiny.dir / "broken.csv.gz").write_bytes(b"this is not gzip")
    with pytest.raises(SeedSourceError, match="broken.csv.gz: cannot read the items table as csv"):
        _build(tiny, tables={"items": {"path": "broken.csv.gz"}})


def test_non_utf8_file_names_file_and_line(tiny):
    tiny.write_csv(
        tiny.dir / "latin.csv",
        ["id", "name"],
        [["1", "Heat (1995)"], ["2", "Les Misérables (1998)"]],
        encoding="latin-1",
    )
    with pytest.raises(SeedSourceError) as error:
        _build(tiny, tables={"items": {"path": "latin.csv", "list_separators": {}}})
    assert str(error.value).startswith("latin.csv: line 3 is not valid utf-8 text")
    assert "set `read: {encoding: ...}`" in str(error.value)
    assert error.value.row == 3
    # ...and the hint works
    build = _build(
        tiny, tables={"items": {"path": "latin.csv", "list_separators": {}, "read": {"encoding": "latin-1"}}}
    )
    assert "Les Misérables" in build.catalogue["title"]


def test_empty_table_is_fatal(tiny):
    tiny.write_csv(tiny.dir / "empty.csv", ["user", "item", "body"], [])
    with pytest.raises(SeedSourceError, match="empty.csv: the reviews table is empty \\(0 rows\\)"):
        _build(
            tiny,
            tables={
                "reviews": {
                    "path": "empty.csv",
                    "columns": {"user_id": "user", "item_id": "item", "text": "body"},
                }
            },
        )


def test_zero_byte_file_is_an_empty_table(tiny):
    (tiny.dir / "nothing.csv").write_bytes(b"")
    with pytest.raises(SeedSourceError, match="nothing.csv: the interactions table is empty \\(0 rows\\)"):
        _build(tiny, tables={"interactions": {"path": "nothing.csv"}})


def test_a_non_numeric_rating_is_a_counted_skip_named_by_file_row_and_column(tiny):
    tiny.write_csv(
        tiny.dir / "ratings.csv",
        ["user", "item", "stars", "ts"],
        [["u1", "1", "5", "1"], ["u1", "2", "five", "2"], ["u2", "3", "4", "3"]],
    )
    build = _build(tiny)  # one bad cell no longer aborts the build
    entry = build.summary["tables"]["interactions"]
    assert entry["dropped"] == {"rating_not_a_number": 1} and entry["rows_kept"] == 2
    assert entry["first_rows"]["rating_not_a_number"] == [
        "ratings.csv: row 2, column 'stars': rating 'five' is not a number"
    ]
    assert len(build.seeds) == 3  # the reviews are all there


def test_strict_makes_the_first_bad_rating_fatal_with_file_row_and_column(tiny):
    tiny.write_csv(
        tiny.dir / "ratings.csv",
        ["user", "item", "stars", "ts"],
        [["u1", "1", "5", "1"], ["u1", "2", "five", "2"]],
    )
    with pytest.raises(SeedSourceError) as error:
        _build(tiny, strict=True)
    assert str(error.value).startswith("ratings.csv: row 2, column 'stars': rating 'five' is not a number")
    assert (error.value.file, error.value.row, error.value.column) == ("ratings.csv", 2, "stars")


def test_out_of_range_review_ratings_are_skipped_and_never_rendered(tiny):
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [
            ["r1", "u1", "1", "Great shootout.", "-3"],
            ["r2", "u2", "2", "Car chases!", "1e9"],
            ["r3", "u1", "3", "Tom Cruise as a hitman.", "4"],
            ["r4", "u3", "3", "Dull.", "inf"],
        ],
    )
    build = _build(tiny)
    entry = build.summary["tables"]["reviews"]
    assert entry["dropped"] == {"rating_out_of_range": 3}
    assert entry["first_rows"]["rating_out_of_range"] == [
        "reviews.csv: row 1, column 'stars': rating -3 is outside [0, 5]",
        "reviews.csv: row 2, column 'stars': rating 1e+09 is outside [0, 5]",
        "reviews.csv: row 4, column 'stars': rating inf is outside [0, 5]",
    ]
    assert build.seeds["review_text"] == ["Tom Cruise as a hitman."]
    assert not any("e+09" in t or "1000000000" in t or "-3" in t for t in build.seeds["text"])


def test_a_wider_rating_scale_is_configured_not_guessed(tiny):
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [["r1", "u1", "1", "Great shootout.", "9"], ["r2", "u2", "2", "Car chases!", "11"]],
    )
    build = _build(tiny, rating_max=10.0)
    assert build.seeds["rating"] == [9.0]
    assert "User review (rating 9/10): Great shootout." in build.seeds["text"][0]


@pytest.mark.parametrize("marker", ["nan", "null", "None", "NULL", " NaN "])
def test_null_marker_review_texts_are_counted_skips_and_fatal_when_strict(tiny, marker):
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [["r1", "u1", "1", "Great shootout.", "5"], ["r2", "u2", "2", marker, "4"]],
    )
    build = _build(tiny)
    entry = build.summary["tables"]["reviews"]
    assert entry["dropped"] == {"null_review_text ('nan', 'null', 'None'...)": 1}
    assert entry["first_rows"]["null_review_text ('nan', 'null', 'None'...)"] == [
        f"reviews.csv: row 2, column 'body': review text {marker!r} is a null marker"
    ]
    assert build.seeds["review_text"] == ["Great shootout."]
    with pytest.raises(
        SeedSourceError, match="reviews.csv: row 2, column 'body': review text .* is a null marker"
    ):
        _build(tiny, strict=True)


def test_a_null_marker_rating_is_a_missing_rating_not_a_bad_one(tiny):
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [["r1", "u9", "1", "Great shootout.", "nan"], ["r2", "u8", "2", "Car chases!", "NULL"]],
    )
    build = _build(tiny, strict=True)
    assert build.seeds["rating"] == [None, None]
    assert build.summary["tables"]["reviews"]["dropped"] == {}


def test_duplicate_ids_are_counted_and_the_first_kept(tiny):
    tiny.write_csv(
        tiny.dir / "items.csv",
        ["id", "name", "genres"],
        [
            ["1", "Heat (1995)", "Crime"],
            ["1", "Heat (1986)", "Drama"],
            ["2", "Ronin (1998)", "Action"],
            ["3", "Collateral (2004)", "Crime"],
        ],
    )
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [
            ["r1", "u1", "1", "Great.", "5"],
            ["r1", "u1", "1", "Great again.", "5"],
            ["r2", "u2", "2", "Ok", "3"],
        ],
    )
    build = _build(tiny)
    assert build.summary["tables"]["items"]["dropped"] == {"duplicate_item_id (first kept)": 1}
    assert build.summary["tables"]["items"]["first_rows"]["duplicate_item_id (first kept)"] == [
        "items.csv: row 2, column 'id': item id '1' again (first at row 1); this row dropped"
    ]
    assert build.summary["tables"]["reviews"]["first_rows"]["duplicate_review (first kept)"] == [
        "reviews.csv: row 2, column 'rid': review 'r1' again; this row dropped"
    ]
    assert build.summary["tables"]["reviews"]["dropped"] == {"duplicate_review (first kept)": 1}
    assert build.catalogue.filter(lambda r: r["item_id"] == "1")["year"] == [1995]
    assert sorted(build.seeds["review_text"]) == ["Great.", "Ok"]


def test_empty_and_null_review_texts_are_counted_skips(tiny):
    tiny.write_jsonl(
        tiny.dir / "reviews.jsonl.gz",
        [
            {"user": "u1", "item": "1", "body": "Good."},
            {"user": "u2", "item": "1", "body": None},
            {"user": "u3", "item": "2", "body": "   "},
            {"user": "u4", "item": "9", "body": "Unknown item."},
            {"user": "u5", "item": None, "body": "No item."},
        ],
    )
    build = _build(
        tiny,
        tables={
            "reviews": {
                "path": "reviews.jsonl.gz",
                "columns": {"user_id": "user", "item_id": "item", "text": "body"},
            }
        },
    )
    assert build.summary["tables"]["reviews"]["dropped"] == {
        "missing_item_id": 1,
        "item_not_in_catalogue": 1,
        "empty_review_text": 2,
    }
    assert build.seeds["review_text"] == ["Good."]


def test_a_review_of_several_megabytes_is_cut_and_counted(tiny):
    huge = ("word " * 1_200_000).strip()  # 6 MB
    tiny.write_csv(
        tiny.dir / "reviews.csv",
        ["rid", "user", "item", "body", "stars"],
        [["r1", "u1", "1", huge, "5"], ["r2", "u2", "2", "Short.", "4"]],
    )
    build = _build(tiny, max_review_chars=500)
    texts = sorted(build.seeds["review_text"], key=len)
    assert texts[0] == "Short." and 400 < len(texts[1]) <= 502 and texts[1].endswith("…")
    assert build.summary["tables"]["reviews"]["changed"]["review_truncated_to_500_chars"] == 1


def test_interactions_are_checked_and_deduplicated(tiny):
    tiny.write_csv(
        tiny.dir / "ratings.csv",
        ["user", "item", "stars", "ts"],
        [
            ["u1", "1", "2", "1"],
            ["u1", "1", "5", "9"],
            ["", "2", "4", "1"],
            ["u2", "7", "4", "1"],
            ["u3", "3", "", "1"],
        ],
    )
    build = _build(tiny)
    assert build.summary["tables"]["interactions"]["dropped"] == {
        "missing_user_or_item_id": 1,
        "item_not_in_catalogue": 1,
        "missing_rating": 1,
        "duplicate_user_item (latest kept)": 1,
    }
    heat = next(r for r in build.seeds if r["review_text"] == "Great shootout.")
    assert heat["rating"] == 5.0  # the review's own rating


def test_nothing_left_is_an_error_not_an_empty_dataset(tiny):
    tiny.write_csv(
        tiny.dir / "reviews.csv", ["rid", "user", "item", "body", "stars"], [["r1", "u1", "99", "x", "5"]]
    )
    with pytest.raises(SeedSourceError, match="no seeds: every row was dropped.*item_not_in_catalogue"):
        _build(tiny)


def test_gzip_and_plain_files_read_the_same(tiny):
    data = (tiny.dir / "ratings.csv").read_bytes()
    (tiny.dir / "ratings.csv.gz").write_bytes(gzip.compress(data))
    plain = _build(tiny)
    zipped = _build(tiny, tables={"interactions": {"path": "ratings.csv.gz"}})
    assert plain.seeds["history_liked"] == zipped.seeds["history_liked"]

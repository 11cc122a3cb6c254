"""`ranker:<kind>:<pipeline.yaml>` models: zero-data rankers from a seed source's items and ratings, on hand-made
tables whose answers are known (co-liked item, shared director, popularity)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from revdial.cli import app
from revdial.crs import evaluate as ev
from revdial.crs import rankers
from revdial.crs.benchmarks import Benchmark, EvalTurn
from revdial.curation.grounding import title_year_matcher

# source ids s*, benchmark ids e*: items meet on title + year
ITEMS = [
    ("s1", "Heat (1995)", "crime", "Michael Mann"),
    ("s2", "Collateral (2004)", "thriller", "Michael Mann"),  # shares Heat's director
    ("s3", "Toy Story (1995)", "animation", "John Lasseter"),
    ("s4", "Alien (1979)", "horror", "Ridley Scott"),  # co-liked with Heat
    ("s5", "Jaws (1975)", "adventure", "Steven Spielberg"),  # the most liked
    ("s6", "Not On The Benchmark (2001)", "drama", "Nobody"),
]
RATINGS = [  # (user, item, rating): likes are >= 4
    ("u1", "s1", 5.0),
    ("u1", "s4", 5.0),
    ("u2", "s1", 4.0),
    ("u2", "s4", 4.5),
    ("u3", "s3", 5.0),
    ("u3", "s5", 5.0),
    ("u3", "s2", 4.0),
    ("u4", "s5", 4.0),
    ("u4", "s3", 4.0),
    ("u5", "s5", 5.0),
    ("u5", "s6", 5.0),
    ("u6", "s2", 2.0),  # not a like
    ("u6", "s1", 2.0),
]
CATALOGUE = [
    {"item_id": "e1", "title": "Heat", "year": 1995},
    {"item_id": "e2", "title": "Collateral", "year": None},  # the only "Collateral": matches without a year
    {"item_id": "e3", "title": "Toy Story", "year": 1995},
    {"item_id": "e4", "title": "Alien", "year": 1979},
    {"item_id": "e5", "title": "Jaws", "year": 1975},
    {"item_id": "e6", "title": "Only On The Benchmark", "year": 2010},
]


def _write_source(folder, interactions: bool = True):
    with open(folder / "items.jsonl", "w") as handle:
        for item_id, title, genre, director in ITEMS:
            handle.write(
                json.dumps({"id": item_id, "title": title, "genre": [genre], "director": [director]})
            )
            handle.write("\n")
    tables = {
        "items": {
            "path": "items.jsonl",
            "columns": {"item_id": "id", "title": "title"},
            "title_has_year": True,
            "metadata": ["genre", "director"],
        }
    }
    if interactions:
        with open(folder / "ratings.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["user", "item", "rating"])
            writer.writerows(RATINGS)
        tables["interactions"] = {
            "path": "ratings.csv",
            "columns": {"user_id": "user", "item_id": "item", "rating": "rating"},
        }
    config = {
        "name": "tiny",
        "domain": "movies",
        "source": {"tables": tables, "seeds_from": ["items"], "liked_min_rating": 4.0},
    }
    path = folder / "tiny.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _turn(turn_id: str, mentioned: list[str], targets: list[str] = ("e3",)) -> EvalTurn:
    return EvalTurn("d1", turn_id, [{"role": "user", "content": "hi"}], list(targets), mentioned)


@pytest.fixture()
def bench() -> Benchmark:
    turns = [_turn("1", ["e1"]), _turn("2", []), _turn("3", ["x99"])]  # x99: an entity no source item maps to
    return Benchmark("tiny", "tiny.jsonl", turns, [dict(row) for row in CATALOGUE])


@pytest.fixture()
def config(tmp_path):
    return _write_source(tmp_path)


def _ranked(kind: str, config, bench: Benchmark, k: int = 3) -> list[list[str]]:
    rankings, _ = rankers.ranker_rankings(f"ranker:{kind}:{config}", bench, k)
    return rankings


def test_cf_ranks_the_co_liked_item_first_and_never_the_mentioned_one(config, bench):
    ranked = _ranked("cf", config, bench)[0]
    assert ranked[0] == "e4"  # Heat's likers all liked Alien
    assert "e1" not in ranked


def test_content_ranks_the_shared_director_item_first(config, bench):
    assert _ranked("content", config, bench)[0][0] == "e2"  # Collateral: Michael Mann, like Heat


def test_popularity_and_turns_without_a_mapped_mention_rank_by_likers(config, bench):
    popular = ["e5", "e1", "e3"]  # 3 likers, then 2 each in catalogue order (u6's 2.0 is no like)
    without_heat = ["e5", "e3", "e4"]  # turn 1 mentions Heat: no ranker lists a mentioned item
    assert _ranked("popularity", config, bench) == [without_heat, popular, popular]
    for kind in ("cf", "content", "blend"):
        assert _ranked(kind, config, bench)[1:] == [popular, popular]


def test_blend_is_the_sum_of_the_max_normalised_cf_and_content_scores(config, bench):
    def scores(kind: str) -> np.ndarray:
        ranker = rankers.build_ranker(f"ranker:{kind}:{config}", bench)
        return ranker.scores([0])  # Heat's code

    cf, content, blend = scores("cf"), scores("content"), scores("blend")
    assert cf.max() == pytest.approx(1.0) and content.max() == pytest.approx(1.0)
    np.testing.assert_allclose(blend, cf + content)
    assert blend[0] == 0.0  # the mentioned item scores nothing


def test_series_ranks_the_items_in_series_with_a_mentioned_one_first_even_without_source_data(config):
    catalogue = [*CATALOGUE, {"item_id": "e7", "title": "Toy Story 2", "year": 1999}]  # on the benchmark only
    turns = [_turn("1", ["e3"], ["e7"]), _turn("2", ["e1"])]  # Toy Story; Heat has no series mate
    bench = Benchmark("tiny", "tiny.jsonl", turns, catalogue)
    ranked = _ranked("series", config, bench)
    assert ranked[0][0] == "e7" and "e3" not in ranked[0]
    assert ranked[1] == ["e5", "e3", "e4"]  # nothing shares Heat's title: popularity


def test_items_meet_on_title_and_year_and_the_report_counts_the_mapping(config, bench):
    match = title_year_matcher(CATALOGUE)
    assert match("Heat", 1995) == "e1" and match("Collateral", 2004) == "e2"  # the only item of that title
    assert match("The Heat", 1995) == "e1" and match("Solaris", 1972) is None
    twice = title_year_matcher(
        [
            {"item_id": "a", "title": "Solaris", "year": 1972},
            {"item_id": "b", "title": "Solaris", "year": 2002},
        ]
    )
    assert twice("Solaris", 2002) == "b" and twice("Solaris", None) is None and twice("Solaris", 1990) is None
    _, extra = rankers.ranker_rankings(f"ranker:blend:{config}", bench, 3)
    assert extra["ranker"]["source_items_mapped"] == "5/6"
    assert extra["ranker"]["turns_ranked_by_popularity_only"] == 2


def test_a_ranker_is_scored_like_popularity_in_both_settings(config, bench):
    report, rows = ev.evaluate(f"ranker:cf:{config}", bench, ev.GenerationOptions(k=3), n_resamples=10)
    assert set(report["metrics"]) == {"all_items", "exclude_mentioned"}
    assert report["ranker"]["kind"] == "cf"
    assert rows[0]["titles"][0] == "Alien"


def test_revdial_eval_runs_a_ranker_end_to_end(config, redial_dir, tmp_path):
    data, out = redial_dir / "original" / "test_data.jsonl.gz", tmp_path / "r.json"
    args = ["eval", "--model", f"ranker:blend:{config}", "--benchmark", "redial", "--data", str(data)]
    result = CliRunner().invoke(app, [*args, "--k", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["ranker"]["kind"] == "blend"
    assert out.with_suffix(".predictions.jsonl").exists()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("ranker:knn:{config}", "ranker:knn:.*kind one of popularity, cf, content, blend"),
        ("ranker:cf", "ranker:cf: a ranker model is ranker:<kind>:<pipeline.yaml>"),
        ("ranker:cf:{bare}", "ranker:cf:.*has no `source.tables.interactions`"),
    ],
)
def test_a_bad_ranker_is_a_one_line_user_error(tmp_path, config, redial_dir, model, message):
    bare_dir = tmp_path / "bare"
    bare_dir.mkdir()
    model = model.format(config=config, bare=_write_source(bare_dir, interactions=False))
    with pytest.raises(rankers.RankerError, match=message):
        rankers.build_ranker(model, Benchmark("tiny", "t", [_turn("1", [])], CATALOGUE))
    data = redial_dir / "original" / "test_data.jsonl.gz"
    args = ["eval", "--model", model, "--benchmark", "redial", "--data", str(data), "--k", "3"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_the_matcher_reads_a_year_written_in_the_catalogue_title():
    """INSPIRED's items are "Title (Year)" strings: they must map like titles with a separate year."""
    match = title_year_matcher(
        [
            {"item_id": "Heat (1995)", "title": "Heat (1995)", "year": None},
            {"item_id": "Heat (1986)", "title": "Heat (1986)", "year": None},
        ]
    )
    assert match("Heat", 1995) == "Heat (1995)" and match("heat (1986)", None) == "Heat (1986)"
    assert match("Heat", None) is None  # two films of that title, no year: no single item fits

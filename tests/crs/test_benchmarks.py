"""Benchmark loaders: inline fixtures in the real formats, and the shared copies of ReDial/INSPIRED when present."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from revdial.crs.benchmarks import BenchmarkFormatError, dbpedia_title, load_benchmark


def test_redial_turns_are_recommender_turns_with_context_and_mentions(redial_dir):
    bench = load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")
    titles = bench.titles()
    first, second = bench.turns[:2]
    # Consecutive messages of one worker form one turn; @ids become catalogue titles with years.
    assert first.context == [{"role": "user", "content": "hi, I loved Heat (1995) anything similar?"}]
    assert [titles[i] for i in first.target_ids] == ["The Matrix (1999)"]
    assert first.mentioned_ids == ["101"]
    assert second.target_ids == ["104", "101"] and second.mentioned_ids == ["101", "102"]
    assert second.context[-1] == {"role": "user", "content": "seen it, another one?"}


def test_redial_first_turn_recommendations_are_counted_skips_and_popularity_uses_the_train_side(redial_dir):
    bench = load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")
    assert bench.skipped == {"recommendation in the first turn (no context)": 1}
    assert [t.dialog_id for t in bench.turns] == ["c1", "c1", "c2"]
    assert bench.train_popularity == {"105": 2}  # 106 was mentioned but not suggested by the recommender
    assert {row["title"] for row in bench.catalogue} >= {
        "Heat (1995)",
        "Se7en (1995)",
    }  # double spaces collapsed


def test_inspired_merges_utterances_and_uses_titles_as_ids(inspired_tsv):
    bench = load_benchmark("inspired", inspired_tsv)
    assert len(bench.turns) == 1
    turn = bench.turns[0]
    assert turn.target_ids == ["The Matrix (1999)", "Alien (1979)"]
    assert turn.mentioned_ids == ["Heat (1995)"]
    assert [m["role"] for m in turn.context] == ["assistant", "user"]
    assert len(bench.catalogue) == 4  # every movie_dict title, including never-recommended Jaws


def _write_unicrs(inspired_tsv, dialogues: list[list[dict]]) -> None:
    folder = inspired_tsv.parent.parent.parent / "unicrs"
    folder.mkdir(exist_ok=True)
    (folder / "dev.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dialogues))


def _linked(role: str, *names: str) -> dict:
    return {"text": "", "role": role, "movie_name": list(names)}


def test_inspired_targets_follow_the_unicrs_linking_with_years_from_movie_dict(inspired_tsv):
    # The TSV's `movies` cell says The Matrix + Alien; the UniCRS linking of the same (merged) turns says The Matrix
    # and Jaws: the linking wins, and bare names take the year of the dialogue's movie_dict title.
    _write_unicrs(
        inspired_tsv,
        [
            [
                _linked("RECOMMENDER"),
                _linked("SEEKER", "Heat"),
                _linked("RECOMMENDER", "The Matrix", "Jaws"),
                _linked("SEEKER"),
            ]
        ],
    )
    bench = load_benchmark("inspired", inspired_tsv)
    assert bench.target_source.startswith("UniCRS/CRSLab entity linking")
    assert [t.target_ids for t in bench.turns] == [["The Matrix (1999)", "Jaws (1975)"]]
    assert bench.turns[0].mentioned_ids == ["Heat (1995)"]


def test_inspired_first_turn_recommendation_is_kept_with_an_empty_context_like_he2023(inspired_tsv):
    _write_unicrs(
        inspired_tsv,
        [
            [
                _linked("RECOMMENDER", "Brand New Film"),
                _linked("SEEKER"),
                _linked("RECOMMENDER"),
                _linked("SEEKER"),
            ]
        ],
    )
    bench = load_benchmark("inspired", inspired_tsv)
    assert [(t.context, t.target_ids) for t in bench.turns] == [
        ([], ["Brand New Film"])
    ]  # no year known: bare
    assert "Brand New Film" in bench.titles()


def test_inspired_without_linking_skips_a_first_turn_recommendation_and_repairs_a_broken_movie_dict(
    inspired_tsv,
):
    lines = [line.split("\t") for line in inspired_tsv.read_text().splitlines()]
    header = lines[0]
    lines[1][header.index("movies")] = "Jaws (1975)"  # the recommender's opening turn names a movie
    lines[2][header.index("movie_dict")] = "{'Up (2009): 0}"  # the closing quote missing
    inspired_tsv.write_text("".join("\t".join(cells) + "\n" for cells in lines))
    bench = load_benchmark("inspired", inspired_tsv)
    assert bench.target_source.startswith("the TSV `movies` column")
    assert bench.skipped == {
        "movie_dict cells repaired (not a dict literal)": 1,
        "recommendation in the first turn (no context)": 1,
    }
    assert [t.target_ids for t in bench.turns] == [["The Matrix (1999)", "Alien (1979)"]]
    assert bench.turns[0].mentioned_ids == ["Jaws (1975)", "Heat (1995)"]
    assert "Up (2009)" in bench.titles().values()


def test_inspired_linking_that_does_not_align_is_an_error_naming_the_line(inspired_tsv):
    _write_unicrs(inspired_tsv, [[_linked("RECOMMENDER"), _linked("SEEKER"), _linked("RECOMMENDER")]])
    with pytest.raises(
        BenchmarkFormatError, match=r"dev.jsonl: line 1: its 3 turns do not align with TSV dialogue d1"
    ):
        load_benchmark("inspired", inspired_tsv)
    (inspired_tsv.parent.parent.parent / "unicrs" / "dev.jsonl").write_text('{"text": "hi"}\n')
    with pytest.raises(BenchmarkFormatError, match=r"dev.jsonl: line 1: a UniCRS dialogue is a list"):
        load_benchmark("inspired", inspired_tsv)


def test_wrong_format_names_the_file_and_the_missing_fields(tmp_path, inspired_tsv):
    wrong = tmp_path / "test.jsonl"
    wrong.write_text('{"dialog": []}\n')
    with pytest.raises(BenchmarkFormatError, match=r"test.jsonl: line 1: field\(s\) messages, movieMentions"):
        load_benchmark("redial", wrong)
    not_json = tmp_path / "bad.jsonl"
    not_json.write_text("dialog_id\tutt_id\n")
    with pytest.raises(BenchmarkFormatError, match="bad.jsonl: line 1 is not JSON"):
        load_benchmark("redial", not_json)
    with pytest.raises(BenchmarkFormatError, match="column\\(s\\) .*speaker.* not found"):
        load_benchmark("inspired", not_json)
    with pytest.raises(ValueError, match="unknown benchmark 'movielens'"):
        load_benchmark("movielens", inspired_tsv)


def test_dbpedia_resource_names_become_titles_and_years():
    assert dbpedia_title("<http://dbpedia.org/resource/Water_(1985_film)>") == ("Water", 1985)
    assert dbpedia_title("<http://dbpedia.org/resource/Goldfinger_(film)>") == ("Goldfinger", None)
    assert (
        dbpedia_title("<http://dbpedia.org/resource/Mr._Popper's_Penguins_(film)>")[0]
        == "Mr. Popper's Penguins"
    )
    assert dbpedia_title("<http://dbpedia.org/resource/Rocky>") == ("Rocky", None)


@pytest.mark.shared_data
def test_real_redial_test_split_has_thousands_of_turns_over_the_official_catalogue(shared_data):
    bench = load_benchmark("redial", shared_data / "redial/original/test_data.jsonl.gz")
    assert len(bench.catalogue) == 6924
    assert len(bench.turns) > 3000
    assert all(t.context and t.target_ids for t in bench.turns)
    assert all(i in bench.titles() for t in bench.turns[:500] for i in t.target_ids)
    assert len(bench.train_popularity) > 1000


@pytest.mark.shared_data
def test_real_he2023_redial_keeps_every_turn_he_et_al_score(shared_data):
    """defect 5: the 52 turns with an empty context (69 pairs) are scored by He et al. and must be kept."""
    for name in ("he2023-redial", "redial-crslab"):
        bench = load_benchmark(name, shared_data / "redial/llm_zero_shot_crs/test.jsonl.gz")
        assert len(bench.turns) == 3552 and sum(len(t.target_ids) for t in bench.turns) == 4778
        empty = [t for t in bench.turns if not t.context]
        assert len(empty) == 52 and sum(len(t.target_ids) for t in empty) == 69
        assert bench.turns[0].context[-1]["role"] == "user"
        assert len(bench.entity_names) == 31161


@pytest.mark.shared_data
def test_real_he2023_redial_popularity_from_the_train_split_matches_an_independent_count(
    shared_data, tmp_path
):
    """defect 2: popularity counts ReDial's train split mapped to He's item ids, never the test targets. Per pair over
    all 4,778 pairs and all items an independent computation gives R@10 0.0538 and R@50 0.1618."""
    from revdial.crs.evaluate import eval_command

    report = eval_command(
        "popularity",
        "he2023-redial",
        shared_data / "redial/llm_zero_shot_crs/test.jsonl.gz",
        None,
        tmp_path / "pop.json",
        k=50,
    )
    assert "train_split_union" in report["popularity_source"]
    everything = report["metrics"]["all_items"]
    assert everything["n_pairs"] == 4778 and everything["mean"] == "per pair"
    assert everything["recall@10"]["mean"] == pytest.approx(0.0538, abs=0.003)
    assert everything["recall@50"]["mean"] == pytest.approx(0.1618, abs=0.005)


def test_he2023_format_reads_the_catalogue_beside_the_test_file_and_names_a_missing_one(tmp_path):
    entity2id = {
        "<http://dbpedia.org/resource/Heat_(1995_film)>": 0,
        "<http://dbpedia.org/resource/Al_Pacino>": 1,
        "<http://dbpedia.org/resource/Alien_(film)>": 2,
    }
    (tmp_path / "entity2id.json").write_text(json.dumps(entity2id))
    turn = {
        "context": ["", "I loved Heat"],
        "rec": [2],
        "prev_entity": [0, 1],
        "dialog_id": "d",
        "turn_id": 4,
        "entity_name": ["Heat"],
    }
    (tmp_path / "test.jsonl").write_text(
        json.dumps(turn) + "\n" + json.dumps({**turn, "context": [""], "turn_id": 1})
    )
    with pytest.raises(BenchmarkFormatError, match="needs entity2id.json\\(.gz\\) and item_ids.json"):
        load_benchmark("he2023-inspired", tmp_path / "test.jsonl")
    (tmp_path / "item_ids.json").write_text("[0, 2]")
    bench = load_benchmark("he2023-inspired", tmp_path / "test.jsonl")
    assert [(t.turn_id, t.target_ids, t.mentioned_ids) for t in bench.turns] == [
        ("4", ["2"], ["0", "1"]),
        ("1", ["2"], ["0", "1"]),
    ]
    assert (
        bench.turns[0].context == [{"role": "user", "content": "I loved Heat"}]
        and bench.turns[1].context == []
    )
    assert sorted(r["title"] for r in bench.catalogue) == ["Alien", "Heat"]
    assert bench.entity_names == {"0": "Heat", "1": "Al Pacino", "2": "Alien"}


def test_inspired_prompts_lose_placeholders_and_undecodable_bytes(inspired_tsv):
    """defect 8: 44 of 264 INSPIRED test prompts carried "QUOTATION_MARK" placeholders, some U+FFFD."""
    inspired_tsv.write_text(
        inspired_tsv.read_text().replace("I loved Heat", "I loved QUOTATION_MARKHeatQUOTATION_MARK\ufffd")
    )
    contexts = [m["content"] for t in load_benchmark("inspired", inspired_tsv).turns for m in t.context]
    assert 'I loved "Heat"' in contexts
    assert not any("QUOTATION_MARK" in c or "\ufffd" in c for c in contexts)


def test_prompts_lose_inspired_placeholders_and_undecodable_bytes():
    """defect 8: "QUOTATION_MARK" placeholders and U+FFFD reached the prompts."""
    from revdial.crs.benchmarks import clean_utterance

    assert (
        clean_utterance("I loved QUOTATION_MARKHeatQUOTATION_MARK \ufffd so  much")
        == 'I loved "Heat" so much'
    )


@pytest.mark.shared_data
def test_real_inspired_dev_has_rec_turns_and_a_train_side(shared_data):
    bench = load_benchmark("inspired", shared_data / "inspired/original/dialog_data/dev.tsv.gz")
    assert len(bench.turns) > 200
    assert len(bench.catalogue) > 1000  # dev titles + He et al.'s DBpedia movie list
    assert sum(bench.train_popularity.values()) > 1000
    with gzip.open(shared_data / "inspired/original/dialog_data/dev.tsv.gz", "rt") as handle:
        assert handle.readline().startswith("dialog_id\tutt_id")


@pytest.mark.shared_data
def test_real_inspired_dev_is_scored_on_the_unicrs_linking_like_he2023_test(shared_data):
    """Issue 10, defect 5: the TSV `movies` column links words ("Marvel (2008)" x9); UniCRS's linking of the same 99
    dialogues (He et al.'s test derives from it) gives 246 recommendation turns and 272 (turn, target) pairs."""
    bench = load_benchmark("inspired", shared_data / "inspired/original/dialog_data/dev.tsv.gz")
    targets = [i for t in bench.turns for i in t.target_ids]
    assert bench.target_source.startswith("UniCRS/CRSLab entity linking")
    assert (len(bench.turns), len(targets)) == (246, 272)
    assert not any(t.startswith(("Marvel", "November", "Kevin (")) for t in targets)
    assert all(re.search(r"\(\d{4}\)$", t) for t in targets)  # every linked name found its movie_dict year

"""Benchmark loaders: inline fixtures in the real formats, and the shared copies of ReDial/INSPIRED when present."""

from __future__ import annotations

import gzip

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
    assert {row["title"] for row in bench.catalogue} >= {"Heat (1995)", "Se7en (1995)"}  # double spaces collapsed


def test_inspired_merges_utterances_and_uses_titles_as_ids(inspired_tsv):
    bench = load_benchmark("inspired", inspired_tsv)
    assert len(bench.turns) == 1
    turn = bench.turns[0]
    assert turn.target_ids == ["The Matrix (1999)", "Alien (1979)"]
    assert turn.mentioned_ids == ["Heat (1995)"]
    assert [m["role"] for m in turn.context] == ["assistant", "user"]
    assert len(bench.catalogue) == 4  # every movie_dict title, including never-recommended Jaws


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
    assert dbpedia_title("<http://dbpedia.org/resource/Mr._Popper's_Penguins_(film)>")[0] == "Mr. Popper's Penguins"
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
def test_real_crslab_test_matches_he_et_al_turn_count(shared_data):
    bench = load_benchmark("redial-crslab", shared_data / "redial/llm_zero_shot_crs/test.jsonl.gz")
    # 3,552 processed rec turns; the few with an empty context cannot be prompted and are counted skips.
    assert len(bench.turns) + bench.skipped.get("empty context", 0) + bench.skipped.get(
        "turn without a catalogue target", 0) == 3552
    assert bench.turns[0].context[-1]["role"] == "user"


@pytest.mark.shared_data
def test_real_inspired_dev_has_rec_turns_and_a_train_side(shared_data):
    bench = load_benchmark("inspired", shared_data / "inspired/original/dialog_data/dev.tsv.gz")
    assert len(bench.turns) > 200
    assert len(bench.catalogue) > 1000  # dev titles + He et al.'s DBpedia movie list
    assert sum(bench.train_popularity.values()) > 1000
    with gzip.open(shared_data / "inspired/original/dialog_data/dev.tsv.gz", "rt") as handle:
        assert handle.readline().startswith("dialog_id\tutt_id")


def test_sft_rows_answer_the_evaluation_prompt_with_the_turns_recommendations(redial_dir):
    from revdial.crs.benchmarks import sft_rows

    bench = load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")
    rows = sft_rows(bench, k=20)
    assert len(rows) == len(bench.turns)
    assert rows[1]["prompt"][0]["role"] == "system" and rows[1]["prompt"][-1]["role"] == "user"
    assert rows[1]["completion"] == [{"role": "assistant", "content": "1. Alien (1979)\n2. Heat (1995)"}]

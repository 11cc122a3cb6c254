"""`revdial eval`: prompts, parsing + grounding, popularity, a real tiny model end to end, and bad input."""

from __future__ import annotations

import json

import pytest

from revdial.crs import evaluate as ev
from revdial.crs.benchmarks import load_benchmark
from revdial.crs.student import StudentModelError


@pytest.fixture()
def redial(redial_dir):
    return load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")


def test_prompt_is_the_dialogue_under_a_k_title_instruction(redial):
    messages = ev.build_messages(redial.turns[1], k=7)
    assert messages[0]["role"] == "system" and "recommend 7 movies" in messages[0]["content"]
    assert messages[1:] == redial.turns[1].context


def test_parse_titles_keeps_years_and_drops_reasons_and_chatter():
    text = "Sure! Here you go:\n1. Heat (1995) - a tense heist\n2) The Matrix\n3. Alien (1979): scary"
    assert ev.parse_titles(text, k=5) == ["Heat (1995)", "The Matrix", "Alien (1979)"]
    assert ev.parse_titles(text, k=2) == ["Heat (1995)", "The Matrix"]


def test_list_lines_are_whole_titles_not_cut_at_colons_or_dashes():
    """defect 1: "Star Wars: The Rise of Skywalker" came back as "Star Wars", "Mission: Impossible - Fallout" as
    "Mission: Impossible"; a reason goes only when clearly separated and the part before it grounds."""
    text = "1. Star Wars: The Rise of Skywalker\n2. Mission: Impossible - Fallout"
    assert ev.parse_titles(text, 20) == ["Star Wars: The Rise of Skywalker", "Mission: Impossible - Fallout"]
    assert ev.parse_titles("1. Se7en since it is dark\n2. Before Sunrise because", 5) == [
        "Se7en since it is dark",
        "Before Sunrise because",
    ]
    reasons = "1. **Heat** - a tense heist thriller with De Niro\n2. Heat 2: it is the sequel of that film"
    assert ev.parse_titles(reasons, 5, grounds=lambda title: title == "Heat") == [
        "Heat",
        "Heat 2: it is the sequel of that film",  # "Heat 2" does not ground: the line stays whole
    ]


def test_gpt4_kit_replies_parse_with_no_title_cut(shared_data):
    """Every list line of He et al.'s recorded GPT-4 INSPIRED replies is one whole title under the default protocol."""
    import gzip
    import re

    from revdial.crs.benchmarks import load_benchmark
    from revdial.curation.grounding import Catalogue

    kit = shared_data / "inspired" / "he2023_fidelity"
    if not kit.exists():
        pytest.skip(f"He et al. fidelity kit not present at {kit}")
    catalogue = Catalogue.from_records(load_benchmark("he2023-inspired", kit / "test.jsonl.gz").catalogue)
    cut, lines = [], 0
    with gzip.open(kit / "outputs" / "gpt-4.jsonl.gz", "rt") as handle:
        for row in map(json.loads, handle):
            bodies = [m.group(1).strip() for m in re.finditer(r"(?m)^\s*\d{1,2}\.\s*(.+)$", row["text"])]
            lines += len(bodies)
            parsed = ev.parse_titles(row["text"], 20, grounds=lambda t: catalogue.match(t) is not None)
            expected = list(dict.fromkeys(re.sub(r"\s*\((?:18|19|20)\d\d\)$", "", b) for b in bodies))
            cut += [
                (want, got) for want, got in zip(expected, parsed) if re.sub(r" \(\d{4}\)$", "", got) != want
            ]
    assert lines > 2000 and cut == []


def test_popularity_uses_the_train_side_and_keeps_mentioned_items_in_the_all_items_setting(redial):
    report, predictions = ev.evaluate("popularity", redial, ev.GenerationOptions(k=3), n_resamples=20)
    assert "training side" in report["popularity_source"]
    assert predictions[0]["ranked"][0] == "Jaws (1975)"
    assert report["grounding"]["titles_parsed"] == 0
    # defect 3: "all items" scores the list as it is; only exclude_mentioned removes what the dialogue mentioned
    assert all(p["ranked"] == predictions[0]["ranked"] for p in predictions)


def test_popularity_without_a_training_side_is_an_error_unless_opted_in(redial):
    redial.train_popularity, redial.train_source = {}, None
    with pytest.raises(ev.EvaluationError, match="no training side found for redial popularity"):
        ev.evaluate("popularity", redial, ev.GenerationOptions(k=3), n_resamples=10)
    report, _ = ev.evaluate(
        "popularity", redial, ev.GenerationOptions(k=3), n_resamples=10, popularity_from_test=True
    )
    assert report["popularity_source"].startswith("TEST TARGETS")


def test_scripted_outputs_are_grounded_counted_and_scored(redial, monkeypatch):
    scripted = [
        "1. Matrix, The (1999)\n2. Not A Real Film (2031)",  # target of turn 1 at rank 1; one hallucination
        "1. Jaws (1975)\n2. Alien (1979)",  # turn 2 targets Alien and Heat: one of two at rank 2
        "I cannot help with that.",  # turn 3: nothing grounds
    ]
    monkeypatch.setattr(ev, "generate_transformers", lambda model, conversations, options, progress: scripted)
    report, predictions = ev.evaluate(
        "some/model", redial, ev.GenerationOptions(k=5), n_resamples=20, mean="turn"
    )
    everything = report["metrics"]["all_items"]
    assert everything["recall@1"]["mean"] == pytest.approx(1 / 3)
    assert everything["recall@5"]["mean"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert report["grounding"]["unmatched_titles"] == 2  # the fake film and the refusal sentence
    assert report["grounding"]["turns_without_any_grounded_item"] == 1
    assert predictions[0]["unmatched"] == ["Not A Real Film (2031)"]
    # Excluding mentioned items: turn 2 loses Heat (mentioned before), so Alien alone is the target; turn 3 only
    # repeats Toy Story, so it has no target left and is skipped.
    excluded = report["metrics"]["exclude_mentioned"]
    assert excluded["n_turns"] == 2 and excluded["n_skipped"] == 1
    assert excluded["recall@5"]["mean"] == pytest.approx(1.0)
    # defect 9: by default the mean is per (turn, target) pair, as the literature: 4 pairs, turn 2 has two
    per_pair, _ = ev.evaluate("some/model", redial, ev.GenerationOptions(k=5), n_resamples=20)
    pairs = per_pair["metrics"]["all_items"]
    assert pairs["mean"] == "per pair" and pairs["n_pairs"] == 4
    assert pairs["recall@1"]["mean"] == pytest.approx(1 / 4)
    assert pairs["recall@5"]["mean"] == pytest.approx(2 / 4)
    # defect 4: @50 from 5-item lists is not reported
    assert pairs["recall@50"] is None and "at most 5 items" in pairs["not_reported"]["recall@50"]


def test_a_tiny_random_model_runs_end_to_end_and_writes_report_and_predictions(tiny_lm, redial_dir, tmp_path):
    out = tmp_path / "report.json"
    report = ev.eval_command(
        model=str(tiny_lm),
        benchmark="redial",
        data=redial_dir / "original" / "test_data.jsonl.gz",
        limit=2,
        out=out,
        k=3,
        batch_size=2,
        max_new_tokens=6,
        dtype="float32",
    )
    assert report["n_turns"] == 2 and json.loads(out.read_text())["k"] == 3
    rows = [json.loads(line) for line in out.with_suffix(".predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(row["text"].startswith("1.") for row in rows)


def test_k_larger_than_the_catalogue_is_refused(redial):
    with pytest.raises(ev.EvaluationError, match="K=50 is larger than the redial catalogue \\(6 items\\)"):
        ev.evaluate("popularity", redial, ev.GenerationOptions(k=50))


def test_a_model_path_that_is_not_a_model_is_named(tmp_path, redial):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "readme.txt").write_text("nothing here")
    with pytest.raises(StudentModelError, match="weights: not a model folder"):
        ev.evaluate(str(folder), redial, ev.GenerationOptions(k=3))


def test_generation_stops_after_k_entries_or_a_looping_entry():
    assert not ev.list_is_done("1. Heat (1995)\n2. Alien (1979)\n3. Ja", k=3)
    assert ev.list_is_done("1. Heat (1995)\n2. Alien (1979)\n3. Jaws (1975)\n4.", k=3)
    assert ev.list_is_done("1. Heat (1995) 2. Heat (1995) 3. Heat (1995) 4. He", k=20)  # inline loop
    assert not ev.list_is_done("1. Heat (1995)\n2. Heat 2 (2000)\n3. Heat 3", k=20)

"""He et al.'s (CIKM'23) evaluator: unit cases worked out from their code, and their own recorded results.

The fidelity kit (../shared/data/inspired/he2023_fidelity, see its SOURCE.md) holds their GPT-4, GPT-3.5, Vicuna and
BAIZE replies on half of the INSPIRED test dialogues with their per-pair metrics; `revdial eval --protocol he2023`
must give every pair's metrics and every mean they computed.
"""

from __future__ import annotations

import csv
import gzip
import json
import math

import pytest

from revdial.crs import he2023
from revdial.crs.evaluate import eval_command

MODELS = ("gpt-4", "gpt-3.5-turbo", "vicuna", "baize")


def test_entity_names_are_the_last_uri_segment_without_parentheses():
    assert he2023.entity_name("<http://dbpedia.org/resource/Water_(1985_film)>") == "Water"
    assert he2023.entity_name("<http://dbpedia.org/resource/Spider-Man_(2002_film)>") == "Spider Man"
    assert he2023.entity_name("<http://dbpedia.org/resource/AC/DC>") == "DC"


def test_names_come_after_the_first_1_dot_one_per_line_and_empty_lines_keep_their_rank():
    text = "Sure!\n1. Heat (1995)\n\n2) The Matrix - great\n3 - Alien"
    assert he2023.extract_names(text) == ["Heat", "", "The Matrix - great", "Alien"]
    assert he2023.extract_names("Heat, Alien (1979)") == ["Heat", "Alien"]  # no "1.": commas split


def test_nearest_name_is_case_insensitive_and_ties_take_the_recorded_choice():
    index = he2023.NameIndex(["Heat", "Beat", "Alien"])
    found = index.nearest("heat")
    assert (found.nearest_movie, found.min_edit_distance) == ("Heat", 0)
    tie = index.nearest("Meat")
    assert tie.tied == ("Heat", "Beat") and tie.nearest_movie == "Heat"
    recorded = [{"movie_name": "Meat", "min_edit_distance": 1, "nearest_movie": "Beat"}]
    assert he2023.resolve(["Meat"], index, recorded)[0].nearest_movie == "Beat"
    with pytest.raises(he2023.He2023Error, match="not a nearest catalogue name"):
        he2023.resolve(["Meat"], index, [{**recorded[0], "nearest_movie": "Alien"}])


def test_variants_filter_far_names_and_seen_names_and_pairs_split_by_condition():
    far = he2023.Extracted("Zzzzzz", 5, "Alien", ("Alien",))
    seen = he2023.Extracted("Heat", 0, "Heat", ("Heat",))
    near = he2023.Extracted("Matrix", 2, "The Matrix", ("The Matrix",))
    turn = he2023.HeTurn("d", "t", ["1", "2"], ["The Matrix", "Heat"], ["Heat"])
    rows = he2023.pair_rows([turn], [[far, seen, near]], ks=(1, 3))
    r1, r4 = rows["r1"], rows["r4"]
    assert [r["condition"] for r in r1] == ["rec", "dis"]
    assert r1[0]["mrr@3"] == pytest.approx(1 / 3) and r1[1]["recall@1"] == 0.0  # Heat at rank 2
    assert r4[0]["recall@1"] == 1.0 and r4[0]["ndcg@1"] == 1.0  # far and seen names removed
    assert rows["r3"][1]["ndcg@3"] == pytest.approx(1 / math.log2(2))  # only the far one removed: Heat first
    summary = he2023.summarise(rows, ks=(1, 3))
    assert summary["r4"]["recommendation"] == pytest.approx(
        {
            "n_pairs": 1,
            "recall@1": 1.0,
            "ndcg@1": 1.0,
            "mrr@1": 1.0,
            "recall@3": 1.0,
            "ndcg@3": 1.0,
            "mrr@3": 1.0,
        }
    )
    assert summary["r4"]["discussion"]["recall@3"] == 0.0


def _csv_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("model", MODELS)
def test_fidelity_kit_every_pair_and_every_mean_matches_he_et_al(shared_data, tmp_path, model):
    kit = shared_data / "inspired" / "he2023_fidelity"
    if not kit.exists():
        pytest.skip(f"He et al. fidelity kit not present at {kit}")
    report = eval_command(
        None,
        "he2023-inspired",
        kit / "test.jsonl.gz",
        None,
        tmp_path / "r.json",
        predictions=kit / "outputs" / f"{model}.jsonl.gz",
        protocol="he2023",
    )
    expected = json.loads((kit / "expected" / "summary.json").read_text())[model]
    for variant, conditions in expected.items():
        for condition, means in conditions.items():
            got = report["he2023"][variant][condition]
            assert got["n_pairs"] == means["n_pairs"], (variant, condition)
            for name, value in means.items():
                assert got[name] == pytest.approx(value, abs=1e-9), (model, variant, condition, name)
    assert json.loads((tmp_path / "r.json").read_text())["he2023"]["r1"]["all"]["n_pairs"] == 131


def test_fidelity_kit_pairs_match_row_by_row(shared_data):
    """Per-pair hits, not only means: a pair scored wrong in one direction and another in the other would cancel."""
    from revdial.crs.benchmarks import load_benchmark
    from revdial.crs.evaluate import _recorded_outputs, load_predictions, score_he2023

    kit = shared_data / "inspired" / "he2023_fidelity"
    if not kit.exists():
        pytest.skip(f"He et al. fidelity kit not present at {kit}")
    bench = load_benchmark("he2023-inspired", kit / "test.jsonl.gz")
    outputs = _recorded_outputs(load_predictions(kit / "outputs" / "gpt-4.jsonl.gz", bench))
    _, rows = score_he2023(bench, outputs)
    for variant in ("r1", "r2", "r3", "r4"):
        expected = _csv_rows(kit / "expected" / "gpt-4" / f"{variant}.csv")
        got = rows[variant]
        assert [(r["dialog_id"], r["turn_id"], r["gt_id"], r["condition"]) for r in got] == [
            (e["dialog_id"], e["turn_id"], e["gt_id"], e["condition"]) for e in expected
        ]
        for mine, theirs in zip(got, expected):
            for name in ("recall@20", "ndcg@20", "mrr@20", "recall@1"):
                assert mine[name] == pytest.approx(float(theirs[name]), abs=1e-12), (variant, mine, theirs)


def test_kit_predictions_without_he_s_extraction_differ_only_at_ties_it_reports(shared_data, tmp_path):
    """Without their recorded tie choices the scores still come out, and the ties that could move a hit are counted."""
    kit = shared_data / "inspired" / "he2023_fidelity"
    if not kit.exists():
        pytest.skip(f"He et al. fidelity kit not present at {kit}")
    stripped = tmp_path / "gpt-4.jsonl"
    with gzip.open(kit / "outputs" / "gpt-4.jsonl.gz", "rt") as source, open(stripped, "w") as target:
        for line in source:
            row = json.loads(line)
            target.write(
                json.dumps({"dialog_id": row["dialog_id"], "turn_id": row["turn_id"], "text": row["text"]})
            )
            target.write("\n")
    report = eval_command(
        None,
        "he2023-inspired",
        kit / "test.jsonl.gz",
        None,
        tmp_path / "r.json",
        predictions=stripped,
        protocol="he2023",
    )
    assert report["he2023"]["ties_resolved_from_record"] == 0
    assert report["he2023"]["ties_that_can_change_a_score_unresolved"] >= 1

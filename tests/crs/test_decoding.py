"""Evaluation decodings (revdial.crs.decoding) against scripted models that loop the way a 135M student does."""

from __future__ import annotations

import pytest

from revdial.crs import decoding as dec
from revdial.crs import evaluate as ev

FIRST_TOKENS = {" Heat": 1, " Alien": 2, " Jaws": 3, " Up": 4, " Big": 5}


class LoopingModel:
    """Writes "Heat (1995)" then loops on it; with a first token banned it falls to the next title it knows."""

    def __init__(self, titles=(" Heat", " Alien", " Jaws", " Up", " Big")) -> None:
        self.titles, self.calls = list(titles), []

    def __call__(self, answer, max_tokens, banned, stop, seed):
        self.calls.append((answer, banned, tuple(stop)))
        allowed = [t for t in self.titles if FIRST_TOKENS[t] not in banned]
        if not allowed:
            return "", []
        if "\n" in stop:  # one line asked for
            return f"{allowed[0]} (1990)\n", [FIRST_TOKENS[allowed[0]]]
        return "".join(f"{allowed[0]} (1990)\n{n}." for n in range(2, 6)) + f"{allowed[0]} (1990)", []


def test_greedy_is_one_call_and_keeps_the_loop():
    model = LoopingModel()
    text, cost = dec.decode("greedy", model, k=5, max_new_tokens=50)
    assert cost.calls == 1 and model.calls[0][2] == ("\n6.",)
    assert text.count("Heat") == 5


def test_distinct_keeps_the_greedy_prefix_then_bans_the_repeated_titles_first_token():
    model = LoopingModel()
    text, cost = dec.decode("distinct", model, k=5, max_new_tokens=50)
    assert dec.numbered_bodies(text) == [
        " Heat (1990)",
        " Alien (1990)",
        " Jaws (1990)",
        " Up (1990)",
        " Big (1990)",
    ]
    # line 2 was asked once without bans (Heat again: rejected), then with Heat's first token banned
    assert model.calls[1] == ("1. Heat (1990)\n2.", frozenset(), ("\n", " 3. "))
    assert model.calls[2][1] == frozenset({FIRST_TOKENS[" Heat"]})
    assert cost.rejected_lines >= 1 and cost.calls == len(model.calls)


def test_distinct_ends_the_list_when_the_model_has_no_new_title_within_the_retries():
    model = LoopingModel(titles=(" Heat", " Alien"))
    text, _ = dec.decode("distinct", model, k=5, max_new_tokens=50)
    assert dec.numbered_bodies(text) == [" Heat (1990)", " Alien (1990)"]


def test_sample_merges_the_greedy_and_sampled_lists_round_robin_by_rank():
    lists = [[" Heat", " Alien"], [" Jaws", " Heat", " Up"], [" heat (1995)", " Big"]]
    assert dec.merge_ranked(lists, k=4) == [" Heat", " Jaws", " Alien", " Big"]  # rank 2 before rank 3


@pytest.mark.parametrize(
    ("listed", "body", "accepted"),
    [
        ([" Heat (1995)"], " heat", False),  # case, punctuation and the year do not make a new title
        ([" Toy Story (1995)"], " Toy Story 2 (1999)", True),
        ([" Toy Story (1995)", " Toy Story 2"], " Toy Story 3", False),  # "X 3, X 4, ..." is a loop
        ([], " 1111111111", False),
        ([], " 1917 (2019)", True),
        ([], "   ", False),
    ],
)
def test_a_line_counts_as_a_new_title_only_when_it_names_one(listed, body, accepted):
    bodies, keys = [], set()
    for known in listed:
        assert dec._accept(bodies, keys, known, k=20)
    assert dec._accept(bodies, keys, body, k=20) is accepted


def test_inline_entries_are_entries():
    assert dec.numbered_bodies("1. Heat (1995) was great 2. Alien (1979)\nthanks") == [
        " Heat (1995) was great",
        " Alien (1979)",
    ]


def test_unknown_decoding_is_refused(tmp_path):
    from revdial.crs.benchmarks import Benchmark, EvalTurn

    bench = Benchmark(
        "b", "b.jsonl", [EvalTurn("d", "1", [], ["1"], [])], [{"item_id": "1", "title": "A", "year": None}]
    )
    with pytest.raises(ev.EvaluationError, match="unknown decoding 'beam'"):
        ev.evaluate("popularity", bench, ev.GenerationOptions(k=1, decoding="beam"))


@pytest.mark.parametrize("backend", ["transformers", "llamacpp"])
def test_distinct_decoding_runs_on_both_backends_with_the_same_prompt(tiny_lm, redial_dir, backend):
    from revdial.crs.benchmarks import load_benchmark

    bench = load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz", limit=2)
    options = ev.GenerationOptions(
        k=3, max_new_tokens=12, dtype="float32", backend=backend, decoding="distinct"
    )
    # llama.cpp's export takes SmolLM2-shaped models: the real (untrained) student; transformers: a random tiny one
    model = "revdial://smollm2-135m-instruct" if backend == "llamacpp" else str(tiny_lm)
    report, rows = ev.evaluate(model, bench, options, progress=False, n_resamples=10)
    generation = report["generation"]
    assert generation["backend"] == backend and generation["decoding"] == "distinct"
    assert generation["decode_cost"]["calls_per_turn"] >= 1
    for row in rows:  # a random or zero-shot model writes junk, but never the same title twice
        keys = [dec.title_key(body) for body in dec.numbered_bodies(row["text"])]
        assert len(keys) == len(set(keys)) <= 3


def test_penalty_openings_penalises_a_lines_opening_and_penalty_does_not():
    """The DRY request each penalty decoding sends: `penalty` breaks sequences at "N." (a line may open like the
    last one), `penalty_openings` does not (an opening word already used pays); greedy sends no DRY at all."""
    from revdial.crs.evaluate import GenerationOptions, _llamacpp_complete

    sent = []

    class Server:
        def handle_completions(self, request):
            sent.append(request)
            return {"choices": [{"text": " The Matrix (1999)"}]}

    def tokenizer(text, add_special_tokens=False):
        return {"input_ids": [7]}

    for decoding in ("penalty", "penalty_openings", "greedy"):
        complete = _llamacpp_complete(Server(), tokenizer, "PROMPT", GenerationOptions(decoding=decoding))
        assert complete("1.", 40, frozenset(), ["\n21."], None) == (" The Matrix (1999)", [7])
    penalty, openings, greedy = sent
    assert "." in penalty["dry_sequence_breakers"] and "." not in openings["dry_sequence_breakers"]
    assert "\n" in openings["dry_sequence_breakers"] and openings["dry_multiplier"] > 0
    assert openings["dry_penalty_last_n"] == 40
    assert "dry_multiplier" not in greedy

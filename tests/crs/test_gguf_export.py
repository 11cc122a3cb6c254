"""A trained student written back into the shipped GGUF, so llama.cpp can evaluate it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from revdial.crs import evaluate as ev
from revdial.crs.benchmarks import load_benchmark
from revdial.crs.gguf_export import GGUFExportError, export_gguf, fits_template, gguf_name, permute_qk


@pytest.fixture()
def redial(redial_dir):
    return load_benchmark("redial", redial_dir / "original" / "test_data.jsonl.gz")


def test_rotary_rows_move_from_halves_to_interleaved_pairs_per_head():
    # one head of dim 4: HF keeps (x0, x1 | x2, x3) as rotary halves, llama.cpp pairs (x0, x2), (x1, x3)
    rows = np.arange(8, dtype=np.float32).reshape(8, 1)
    assert permute_qk(rows, n_head=2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_hf_names_map_to_gguf_names_and_unknown_ones_are_refused():
    assert gguf_name("model.layers.12.self_attn.o_proj.weight") == "blk.12.attn_output.weight"
    assert gguf_name("model.embed_tokens.weight") == "token_embd.weight"
    with pytest.raises(GGUFExportError, match="rotary_emb"):
        gguf_name("model.layers.0.rotary_emb.inv_freq")


def test_a_model_of_another_shape_is_refused_and_evaluated_by_transformers(tiny_lm, tmp_path):
    config = json.loads((tiny_lm / "config.json").read_text())
    assert not fits_template(config)
    with pytest.raises(GGUFExportError, match="num_hidden_layers=2 but the template GGUF"):
        export_gguf(tiny_lm, tmp_path / "tiny.gguf")
    assert ev.choose_backend(str(tiny_lm)) == "transformers"
    assert ev.choose_backend(str(tiny_lm), "llamacpp") == "llamacpp"
    with pytest.raises(ev.EvaluationError, match="unknown backend 'vllm'"):
        ev.choose_backend(str(tiny_lm), "vllm")


def test_the_student_exports_to_the_template_weights_and_llamacpp_evaluates_it(tmp_path, redial):
    """Exporting the untrained student must give back the shipped weights (to Q8_0 precision), q/k permuted right."""
    import gguf

    from revdial.paths import smollm2_gguf_path

    out = export_gguf("revdial://smollm2-135m-instruct", tmp_path / "student.gguf")
    original, exported = gguf.GGUFReader(smollm2_gguf_path()), gguf.GGUFReader(out)
    assert [t.name for t in exported.tensors] == [t.name for t in original.tensors]
    assert (
        exported.fields["tokenizer.ggml.tokens"].contents()
        == original.fields["tokenizer.ggml.tokens"].contents()
    )
    by_name = {t.name: t for t in exported.tensors}
    for name in (
        "blk.0.attn_q.weight",
        "blk.0.attn_k.weight",
        "blk.29.ffn_down.weight",
        "output_norm.weight",
    ):
        want = gguf.quants.dequantize(
            original.tensors[[t.name for t in original.tensors].index(name)].data,
            original.tensors[[t.name for t in original.tensors].index(name)].tensor_type,
        )
        got = gguf.quants.dequantize(by_name[name].data, by_name[name].tensor_type)
        # Q8_0's step is max|w|/127 per 32 weights; a wrong q/k permutation would be off by O(max|w|)
        assert np.abs(got - want).max() <= np.abs(want).max() / 100, name

    report, predictions = ev.evaluate(
        "revdial://smollm2-135m-instruct",
        redial,
        ev.GenerationOptions(k=3, backend="llamacpp", max_new_tokens=24),
        n_resamples=10,
        progress=False,
    )
    assert report["generation"]["backend"] == "llamacpp" and report["n_turns"] == len(redial.turns)
    assert all(p["text"].startswith("1.") for p in predictions)
    assert "\n4." not in "".join(p["text"] for p in predictions)  # stopped at K entries

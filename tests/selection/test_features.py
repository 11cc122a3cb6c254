"""Features: sentence embeddings and student-LM hidden states, cached so a rerun encodes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from revdial.selection import features as F
from revdial.selection.features import FeatureInputError, FeatureSpecError, compute_features

TEXTS = [
    "A heist thriller set in Los Angeles.",
    "A gentle animated film about toys.",
    "A heist thriller set in Los Angeles.",
]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama with MiniLM's tokenizer: the shape of the student model, no download."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from revdial.paths import minilm_path

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def count_encoded(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = F.Encoder.encode

    def spy(self, texts, **kw):
        calls.append(len(texts))
        return real(self, texts, **kw)

    monkeypatch.setattr(F.Encoder, "encode", spy)
    return calls


def test_minilm_features_are_unit_384d_and_a_rerun_encodes_nothing(tmp_path, monkeypatch):
    calls = count_encoded(monkeypatch)
    X = compute_features(TEXTS, "minilm", cache_dir=tmp_path, progress=False)
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(X[0], X[2])
    assert sum(calls) == 2  # the repeated text is encoded once
    again = compute_features(list(reversed(TEXTS)) + [TEXTS[1]], "minilm", cache_dir=tmp_path, progress=False)
    assert sum(calls) == 2
    np.testing.assert_array_equal(again[0], X[2])
    assert not np.allclose(X[0], X[1])  # different texts, different vectors


def test_lm_features_are_mean_pooled_last_hidden_states(tiny_lm, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    X = compute_features(TEXTS[:2], f"lm:{tiny_lm}", cache_dir=tmp_path, progress=False, batch_size=2)
    assert X.shape == (2, 32)
    tok, model = AutoTokenizer.from_pretrained(tiny_lm), AutoModel.from_pretrained(tiny_lm).eval()
    with torch.no_grad():
        h = model(**tok(TEXTS[1], return_tensors="pt")).last_hidden_state[0].mean(0)
    np.testing.assert_allclose(
        X[1], (h / h.norm()).numpy(), atol=1e-5
    )  # padding in the batch changes nothing


def test_cache_is_keyed_by_model(tiny_lm, tmp_path):
    compute_features(TEXTS[:1], f"lm:{tiny_lm}", cache_dir=tmp_path, progress=False)
    compute_features(TEXTS[:1], "minilm", cache_dir=tmp_path, progress=False)
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert (
        len(folders) == 2 and folders[0].startswith("lm-") and folders[1].startswith("st-all-MiniLM-L6-v2-")
    )


@pytest.mark.parametrize("spec", ["bert", "lm:", "xx:/tmp"])
def test_a_bad_spec_is_an_error(spec):
    with pytest.raises(
        FeatureSpecError, match=r"expected 'minilm\[:dtype=.*\]', 'st:PATH', 'lm:PATH' or 'tfidf"
    ):
        compute_features(["x"], spec)


@pytest.mark.parametrize("spec", ["minilm:dtype=int8", "minilm:bf16", "minilm:precision=fp32"])
def test_a_bad_minilm_dtype_is_an_error(spec):
    with pytest.raises(FeatureSpecError, match="is not dtype=auto\\|bf16\\|fp32"):
        compute_features(["x"], spec)


def test_minilm_dtypes_are_cached_apart_and_bf16_stays_close_to_fp32(tmp_path, monkeypatch):
    calls = count_encoded(monkeypatch)
    fp32 = compute_features(POOL, "minilm:dtype=fp32", cache_dir=tmp_path, progress=False)
    bf16 = compute_features(POOL, "minilm:dtype=bf16", cache_dir=tmp_path, progress=False)
    assert sum(calls) == 2 * len(POOL)  # the fp32 cache did not answer for bf16
    folders = sorted(p.name for p in tmp_path.iterdir())
    # one folder per dtype (the fp32 folder's hash depends on where the model is installed, so not its order)
    assert len(folders) == 2 and sum(name.startswith("st-all-MiniLM-L6-v2-bf16-") for name in folders) == 1
    assert bf16.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, rtol=1e-5)
    assert not np.array_equal(fp32, bf16)  # it really ran in bfloat16
    assert (fp32 * bf16).sum(1).min() > 0.99
    compute_features(POOL, "minilm:dtype=fp32", cache_dir=tmp_path, progress=False)
    assert sum(calls) == 2 * len(POOL)


def test_auto_dtype_follows_the_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert F.resolve_dtype("auto") == "fp32" and F.resolve_dtype("bf16") == "bf16"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert F.resolve_dtype("auto") == "bf16" and F.resolve_dtype("fp32") == "fp32"


def test_a_long_text_is_cut_to_what_the_model_reads_and_encodes_the_same():
    from revdial.paths import minilm_path

    enc = F.Encoder("st", minilm_path())
    long = " ".join(
        f"word{i} of a long review." for i in range(400)
    )  # ~2,400 word pieces, the model reads 256
    cut = enc.cut(long)
    assert len(cut) < len(long) / 4 and long.startswith(cut)
    full = enc.model.encode([long], normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(enc.encode([long]), full, atol=1e-6)
    short = "A gentle animated film about toys."
    assert enc.cut(short) is short
    # words the normaliser deletes (control characters) are no word pieces: the cut falls back to the whole text
    ghosts = " ".join(["\x00"] * 300) + " " + long
    assert enc.cut(ghosts) == ghosts


def test_a_folder_without_a_model_is_an_error(tmp_path):
    with pytest.raises(FeatureSpecError, match="has no config.json"):
        compute_features(["x"], f"lm:{tmp_path}")


def test_a_non_text_row_is_an_error_naming_the_row(tmp_path):
    with pytest.raises(TypeError, match="row 1 is NoneType"):
        compute_features(["x", None], "minilm", cache_dir=tmp_path)


POOL = [
    "Item: Heat (1995). About: genres: Action, Crime, Thriller. User review: a heist in Los Angeles.",
    "Item: Toy Story (1995). About: genres: Animation, Children, Comedy. User review: toys come alive.",
    "Item: Ronin (1998). About: genres: Action, Crime, Thriller. User review: a heist and car chases in Paris.",
    "Item: Toy Story 2 (1999). About: genres: Animation, Children, Comedy. User review: the toys again.",
    "Item: Alien (1979). About: genres: Horror, Sci-Fi. User review: a crew hunted in space.",
    "Item: Aliens (1986). About: genres: Action, Horror, Sci-Fi. User review: marines hunted in space.",
]


def test_tfidf_features_are_unit_float32_and_deterministic(tmp_path):
    X = compute_features(POOL, "tfidf:dim=4", cache_dir=tmp_path / "a", progress=False)
    Y = compute_features(POOL, "tfidf:dim=4", cache_dir=tmp_path / "b", progress=False)  # a fresh fit
    assert X.shape == (6, 4) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(X, Y)
    cos = X @ X.T  # the two heists are closer to each other than to a cartoon
    assert cos[0, 2] > cos[0, 1] and cos[1, 3] > cos[1, 2]


def test_tfidf_keeps_a_vocabulary_smaller_than_dim_as_it_is(tmp_path):
    texts = ["red apple", "green apple", "red pear"]
    X = compute_features(texts, "tfidf:ngrams=1,min_df=1", cache_dir=tmp_path, progress=False)
    assert X.shape == (3, 4)  # red, apple, green, pear: no SVD below 384 terms
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


def test_tfidf_cache_hit_fits_nothing_and_other_parameters_refit(tmp_path, monkeypatch):
    from sklearn.feature_extraction import text as sk_text

    X = compute_features(POOL, "tfidf:dim=4", cache_dir=tmp_path, progress=False)

    def refuse(self, *a, **kw):
        raise AssertionError("the vectorizer ran on a cache hit")

    monkeypatch.setattr(sk_text.TfidfVectorizer, "fit_transform", refuse)
    np.testing.assert_array_equal(
        compute_features(POOL, "tfidf:dim=4", cache_dir=tmp_path, progress=False), X
    )
    with pytest.raises(AssertionError, match="cache hit"):  # another dim or another pool is another fit
        compute_features(POOL, "tfidf:dim=3", cache_dir=tmp_path, progress=False)
    with pytest.raises(AssertionError, match="cache hit"):
        compute_features(POOL[::-1], "tfidf:dim=4", cache_dir=tmp_path, progress=False)


def test_tfidf_text_without_vocabulary_is_a_zero_row(tmp_path):
    X = compute_features(POOL + ["", "zzz"], "tfidf:dim=4", cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(X[6:], 0.0)  # documented: nothing to normalise, strategies accept zeros
    np.testing.assert_allclose(np.linalg.norm(X[:6], axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("texts", [["", " ", "!!"], ["a", "b"]])
def test_tfidf_pool_without_any_word_is_an_error(tmp_path, texts):
    with pytest.raises(FeatureInputError, match="no term occurs in .* texts are empty or too short"):
        compute_features(texts, "tfidf", cache_dir=tmp_path, progress=False)


def test_tfidf_empty_pool_is_empty(tmp_path):
    assert compute_features([], "tfidf", cache_dir=tmp_path, progress=False).shape == (0, 0)


@pytest.mark.parametrize("spec", ["tfidf:dim=0", "tfidf:dims=4", "tfidf:ngrams=two", "tfidf:4"])
def test_a_bad_tfidf_option_is_an_error(spec):
    with pytest.raises(FeatureSpecError, match="is not one of dim=N, ngrams=N, min_df=N"):
        compute_features(["x"], spec)


# ---- backends: OpenVINO and ONNX Runtime run MiniLM's transformer exported to ONNX ----

MINILM = "all-MiniLM-L6-v2"
needs_openvino = pytest.mark.skipif(
    not F.backend_installed("openvino"),
    reason="openvino or onnx is not installed (revdial's main dependencies)",
)
needs_onnxruntime = pytest.mark.skipif(
    not F.backend_installed("onnx"), reason="onnxruntime is not installed (pip install 'revdial[onnx]')"
)
LONG = "Item: Heat (1995). User review: " + " ".join(f"scene{i} is tense and well shot." for i in range(300))


def fake_versions(monkeypatch, version: str) -> None:
    monkeypatch.setattr(F, "backend_version", lambda b: "" if b == "torch" else f"{b} {version} torch 2.0")


def test_the_cache_key_changes_with_the_backend_and_its_version(monkeypatch):
    from revdial.paths import minilm_path

    folder = minilm_path()
    fake_versions(monkeypatch, "1.0")
    keys = {
        (d, b): F.model_key("st", folder, MINILM, d, b)
        for d in ("fp32", "bf16")
        for b in ("torch", "openvino", "onnx")
    }
    assert len(set(keys.values())) == 6  # no variant answers for another
    # torch keeps the keys it had before there were backends, so existing caches stay valid
    assert keys["fp32", "torch"] == F.model_key("st", folder, MINILM)
    assert re.fullmatch(rf"st-{MINILM}-bf16-[0-9a-f]{{10}}", keys["bf16", "torch"])
    assert keys["bf16", "openvino"].startswith(f"st-{MINILM}-bf16-openvino-")
    fake_versions(monkeypatch, "1.1")  # an upgraded runtime computes slightly different vectors: a new key
    assert F.model_key("st", folder, MINILM, "bf16", "openvino") != keys["bf16", "openvino"]
    assert F.model_key("st", folder, MINILM, "bf16", "torch") == keys["bf16", "torch"]


def test_auto_backend_is_openvino_on_the_cpu_when_installed_and_fp32_stays_the_torch_reference(monkeypatch):
    import torch

    auto = {"dtype": "auto", "backend": "auto"}
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(F, "backend_installed", lambda b: True)
    assert F.resolve_minilm(auto) == ("openvino", "bf16")
    assert F.resolve_minilm({**auto, "dtype": "bf16"}) == ("openvino", "bf16")
    assert F.resolve_minilm({**auto, "dtype": "fp32"}) == ("torch", "fp32")
    assert F.resolve_minilm({**auto, "backend": "openvino", "dtype": "fp32"}) == ("openvino", "fp32")
    assert F.resolve_minilm(auto, device="cuda") == ("torch", "bf16")  # OpenVINO here is the CPU's
    assert F.resolve_minilm({**auto, "backend": "onnx"}) == ("onnx", "fp32")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert F.resolve_minilm(auto) == ("openvino", "fp32")
    monkeypatch.setattr(F, "backend_installed", lambda b: b == "torch")
    assert F.resolve_minilm(auto) == ("torch", "fp32")


@pytest.mark.parametrize(
    ("spec", "device", "error"),
    [
        ("minilm:backend=onnx,dtype=bf16", "cpu", "runs float32 only"),
        ("minilm:backend=openvino", "cuda", "runs on the CPU only"),
        ("minilm:backend=tensorrt", "cpu", "is not dtype=auto\\|bf16\\|fp32 or backend=auto\\|torch"),
        ("minilm:dtype=fp32,backend", "cpu", "option 'backend' is not"),
    ],
)
def test_a_backend_that_cannot_run_is_an_error(spec, device, error):
    with pytest.raises(FeatureSpecError, match=error):
        compute_features(["x"], spec, device=device)


def test_a_backend_whose_package_is_missing_is_an_error_naming_it(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name)
    )
    with pytest.raises(FeatureSpecError, match="backend=onnx needs onnxruntime"):
        compute_features(["x"], "minilm:backend=onnx")


@needs_openvino
def test_the_default_minilm_is_openvino_and_stays_close_to_fp32_on_real_texts(tmp_path, monkeypatch):
    texts = POOL + [LONG]
    calls = count_encoded(monkeypatch)
    fp32 = compute_features(texts, "minilm:dtype=fp32", cache_dir=tmp_path, progress=False)
    default = compute_features(texts, "minilm", cache_dir=tmp_path, progress=False)
    assert sum(calls) == 2 * len(texts)  # the fp32 cache did not answer for the default variant
    assert sum("-openvino-" in p.name for p in tmp_path.iterdir()) == 1
    np.testing.assert_allclose(np.linalg.norm(default, axis=1), 1.0, rtol=1e-5)
    cos = (fp32 * default).sum(1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.99


@needs_openvino
def test_openvino_padding_pieces_and_the_cut_leave_a_text_s_vector_unchanged():
    from revdial.paths import minilm_path

    enc = F.Encoder("st", minilm_path(), dtype="fp32", backend="openvino")
    texts = [LONG, POOL[0], "Toys."]  # one batch pads the short texts to the long one's 256 pieces
    together = enc.encode(texts)
    alone = np.concatenate([enc.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    enc.runner.rows = 2  # a batch runs in pieces of `rows` texts, each padded to its own longest
    np.testing.assert_allclose(enc.encode(texts), together, atol=1e-5)
    reference = F.Encoder("st", minilm_path()).encode(texts)  # torch float32
    np.testing.assert_allclose(together, reference, atol=1e-4)


@needs_onnxruntime
def test_onnx_runtime_vectors_match_fp32_on_real_texts(tmp_path):
    texts = POOL + [LONG]
    fp32 = compute_features(texts, "minilm:dtype=fp32", cache_dir=tmp_path, progress=False)
    ort = compute_features(texts, "minilm:backend=onnx", cache_dir=tmp_path, progress=False)
    assert (fp32 * ort).sum(1).min() > 0.9999


@needs_openvino
def test_the_onnx_export_is_made_once_and_reused(tmp_path, monkeypatch):
    from revdial.paths import minilm_path

    monkeypatch.setenv("REVDIAL_CACHE", str(tmp_path))
    path = F.export_onnx(minilm_path())
    assert path.is_relative_to(tmp_path / "models") and path.stat().st_size > 10_000_000
    assert not list(path.parent.glob(".tmp-*"))  # written whole, then renamed

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(F, "_export_onnx", no_export)
    assert F.export_onnx(minilm_path()) == path


@needs_openvino
def test_openvino_is_imported_without_its_telemetry():
    import subprocess
    import sys

    code = (
        "from revdial.selection.features import import_openvino\n"
        "import_openvino()\n"
        "import openvino.tools.ovc.telemetry_utils as t\n"
        "print(t.tm.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "openvino.tools.ovc.telemetry_stub"  # the no-op stub, not openvino_telemetry

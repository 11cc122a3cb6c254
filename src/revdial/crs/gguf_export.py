"""Write a trained llama-architecture student (HF safetensors folder, or a PEFT adapter on one) back to GGUF.

Evaluation decodes hundreds of K-title lists; llama.cpp (`xllamacpp`) with parallel slots does that several times
faster on this CPU than transformers' batched `generate`, but it reads GGUF only. The shipped SmolLM2 GGUF is the
template: its metadata (architecture, tokenizer, special tokens) is copied unchanged, the chat template is taken from
the model folder (training may have changed it), and every weight is replaced by the folder's own, quantized to Q8_0
(norms stay float32). So the exported file is exactly the student's weights, at 8 bits, under the tokenizer it was
trained with.

    revdial-python -c "from revdial.crs.gguf_export import export_gguf; export_gguf('runs/x/model', 'model.gguf')"

Only models with the template's shape can be exported (same architecture, layers, widths, heads, vocab); anything
else raises `GGUFExportError`, and the evaluator falls back to transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from revdial.paths import cache_dir, smollm2_gguf_path


class GGUFExportError(ValueError):
    """The model cannot be written into the template GGUF (another architecture or shape)."""


# HF llama parameter name (after "model.layers.{i}.") -> GGUF tensor name (after "blk.{i}.")
_LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
# The config fields that must equal the template's GGUF metadata for the tokenizer and graph to fit.
_SHAPE_KEYS = {
    "num_hidden_layers": "llama.block_count",
    "hidden_size": "llama.embedding_length",
    "intermediate_size": "llama.feed_forward_length",
    "num_attention_heads": "llama.attention.head_count",
    "num_key_value_heads": "llama.attention.head_count_kv",
    "vocab_size": "llama.vocab_size",
}


def shape_mismatch(config: dict, fields: dict) -> str | None:
    """Why a model config does not fit the template GGUF's metadata `fields` (None when it fits)."""
    arch = fields.get("general.architecture")
    if config.get("model_type") != arch:
        return f"model_type {config.get('model_type')!r} is not the template's {arch!r}"
    for key, meta in _SHAPE_KEYS.items():
        if int(config.get(key, -1)) != int(fields[meta]):
            return f"{key}={config.get(key)} but the template GGUF has {meta}={fields[meta]}"
    return None


def fits_template(config: dict, template: Path | None = None) -> bool:
    """Whether a model config has the template GGUF's architecture and shape (so `export_gguf` can write it)."""
    import gguf

    return (
        shape_mismatch(config, _template_fields(gguf.GGUFReader(Path(template or smollm2_gguf_path()))))
        is None
    )


def gguf_name(hf_name: str) -> str:
    if hf_name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[hf_name]
    parts = hf_name.split(".", 3)  # model, layers, i, rest
    if len(parts) == 4 and parts[:2] == ["model", "layers"] and parts[3] in _LAYER_NAMES:
        return f"blk.{parts[2]}.{_LAYER_NAMES[parts[3]]}"
    raise GGUFExportError(f"no GGUF name for parameter {hf_name!r}")


def permute_qk(weights: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotary layout (halves) -> llama.cpp's (interleaved pairs), per head; as convert_hf_to_gguf.py does."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _template_fields(reader) -> dict:
    return {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}


def load_state_dict(model_dir: str | Path) -> tuple[dict[str, np.ndarray], dict, str | None]:
    """(float32 numpy weights, config dict, chat template) of a model folder; a PEFT adapter is merged first."""
    import torch
    from transformers import AutoTokenizer

    from revdial.crs.student import resolve_model

    path = Path(resolve_model(str(model_dir)))
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path, dtype=torch.float32).merge_and_unload()
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    config = model.config.to_dict()
    state = {name: tensor.detach().float().numpy() for name, tensor in model.state_dict().items()}
    if config.get("tie_word_embeddings"):
        state.pop("lm_head.weight", None)
    template = AutoTokenizer.from_pretrained(path).chat_template
    return state, config, template


def export_gguf(model_dir: str | Path, out: str | Path, *, template: Path | None = None) -> Path:
    """Write `model_dir`'s weights into a copy of `template` (default: the shipped SmolLM2 GGUF) at `out`."""
    import gguf

    template = Path(template or smollm2_gguf_path())
    reader = gguf.GGUFReader(template)
    fields = _template_fields(reader)
    arch = fields.get("general.architecture")
    state, config, chat_template = load_state_dict(str(model_dir))
    mismatch = shape_mismatch(config, fields)
    if mismatch:
        raise GGUFExportError(f"{model_dir}: {mismatch} ({template.name})")
    n_head, n_kv = int(config["num_attention_heads"]), int(config["num_key_value_heads"])
    expected = {t.name for t in reader.tensors}
    names = {gguf_name(name): name for name in state}
    if set(names) != expected:
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        raise GGUFExportError(
            f"{model_dir}: tensors differ from the template (missing {missing[:5]}, extra {extra[:5]})"
        )

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    for key, value in fields.items():
        if key in ("general.architecture", "general.file_type", "tokenizer.chat_template"):
            continue
        field = reader.fields[key]
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, value, field.types[0], sub_type=sub_type)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_chat_template(chat_template or fields.get("tokenizer.chat_template", ""))
    for tensor in reader.tensors:  # the template's order, so the file reads like the original
        data = state[names[tensor.name]].astype(np.float32)
        if tensor.name.endswith("attn_q.weight"):
            data = permute_qk(data, n_head)
        elif tensor.name.endswith("attn_k.weight"):
            data = permute_qk(data, n_kv)
        if data.ndim == 1:
            writer.add_tensor(tensor.name, data)
        else:
            quantized = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(tensor.name, quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def _fingerprint(path: Path) -> str:
    """Weights and tokenizer files' sizes and mtimes: cheap, and changes whenever a model is retrained in place."""
    digest = hashlib.sha256(str(path.resolve()).encode())
    for file in sorted(path.iterdir()):
        if file.is_file() and file.suffix in (".safetensors", ".json", ".bin", ".jinja", ".model"):
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached_gguf(model_ref: str) -> Path:
    """The GGUF of a model folder (or `revdial://` student), exported once into the revdial cache."""
    from revdial.crs.student import resolve_model

    path = Path(resolve_model(model_ref))
    if not path.is_dir():
        raise GGUFExportError(
            f"{model_ref}: not a local model folder; only local llama-shaped models export to GGUF"
        )
    out = cache_dir() / "gguf" / f"{path.name}-{_fingerprint(path)}.Q8_0.gguf"
    if not out.exists():
        export_gguf(path, out)
        (out.with_suffix(".json")).write_text(json.dumps({"source": str(path.resolve())}))
    return out

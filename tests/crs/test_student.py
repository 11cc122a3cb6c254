"""The offline default student: `revdial://` names, and (slow) the GGUF -> safetensors conversion."""

from __future__ import annotations

import pytest

from revdial.crs.student import STUDENT_TOKEN, StudentModelError, convert_student, resolve_model


def test_unknown_revdial_model_names_the_bundled_one():
    with pytest.raises(StudentModelError, match="only bundled one is revdial://smollm2-135m-instruct"):
        resolve_model("revdial://gpt-5")


def test_hub_ids_pass_through_and_model_folders_resolve_to_themselves(tiny_lm):
    assert resolve_model("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"
    assert resolve_model(tiny_lm) == str(tiny_lm)


@pytest.mark.slow
def test_gguf_converts_once_into_a_chat_ready_safetensors_folder(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = convert_student(tmp_path / "student")
    assert (folder / "model.safetensors").exists()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert 130e6 < model.num_parameters() < 140e6
    assert convert_student(tmp_path / "student") == folder  # cached: the second call converts nothing
    assert STUDENT_TOKEN == "revdial://smollm2-135m-instruct"

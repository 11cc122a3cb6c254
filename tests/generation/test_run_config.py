"""run.py: reading the generation/curation/output sections, overrides, and what the config echo may contain."""

import pytest
from helpers import config

from revdial.config import ConfigError
from revdial.generation.run import make_plan, redact


def test_command_line_overrides_win_over_the_yaml(tmp_path):
    plan, echo, out = make_plan(
        config(budget=8),
        budget=3,
        strategy="kcenter",
        features="st:/models/x",
        out=tmp_path / "o",
        seeds_dir=tmp_path,
    )
    assert (plan.budget, plan.strategy, plan.features) == (3, "kcenter", "st:/models/x")
    assert out == (tmp_path / "o").resolve() and echo["selection"]["budget"] == 3


def test_runs_given_one_llm_call_cache_share_it(tmp_path):
    shared = tmp_path / "calls.sqlite"
    plans = [make_plan(config(), out=tmp_path / n, seeds_dir=tmp_path, llm_cache=shared)[0] for n in "ab"]
    assert {plan.llm_cache_path for plan in plans} == {str(shared)}


def test_a_typo_in_the_generation_section_is_named(tmp_path):
    raw = config()
    raw["generation"]["n_turn"] = 2
    with pytest.raises(ConfigError, match="n_turn"):
        make_plan(raw, out=tmp_path / "o", seeds_dir=tmp_path)


def test_unknown_task_in_max_new_tokens_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown task"):
        make_plan(config(max_new_tokens={"answr": 10}), out=tmp_path / "o", seeds_dir=tmp_path)


def test_config_echo_redacts_secret_looking_values_but_keeps_the_key_variable_name():
    echo = redact(
        {
            "llm": {"api_key_env": "MY_KEY", "hf_token": "hf_abc", "nested": [{"secret": "s"}]},
            "max_new_tokens": {"answer": 96},
            "max_total_tokens": 5000,
            "api_key": "sk-1",
        }
    )
    assert echo == {
        "llm": {"api_key_env": "MY_KEY", "hf_token": "<redacted>", "nested": [{"secret": "<redacted>"}]},
        "max_new_tokens": {"answer": 96},
        "max_total_tokens": 5000,
        "api_key": "<redacted>",
    }


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda raw: raw["selection"].update(stratgy="fisher"), "selection.stratgy: unknown key"),
        (lambda raw: raw.update(selction=raw.pop("selection")), "selction: unknown key"),
        (
            lambda raw: raw["generation"].update(
                llm={"backend": "openai", "model": "m", "base_ur": "http://x"}
            ),
            "generation.llm.base_ur: unknown key",
        ),
        (
            lambda raw: raw["selection"].update(strategy="nosuch"),
            "selection.strategy: unknown strategy 'nosuch'",
        ),
        (lambda raw: raw["curation"].update(on_hallucination="ignore"), "curation.on_hallucination"),
    ],
)
def test_a_typo_anywhere_in_the_pipeline_yaml_fails_naming_the_file_and_key(tmp_path, edit, named):
    import yaml

    raw = config()
    edit(raw)
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as caught:
        make_plan(path, out=tmp_path / "o", seeds_dir=tmp_path)
    assert str(caught.value).startswith(f"{path}: ") and named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_strategy_option_is_refused_before_anything_is_built(tmp_path):
    with pytest.raises(ConfigError, match="--strategy: unknown strategy 'nosuch'"):
        make_plan(
            config(), strategy="nosuch", out=tmp_path / "o"
        )  # no seeds_dir: would build seeds if it got there
    assert not (tmp_path / ".o.work").exists()

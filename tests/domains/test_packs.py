"""Domain packs: a domain is one folder of data and templates; the pipeline YAML's `domain:` picks it."""

import json
import re
import shutil
from pathlib import Path

import datasets
import pytest
import yaml
from helpers import config, fixed_upstream, small_seeds_dir

from revdial.config import ConfigError, load_pipeline_config
from revdial.curation.filters import leaks_title
from revdial.domains import PACKS_DIR, DomainError, load_pack, pack_names
from revdial.generation.run import make_plan, run_plan
from revdial.prompts import render, styles, system_prompt

BOARD_GAMES = {
    "name": "board-games",
    "item_noun": "board game",
    "item_plural": "board games",
    "styles": {
        "players": [
            "We are five on Friday, what can we all play in an hour?",
            "Any good two-player game for a couple?",
        ],
        "theme": [
            "I'd love something about trains and building routes.",
            "Anything with pirates and trading?",
        ],
    },
    "title": {"max_chars": 200, "brackets_are_aliases": False},
}


def _board_games_pack(folder: Path) -> Path:
    pack = folder / "board-games"
    (pack / "templates").mkdir(parents=True)
    (pack / "pack.yaml").write_text(yaml.safe_dump(BOARD_GAMES))
    (pack / "templates" / "style_players.jinja").write_text(
        "Ask for {{ item_noun | a }} for a number of players."
    )
    (pack / "templates" / "style_theme.jinja").write_text(
        "Ask for {{ item_noun | a }} with a theme they like."
    )
    return pack


def test_shipped_packs_load_with_two_exemplars_per_style():
    assert {"movies", "products", "generic"} <= set(pack_names())
    assert set(styles("movies")) == {
        "mood",
        "similar_to",
        "attributes",
        "negative",
        "occasion",
        "liked_history",
    }
    assert set(styles("products")) == {"use_case", "problem", "budget", "compared_to", "gift", "negative"}
    for name in pack_names():
        assert all(len(examples) >= 2 for examples in load_pack(name).styles.values())


def test_liked_history_names_the_titles_the_user_liked():
    text = render("style_liked_history", "movies", history_liked=["Heat", "Collateral", "Ronin"])
    assert '"Heat" and "Collateral"' in text


def test_products_noun_comes_from_the_items_main_category():
    pack = load_pack("products")
    assert pack.noun_for({"metadata_json": json.dumps({"main_category": "Buy a Kindle"})}) == "Kindle book"
    assert pack.noun_for({"metadata_json": json.dumps({"main_category": "Pet Supplies"})}) == "pet supply"
    assert pack.noun_for({"metadata_json": "{}"}) == "product"
    assert render("request_system", "products", item_noun="office product").startswith(
        "You write one realistic message that a person sends to an office product recommendation assistant"
    )


def test_no_prompt_of_the_products_or_generic_pack_says_movie():
    for domain in ("products", "generic"):
        folder = load_pack(domain).templates
        texts = [
            render(f"style_{s}", domain, history_liked=["A"], history_disliked=["B"]) for s in styles(domain)
        ]
        texts += [system_prompt(20, domain=domain), render("crs_system", domain)]
        texts += [e for examples in load_pack(domain).styles.values() for e in examples]
        texts += [p.read_text() for p in folder.glob("*.jinja")]
        assert not [t for t in texts if re.search(r"\b(movie|film|director|actor)s?\b", t, re.IGNORECASE)]


def test_the_movie_eval_prompt_is_unchanged():
    assert system_prompt(5) == (
        "You are a movie recommender chatting with a user. Based on the conversation so far, recommend 5 movies the "
        "user will like, best first. Answer only with the recommendation list, one movie per line, in the format: "
        "no. title (year)"
    )


def test_platform_in_brackets_is_not_an_alias_for_products_but_the_name_still_leaks():
    rules = load_pack("products").title
    title = "Mario Kart 8 Deluxe (Nintendo Switch)"
    assert not leaks_title("Any racing game for my Nintendo Switch that the kids can share?", title, rules)
    assert leaks_title("Something like Mario Kart 8 Deluxe please", title, rules)
    # without the pack's rules the bracket counts as another name of the item
    assert leaks_title("Any racing game for my Nintendo Switch that the kids can share?", title)


def test_display_shortens_long_titles_at_a_word_boundary():
    rules = load_pack("products").title
    long = "Stainless Steel Insulated Travel Mug " * 6
    shown = rules.display(long.strip())
    assert len(shown) <= rules.display_chars and shown.endswith("…") and long.startswith(shown[:-1])


def test_unknown_domain_and_unknown_style_are_one_line_config_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("domain: knitting\n")
    with pytest.raises(ConfigError, match=r"p.yaml: domain: unknown domain 'knitting'"):
        load_pipeline_config(path)
    path.write_text("domain: products\ngeneration: {styles: [mood]}\n")
    with pytest.raises(ConfigError, match=r"unknown style\(s\) \['mood'\] for domain 'products'"):
        load_pipeline_config(path)


def test_a_pack_without_the_template_of_a_style_is_refused(tmp_path):
    pack = _board_games_pack(tmp_path)
    (pack / "templates" / "style_theme.jinja").unlink()
    with pytest.raises(DomainError, match=r"styles.theme: templates/style_theme.jinja not found"):
        load_pack(str(pack))


def test_a_board_games_pack_from_files_alone_synthesizes(tmp_path, monkeypatch):
    """A third pack, added in a folder next to the YAML with no code, drives every prompt of a run."""
    pack = _board_games_pack(tmp_path / "packs")
    seeds_dir = small_seeds_dir(tmp_path / "seeds", 4)
    prompts = tmp_path / "prompts.jsonl"
    raw = config(
        {"backend": "class", "path": "recording_llm:RecordingLLM", "kwargs": {"prompts_path": str(prompts)}},
        budget=4,
    )
    raw["domain"] = "packs/board-games"
    raw["generation"].pop("styles")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    plan, echo, out = make_plan(tmp_path / "run.yaml", out=tmp_path / "out", seeds_dir=seeds_dir)
    assert plan.domain == str(pack.resolve()) and plan.generation.styles == ["players", "theme"]
    run_plan(plan, echo, out, quiet=True, upstream=fixed_upstream(seeds_dir))
    chats = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert chats and all("board game" in chat[0]["content"] for chat in chats)
    kept = datasets.load_from_disk(str(out / "default"))["train"]
    assert len(kept) > 0 and set(kept["style"]) <= {"players", "theme"}
    assert all("board game" in row["messages"][0]["content"] for row in kept)
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_packs_dir_holds_only_pack_folders_and_shared_templates():
    extra = (
        {p.name for p in PACKS_DIR.iterdir() if p.is_dir()} - set(pack_names()) - {"shared", "__pycache__"}
    )
    assert not extra


def test_the_pack_chooses_which_metadata_fields_a_prompt_shows():
    row = {
        "seed_text": "Item: Mug\nAbout: store: ACME; parent_asin: B01\nUser review: keeps coffee hot",
        "metadata_json": json.dumps(
            {
                "store": "ACME",
                "parent_asin": "B01",
                "main_category": "Amazon Home",
                "features": ["double wall", "lid"],
                "description": ["x " * 400],
            }
        ),
    }
    text = load_pack("products").seed_text(row)
    assert text.splitlines()[0] == "Item: Mug" and text.splitlines()[-1] == "User review: keeps coffee hot"
    about = text.splitlines()[1]
    assert about.startswith("About: main category: Amazon Home; features: double wall; lid; description: x x")
    assert "ACME" not in about and "B01" not in about and len(about) < 400

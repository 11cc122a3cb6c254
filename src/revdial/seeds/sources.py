"""Source configs: the `domain` + `source` sections of a pipeline YAML, presets, and where their files are.

Seed loading runs one way: sources (this module: config) -> reading (files -> raw frames, columns checked) ->
values (cell cleaning, ratings, texts) / scrub (raw review text) -> tables (normalised tables, counted skips) ->
build (join, collaborative signals, assemble). No module calls back into one before it.

A source has up to three tables, each a Hub dataset id or local files (csv/tsv, jsonl/json, parquet; gzipped or not)
read with `datasets.load_dataset`, plus a mapping from the source's column names to revdial's roles:

- `reviews`      user_id, item_id, text, rating, timestamp, review_id, review_title
- `items`        item_id, title, year (+ any metadata columns)
- `interactions` user_id, item_id, rating, timestamp

A preset (`movielens`, `amazon-reviews-2023`, `redial-catalogue`) is a named mapping plus parsing hints; anything the
YAML gives overrides it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from revdial.paths import DATA_DIR
from revdial.seeds.errors import SeedSourceError

ROLES = {
    "reviews": ("user_id", "item_id", "text", "rating", "timestamp", "review_id", "review_title"),
    "items": ("item_id", "title", "year"),
    "interactions": ("user_id", "item_id", "rating", "timestamp"),
}
REQUIRED = {
    "reviews": ("item_id", "text"),
    "items": ("item_id", "title"),
    "interactions": ("user_id", "item_id"),
}
ID_ROLES = ("user_id", "item_id", "review_id")
KEY = "__key__"  # the item id of a `keyed_object` JSON table ({"id": {...}, ...})


class TextClean(BaseModel):
    """A source's own boilerplate rules for review text, applied to the raw lines together with the built-in ones
    (`revdial.seeds.scrub`: reviewer names, dates, votes, badges, control tokens, markup, contact details)."""

    model_config = ConfigDict(extra="forbid")
    drop_leading_lines: int = 0
    drop_line_patterns: list[str] = Field(
        default_factory=list
    )  # regexes; a (stripped) line matching one goes
    remove_patterns: list[str] = Field(
        default_factory=list
    )  # regexes removed wherever they occur ("...MORE")


class TableConfig(BaseModel):
    """One table: where it is, how to read it, and which of its columns play which role."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = (
        None  # local file (or glob); relative to the YAML's folder, `pkg://` = src/revdial/data/
    )
    hub: str | None = None  # a Hub dataset id, read with load_dataset(hub, name=..., split=...)
    name: str | None = None  # Hub config name
    revision: str | None = None
    data_files: str | list[str] | None = None  # files inside the Hub repo
    split: str = "train"
    format: Literal["csv", "json", "parquet"] | None = None  # inferred from the file name when omitted
    layout: Literal["rows", "keyed_object"] = (
        "rows"  # keyed_object: one JSON object {item_id: {field: value}}
    )
    read: dict[str, Any] = Field(
        default_factory=dict
    )  # extra load_dataset kwargs (sep, encoding, column_names...)
    string_columns: list[str] = Field(
        default_factory=list
    )  # csv columns read as text ("0114709" stays as is)
    columns: dict[str, str] = Field(default_factory=dict)  # role -> source column
    metadata: list[str] | None = (
        None  # metadata columns to keep (items and joins); None = every unmapped column
    )
    text_exclude: list[str] = Field(
        default_factory=list
    )  # metadata kept in metadata_json but not in the text (ids)
    list_separators: dict[str, str] = Field(default_factory=dict)  # column -> separator ("genres": "|")
    flag_columns: dict[str, list[str]] = Field(default_factory=dict)  # new list column <- 0/1 columns
    null_values: list[str] = Field(
        default_factory=list
    )  # metadata values meaning "nothing" ("(no genres listed)")
    title_has_year: bool = False  # "Heat (1995)" -> title "Heat", year 1995
    title_article_suffix: bool = False  # "American President, The" -> "The American President"
    item_key: Literal["id", "title"] = (
        "id"  # reviews/interactions: does item_id hold the item's id or its title?
    )
    group_text: str | None = (
        None  # join the texts of one (user, item) with this separator (e.g. one tag per row)
    )
    text_prefix: str = ""  # put before each review text ("tags: ")
    text_clean: TextClean = Field(default_factory=TextClean)
    join: list[TableConfig] = Field(
        default_factory=list
    )  # items only: more metadata tables joined on item_id


class NeighborsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = 10
    min_common: int = 1  # a neighbour needs at least this many users who liked both items


class SourceConfig(BaseModel):
    """The `source` section."""

    model_config = ConfigDict(extra="forbid")
    preset: str | None = None
    dir: str | None = None  # folder holding a preset's files (their default names are resolved inside it)
    tables: dict[Literal["reviews", "items", "interactions"], TableConfig] = Field(default_factory=dict)
    seeds_from: list[Literal["reviews", "ratings", "items"]] = Field(default_factory=lambda: ["reviews"])
    rating_max: float = 5.0
    liked_min_rating: float = 4.0
    disliked_max_rating: float = 2.0
    history_size: int = 10
    neighbors: NeighborsConfig = Field(default_factory=NeighborsConfig)
    rating_min: float = (
        0.0  # ratings outside [rating_min, rating_max] are counted skips (fatal with `strict`)
    )
    max_review_chars: int = 2000  # longer reviews are cut at a word boundary (counted in the summary)
    limit_rows: int | None = None  # read only the first N rows of every table (quick tries)
    strict: bool = (
        False  # a non-numeric or out-of-range rating, or a "nan"/"null"/"None" text, stops the build
    )


class SeedsConfig(BaseModel):
    """What seed building reads from a pipeline YAML: `name`, `domain` and `source`; `base_dir` resolves paths."""

    model_config = ConfigDict(extra="ignore")
    name: str = "seeds"
    domain: str
    source: SourceConfig
    base_dir: Path = Path(".")


# --- presets ---------------------------------------------------------------------------------------------------
PRESETS: dict[str, dict[str, Any]] = {
    # GroupLens MovieLens (ml-latest-small, ml-25m, ...): tags are the review text, ratings the interactions.
    "movielens": {
        "seeds_from": ["reviews", "ratings"],
        "rating_max": 5.0,
        "liked_min_rating": 4.0,
        "disliked_max_rating": 2.5,
        "tables": {
            "reviews": {
                "path": "tags.csv*",
                "columns": {
                    "user_id": "userId",
                    "item_id": "movieId",
                    "text": "tag",
                    "timestamp": "timestamp",
                },
                "group_text": ", ",
                "text_prefix": "tags: ",
            },
            "items": {
                "path": "movies.csv*",
                "columns": {"item_id": "movieId", "title": "title"},
                "metadata": ["genres"],
                "list_separators": {"genres": "|"},
                "null_values": ["(no genres listed)"],
                "title_has_year": True,
                "title_article_suffix": True,
                "join": [
                    {
                        "path": "links.csv*",
                        "columns": {"item_id": "movieId"},
                        "metadata": ["imdbId", "tmdbId"],
                        "string_columns": ["imdbId", "tmdbId"],
                        "text_exclude": ["imdbId", "tmdbId"],
                    }
                ],
            },
            "interactions": {
                "path": "ratings.csv*",
                "columns": {
                    "user_id": "userId",
                    "item_id": "movieId",
                    "rating": "rating",
                    "timestamp": "timestamp",
                },
            },
        },
    },
    # McAuley-Lab Amazon Reviews 2023 (raw_review_<cat> / raw_meta_<cat>, jsonl or parquet).
    "amazon-reviews-2023": {
        "seeds_from": ["reviews"],
        "rating_max": 5.0,
        "tables": {
            "reviews": {
                "columns": {
                    "user_id": "user_id",
                    "item_id": "parent_asin",
                    "text": "text",
                    "rating": "rating",
                    "timestamp": "timestamp",
                    "review_title": "title",
                },
            },
            "items": {
                "columns": {"item_id": "parent_asin", "title": "title"},
                "metadata": [
                    "main_category",
                    "categories",
                    "description",
                    "features",
                    "details",
                    "average_rating",
                ],
            },
        },
    },
    # ReDial's movie list (movies_with_mentions.csv) joined with iEvaLM's id2info.json (genre, plot, people).
    "redial-catalogue": {
        "seeds_from": ["items"],
        "tables": {
            "items": {
                "path": "movies_with_mentions.csv",
                "columns": {"item_id": "movieId", "title": "movieName"},
                "metadata": ["nbMentions"],
                "text_exclude": ["nbMentions"],
                "title_has_year": True,
                "join": [
                    {
                        "path": "id2info.json*",
                        "layout": "keyed_object",
                        "format": "json",
                        "columns": {"item_id": KEY},
                        "metadata": ["genre", "director", "star", "writer", "plot", "imdb_id"],
                        "text_exclude": ["imdb_id"],
                    }
                ],
            },
        },
    },
}


def deep_merge(base: Any, override: Any) -> Any:
    """`override` wins; dicts merge key by key, lists of dicts merge element by element."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(override, list)
        and all(isinstance(x, dict) for x in base + override)
    ):
        return [deep_merge(b, o) for b, o in zip(base, override)] + copy.deepcopy(
            override[len(base) :] if len(override) > len(base) else base[len(override) :]
        )
    return copy.deepcopy(override)


def load_seeds_config(path: str | Path | dict, base_dir: str | Path | None = None) -> SeedsConfig:
    """Read the `name`, `domain` and `source` sections of a pipeline YAML (other sections are ignored)."""
    if isinstance(path, dict):
        raw, base = path, Path(base_dir or ".")
        label = "<config dict>"
    else:
        path = Path(path)
        label = str(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SeedSourceError(label, f"cannot read the config: {exc}") from exc
        base = Path(base_dir) if base_dir else path.resolve().parent
    if "source" not in raw or "domain" not in raw:
        raise SeedSourceError(label, "a seeds config needs a `domain` and a `source` section")
    source = dict(raw["source"] or {})
    preset = source.get("preset")
    if preset is not None:
        if preset not in PRESETS:
            raise SeedSourceError(label, f"unknown preset '{preset}'; presets are: {', '.join(PRESETS)}")
        source = deep_merge(PRESETS[preset], source)
    try:
        return SeedsConfig(name=raw.get("name", "seeds"), domain=raw["domain"], source=source, base_dir=base)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SeedSourceError(label, f"invalid `source` section: {problems}") from exc


# --- where the files are -------------------------------------------------------------------------------------
def resolve_path(path: str, config: SeedsConfig) -> str:
    """`pkg://x` -> src/revdial/data/x; relative paths -> the preset `dir` or the YAML's folder."""
    if path.startswith("pkg://"):
        return str(DATA_DIR / path[len("pkg://") :])
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    base = config.base_dir
    if config.source.dir:
        base = Path(config.source.dir) if Path(config.source.dir).is_absolute() else base / config.source.dir
    return str(base / candidate)

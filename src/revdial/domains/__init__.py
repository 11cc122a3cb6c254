"""Domain packs: what is recommended, in which words, asked for in which ways.

A pack is one folder (no code): `pack.yaml` (the `DomainPack` model below) and `templates/`, whose
`style_<name>.jinja` files are the request styles the pack offers. A pack's templates override the shared ones in
`domains/shared/` (request, answer and system prompts written with `item_noun`), so a new domain is data only:

    domain: products            # a pack shipped in src/revdial/domains/
    domain: ./packs/board-games # or a folder (relative to the pipeline YAML)
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PACKS_DIR = Path(__file__).resolve().parent
SHARED_TEMPLATES = PACKS_DIR / "shared"
DEFAULT_DOMAIN = "movies"


class DomainError(ValueError):
    """A domain that cannot be loaded: unknown name, or a pack.yaml that is not valid."""


class TitleRules(BaseModel):
    """How the domain's titles are handled: kept whole for grounding, shortened only where a prompt shows them."""

    model_config = ConfigDict(extra="forbid")
    max_chars: int = Field(default=500, ge=1, description="longest title the answer parser accepts")
    display_chars: int = Field(default=80, ge=8, description="titles longer than this are cut in prompts")
    brackets_are_aliases: bool = Field(
        default=True, description='"Seven (a.k.a. Se7en)": a bracketed part is another name of the item'
    )
    not_aliases: list[str] = Field(
        default_factory=list,
        description="regexes of bracketed parts that are variants, platforms or sizes, never aliases",
    )

    def display(self, title: str) -> str:
        """`title` cut at a word boundary to `display_chars` (with an ellipsis); unchanged when short enough."""
        if len(title) <= self.display_chars:
            return title
        cut = title[: self.display_chars - 1].rsplit(" ", 1)[0].rstrip(" ,;:-([")
        return f"{cut}…"

    def alias_brackets(self, title: str) -> str:
        """`title` without the bracketed parts that are not aliases (all of them when brackets are not aliases)."""
        patterns = [re.compile(p, re.IGNORECASE) for p in self.not_aliases]

        def keep(match: re.Match[str]) -> str:
            inner = match.group(1)
            if not self.brackets_are_aliases or any(p.search(inner) for p in patterns):
                return " "
            return match.group(0)

        return re.sub(r"\s*[(\[]([^()\[\]]*)[)\]]", keep, title).strip()


class DomainPack(BaseModel):
    """One pack.yaml. `styles` maps each request style to its few-shot exemplars (two short first-person requests)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    item_noun: str
    item_plural: str
    styles: dict[str, list[str]]
    noun_field: str | None = Field(
        default=None, description="metadata field naming an item's own kind (Amazon: main_category)"
    )
    nouns: dict[str, str] = Field(default_factory=dict, description="noun_field value -> singular noun")
    metadata_fields: list[str] | None = Field(
        default=None, description="metadata fields a prompt shows, in order (None: all the seed has)"
    )
    title: TitleRules = Field(default_factory=TitleRules)
    folder: Path = Field(default=PACKS_DIR, exclude=True)

    @model_validator(mode="after")
    def _two_exemplars_per_style(self) -> DomainPack:
        if not self.styles:
            raise ValueError("styles: name at least one request style")
        for style, exemplars in self.styles.items():
            if len(exemplars) < 2:
                raise ValueError(f"styles.{style}: give at least two exemplar requests")
            if not (self.folder / "templates" / f"style_{style}.jinja").is_file():
                raise ValueError(f"styles.{style}: templates/style_{style}.jinja not found")
        return self

    @property
    def templates(self) -> Path:
        return self.folder / "templates"

    def seed_text(self, row: dict[str, Any], max_chars: int = 300) -> str:
        """The seed text a prompt shows: its "About:" line rebuilt from the pack's `metadata_fields` (in that order,
        each "field: value", lists joined, long values cut), the rest as the seeds stage rendered it."""
        text = row.get("seed_text") or ""
        if self.metadata_fields is None:
            return text
        metadata = _metadata(row)
        if not metadata:  # nothing to choose from: the seeds stage's rendering stands
            return text
        parts = []
        for name in self.metadata_fields:
            value = metadata.get(name)
            shown = "; ".join(map(str, value)) if isinstance(value, list) else str(value or "")
            if shown.strip():
                parts.append(f"{name.replace('_', ' ')}: {_cut(shown.strip(), max_chars)}")
        lines = [line for line in text.splitlines() if not line.startswith("About: ")]
        if parts:
            lines.insert(1 if lines else 0, "About: " + "; ".join(parts))
        return "\n".join(lines)

    def noun_for(self, row: dict[str, Any]) -> str:
        """The singular noun for one item: from its `noun_field` metadata value when the pack maps it."""
        if not self.noun_field:
            return self.item_noun
        value = _metadata(row).get(self.noun_field)
        return self.nouns.get(str(value), self.item_noun) if value else self.item_noun


def _cut(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def item_metadata(row: dict[str, Any]) -> dict[str, Any]:
    """A seed's item metadata: its `metadata_json` parsed ({} when there is none or it is not a JSON object)."""
    return _metadata(row)


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("metadata_json")
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def pack_names() -> list[str]:
    """The packs shipped with revdial."""
    return sorted(p.name for p in PACKS_DIR.iterdir() if (p / "pack.yaml").is_file())


def resolve(domain: str | None, base: Path | None = None) -> str:
    """A pack name as is, a folder as an absolute path (relative to `base`); DomainError when neither exists."""
    name = domain or DEFAULT_DOMAIN
    if (PACKS_DIR / name / "pack.yaml").is_file():
        return name
    folder = Path(name).expanduser()
    if not folder.is_absolute() and base is not None:
        folder = base / folder
    if (folder / "pack.yaml").is_file():
        return str(folder.resolve())
    raise DomainError(
        f"unknown domain {name!r}: not a pack ({', '.join(pack_names())}) nor a folder with pack.yaml"
    )


@lru_cache(maxsize=32)
def load_pack(domain: str | None = None) -> DomainPack:
    """The pack named `domain` (a shipped pack or a folder holding pack.yaml)."""
    name = resolve(domain)
    folder = PACKS_DIR / name if (PACKS_DIR / name / "pack.yaml").is_file() else Path(name)
    path = folder / "pack.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return DomainPack.model_validate({**raw, "folder": folder})
    except yaml.YAMLError as error:
        raise DomainError(f"{path}: not valid YAML ({getattr(error, 'problem', error)})") from None
    except ValidationError as error:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise DomainError(f"{path}: {where.replace('Value error, ', '')}") from None

"""CRS evaluation benchmarks: ReDial and INSPIRED as lists of recommendation turns over a catalogue.

Every loader yields the same shape (`Benchmark`): for each recommender turn that names at least one movie, the
dialogue before it (as chat messages: the seeker is `user`, the recommender `assistant`), the ids of the movies it
recommends (the targets), the ids already mentioned earlier, plus the catalogue (item_id, title, year) that model
outputs are grounded to and, when a training side is available, how often each item was recommended there (for the
popularity baseline).

Formats:
- `redial`: the official ReDial jsonl (Li et al. 2018; `test_data.jsonl`): movies appear in text as `@<movieId>`,
  titles come from `movieMentions` and the official `movies_with_mentions.csv` (looked up next to the file and in
  `../original/`). Consecutive messages of one worker form a turn. Training side: `train_split_partial/
  train_split_union.jsonl.gz` (41% of the official train split), counting the dialogues in which the recommender
  suggested each movie (`respondentQuestions[id].suggested`).
- `redial-crslab`: the CRSLab-style processed test used by He et al. (CIKM'23, `llm_zero_shot_crs/test.jsonl`):
  one line per recommendation turn, `rec` holds DBpedia entity ids; the catalogue is `item_ids.json` mapped through
  `entity2id.json`, titles read off the DBpedia resource names ("Water_(1985_film)" -> "Water", 1985).
- `inspired`: the original INSPIRED TSV (Hayati et al. 2020; `dev.tsv`, `test.tsv`), one speaker's consecutive
  utterances merged into a turn. The recommended titles of a turn are those of UniCRS's entity linking of the same
  split (`../../unicrs/<split>.jsonl[.gz]`, `movie_name`; the linking CRSLab and He et al.'s processed test derive
  from: every recommender turn that links a movie is scored, a first-turn one with an empty context, as He does),
  each given the year of the dialogue's `movie_dict` title of that name; without that file, the TSV `movies` cells
  (which link words such as "Marvel (2008)"), and `Benchmark.target_source` says which. INSPIRED has no item ids, so an item id is the canonical "Title (Year)" of
  the `movie_dict` column; the catalogue is every title of the file's `movie_dict`s plus, when present, the DBpedia
  movie list of He et al. (`../../llm_zero_shot_crs/item_ids.json`). Training side: instructLF's
  `inspired_train.csv` (contexts of the train split with the titles recommended).
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from revdial.paths import REPO_DIR

BENCHMARKS = ("redial", "he2023-redial", "he2023-inspired", "inspired", "redial-crslab")
ALIASES = {"redial-crslab": "he2023-redial"}
_MENTION_RE = re.compile(r"@(\d+)")
_DBPEDIA_RE = re.compile(r"^<?http://dbpedia\.org/resource/(?P<name>[^>]+)>?$")
_DBPEDIA_QUALIFIER_RE = re.compile(
    r"^(?P<title>.+?)\s*\((?:(?P<year>\d{4})\s+)?(?:[\w .'-]*\s)?(?:film|movie)\)$"
)


class BenchmarkFormatError(ValueError):
    """A benchmark file that is not in the format its loader reads."""


@dataclass
class EvalTurn:
    """One recommender turn to predict: the chat before it, what it recommended, what was said before."""

    dialog_id: str
    turn_id: str
    context: list[dict[str, str]]
    target_ids: list[str]
    mentioned_ids: list[str]


@dataclass
class Benchmark:
    name: str
    source: str
    turns: list[EvalTurn]
    catalogue: list[dict]  # {item_id, title, year}
    train_popularity: dict[str, int] = field(default_factory=dict)
    train_source: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    entity_names: dict[str, str] = field(default_factory=dict)  # He et al.'s name of every entity (he2023-*)
    target_source: str | None = None  # where the targets come from, when a loader has a choice (inspired)

    def titles(self) -> dict[str, str]:
        return {row["item_id"]: row["title"] for row in self.catalogue}


# --- locations ------------------------------------------------------------------------------------------------------
def shared_data_dir() -> Path | None:
    """`REVDIAL_SHARED_DATA`, else ../shared/data next to the checkout, when it exists."""
    candidates = [os.environ.get("REVDIAL_SHARED_DATA"), REPO_DIR.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


DEFAULT_FILES = {
    "redial": "redial/original/test_data.jsonl.gz",
    "he2023-redial": "redial/llm_zero_shot_crs/test.jsonl.gz",
    "redial-crslab": "redial/llm_zero_shot_crs/test.jsonl.gz",
    "inspired": "inspired/original/dialog_data/dev.tsv.gz",
}


def default_data_path(benchmark: str) -> Path:
    if benchmark not in DEFAULT_FILES:
        raise FileNotFoundError(f"no default data for {benchmark!r}; pass --data")
    root = shared_data_dir()
    if root is None or not (root / DEFAULT_FILES[benchmark]).exists():
        raise FileNotFoundError(
            f"no default data for {benchmark!r} (looked for ../shared/data/{DEFAULT_FILES[benchmark]}); pass --data"
        )
    return root / DEFAULT_FILES[benchmark]


def load_benchmark(benchmark: str, path: str | Path | None = None, *, limit: int | None = None) -> Benchmark:
    """Load `benchmark` (see BENCHMARKS) from `path` (default: the shared data copy)."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; choose one of: {', '.join(BENCHMARKS)}")
    path = Path(path) if path is not None else default_data_path(benchmark)
    if not path.exists():
        raise FileNotFoundError(f"{path}: benchmark file not found")
    kind = ALIASES.get(benchmark, benchmark)
    if kind.startswith("he2023-"):
        bench = load_he2023(path, benchmark)
        bench.train_popularity, bench.train_source = _he2023_popularity(kind, path, bench.catalogue)
    else:
        bench = {"redial": load_redial, "inspired": load_inspired}[kind](path)
    if not bench.turns:
        raise BenchmarkFormatError(f"{path}: no recommendation turns found for benchmark {benchmark!r}")
    if limit is not None:
        bench.turns = bench.turns[:limit]
    return bench


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-empty line; a line that is not JSON is an error naming it."""
    with _open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_number, json.loads(line)
            except json.JSONDecodeError as error:
                raise BenchmarkFormatError(f"{path}: line {line_number} is not JSON ({error.msg})") from None


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for line_number, record in _json_lines(path):
        if not isinstance(record, dict):
            raise BenchmarkFormatError(f"{path}: line {line_number} is not a JSON object")
        yield line_number, record


def _require(path: Path, line_number: int, record: dict, keys: tuple[str, ...], fmt: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise BenchmarkFormatError(
            f"{path}: line {line_number}: field(s) {', '.join(missing)} missing for the {fmt} format; "
            f"fields are: {', '.join(sorted(record)) or '(none)'}"
        )


def _clean_title(title: str) -> str:
    return " ".join(title.split())


def clean_utterance(text: str) -> str:
    """An utterance as a prompt shows it: INSPIRED's "QUOTATION_MARK" placeholders back to quotes, U+FFFD (bytes the
    release could not decode) dropped, white space collapsed."""
    return " ".join(text.replace("QUOTATION_MARK", '"').replace("\ufffd", "").split())


def _find_sibling(path: Path, names: list[str]) -> Path | None:
    for name in names:
        for folder in (path.parent, path.parent.parent / "original", path.parent.parent):
            if (folder / name).exists():
                return folder / name
    return None


# --- ReDial (official jsonl) ----------------------------------------------------------------------------------------
def _redial_turns(messages: list[dict], seeker: object) -> list[tuple[str, str]]:
    turns: list[tuple[str, str]] = []
    for message in messages:
        role = "user" if message.get("senderWorkerId") == seeker else "assistant"
        text = str(message.get("text", "")).strip()
        if turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]} {text}".strip())
        else:
            turns.append((role, text))
    return turns


def load_redial(path: Path) -> Benchmark:
    path = Path(path)
    titles: dict[str, str] = {}
    movies_csv = _find_sibling(path, ["movies_with_mentions.csv"])
    if movies_csv is not None:
        with open(movies_csv, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                titles[str(row["movieId"])] = _clean_title(row["movieName"])
    turns: list[EvalTurn] = []
    skipped: Counter[str] = Counter()
    for line_number, record in _jsonl(path):
        _require(
            path, line_number, record, ("messages", "movieMentions", "initiatorWorkerId"), "ReDial jsonl"
        )
        mentions = {str(k): _clean_title(v) for k, v in (record["movieMentions"] or {}).items() if v}
        for movie_id, title in mentions.items():
            titles.setdefault(movie_id, title)

        def render(text: str, mentions: dict[str, str] = mentions) -> str:
            def lookup(found: re.Match) -> str:
                return titles.get(found.group(1), mentions.get(found.group(1), found.group(0)))

            return _MENTION_RE.sub(lookup, text)

        mentioned: list[str] = []
        context: list[dict[str, str]] = []
        for index, (role, text) in enumerate(_redial_turns(record["messages"], record["initiatorWorkerId"])):
            ids = [i for i in dict.fromkeys(_MENTION_RE.findall(text))]
            if role == "assistant" and ids:
                if context:
                    turns.append(
                        EvalTurn(
                            dialog_id=str(record.get("conversationId", line_number)),
                            turn_id=str(index),
                            context=[dict(m) for m in context],
                            target_ids=ids,
                            mentioned_ids=list(dict.fromkeys(mentioned)),
                        )
                    )
                else:
                    skipped["recommendation in the first turn (no context)"] += 1
            context.append({"role": role, "content": render(text)})
            mentioned.extend(ids)
    catalogue = [{"item_id": i, "title": t, "year": _year(t)} for i, t in titles.items()]
    train = _find_sibling(path, ["train_split_union.jsonl.gz"]) or _train_file(
        path, TRAIN_SIDES["he2023-redial"]
    )
    popularity, train_source = {}, None
    if train is not None:
        popularity, train_source = _redial_popularity(train), str(train)
    return Benchmark("redial", str(path), turns, catalogue, popularity, train_source, dict(skipped))


def _redial_popularity(path: Path) -> dict[str, int]:
    """Training dialogues in which the recommender suggested each movie (falls back to any mention)."""
    counts: Counter[str] = Counter()
    for _, record in _jsonl(path):
        questions = record.get("respondentQuestions") or {}
        for movie_id in record.get("movieMentions") or {}:
            answer = questions.get(movie_id) if isinstance(questions, dict) else None
            if not answer or answer.get("suggested") == 1:
                counts[str(movie_id)] += 1
    return dict(counts)


def _year(title: str) -> int | None:
    from revdial.curation.grounding import split_year

    return split_year(title)[1]


# --- ReDial (CRSLab-style processed, He et al.) ---------------------------------------------------------------------
def dbpedia_title(uri: str) -> tuple[str, int | None]:
    """<http://dbpedia.org/resource/Water_(1985_film)> -> ("Water", 1985); "Rocky" -> ("Rocky", None)."""
    found = _DBPEDIA_RE.match(uri.strip())
    name = unquote(found.group("name") if found else uri).replace("_", " ").strip()
    qualified = _DBPEDIA_QUALIFIER_RE.match(name)
    if qualified:
        year = qualified.group("year")
        return qualified.group("title"), int(year) if year else None
    return name, None


def _dbpedia_catalogue(folder: Path) -> dict[str, tuple[str, int | None]]:
    ids_path, entities_path = folder / "item_ids.json.gz", folder / "entity2id.json.gz"
    if not ids_path.exists():
        ids_path, entities_path = folder / "item_ids.json", folder / "entity2id.json"
    if not ids_path.exists() or not entities_path.exists():
        return {}
    with _open_text(ids_path) as handle:
        item_ids = {int(i) for i in json.load(handle)}
    with _open_text(entities_path) as handle:
        entity2id = json.load(handle)
    return {str(eid): dbpedia_title(uri) for uri, eid in entity2id.items() if int(eid) in item_ids}


def _read_json(folder: Path, stem: str) -> object | None:
    for name in (f"{stem}.json.gz", f"{stem}.json"):
        if (folder / name).exists():
            with _open_text(folder / name) as handle:
                return json.load(handle)
    return None


def _he_context(utterances: list[str]) -> list[dict[str, str]]:
    """He's context alternates and always ends with the seeker (the user) before the recommender speaks."""
    return [
        {
            "role": "user" if (len(utterances) - 1 - i) % 2 == 0 else "assistant",
            "content": clean_utterance(text),
        }
        for i, text in enumerate(utterances)
        if text.strip()
    ]


def load_he2023(path: Path, name: str = "he2023-redial") -> Benchmark:
    """He et al.'s processed test turns, every one they score (an empty context included), every `rec` a target."""
    from revdial.crs.he2023 import entity_names

    path = Path(path)
    entity2id, item_ids = _read_json(path.parent, "entity2id"), _read_json(path.parent, "item_ids")
    if not isinstance(entity2id, dict) or not isinstance(item_ids, list):
        raise BenchmarkFormatError(
            f"{path}: He et al.'s format needs entity2id.json(.gz) and item_ids.json(.gz) in the same folder"
        )
    names = entity_names(entity2id)
    items = {str(eid): dbpedia_title(uri) for uri, eid in entity2id.items() if int(eid) in set(item_ids)}
    turns: list[EvalTurn] = []
    skipped: Counter[str] = Counter()
    for line_number, record in _jsonl(path):
        _require(
            path, line_number, record, ("context", "rec", "prev_entity", "dialog_id", "turn_id"), "He et al."
        )
        unknown = [i for i in [*record["rec"], *record["prev_entity"]] if str(i) not in names]
        if unknown:
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: entity id {unknown[0]} is not in entity2id"
            )
        if not record["rec"]:
            skipped["turn without a target"] += 1
            continue
        targets = [str(i) for i in record["rec"]]
        skipped["target not in item_ids (kept: He scores it)"] += sum(1 for t in targets if t not in items)
        turns.append(
            EvalTurn(
                str(record["dialog_id"]),
                str(record["turn_id"]),
                _he_context([str(u) for u in record["context"]]),
                targets,
                list(dict.fromkeys(str(i) for i in record["prev_entity"])),
            )
        )
    catalogue = [{"item_id": i, "title": t, "year": y} for i, (t, y) in items.items()]
    skipped = Counter({k: v for k, v in skipped.items() if v})
    return Benchmark(name, str(path), turns, catalogue, {}, None, dict(skipped), entity_names=names)


def _train_file(path: Path, relative: str) -> Path | None:
    """A training-side file `relative` to a data root: any folder above the benchmark file, else the shared data
    copy (so a benchmark file copied elsewhere still finds its training side, or fails loudly)."""
    root = shared_data_dir()
    for candidate in [
        *(folder / relative for folder in list(path.parents)[:4]),
        root / relative if root else None,
    ]:
        if candidate is not None and candidate.exists():
            return candidate
    return None


TRAIN_SIDES = {
    "he2023-redial": "redial/train_split_partial/train_split_union.jsonl.gz",
    "he2023-inspired": "inspired/instructlf/inspired_train.csv.gz",
}


def _he2023_popularity(kind: str, path: Path, catalogue: list[dict]) -> tuple[dict[str, int], str | None]:
    """Training-side counts over the benchmark's item ids: ReDial's train split by title + year, INSPIRED's
    instructLF train titles; ({}, None) when no training side is found."""
    train = _train_file(path, TRAIN_SIDES[kind])
    if train is None:
        return {}, None
    if kind == "he2023-redial":
        return _redial_popularity_by_title(train, catalogue), str(train)
    return _inspired_popularity(train, catalogue), str(train)


def _redial_popularity_by_title(path: Path, catalogue: list[dict]) -> dict[str, int]:
    """ReDial train-split counts (`_redial_popularity`) moved onto another catalogue's ids by title and year: the
    item of the same normalised title and year, else the only item of that title."""
    from revdial.curation.grounding import split_year, title_year_matcher

    match = title_year_matcher(catalogue)
    names: dict[str, str] = {}
    for _, record in _jsonl(path):
        for movie_id, name in (record.get("movieMentions") or {}).items():
            if name:
                names.setdefault(str(movie_id), _clean_title(name))
    counts: Counter[str] = Counter()
    for movie_id, count in _redial_popularity(path).items():
        item_id = match(*split_year(names.get(movie_id, "")))
        if item_id is not None:
            counts[item_id] += count
    return dict(counts)


# --- INSPIRED (original TSV) ----------------------------------------------------------------------------------------
_QUOTED_TITLE_RE = re.compile(r"(['\"])(.+?\(\d{4}\))")
_INSPIRED_COLUMNS = ("dialog_id", "utt_id", "speaker", "text", "movies", "movie_dict")


@dataclass
class _InspiredTitles:
    """INSPIRED's item ids, collected as titles are read: the first spelling of each normalised title and year is
    its canonical "Title (Year)", and `by_key` the first title seen under each normalised name (for bare names)."""

    canonical: dict[tuple[str, int | None], str] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)

    def add(self, title: str) -> str | None:
        """The canonical title of `title` (recorded if new); None for an empty one."""
        from revdial.curation.grounding import normalize_title, split_year

        title = _clean_title(title)
        if not title:
            return None
        base, year = split_year(title)
        key = normalize_title(base)
        if (key, year) not in self.canonical:
            self.canonical[(key, year)] = title
            self.by_key.setdefault(key, title)
        return self.canonical[(key, year)]

    def add_all(self, titles: Iterable[str]) -> list[str]:
        return [t for t in map(self.add, titles) if t]

    def catalogue(self) -> list[dict]:
        return [{"item_id": t, "title": t, "year": y} for (_, y), t in self.canonical.items()]


def _read_inspired_tsv(path: Path) -> list[dict]:
    """The TSV's rows, after checking it has every column the loader reads."""
    with _open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = reader.fieldnames or []
        missing = [c for c in _INSPIRED_COLUMNS if c not in header]
        if missing:
            raise BenchmarkFormatError(
                f"{path}: column(s) {', '.join(missing)} not found for the INSPIRED TSV format; "
                f"columns are: {', '.join(header) or '(none)'}"
            )
        return list(reader)


def _movie_dict_titles(cell: str) -> tuple[list[str], bool]:
    """The titles of a `movie_dict` cell, and whether the cell had to be repaired: the released dev.tsv has a few
    cells with a missing quote, whose titles still end in "(Year)"."""
    try:
        movie_dict = ast.literal_eval(cell) if cell.strip() else {}
    except (ValueError, SyntaxError):
        return list(dict.fromkeys(m.group(2) for m in _QUOTED_TITLE_RE.finditer(cell))), True
    return [str(title) for title in movie_dict], False


def _inspired_dialogues(rows: list[dict], titles: _InspiredTitles) -> tuple[dict[str, list[dict]], int]:
    """The rows by dialogue, each with its canonical `_dict` (movie_dict) and `_movies` titles, and how many
    movie_dict cells were repaired."""
    dialogues: dict[str, list[dict]] = {}
    repaired = 0
    for row in rows:
        dict_titles, was_repaired = _movie_dict_titles(row["movie_dict"])
        repaired += was_repaired
        row["_dict"] = titles.add_all(dict_titles)
        row["_movies"] = titles.add_all(row["movies"].split(";"))
        dialogues.setdefault(row["dialog_id"], []).append(row)
    return dialogues, repaired


def _recommendation_turns(
    dialog_id: str, merged: list[tuple[str, str, list[str]]], score_first_turn: bool
) -> tuple[list[EvalTurn], int]:
    """Every recommender turn of one merged dialogue that names a movie, and how many were skipped for being the
    first turn (He et al. score a first-turn recommendation too, with an empty context: `score_first_turn`)."""
    turns: list[EvalTurn] = []
    skipped = 0
    mentioned: list[str] = []
    for index, (role, _, movies) in enumerate(merged):
        movies = list(dict.fromkeys(movies))
        if role == "assistant" and movies:
            if index == 0 and not score_first_turn:
                skipped += 1
            else:
                context = [{"role": r, "content": t} for r, t, _ in merged[:index]]
                turns.append(EvalTurn(dialog_id, str(index), context, movies, list(dict.fromkeys(mentioned))))
        mentioned.extend(movies)
    return turns, skipped


def _add_dbpedia_titles(path: Path, titles: _InspiredTitles) -> None:
    """He et al.'s DBpedia movie list joins the catalogue: each title whose name is not there yet."""
    from revdial.curation.grounding import normalize_title

    dbpedia = path.parent.parent.parent / "llm_zero_shot_crs"
    for title, year in _dbpedia_catalogue(dbpedia).values():
        if normalize_title(title) not in titles.by_key:
            titles.add(f"{title} ({year})" if year else title)


def load_inspired(path: Path) -> Benchmark:
    path = Path(path)
    titles = _InspiredTitles()
    dialogues, repaired = _inspired_dialogues(_read_inspired_tsv(path), titles)
    merged_dialogues = {d: _merge_inspired(utterances) for d, utterances in dialogues.items()}
    linking = _unicrs_file(path)
    if linking is not None:
        dict_titles = {d: [t for row in rows for t in row["_dict"]] for d, rows in dialogues.items()}
        _relink_unicrs(linking, merged_dialogues, dict_titles, titles.by_key, titles.add)
        target_source = f"UniCRS/CRSLab entity linking: {linking}"
    else:
        target_source = (
            f"the TSV `movies` column (no UniCRS linking next to {path.name}; mis-linked words kept)"
        )
    turns: list[EvalTurn] = []
    first_turn_skipped = 0
    for dialog_id, merged in merged_dialogues.items():
        dialogue_turns, skipped_here = _recommendation_turns(
            dialog_id, merged, score_first_turn=linking is not None
        )
        turns += dialogue_turns
        first_turn_skipped += skipped_here
    _add_dbpedia_titles(path, titles)
    catalogue = titles.catalogue()
    popularity, train_source = _he2023_popularity("he2023-inspired", path, catalogue)
    skipped = {
        "movie_dict cells repaired (not a dict literal)": repaired,
        "recommendation in the first turn (no context)": first_turn_skipped,
    }
    return Benchmark(
        "inspired",
        str(path),
        turns,
        catalogue,
        popularity,
        train_source,
        {reason: n for reason, n in skipped.items() if n},
        target_source=target_source,
    )


def _merge_inspired(utterances: list[dict]) -> list[tuple[str, str, list[str]]]:
    """(role, text, titles) per turn: consecutive utterances of one speaker merged, as UniCRS and CRSLab do."""
    merged: list[tuple[str, str, list[str]]] = []
    for row in utterances:
        role = "user" if row["speaker"].strip().upper() == "SEEKER" else "assistant"
        text = clean_utterance(row["text"])
        if merged and merged[-1][0] == role:
            merged[-1] = (role, f"{merged[-1][1]} {text}".strip(), merged[-1][2] + row["_movies"])
        else:
            merged.append((role, text, list(row["_movies"])))
    return merged


def _unicrs_file(path: Path) -> Path | None:
    """UniCRS's linking of the same split (`inspired/unicrs/<split>.jsonl[.gz]`), next to `original/dialog_data/`."""
    split = path.name.split(".")[0]
    folder = path.parent.parent.parent / "unicrs"
    return next(
        (folder / f"{split}{ext}" for ext in (".jsonl.gz", ".jsonl") if (folder / f"{split}{ext}").exists()),
        None,
    )


def _unicrs_dialogues(path: Path) -> list[list[dict]]:
    """UniCRS's jsonl: one dialogue per line, a list of turns ({text, role, movie_name, ...})."""
    dialogues = []
    for line_number, record in _json_lines(path):
        if not isinstance(record, list) or not all(isinstance(t, dict) for t in record):
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: a UniCRS dialogue is a list of turn objects"
            )
        dialogues.append(record)
    return dialogues


def _relink_unicrs(
    path: Path, merged: dict[str, list], dict_titles: dict[str, list[str]], by_key: dict[str, str], add_title
) -> None:
    """Replace each merged turn's titles by UniCRS's `movie_name`s (the linking CRSLab and He et al.'s test use: a
    recommender turn recommends the movies linked in it), each with the year of the TSV `movie_dict` title of the same
    name (the dialogue's own first, then the file's), else the bare name. Dialogues align by order, turn by turn."""
    from revdial.curation.grounding import normalize_title, split_year

    lines = _unicrs_dialogues(path)
    if len(lines) != len(merged):
        raise BenchmarkFormatError(
            f"{path}: {len(lines)} dialogues, but the TSV has {len(merged)}; the linking must be of the same split"
        )
    for line_number, (dialog_id, turns), linked in zip(range(1, len(lines) + 1), merged.items(), lines):
        roles = ["assistant" if str(t.get("role", "")).upper() == "RECOMMENDER" else "user" for t in linked]
        if roles != [role for role, _, _ in turns]:
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: its {len(linked)} turns do not align with TSV dialogue {dialog_id} "
                f"({len(turns)} turns after merging one speaker's consecutive utterances)"
            )
        own = {normalize_title(split_year(t)[0]): t for t in reversed(dict_titles.get(dialog_id, []))}
        for index, ((role, text, _), link) in enumerate(zip(turns, linked)):
            names = [str(n) for n in link.get("movie_name") or []]
            relinked = [own.get(normalize_title(n)) or by_key.get(normalize_title(n)) or n for n in names]
            turns[index] = (role, text, [t for t in map(add_title, relinked) if t])


def _inspired_popularity(path: Path, catalogue: list[dict]) -> dict[str, int]:
    """Times each catalogue title is recommended in instructLF's train contexts (titles grounded without years)."""
    from revdial.curation.grounding import Catalogue

    grounder = Catalogue.from_records(catalogue)
    counts: Counter[str] = Counter()
    with _open_text(path) as handle:
        for row in csv.DictReader(handle):
            try:
                titles = ast.literal_eval(row.get("movies") or "[]")
            except (ValueError, SyntaxError):
                continue
            ids, _ = grounder.ground([str(t) for t in titles])
            counts.update(ids)
    return dict(counts)

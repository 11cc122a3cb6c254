"""Score a recommender on ReDial / INSPIRED: prompt with the dialogue, parse K titles, ground them, Recall/NDCG/MRR@K.

    revdial eval --model revdial://smollm2-135m-instruct --benchmark redial --limit 500 --out reports/zero_shot.json
    revdial eval --model popularity --benchmark inspired --out reports/popularity.json
    revdial eval --model ranker:cf:pipelines/movielens-redial.yaml --benchmark he2023-redial --out reports/cf.json
    OPENAI_BASE_URL=http://localhost:8000/v1 OPENAI_API_KEY=... revdial eval --model openai:Qwen2.5-72B-Instruct ...

The prompt follows He et al. (CIKM'23, zero-shot CRS): the dialogue so far as chat turns and a system instruction to
answer with a ranked list of K titles (the domain pack's eval_system.jinja, rendered by revdial.prompts). Titles are grounded to the benchmark's
catalogue with `revdial.curation.grounding.Catalogue` (normalised, year-aware rapidfuzz); titles that match nothing
are counted in the report (`grounding.unmatched_titles`) and cost the model rank positions only in the sense that
they are dropped from its list.

Models:
- a local folder or `revdial://smollm2-135m-instruct`, llama-shaped like the student: exported once to a Q8_0 GGUF
  (`revdial.crs.gguf_export`) and decoded greedily by llama.cpp in parallel slots (`backend="llamacpp"`, measured
  ~3x transformers' batched generate on 2 cores); the prompt is rendered by the model's own tokenizer either way.
- any other local folder or Hub id (or `backend="transformers"`): transformers, batched greedy decoding with left
  padding. A PEFT adapter folder (adapter_config.json) is loaded onto its base and merged by both backends.
- `openai:NAME`: any OpenAI-compatible server (vLLM, TGI, llama.cpp, OpenAI); the client reads OPENAI_BASE_URL and
  OPENAI_API_KEY from the environment (never written to the report).
- `popularity`: the items recommended most often on the benchmark's training side (ReDial train split, INSPIRED
  train contexts), or — when a benchmark has none — in the evaluated file itself; items already in the dialogue
  are left out.
- `ranker:<popularity|cf|content|blend>:<pipeline.yaml>`: zero-data rankers from a seeds config's items and ratings
  (popularity, item kNN on co-likers, metadata TF-IDF kNN, both), scored like `popularity` (`revdial.crs.rankers`).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from revdial.config import DECODINGS
from revdial.crs.benchmarks import Benchmark, EvalTurn, load_benchmark
from revdial.crs.decoding import (
    DEFAULT_DECODING,
    LINE_TOKENS,
    Complete,
    DecodeStats,
    decode,
    summarise_stats,
)
from revdial.crs.metrics import KS, score_turns
from revdial.crs.partial import generate_resumable, partial_path
from revdial.crs.rankers import PREFIX as RANKER_PREFIX
from revdial.crs.rankers import ranker_rankings
from revdial.prompts import build_messages, system_prompt

LIST_START = "1."


class EvaluationError(ValueError):
    """Bad evaluation input (K vs catalogue, unknown model kind)."""


@dataclass
class GenerationOptions:
    k: int = 20
    batch_size: int = 16
    max_new_tokens: int | None = None  # default: 10 tokens per asked title
    max_prompt_tokens: int = 512
    dtype: str = (
        "bfloat16"  # CPUs with AVX512-BF16/AMX run it ~2-3x faster than float32; greedy lists barely change
    )
    item_noun: str = "movie"
    concurrency: int = 8
    backend: str = "auto"  # auto | llamacpp | transformers
    n_parallel: int = 8  # llama.cpp slots; 8 and 16 measured equal on 2 cores
    n_threads: int = 2
    decoding: str | None = None  # revdial.config.DECODINGS; None: DEFAULT_DECODING, greedy for openai:
    n_samples: int = 4  # decoding="sample": lists merged
    temperature: float = 0.8  # decoding="sample"
    decode_stats: dict = field(default_factory=dict)  # filled by the backend: calls per turn, rejected lines
    partial: Path | None = None  # finished turns kept here so a stopped run resumes (revdial.crs.partial)


_LIST_LINE_RE = re.compile(r"^\s*(?:#?\d{1,2}\s*[.)]\s*|[-*\u2022]\s+)(?P<body>\S.*?)\s*$")
_TITLE_YEAR_RE = re.compile(r"^(?P<title>.+?)\s*[(\[]\s*(?P<year>(?:18|19|20)\d{2})\s*[)\]]")
_REASON_SEP_RE = re.compile(r"\s+[-\u2013\u2014]\s+|\s*\u2014\s*|:\s+")
_WRAPPERS = "\"'\u201c\u201d\u2018\u2019*_"


_MINOR_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "the",
        "to",
        "vs",
        "v",
        "with",
    ]
)


def _is_sentence(text: str) -> bool:
    """Reason-like text: after its first word, two or more content words and most of them in lower case ("a tense
    heist thriller"), unlike a title, whose Title Case leaves only minor words lower ("Return of the Jedi")."""
    words = [w for w in text.split()[1:] if w[:1].isalpha() and w.casefold() not in _MINOR_WORDS]
    lower = sum(1 for w in words if w[:1].islower())
    return lower >= 2 and lower > len(words) / 2


def _line_title(body: str, grounds: Callable[[str], bool] | None) -> str:
    """A list line's title: the whole line but a "(Year)" and what follows it, or a reason that is clearly separated
    (" - " / ": " then a sentence) from a left part that grounds."""
    body = body.strip().strip(_WRAPPERS).strip()
    dated = _TITLE_YEAR_RE.match(body)
    if dated:
        return f"{dated.group('title').strip().strip(_WRAPPERS).strip()} ({dated.group('year')})"
    for separator in _REASON_SEP_RE.finditer(body):
        left, right = body[: separator.start()].strip(_WRAPPERS + " "), body[separator.end() :]
        if left and _is_sentence(right) and (grounds is None or grounds(left)):
            return left
    return body.rstrip(",;:").strip(_WRAPPERS).strip()


def parse_titles(text: str, k: int, grounds: Callable[[str], bool] | None = None) -> list[str]:
    """The ranked titles (with "(Year)" when given) of a model's answer, a list line's title being the whole line.

    Numbered or bulleted lines are read whole (`_line_title`): "Star Wars: The Rise of Skywalker" and "Mission:
    Impossible - Fallout" are titles, not a title and a reason; `grounds` (does a left part name a catalogue item?)
    lets a clearly separated reason go. Answers without list lines (JSON, "A, B and C") fall back to
    `revdial.generation.parsing.parse_recommendations`.
    """
    from revdial.generation.parsing import parse_recommendations

    stripped = (text or "").strip()
    listed = [m.group("body") for line in stripped.splitlines() if (m := _LIST_LINE_RE.match(line))]
    if not listed or stripped[:1] in "{[" or '"title"' in stripped:
        return [item.display for item in parse_recommendations(text, max_items=k)]
    titles: dict[str, str] = {}
    for body in listed:
        title = _line_title(body, grounds)
        if title and len(title) <= 120:
            titles.setdefault(title.casefold(), title)
    return list(titles.values())[:k]


# --- backends -------------------------------------------------------------------------------------------------------
def popularity_ranking(
    bench: Benchmark, k: int, *, from_test: bool = False
) -> tuple[Callable[[EvalTurn], list[str]], str]:
    """A ranker: the K items recommended most often on the benchmark's training side, the same list for every turn
    (the `exclude_mentioned` setting removes mentioned items when scoring, as it does for every model). Counting the
    evaluated file itself (its test targets) is an explicit opt-in, `from_test`, and is marked in the source."""
    if bench.train_popularity:
        counts, source = Counter(bench.train_popularity), f"training side: {bench.train_source}"
    elif from_test:
        counts = Counter(i for turn in bench.turns for i in turn.target_ids)
        source = f"TEST TARGETS of the evaluated file ({bench.source}), opted in: optimistic, not a baseline"
    else:
        raise EvaluationError(
            f"{bench.source}: no training side found for {bench.name} popularity; put it under the shared data "
            "folder (see revdial.crs.benchmarks) or pass --popularity-from-test to count the evaluated file"
        )
    order = [item for item, _ in counts.most_common(k)]
    return (lambda turn: list(order)), source


def generate_transformers(
    model_ref: str,
    conversations: list[list[dict[str, str]]],
    options: GenerationOptions,
    progress: bool = True,
) -> list[str]:
    """Greedy, batched, left-padded generation; prompts sorted by length so a batch pads little."""
    import torch
    from tqdm.auto import tqdm

    model, tokenizer = load_model(model_ref, dtype=options.dtype)
    options.decoding = options.decoding or DEFAULT_DECODING
    if options.decoding != "greedy":
        return _decode_transformers(model, tokenizer, conversations, options, progress)
    # The answer is started for the model ("1.") so that even a weak zero-shot model writes a list, not chat.
    prompts = [_render_prompt(tokenizer, m, options.max_prompt_tokens) + LIST_START for m in conversations]
    max_new_tokens = options.max_new_tokens or 10 * options.k
    stop = _ListDone(tokenizer, options.k)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    bar = tqdm(total=len(prompts), desc="generating", unit="turn", disable=not progress)
    for start in range(0, len(order), options.batch_size):
        batch = order[start : start + options.batch_size]
        encoded = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        )
        with torch.inference_mode():
            generated = model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                stopping_criteria=[stop.reset(encoded["input_ids"].shape[1])],
            )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        for index, text in zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
            outputs[index] = LIST_START + text
        bar.update(len(batch))
    bar.close()
    return outputs


def _decode_transformers(
    model, tokenizer, conversations, options: GenerationOptions, progress: bool
) -> list[str]:
    """`revdial.crs.decoding` one prompt at a time (distinct: line by line with `bad_words_ids` bans)."""
    from tqdm.auto import tqdm

    if options.decoding in DRY_SETTINGS:
        raise EvaluationError(
            f"decoding {options.decoding!r} (DRY) is a llama.cpp sampler; use --backend llamacpp or --decoding distinct"
        )
    max_new_tokens = options.max_new_tokens or 10 * options.k
    texts, stats = [], []
    for messages in tqdm(conversations, desc=f"generating ({options.decoding})", disable=not progress):
        prompt = _render_prompt(tokenizer, messages, options.max_prompt_tokens)
        text, cost = decode(
            options.decoding,
            _transformers_complete(model, tokenizer, prompt, options),
            options.k,
            max_new_tokens,
            n_samples=options.n_samples,
        )
        texts.append(text)
        stats.append(cost)
    options.decode_stats = summarise_stats(stats)
    return texts


def _transformers_complete(model, tokenizer, prompt: str, options: GenerationOptions) -> Complete:
    import torch

    def complete(
        answer: str, max_tokens: int, banned: frozenset[int], stop: Sequence[str], seed: int | None
    ) -> tuple[str, list[int]]:
        encoded = tokenizer(prompt + answer, return_tensors="pt", add_special_tokens=False)
        kwargs: dict = {"max_new_tokens": max_tokens, "do_sample": seed is not None}
        if banned:
            kwargs["bad_words_ids"] = [[token] for token in sorted(banned)]
        if "\n" in stop and tokenizer.eos_token_id is not None:
            kwargs["suppress_tokens"] = [
                tokenizer.eos_token_id
            ]  # a line is asked for: the list may not end here
        if seed is not None:
            torch.manual_seed(seed)
            kwargs.update(temperature=options.temperature, top_p=0.95)
        with torch.inference_mode():
            generated = model.generate(
                **encoded,
                **kwargs,
                pad_token_id=tokenizer.pad_token_id,
                stop_strings=list(stop),
                tokenizer=tokenizer,
            )
        new = generated[0, encoded["input_ids"].shape[1] :].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True)
        cut = min((text.find(s) for s in stop if s in text), default=len(text))
        return text[:cut], new[:1]

    return complete


class _ListDone:
    """Per-row stop once the answer holds K list lines or starts repeating one line (small models loop)."""

    def __init__(self, tokenizer, k: int, max_repeats: int = 3) -> None:
        self.tokenizer, self.k, self.max_repeats, self.start = tokenizer, k, max_repeats, 0

    def reset(self, start: int) -> _ListDone:
        self.start = start
        return self

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        done = [list_is_done(text, self.k, self.max_repeats) for text in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


_ENTRY_SPLIT_RE = re.compile(r"\n+|\s(?=\d{1,2}[.)]\s)")


def list_is_done(text: str, k: int, max_repeats: int = 3) -> bool:
    """True once `text` holds k finished entries, or one entry `max_repeats` times (entries on lines or inline)."""
    entries = [e.strip() for e in _ENTRY_SPLIT_RE.split(text)][:-1]  # the last entry may still be growing
    entries = [re.sub(r"^\d{1,2}[.)]\s*", "", e).casefold() for e in entries if e.strip()]
    counts = Counter(e for e in entries if e)
    return sum(counts.values()) >= k or (bool(counts) and max(counts.values()) >= max_repeats)


def _render_prompt(tokenizer, messages: list[dict[str, str]], max_tokens: int) -> str:
    """The chat-templated prompt; the oldest dialogue turns are dropped until it fits `max_tokens`."""
    system, dialogue = messages[:1], list(messages[1:])
    while True:
        text = tokenizer.apply_chat_template(system + dialogue, tokenize=False, add_generation_prompt=True)
        if len(dialogue) <= 1 or len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= max_tokens:
            return text
        dialogue = dialogue[1:]


def load_model(model_ref: str, dtype: str = "float32"):
    """(model, tokenizer) in eval mode with a left-padding tokenizer; PEFT adapters merged."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from revdial.crs.student import StudentModelError, resolve_model

    path = resolve_model(model_ref)
    try:
        if (Path(path) / "adapter_config.json").exists():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(
                path, dtype=getattr(torch, dtype)
            ).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise StudentModelError(f"{model_ref}: could not load a causal LM and tokenizer ({error})") from None
    if not tokenizer.chat_template:
        raise StudentModelError(f"{model_ref}: the tokenizer has no chat template; the CRS prompt needs one")
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def generate_openai(
    model: str, conversations: list[list[dict[str, str]]], options: GenerationOptions
) -> list[str]:
    """Chat completions against an OpenAI-compatible endpoint, `concurrency` requests at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from openai import OpenAI
    from tqdm.auto import tqdm

    if options.decoding not in ("greedy", None):
        raise EvaluationError(
            f"decoding {options.decoding!r} needs token-level control; an OpenAI-compatible server decodes greedily "
            "(temperature 0): use --decoding greedy"
        )
    client = OpenAI()

    def one(messages: list[dict[str, str]]) -> str:
        response = client.chat.completions.create(
            model=model, messages=messages, temperature=0.0, max_tokens=options.max_new_tokens
        )
        return response.choices[0].message.content or ""

    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        return list(tqdm(pool.map(one, conversations), total=len(conversations), desc="openai"))


def generate_llamacpp(
    model_ref: str,
    conversations: list[list[dict[str, str]]],
    options: GenerationOptions,
    progress: bool = True,
) -> list[str]:
    """Greedy decoding by llama.cpp, `n_parallel` prompts at a time, on the model's GGUF export.

    The prompt is the same text the transformers backend feeds (the folder's chat template, oldest turns dropped to
    fit, the answer started with "1."); decoding stops after K entries (at the "K+1." line) or `max_new_tokens`.
    """
    from concurrent.futures import ThreadPoolExecutor

    import xllamacpp
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    from revdial.crs.gguf_export import cached_gguf
    from revdial.crs.student import resolve_model

    options.decoding = options.decoding or DEFAULT_DECODING
    gguf_path = cached_gguf(model_ref)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model_ref))
    prompts = [_render_prompt(tokenizer, m, options.max_prompt_tokens) for m in conversations]
    max_new_tokens = options.max_new_tokens or 10 * options.k
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_path)
    params.n_parallel = options.n_parallel
    # per slot: the longest prompt (templates can overshoot max_prompt_tokens by a turn) plus the answer
    longest = max((len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts), default=0)
    # distinct decoding writes line by line: up to K lines of LINE_TOKENS plus their numbers
    room = (
        max(max_new_tokens, options.k * (LINE_TOKENS + 4))
        if options.decoding == "distinct"
        else max_new_tokens
    )
    params.n_ctx = (longest + room + 16) * options.n_parallel
    params.verbosity = -1
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = options.n_threads
        cpu.poll = 0  # sleep between graph runs; spinning threads starve each other on a small CPU
    server = xllamacpp.Server(params)
    stats: list[DecodeStats] = [DecodeStats()] * len(prompts)

    def one(index: int) -> str:
        text, stats[index] = decode(
            options.decoding,
            _llamacpp_complete(server, tokenizer, prompts[index], options),
            options.k,
            max_new_tokens,
            n_samples=options.n_samples,
        )
        return text

    with ThreadPoolExecutor(max_workers=options.n_parallel) as pool:
        bar = tqdm(
            pool.map(one, range(len(prompts))),
            total=len(prompts),
            desc=f"generating (llama.cpp, {options.decoding})",
            unit="turn",
            disable=not progress,
        )
        texts = list(bar)
    options.decode_stats = summarise_stats(stats)
    return texts


# DRY ("don't repeat yourself") penalises a token that would extend a sequence already in the answer; list
# punctuation breaks sequences, so "\n3. (" is never penalised but a second "The Matrix" is: its second token
# extends " The", a one-token sequence seen before. With llama.cpp's usual allowed length 2, a two-token title after
# "N. " is never penalised (the number breaks the sequence) and a trained student still wrote one title 20 times.
# Chosen on INSPIRED dev (first 30 turns, K = 20): grounded titles per answer of the js-B250 student 1.0 -> 9.5 and
# of the zero-shot student 0.4 -> 1.2 (multiplier 0.8 / 2 / 3 / 5 / 8 measured, allowed length 1 or 2).
DRY_PENALTY = {
    "dry_multiplier": 3.0,
    "dry_base": 1.75,
    "dry_allowed_length": 1,
    "dry_sequence_breakers": ["\n", "(", ")", ".", ":"],
}
# Without "." as a breaker, "N." and the line's first word form a sequence: a line opening with a word an earlier line
# opened with pays the penalty once (a one-token match: multiplier x base^0).
DRY_SETTINGS = {
    "penalty": DRY_PENALTY,
    "penalty_openings": {**DRY_PENALTY, "dry_sequence_breakers": ["\n", "(", ")", ":"]},
}


def _llamacpp_complete(server, tokenizer, prompt: str, options: GenerationOptions) -> Complete:
    """One llama.cpp completion of `prompt` + the answer so far, as `revdial.crs.decoding` asks for it."""
    # a decoding that calls again with a longer answer reuses the slot's KV cache; greedy keeps one fresh pass
    cache = options.decoding in ("distinct", "sample")

    def complete(
        answer: str, max_tokens: int, banned: frozenset[int], stop: Sequence[str], seed: int | None
    ) -> tuple[str, list[int]]:
        request = {
            "prompt": prompt + answer,
            "max_tokens": max_tokens,
            "temperature": 0.0 if seed is None else options.temperature,
            "repeat_penalty": 1.0,
            "stop": list(stop),
            "cache_prompt": cache,
        }
        if banned:
            request["logit_bias"] = [[token, False] for token in sorted(banned)]
        if "\n" in stop:
            request["ignore_eos"] = True  # a line is asked for: the list may not end here
        if seed is not None:
            request.update(seed=seed, top_p=0.95)
        if options.decoding in DRY_SETTINGS:
            request.update(DRY_SETTINGS[options.decoding], dry_penalty_last_n=max_tokens)
        response = server.handle_completions(request)
        if isinstance(response, str):
            response = json.loads(response)
        if "error" in response:
            raise RuntimeError(f"llama.cpp: {response['error']}")
        text = response["choices"][0].get("text") or ""
        # the server's OpenAI-shaped reply carries no token ids; the text's own tokens start with the one sampled, and
        # an empty line began with the line break
        return text, tokenizer(text or "\n", add_special_tokens=False)["input_ids"][:1]

    return complete


def choose_backend(model: str, backend: str = "auto") -> str:
    """`llamacpp` for local llama-shaped models the GGUF export accepts, else `transformers`."""
    if backend not in ("auto", "llamacpp", "transformers"):
        raise EvaluationError(f"unknown backend {backend!r}; use auto, llamacpp or transformers")
    if backend != "auto":
        return backend
    from revdial.crs.student import resolve_model

    path = Path(resolve_model(model))
    config_file = path / "config.json"
    if (path / "adapter_config.json").exists():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path", "")
        config_file = Path(resolve_model(base)) / "config.json" if base else config_file
    if not config_file.exists():
        return "transformers"
    config = json.loads(config_file.read_text())
    from revdial.crs.gguf_export import fits_template

    return "llamacpp" if fits_template(config) else "transformers"


# --- recorded predictions -------------------------------------------------------------------------------------------
def load_predictions(path: str | Path, bench: Benchmark) -> list[dict]:
    """One prediction per benchmark turn, in turn order, from a jsonl(.gz) of {dialog_id, turn_id, text | titles}.

    A turn without a prediction, a prediction without a turn, a repeated key or a line with neither `text` nor a
    `titles` list is an error naming the file and line (or the turn).
    """
    from revdial.crs.benchmarks import BenchmarkFormatError, _jsonl

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: predictions file not found")
    wanted = {(t.dialog_id, t.turn_id) for t in bench.turns}
    found: dict[tuple[str, str], dict] = {}
    for line_number, record in _jsonl(path):
        if "dialog_id" not in record or "turn_id" not in record:
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: a prediction needs dialog_id and turn_id"
            )
        key = (str(record["dialog_id"]), str(record["turn_id"]))
        text, titles = record.get("text"), record.get("titles")
        if not isinstance(text, str) and not (
            isinstance(titles, list) and all(isinstance(t, str) for t in titles)
        ):
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: a prediction needs `text` (a string) or `titles` (a list of strings)"
            )
        if key in found:
            raise BenchmarkFormatError(f"{path}: line {line_number}: a second prediction for turn {key}")
        if key not in wanted:
            raise BenchmarkFormatError(
                f"{path}: line {line_number}: turn {key} is not a turn of {bench.source}"
            )
        found[key] = record
    missing = [key for key in ((t.dialog_id, t.turn_id) for t in bench.turns) if key not in found]
    if missing:
        raise BenchmarkFormatError(
            f"{path}: no prediction for {len(missing)} turn(s) of {bench.source}, first {missing[0]}"
        )
    return [found[(t.dialog_id, t.turn_id)] for t in bench.turns]


# --- evaluation -----------------------------------------------------------------------------------------------------
PROTOCOLS = ("revdial", "he2023")


@dataclass
class Outputs:
    """What a model gave for each turn: its reply (`texts`), a ranked title list (`titles`) or item ids (`ids`)."""

    texts: list[str | None]
    titles: list[list[str] | None]
    ids: list[list[str] | None]
    recorded: list[list[dict] | None]  # He et al.'s own extraction, when the predictions carry it
    extra: dict = field(default_factory=dict)
    backend: str | None = None


def _model_outputs(
    model: str, bench: Benchmark, options: GenerationOptions, progress: bool, popularity_from_test: bool
) -> Outputs:
    n = len(bench.turns)
    if model == "popularity":
        rank, source = popularity_ranking(bench, options.k, from_test=popularity_from_test)
        return Outputs(
            [None] * n, [None] * n, [rank(t) for t in bench.turns], [None] * n, {"popularity_source": source}
        )
    if model.startswith(RANKER_PREFIX):
        rankings, extra = ranker_rankings(model, bench, options.k)
        return Outputs([None] * n, [None] * n, rankings, [None] * n, extra)
    conversations = [build_messages(turn, options.k, options.item_noun) for turn in bench.turns]
    if options.decoding is None:
        options.decoding = "greedy" if model.startswith("openai:") else DEFAULT_DECODING
    if model.startswith("openai:"):
        backend = "openai"
        texts = generate_openai(model.split(":", 1)[1], conversations, options)
    else:
        backend = choose_backend(model, options.backend)
        generate = generate_llamacpp if backend == "llamacpp" else generate_transformers
        if options.partial is None:
            texts = generate(model, conversations, options, progress=progress)
        else:
            texts = generate_resumable(generate, model, conversations, options, options.partial, progress)
    return Outputs(list(texts), [None] * n, [None] * n, [None] * n, backend=backend)


def _recorded_outputs(records: list[dict]) -> Outputs:
    return Outputs(
        [r.get("text") if isinstance(r.get("text"), str) else None for r in records],
        [None if isinstance(r.get("text"), str) else list(r["titles"]) for r in records],
        [None] * len(records),
        [r.get("he_rec_list") if isinstance(r.get("he_rec_list"), list) else None for r in records],
    )


def _revdial_rankings(bench: Benchmark, outputs: Outputs, k: int) -> tuple[list[list[str]], list[list[str]]]:
    """(ranked ids, unmatched titles) per turn: whole-line titles grounded year-aware to the catalogue."""
    from revdial.curation.grounding import Catalogue

    catalogue = Catalogue.from_records(bench.catalogue)

    def grounds(title: str) -> bool:
        return catalogue.match(title) is not None

    rankings, unmatched = [], []
    for text, titles, ids in zip(outputs.texts, outputs.titles, outputs.ids):
        if ids is not None:
            rankings.append(ids[:k])
            unmatched.append([])
            continue
        written = parse_titles(text, k, grounds) if text is not None else list(titles)[:k]
        found, missed = catalogue.ground(written)
        rankings.append(found[:k])
        unmatched.append(missed)
    return rankings, unmatched


def score_he2023(bench: Benchmark, outputs: Outputs) -> tuple[dict, dict]:
    """(report section, per-pair rows) of He et al.'s protocol (`revdial.crs.he2023`)."""
    from revdial.crs import he2023

    if not bench.entity_names:
        raise EvaluationError(
            f"--protocol he2023 needs He et al.'s entity names; use --benchmark he2023-redial or he2023-inspired "
            f"(got {bench.name})"
        )
    names = bench.entity_names
    index = he2023.NameIndex(names.values())
    turns = [
        he2023.HeTurn(
            t.dialog_id,
            t.turn_id,
            t.target_ids,
            [names[i] for i in t.target_ids],
            [names[i] for i in t.mentioned_ids if i in names],
        )
        for t in bench.turns
    ]
    extractions, from_record, unrecorded = [], 0, []
    for text, titles, ids, recorded in zip(outputs.texts, outputs.titles, outputs.ids, outputs.recorded):
        if ids is not None:
            extractions.append([he2023.Extracted(names[i], 0, names[i], (names[i],)) for i in ids])
            continue
        extracted = he2023.extract_names(text) if text is not None else [he2023.clean_line(t) for t in titles]
        resolved = he2023.resolve(extracted, index, recorded)
        from_record += sum(1 for e in resolved if len(e.tied) > 1) if recorded is not None else 0
        extractions.append(resolved)
        unrecorded.append(recorded is None)
    ties = he2023.ambiguous_ties(
        [t for t, u in zip(turns, unrecorded) if u], [e for e, u in zip(extractions, unrecorded) if u]
    )
    rows = he2023.pair_rows(turns, extractions)
    section = {
        **he2023.summarise(rows),
        "ties_resolved_from_record": from_record,
        "ties_that_can_change_a_score_unresolved": ties,
        "names_extracted": sum(len(e) for e in extractions),
    }
    return section, rows


def evaluate(
    model: str,
    bench: Benchmark,
    options: GenerationOptions | None = None,
    *,
    ks: Sequence[int] = KS,
    n_resamples: int = 1000,
    progress: bool = True,
    predictions: list[dict] | None = None,
    protocol: str = "revdial",
    mean: str = "pair",
    popularity_from_test: bool = False,
) -> tuple[dict, list[dict]]:
    """(report, per-turn predictions) of `model` on `bench`; with `predictions` (from `load_predictions`) the
    recorded replies are scored and nothing is run."""
    options = options or GenerationOptions()
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"unknown protocol {protocol!r}; use {' or '.join(PROTOCOLS)}")
    if options.decoding is not None and options.decoding not in DECODINGS:
        raise EvaluationError(f"unknown decoding {options.decoding!r}; use {', '.join(DECODINGS)}")
    if options.k < 1:
        raise EvaluationError(f"K must be at least 1 (got {options.k})")
    if options.k > len(bench.catalogue):
        raise EvaluationError(
            f"K={options.k} is larger than the {bench.name} catalogue ({len(bench.catalogue)} items); "
            f"ask for at most {len(bench.catalogue)}"
        )
    started = time.perf_counter()
    turns = bench.turns
    if predictions is not None:
        outputs = _recorded_outputs(predictions)
    else:
        outputs = _model_outputs(model, bench, options, progress, popularity_from_test)
    report: dict = {
        "model": model,
        "benchmark": bench.name,
        "data": bench.source,
        "protocol": protocol,
        "n_turns": len(turns),
        "n_pairs": sum(len(t.target_ids) for t in turns),
        "k": options.k,
        "catalogue_size": len(bench.catalogue),
        "loader_skips": bench.skipped,
    }
    rankings, unmatched = _revdial_rankings(bench, outputs, options.k)
    if protocol == "he2023":
        report["he2023"], _ = score_he2023(bench, outputs)
    else:
        report["metrics"] = score_turns(
            rankings,
            [t.target_ids for t in turns],
            [t.mentioned_ids for t in turns],
            ks=ks,
            list_length=options.k,
            mean=mean,
            dialog_ids=[t.dialog_id for t in turns],
            n_resamples=n_resamples,
        )
    report["grounding"] = _grounding_summary(rankings, unmatched, outputs, options.k)
    report["generation"] = _generation_summary(options, outputs.backend) if predictions is None else None
    report["wall_time_s"] = round(time.perf_counter() - started, 1)
    report.update(outputs.extra)
    titles = bench.titles()
    rows = []
    for turn, text, ranked, missed, ids in zip(turns, outputs.texts, rankings, unmatched, outputs.ids):
        row = {"dialog_id": turn.dialog_id, "turn_id": turn.turn_id}
        row.update({"text": text} if ids is None else {"titles": [titles.get(i, i) for i in ids]})
        row.update(
            targets=[titles.get(i, i) for i in turn.target_ids],
            ranked=[titles.get(i, i) for i in ranked],
            unmatched=missed,
        )
        rows.append(row)
    return report, rows


def _grounding_summary(
    rankings: list[list[str]], unmatched: list[list[str]], outputs: Outputs, k: int
) -> dict:
    written = [
        i for i, ids in enumerate(outputs.ids) if ids is None
    ]  # popularity ranks ids: nothing to ground
    n_titles = sum(len(rankings[i]) + len(unmatched[i]) for i in written)
    n_unmatched = sum(len(unmatched[i]) for i in written)
    return {
        "titles_parsed": n_titles,
        "unmatched_titles": n_unmatched,
        "unmatched_rate": n_unmatched / n_titles if n_titles else 0.0,
        "turns_without_any_grounded_item": sum(1 for r in rankings if not r),
        "turns_with_k_grounded_items": sum(1 for r in rankings if len(r) >= k),
        "mean_list_length": sum(len(r) for r in rankings) / len(rankings) if rankings else 0.0,
    }


def _generation_summary(options: GenerationOptions, backend: str | None) -> dict:
    return {
        "backend": backend,
        "batch_size": options.batch_size,
        "n_parallel": options.n_parallel,
        "max_new_tokens": options.max_new_tokens or 10 * options.k,
        "dtype": options.dtype,
        "max_prompt_tokens": options.max_prompt_tokens,
        "decoding": options.decoding,
        **(
            {"n_samples": options.n_samples, "temperature": options.temperature}
            if options.decoding == "sample"
            else {}
        ),
        **({"dry": DRY_SETTINGS[options.decoding]} if options.decoding in DRY_SETTINGS else {}),
        "decode_cost": options.decode_stats,
        "system_prompt": system_prompt(options.k, options.item_noun),
    }


def format_cell(value: dict | None) -> str:
    if value is None or value["mean"] is None:
        return "n/a"
    if value["ci_low"] is None:
        return f"{value['mean']:.4f}"
    return f"{value['mean']:.4f} [{value['ci_low']:.4f}, {value['ci_high']:.4f}]"


def format_report(report: dict, ks: Sequence[int] = (1, 10, 50)) -> str:
    """A short plain-text table of the headline metrics: both settings, or He et al.'s variants and conditions."""
    lines = [
        (
            f"{report['model']} on {report['benchmark']} ({report['n_turns']} turns, {report['n_pairs']} pairs, "
            f"K={report['k']}, protocol {report['protocol']}, {report['wall_time_s']} s)"
        )
    ]
    if "he2023" in report:
        for variant in ("r1", "r2", "r3", "r4"):
            for condition, values in report["he2023"][variant].items():
                cells = [
                    f"{name}={values[name]:.4f}" if values[name] is not None else f"{name}=n/a"
                    for name in ("recall@1", "recall@10", "recall@20", "ndcg@10")
                ]
                lines.append(f"  {variant} {condition} (n={values['n_pairs']}): " + "  ".join(cells))
    for setting, values in report.get("metrics", {}).items():
        cells = [
            f"{name}={format_cell(values.get(name))}" for name in [*(f"recall@{k}" for k in ks), "ndcg@10"]
        ]
        lines.append(f"  {setting} ({values['mean']}, n={values['n_pairs']} pairs): " + "  ".join(cells))
    grounding = report["grounding"]
    if grounding["titles_parsed"]:
        lines.append(
            f"  grounding: {grounding['unmatched_titles']}/{grounding['titles_parsed']} titles matched nothing; "
            f"{grounding['turns_without_any_grounded_item']} turns had no grounded item"
        )
    return "\n".join(lines)


def eval_command(
    model: str | None,
    benchmark: str,
    data: Path | None,
    limit: int | None,
    out: Path,
    k: int = 20,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
    dtype: str = "bfloat16",
    backend: str = "auto",
    *,
    predictions: Path | None = None,
    protocol: str = "revdial",
    mean: str = "pair",
    popularity_from_test: bool = False,
    decoding: str | None = None,
) -> dict:
    """Run (`model`) or re-score (`predictions`) one benchmark; writes the report and, for a run, its predictions
    next to it (`<out>.predictions.jsonl`, the format `--predictions` reads). A run keeps its finished turns in
    `<out>.partial.jsonl` until the report is written, so running it again after a stop resumes."""
    if (model is None) == (predictions is None):
        raise EvaluationError(
            "give exactly one of --model (run it) or --predictions (score recorded replies)"
        )
    bench = load_benchmark(benchmark, data, limit=limit)
    options = GenerationOptions(
        k=k,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        dtype=dtype,
        backend=backend,
        decoding=decoding,
    )
    out = Path(out)
    recorded = load_predictions(predictions, bench) if predictions is not None else None
    if recorded is None:
        options.partial = partial_path(out)
    report, rows = evaluate(
        model or f"predictions:{predictions}",
        bench,
        options,
        predictions=recorded,
        protocol=protocol,
        mean=mean,
        popularity_from_test=popularity_from_test,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(format_report(report))
    if recorded is None:
        with open(out.with_suffix(".predictions.jsonl"), "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        options.partial.unlink(missing_ok=True)  # the report and predictions hold every turn now
        print(f"report: {out}  predictions: {out.with_suffix('.predictions.jsonl')}")
    else:
        print(f"report: {out}")
    return report

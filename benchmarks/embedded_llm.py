"""Which engine runs the embedded SmolLM2-135M-Instruct GGUF fastest on CPU: llama.cpp (xllamacpp) or
transformers reading the GGUF through `gguf`? Prints prompt and generation tokens/s for each, and the ratio.

    python benchmarks/embedded_llm.py [--prompts 4] [--max-new-tokens 64] [--threads 2]

Both engines get the same chat prompts (the size of a revdial request prompt), greedy decoding, the same number
of new tokens, on the same CPU threads.
"""

import argparse
import json
import time

from revdial.paths import smollm2_gguf_path

PROMPT = (
    "Here is what we know about a movie this person would love:\nItem: this movie (2017)\nAbout: genre: comedy, "
    "drama, romance; director: Michael Showalter; star: Kumail Nanjiani, Zoe Kazan, Holly Hunter; plot: Pakistan-born "
    "comedian Kumail Nanjiani and grad student Emily Gardner fall in love but struggle as their cultures clash.\n"
    "User review (rating 5/5): I just saw this movie and loved it, funny and sad at the same time, great parents.\n"
    "User also liked: Grown Ups; Fast 8; It\nWrite their message to the assistant. Ask for a movie by describing "
    "the mood or vibe they are after, using the feeling of the review above."
)


def chats(n: int) -> list[list[dict]]:
    return [
        [
            {
                "role": "system",
                "content": "You write one realistic message that a person sends to a movie "
                "recommendation assistant. Write only the message itself.",
            },
            {"role": "user", "content": PROMPT + f" (variant {i})"},
        ]
        for i in range(n)
    ]


def bench_llamacpp(prompts: list, max_new: int, threads: int, poll: int) -> dict:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2_gguf_path())
    params.n_ctx = 2048
    for cpu in (params.cpuparams, params.cpuparams_batch):
        cpu.n_threads = threads
        cpu.poll = poll
    started = time.perf_counter()
    server = xllamacpp.Server(params)
    load_s = time.perf_counter() - started
    prompt_tokens = new_tokens = 0
    prompt_ms = gen_ms = 0.0
    started = time.perf_counter()
    for chat in prompts:
        response = server.handle_chat_completions(
            {"messages": chat, "max_tokens": max_new, "temperature": 0.0, "ignore_eos": True}
        )
        response = json.loads(response) if isinstance(response, str) else response
        timings = response["timings"]
        prompt_tokens += timings["prompt_n"]
        new_tokens += timings["predicted_n"]
        prompt_ms += timings["prompt_ms"]
        gen_ms += timings["predicted_ms"]
    wall = time.perf_counter() - started
    return {
        "engine": f"llama.cpp (xllamacpp, poll={poll})",
        "load_s": load_s,
        "prompt_tok_s": prompt_tokens / prompt_ms * 1e3,
        "gen_tok_s": new_tokens / gen_ms * 1e3,
        "new_tokens": new_tokens,
        "wall_s": wall,
        "end_to_end_tok_s": new_tokens / wall,
    }


def bench_transformers(prompts: list, max_new: int, threads: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    gguf = smollm2_gguf_path()
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    load_s = time.perf_counter() - started
    new_tokens = 0
    started = time.perf_counter()
    prompt_s = 0.0
    for chat in prompts:
        ids = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        t0 = time.perf_counter()
        with torch.no_grad():
            model(**ids)  # prompt pass alone, for the prompt rate
        prompt_s += time.perf_counter() - t0
        out = model.generate(**ids, max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False)
        new_tokens += out.shape[1] - ids["input_ids"].shape[1]
    wall = time.perf_counter() - started - prompt_s
    prompt_tokens = sum(len(tokenizer.apply_chat_template(c, add_generation_prompt=True)) for c in prompts)
    return {
        "engine": "transformers + gguf (fp32)",
        "load_s": load_s,
        "prompt_tok_s": prompt_tokens / prompt_s,
        "gen_tok_s": None,
        "new_tokens": new_tokens,
        "wall_s": wall,
        "end_to_end_tok_s": new_tokens / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    prompts = chats(args.prompts)
    rows = [
        bench_llamacpp(prompts, args.max_new_tokens, args.threads, poll=0),
        bench_llamacpp(prompts, args.max_new_tokens, args.threads, poll=50),
    ]
    if not args.skip_transformers:
        rows.append(bench_transformers(prompts, args.max_new_tokens, args.threads))
    print(f"\n{args.prompts} prompts x {args.max_new_tokens} new tokens, {args.threads} threads")
    print(
        f"{'engine':38} {'load s':>7} {'prompt tok/s':>13} {'gen tok/s':>10} {'end-to-end tok/s':>17} {'ratio':>6}"
    )
    base = rows[0]["end_to_end_tok_s"]
    for row in rows:
        gen = f"{row['gen_tok_s']:.1f}" if row["gen_tok_s"] else "-"
        print(
            f"{row['engine']:38} {row['load_s']:7.1f} {row['prompt_tok_s']:13.1f} {gen:>10} "
            f"{row['end_to_end_tok_s']:17.1f} {row['end_to_end_tok_s'] / base:6.2f}"
        )


if __name__ == "__main__":
    main()

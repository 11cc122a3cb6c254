"""The scripted answers shared by the fake LLM and the fake server: they read the prompt like a cooperative model.

- request prompts (system: "realistic message") -> a request unique to the seed, in the asked style;
- recommendation prompts -> a numbered list: the target first, then the offered candidates, then optionally one
  invented title (a hallucination);
- multi-turn prompts -> a clarifying question or a seeker reply;
- hybrid prompts (a fixed list to explain) -> the same titles with reasons, and optionally an invented one.
`script` maps a substring of the last message to a fixed reply, to drive any branch (leaks, empty, malformed).
"""

from __future__ import annotations

import hashlib
import re

INVENTED_TITLE = "The Unfilmed Sequel of Nowhere (2031)"
_WORDS = (
    "quiet",
    "brash",
    "moody",
    "sunny",
    "tense",
    "gentle",
    "weird",
    "bold",
    "slow",
    "sharp",
    "warm",
    "cold",
    "bright",
    "dusty",
    "salty",
    "velvet",
    "neon",
    "rusty",
    "stormy",
    "silver",
)


def _digest_words(text: str, n: int = 4) -> list[str]:
    digest = hashlib.sha256(text.encode()).digest()
    return [_WORDS[b % len(_WORDS)] + str(b) for b in digest[:n]]


def fake_reply(messages: list[dict], script: dict[str, str] | None = None, hallucinate: bool = True) -> str:
    last = messages[-1]["content"] if messages else ""
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    for marker, reply in (script or {}).items():
        if marker in last:
            return reply
    if "realistic message" in system:
        style = "occasion"
        for name in ("mood or vibe", "similar to", "concrete attributes", "do NOT want", "specific occasion"):
            if name in last:
                style = name
        seed_part = last.split("would love:", 1)[-1]
        words = " ".join(_digest_words(seed_part))
        return f'"Hey! I want something {style}, ideally {words}. What should I watch tonight?"'
    if "Do not recommend anything yet" in last:
        return "Do you prefer something light or something intense?"
    if "Reply to the assistant" in last:
        return "Something intense, but not too long please."
    if "in this order:" in last:  # hybrid: reasons for a fixed list; the fake adds a title of its own
        listed = re.findall(r"^\d+\. (.+)$", last.split("in this order:", 1)[1].split("\n\n", 1)[0], re.M)
        lines = [f"{t} - the teacher's reason {i}" for i, t in enumerate(listed, 1)]
        if hallucinate:
            lines.insert(1, f"{INVENTED_TITLE} - an extra pick")
        return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    target = re.search(r'The best answer for this user is "(.+?)"\.', last)
    if target:
        candidates = re.search(r"Other good candidates: (.+?)\.\n", last)
        titles = [target.group(1)]
        if candidates and "any similar titles" not in candidates.group(1):
            titles += [c.strip() for c in candidates.group(1).split(";")][:2]
        if hallucinate:
            titles.append(INVENTED_TITLE)
        return "Sure! Here you go:\n" + "\n".join(
            f"{i}. {t} - it matches what you asked for" for i, t in enumerate(titles, 1)
        )
    return "I am not sure what you mean."


def count_tokens(text: str) -> int:
    return len(text.split())

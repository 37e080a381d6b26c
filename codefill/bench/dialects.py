"""The replay's requests in each wire format codefill speaks, so a plugin's usual backend
(Ollama, llama.cpp's `llama-server`, a Tabby server) and codefill can be compared on the
same workload, each on the format the plugin sends.

Every dialect asks for the rest of the line (`stop: ["\\n"]` where the format has it) with
greedy decoding; the answer compared is its first line with code (Tabby has no stop).
"""

from __future__ import annotations

import httpx

from .workload import Keystroke

DIALECTS = ("openai", "ollama", "llamacpp", "tabby")


def request(dialect: str, model: str, stroke: Keystroke, *, max_tokens: int, with_suffix: bool,
            user: str | None) -> tuple[str, dict]:
    """(path, JSON body) of one keystroke's completion request in `dialect` (`user` None: no session)."""
    suffix = stroke.suffix if with_suffix else ""
    if dialect == "openai":
        body = {"model": model, "prompt": stroke.prefix, "max_tokens": max_tokens, "temperature": 0,
                "stop": ["\n"], **({"user": user} if user else {})}
        if with_suffix:
            body["suffix"] = stroke.suffix
        return "/v1/completions", body
    if dialect == "ollama":
        return "/api/generate", {"model": model, "prompt": stroke.prefix, "suffix": suffix, "stream": False,
                                 "options": {"num_predict": max_tokens, "temperature": 0, "stop": ["\n"]}}
    if dialect == "llamacpp":  # as llama.vscode splits it: the lines before, the cursor's line so far
        head, _, line = stroke.prefix.rpartition("\n")
        return "/infill", {"input_prefix": head + "\n" if head else "", "prompt": line, "input_suffix": suffix,
                           "input_extra": [], "n_predict": max_tokens, "temperature": 0, "top_k": 40,
                           "top_p": 0.99, "stop": ["\n"], "stream": False, "cache_prompt": True,
                           "samplers": ["top_k", "top_p", "infill"]}
    if dialect == "tabby":
        return "/v1/completions", {"language": "python", **({"user": user} if user else {}),
                                   "segments": {"prefix": stroke.prefix, "suffix": suffix}}
    raise ValueError(f"unknown dialect {dialect!r}; one of {', '.join(DIALECTS)}")


def answer(dialect: str, data: dict) -> str:
    """The completion's text from a `dialect` response body."""
    if dialect == "ollama":
        return data["response"]
    if dialect == "llamacpp":
        return data["content"]
    return data["choices"][0]["text"]


def first_line(text: str) -> str:
    """The answer's first line with code: what the rest of the line is compared with."""
    return next((line for line in text.split("\n") if line.strip()), "")


def discover_model(url: str, dialect: str) -> str:
    """The first model the server at `url` lists in `dialect`'s way ("" where the format names none)."""
    if dialect == "openai":
        return httpx.get(url + "/v1/models", timeout=30).json()["data"][0]["id"]
    if dialect == "ollama":
        return httpx.get(url + "/api/tags", timeout=30).json()["models"][0]["name"]
    return ""

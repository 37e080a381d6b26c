"""Request and response shapes of the OpenAI legacy Completions API.

Fields follow the order of OpenAI's API reference; the `openai` package's own
types are the contract the tests check against. codefill's extensions come
last, fenced, each documented. Unknown fields are accepted and ignored (the
serving layer logs their names), as OpenAI-compatible servers do, so clients
written for other servers keep working.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_STOP_SEQUENCES = 4
MAX_LOGPROBS = 5
MAX_DEADLINE_MS = 60_000

# `deadline_ms` wherever a body carries it (here and in the dialects): whole milliseconds, strictly
# an integer (not "300", not 300.5), 1 .. MAX_DEADLINE_MS.
DeadlineMs = Annotated[int, Field(strict=True, ge=1, le=MAX_DEADLINE_MS)]


class StreamOptions(BaseModel):
    include_usage: bool | None = None
    """Send one more chunk before `[DONE]` with the request's token usage."""


MAX_EXTRA_FILES = 32
MAX_EXTRA_CHARS = 65536


class ExtraFile(BaseModel):
    """One snippet of `input_extra`."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    filename: str = Field(min_length=1, max_length=1024)
    """The snippet's path; its extension names the language."""
    text: str = Field(max_length=MAX_EXTRA_CHARS)
    """The snippet's code."""


class CompletionRequest(BaseModel):
    # Each field's docstring is its description in the OpenAPI schema (/docs).
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    model: str
    """The model to use; `GET /v1/models` lists what this server has."""
    prompt: str | list[str] | list[int] | list[list[int]]
    """Text before the cursor (or a batch of them, or token ids)."""
    best_of: int | None = Field(default=None, ge=1)
    """Accepted for compatibility; only `best_of == n` (the default) is supported."""
    echo: bool = False
    """Put the prompt in front of the completion."""
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    logit_bias: dict[str, float] | None = None
    """Accepted for compatibility and ignored."""
    logprobs: int | None = Field(default=None, ge=0, le=MAX_LOGPROBS)
    """Return the log-probability of each token and of the `logprobs` likeliest alternatives."""
    max_tokens: int | None = Field(default=16, ge=0)
    """Most tokens to generate. 0 generates nothing and only warms the cache."""
    n: int = Field(default=1, ge=1)
    """Completions per prompt."""
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    seed: int | None = None
    """Makes sampling repeatable (with temperature > 0)."""
    stop: str | list[str] | None = None
    """Up to 4 sequences at which generation stops; they are not part of the text.
    With `suffix` on an empty line, a stop inside the blank lines before the
    answer's first code does not count (the answer is that line's code)."""
    stream: bool = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    """Text after the cursor: with it the request is fill-in-the-middle."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Sampling temperature; unset means the server's default (0: deterministic)."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    user: str | None = None
    """The end user or editor session the request is for."""

    # --- codefill extensions -------------------------------------------------
    mode: Literal["auto", "single_line", "multi_line", "raw"] = "auto"
    """How much code to answer with. `single_line`: the rest of the current
    line (or, at the end of a line, the next line). `multi_line`: until the
    block ends (the first dedented line, a closing bracket the suffix already
    has, the last line that parses with `language`), the model stops,
    max_tokens, or the completion runs into the suffix. `auto`
    (default): multi-line on an empty line after a line that opens a block
    (`def f():`, `if (x) {`), single-line everywhere else. `raw`: no
    post-processing beyond `stop`. Requests without `suffix` in `auto` mode
    are plain completions and are not post-processed."""
    language: str | None = None
    """The code's language as an LSP / VS Code language id (`python`,
    `typescriptreact`, `cpp`, ...). Post-processing uses it to parse the code
    with tree-sitter (block ends, brackets); without it (or for a language
    codefill has no grammar for) `filepath`'s extension decides, and without
    both only language-agnostic rules apply."""
    filepath: str | None = None
    """The file's path (relative to the workspace or absolute); its extension
    names the language when `language` does not."""
    input_extra: list[ExtraFile] | None = Field(default=None, max_length=MAX_EXTRA_FILES)
    """Snippets of other files (open tabs, imported modules) as llama.cpp's
    `input_extra`: `[{"filename": "utils.py", "text": "..."}]`, at most
    32 files of 64 KiB each. The declarations and signatures that tree-sitter
    finds in them (bodies left out; those the code at the cursor uses first)
    go in front of the prompt, in the room the file around the cursor leaves
    (at most 1,024 tokens). Keep the list the same between keystrokes: the
    server's KV cache then keeps that part of the prompt."""
    cache_salt: str | None = Field(default=None, min_length=1, max_length=256)
    """vLLM's field: requests with different salts never share cached prompt
    state. Tenants (API keys) are kept apart anyway; a salt separates requests
    further within one (a codefill gateway in front sends its own tenant)."""
    deadline_ms: DeadlineMs | None = None
    """Milliseconds, from when the server receives the request, after which
    the answer is of no use (the editor will have sent its next keystroke):
    an integer from 1 to 60000. A request that cannot be answered in time is
    dropped instead of taking the engine's time: 503 with code
    `deadline_exceeded` (param `deadline_ms`, `Retry-After`), or at once, when the wait in
    front of the engine alone would be longer, 503 with code `overloaded`
    and `Retry-After`. Without it the server orders work by the session's
    typing rhythm and answers everything it can."""

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, v: str | list[str] | None) -> list[str] | None:
        if v is None:
            return None
        stops = [v] if isinstance(v, str) else v
        if len(stops) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed, got {len(stops)}")
        if any(s == "" for s in stops):
            raise ValueError("stop sequences must not be empty strings")
        return stops

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, v):
        if isinstance(v, list) and not v:
            raise ValueError("prompt must not be an empty list")
        return v

    @model_validator(mode="after")
    def _check_combinations(self) -> CompletionRequest:
        if self.best_of is not None and self.best_of != self.n:
            raise ParamError("best_of is only supported equal to n", "best_of")
        if self.stream_options is not None and not self.stream:
            raise ParamError("stream_options is only allowed when stream is true", "stream_options")
        if self.echo and self.logprobs is not None:
            raise ParamError("echo together with logprobs is not supported: prompt tokens are not scored.",
                             "logprobs", code="unsupported_parameter")
        return self

    @property
    def stop_list(self) -> list[str]:
        return list(self.stop or [])

    @property
    def extra_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())


def ParamError(message: str, param: str, code: str = "invalid_value") -> PydanticCustomError:
    """A validation error that names the parameter at fault and its error code (a cross-field
    check has no location of its own, so the error handler reads them from ctx)."""
    return PydanticCustomError("invalid_param", "{message}", {"message": message, "param": param, "code": code})


class Logprobs(BaseModel):
    text_offset: list[int] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    finish_reason: Literal["stop", "length"] | None
    index: int
    logprobs: Logprobs | None = None
    text: str


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0
    """Prompt tokens whose KV state was reused, not recomputed."""


class CompletionUsage(BaseModel):
    completion_tokens: int
    prompt_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None


def new_completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex}"


class Completion(BaseModel):
    id: str = Field(default_factory=new_completion_id)
    choices: list[CompletionChoice]
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    object: Literal["text_completion"] = "text_completion"
    system_fingerprint: str | None = None
    usage: CompletionUsage | None = None


class Model(BaseModel):
    id: str
    created: int
    object: Literal["model"] = "model"
    owned_by: str = "codefill"
    # codefill extensions: what the server knows about the model.
    max_model_len: int | None = None
    fim_family: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def merge_logprobs(a: Logprobs | None, b: Logprobs) -> Logprobs:
    if a is None:
        return b
    return Logprobs(
        text_offset=a.text_offset + b.text_offset,
        token_logprobs=a.token_logprobs + b.token_logprobs,
        tokens=a.tokens + b.tokens,
        top_logprobs=a.top_logprobs + b.top_logprobs,
    )

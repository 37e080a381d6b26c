"""What every engine does the same way, written once: `EngineBase`.

The llama.cpp engine, the vLLM engine and the gateway's upstream engine each
keep only what is their own (loading, generation, and vLLM its tokenizer);
this holds the rest of the Engine protocol (base.py):

- Ready and info: an engine is ready once `_identify` has published its
  `ModelInfo`; until then `info` and `generate` raise.
- The model's FIM family: `--fim-family`, else recognised from the
  vocabulary (prompt/families.py), and the family's end tokens as ids
  (`_eog_ids`), which end every request's generation.
- The vocabulary: by default a `vocab.Vocabulary` in `_vocab`.
- Sessions: `_latest`, the newest request of each session. The session is
  the serving layer's `session_key(tenant, user)` (tenants.py), opaque here. A
  newer request marks the older one `superseded`; the engine stops the older
  its own way, and the older's consumer gets `Superseded` (409). Requests
  entered with `supersede=False` (`GenerationRequest.supersede`) count as in
  flight but neither supersede nor are superseded.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ..prompt.families import FimFamily, detect_family, get_family
from .base import GeneratedToken, ModelInfo, Superseded

if TYPE_CHECKING:
    from .vocab import Vocabulary

# The end of a request's output queue (`next_token`).
END = object()


class _Request(Protocol):
    superseded: bool


R = TypeVar("R", bound=_Request)


class SessionTable(Generic[R]):
    """The newest request of each session (event loop only)."""

    def __init__(self) -> None:
        self._newest: dict[str, R] = {}
        self._alongside: dict[int, R] = {}  # id -> a request that does not supersede

    def enter(self, session: str | None, request: R, *, supersede: bool = True) -> R | None:
        """`request` becomes its session's newest. Returns the one it supersedes, marked
        `superseded` (the engine stops it), or None. With `supersede` False it only counts."""
        if session is None:
            return None
        if not supersede:
            self._alongside[id(request)] = request
            return None
        older = self._newest.get(session)
        self._newest[session] = request
        if older is not None:
            older.superseded = True
        return older

    def leave(self, session: str | None, request: R) -> None:
        """`request` is over: forget it, unless a newer one has taken its place."""
        if self._alongside.get(id(request)) is request:
            del self._alongside[id(request)]
        elif session is not None and self._newest.get(session) is request:
            del self._newest[session]

    def __len__(self) -> int:
        """Sessions with a request in flight (each request that does not supersede counts as one)."""
        return len(self._newest) + len(self._alongside)


def superseded(session: str | None) -> Superseded:
    return Superseded(f"superseded by a newer request of session {session!r}")


async def next_token(job, end: object = END) -> GeneratedToken | None:
    """The next item a producer put in `job.out` (an asyncio.Queue): a token; None at `end`.
    An exception put there is raised; the end of a superseded job raises `Superseded`."""
    out: asyncio.Queue = job.out
    item = await out.get()
    if item is end:
        if job.superseded:
            raise superseded(job.request.session)
        return None
    if isinstance(item, BaseException):
        raise item
    return item


class EngineBase:
    # What `info` and `generate` say until the engine has loaded.
    _loading = "the model is still loading"

    def __init__(self, *, model_id: str, family: str | None = None) -> None:
        self._model_id = model_id
        self._family_override = family
        self._info: ModelInfo | None = None
        self._vocab: Vocabulary | None = None
        # The family's end tokens: they end generation, and are never part of the text.
        self._eog_ids: frozenset[int] = frozenset()
        self._latest: SessionTable = SessionTable()

    # -- ready and info ------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._info is not None

    @property
    def sessions_in_flight(self) -> int:
        return len(self._latest)

    @property
    def info(self) -> ModelInfo:
        self._require_ready()
        return self._info

    def _require_ready(self) -> None:
        if self._info is None:
            raise RuntimeError(self._loading)

    def _identify(self, architecture: str | None, *, path: str | Path, n_ctx: int) -> FimFamily:
        """The model's family (`--fim-family`, else recognised from the vocabulary) and its end
        tokens; publishes `info`, so the engine is ready from here on."""
        family = get_family(self._family_override) if self._family_override else detect_family(self, architecture)
        self._eog_ids = frozenset(t for t in map(self._special_token, family.stop_tokens) if t is not None)
        file = Path(path)
        self._info = ModelInfo(id=self._model_id, path=str(path), n_ctx=n_ctx, architecture=architecture,
                               family=family.name,
                               created=int(file.stat().st_mtime) if file.exists() else int(time.time()))
        return family

    # -- vocabulary: a vocab.Vocabulary, unless the engine has its own -------

    @property
    def n_vocab(self) -> int:
        return self._vocab.n_vocab

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        return self._vocab.tokenize(text, special=special, add_bos=add_bos)

    def detokenize(self, tokens: list[int]) -> str:
        return self._vocab.detokenize(tokens)

    def _special_token(self, text: str) -> int | None:
        """The id of the single special token `text` spells, else None."""
        return self._vocab.special_token(text)

    def has_special_token(self, text: str) -> bool:
        return self._special_token(text) is not None

    def heal_text(self, prompt: str) -> str:
        return ""  # token healing needs a constrained first token: the llama.cpp engine's only

"""Streaming post-processing: a chain of small filters over the model's text.

Each filter sees text as it arrives and returns what is safe to show now,
holding back only what it cannot decide yet (a possible stop sequence, a
possible code fence, trailing whitespace). A filter that has seen enough sets
`done`; the pipeline then flushes the filters after it and the caller stops
the engine, so no token is generated for nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cursor import Site


class StreamFilter:
    """Base class: pass everything through, hold nothing."""

    # What operators call the filter (`codefill serve --disable-filter NAME`), logs and metrics too.
    name: str = ""
    done: bool = False

    @classmethod
    def for_site(cls, site: Site) -> StreamFilter | None:
        """The filter set up for one completion, or None where it has nothing to do there."""
        return cls()

    def push(self, text: str) -> str:
        return text

    def flush(self) -> str:
        """The stream is over: return whatever is still held back."""
        return ""


class Pipeline:
    def __init__(self, filters: list[StreamFilter]) -> None:
        self.filters = filters
        self.done = False
        # Which filter ended the stream, for logs and metrics.
        self.stopped_by: str | None = None

    def push(self, text: str) -> str:
        if self.done:
            return ""
        return self._run(text, final=False)

    def finish(self) -> str:
        if self.done:
            return ""
        return self._run("", final=True)

    def _run(self, text: str, final: bool) -> str:
        for f in self.filters:
            out = f.push(text) if text else ""
            if f.done and not final:
                self.stopped_by = f.name or type(f).__name__
            if final or f.done:
                out += f.flush()
                final = True
            text = out
        self.done = final
        return text


def run_to_end(pipeline: Pipeline, pieces: list[str]) -> str:
    """Feed whole pieces and finish: the non-streaming path, and tests."""
    out = []
    for piece in pieces:
        out.append(pipeline.push(piece))
        if pipeline.done:
            break
    out.append(pipeline.finish())
    return "".join(out)

"""POST /v1/next_edit: the edits the model predicts next (server/nextedit/).

Admitted like `/v1/completions` (api/admission.py): the same API keys,
limits, tenants, metrics, usage, deadline, cancellation and SSE option. The
answer is a `next_edit` object; with `stream: true` it comes as one event,
then `data: [DONE]`.

POST /v1/next_edit/render shows the prompt the model would see, in the
format it would get, and generates nothing (no admission, no engine time
beyond tokenizing), as `/v1/completions/render` does for completions.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..nextedit.protocol import FormatName, NextEdit, NextEditRequest, Position
from .admission import Admitted
from .protocol import ErrorResponse
from .router import admitted_route

router = APIRouter()

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 409, 413, 429, 503)}


@router.post("/v1/next_edit", response_model=NextEdit, responses=_ERRORS,
             summary="Predict the next edits: the file, the cursor and the recent edits in, edits (or no edit) out")
@admitted_route
async def next_edit(body: NextEditRequest, request: Request):
    admitted = Admitted(request, body, request.app.state.next_edit, dialect="next_edit")
    return await admitted.stream() if body.stream else await admitted.complete()


class RenderedNextEdit(BaseModel):
    object: str = "next_edit.render"
    model: str
    format: FormatName
    prompt: str = Field(description="the prompt as the model sees it (markers written out)")
    tokens: int = Field(description="its length in tokens")
    max_tokens: int
    region_start: Position = Field(description="the editable region's first position (file coordinates)")
    region_end: Position = Field(description="the end of the editable region's last line")
    history_shown: int = Field(description="how many history events the prompt holds (the newest ones)")
    related_shown: int = Field(description="how many related files the prompt holds (the first ones)")


@router.post("/v1/next_edit/render", response_model=RenderedNextEdit,
             responses={c: {"model": ErrorResponse} for c in (400, 401, 404, 503)},
             summary="The exact prompt the model would see for this next-edit request (nothing is generated)")
async def render_next_edit(body: NextEditRequest, request: Request) -> RenderedNextEdit:
    p = request.app.state.next_edit.prepare(body)
    x = p.excerpt
    start, end = x.region
    return RenderedNextEdit(model=body.model, format=p.format.name, prompt=p.prompt.text, tokens=len(p.tokens),
                            max_tokens=p.max_tokens,
                            region_start=Position(line=x.text_offset + start, character=0),
                            region_end=Position(line=x.text_offset + end - 1, character=len(
                                x.lines[end - 1].removesuffix("\r").encode("utf-16-le")) // 2),
                            history_shown=len(x.edits), related_shown=len(x.related))

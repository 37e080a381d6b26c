"""POST /v1/completions/render: the exact prompt the model would see for a completion request.

So a user can check what their plugin sends and what codefill does with it:
the prompt's text (FIM markers included) and token count, the language and
mode the request resolved to, what trimming to the context window dropped,
the healed text (token healing), and which `input_extra` files made it into
the prompt, with what they cost. It runs `CompletionService.prepare`, the
code path a completion takes (the prompt stage's `render_prompt`), and
generates nothing: no admission, no engine time beyond tokenizing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from .protocol import CompletionRequest, ErrorResponse

router = APIRouter()


class RenderedPrompt(BaseModel):
    index: int
    text: str = Field(description="the prompt as the model sees it (special tokens written out)")
    tokens: int = Field(description="its length in tokens")
    language: str | None = Field(description="the language post-processing uses (given, from the file name, "
                                             "or inferred from the code)")
    mode: str = Field(description="single_line, multi_line or raw")
    healed: str = Field(description="text taken off the prompt's end for the model to choose again")
    trimmed_prefix_chars: int = Field(description="characters of the prefix left out to fit the context")
    trimmed_suffix_chars: int
    context_tokens: int = Field(description="tokens of other files' declarations (input_extra) in the prompt")
    context_files: list[str] = Field(description="the input_extra files whose declarations are in the prompt")


class Rendered(BaseModel):
    object: str = "completion.render"
    model: str
    max_tokens: int
    prompts: list[RenderedPrompt]


@router.post("/v1/completions/render", response_model=Rendered,
             responses={c: {"model": ErrorResponse} for c in (400, 401, 404, 503)},
             summary="The exact prompt the model would see for this completion request (nothing is generated)")
async def render_completion(body: CompletionRequest, request: Request) -> Rendered:
    service = request.app.state.service
    engine = service.engine
    prompts, max_tokens = service.check(body)
    out = []
    for i, prompt in enumerate(prompts):
        language, post, shown = service.prepare(prompt, body, max_tokens, getattr(request.state, "key", None))
        out.append(RenderedPrompt(index=i, text=engine.detokenize(shown.tokens), tokens=len(shown.tokens),
                                  language=language, mode=post.mode, healed=shown.heal,
                                  trimmed_prefix_chars=shown.built.trimmed_prefix_chars,
                                  trimmed_suffix_chars=shown.built.trimmed_suffix_chars,
                                  context_tokens=shown.crossfile_tokens, context_files=list(shown.crossfile_files)))
    return Rendered(model=body.model, max_tokens=max_tokens, prompts=out)

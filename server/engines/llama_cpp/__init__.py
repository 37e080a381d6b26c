"""The embedded default engine: llama.cpp through llama-cpp-python, on the CPU,
serving many editor sessions at once (continuous batching).

One llama.cpp context holds up to `sequences` sequences. A worker thread runs
the step loop (`scheduler.py`): each step is one batch with the next token of
every sequence that is generating and chunks of the prompts still being read,
within a per-step token budget (`step_tokens`), so requests join and leave
between steps and a long prompt never stalls anyone's next token.

- `slots.py`: the sequences and what each holds. An editor session keeps its
  KV cells in its sequence between keystrokes; a session's prompt that starts
  like another sequence's tokens of the same cache salt (tenant) shares that
  head (`seq_cp`) instead of computing it again.
- `states.py`: idle sessions' KV states in RAM, when a new session needs their
  sequence; they come back on the session's next keystroke.
- `decoding.py`: greedy and sampled decoding, token healing, logprobs,
  prompt-lookup speculation, and the forecast: when a keystroke's whole prompt
  is in its session's sequence and the sequence goes on past it (the user
  typed what the session's last answer began with, and that answer could not
  be typed through: abandoned or superseded while it was decoded, or asked
  with other options), the rest of the sequence
  is the new answer's drafts, from the prompt's last token on, with or without
  `--speculative` (greedy requests; counted in `codefill_engine_forecasts_total`
  and `codefill_engine_forecast_{draft,accepted}_tokens_total`, apart from prompt lookup's).
- `context.py`: the context, through llama-cpp-python's low-level API.
- `engine.py`: the Engine protocol (`generate`, supersede, cancellation).

Cold window: a request may carry a shorter version of its prompt
(`GenerationRequest.cold_tokens`). When the cache holds so little of the full
prompt that evaluating it would cost more than `cold_saving` tokens beyond
the short one, the short one is answered, and the full prompt is evaluated
as low-priority prefill whenever a step has nothing interactive to do; the
next keystroke there reuses it. A request may also carry the session's last
short prompt grown to the cursor (`kept_tokens`): of the two short ones, the
one the cache holds more of is evaluated (`GenerationResult.cold_kept`). And
the window at the smallest share (`small_tokens`): taken, at placement or
while a longer one is still being read, once another session's request is in
the engine (`GenerationResult.cold_small`).

Settings and their defaults (codefill/config.py):
- `--sequences` (8): llama.cpp's `n_seq_max`; each sequence has `n_ctx` KV
  cells of its own (context.py; the default model: 90 MiB per sequence at
  4096). More requests than sequences wait in the engine's queue, first come
  first served (`max_sequences` tells the fair queue, service/fair.py, how many
  run at once).
- `--step-tokens` (128, at most `--n-batch`): the per-step token budget;
  decode comes first, prompt chunks fill the rest, and when several tenants
  have work the budget is shared between them (shares.py).
- `--session-cache-mb` (512): the RAM for idle sessions' states (states.py);
  states are kept per session and per kind, the full and the cold window.
- `--cold-window` (384 tokens; the prompt stage builds it, prompt/fitting.py):
  the short prompt is answered when the full one would cost more than 192
  tokens (`cold_saving`) beyond it; the full one then grows 64 tokens a step
  (`scheduler.GROW_CHUNK`) once the engine has had no request for
  `--grow-after` seconds (0.25): an editor's next keystroke usually comes
  sooner and then does not wait for a chunk; one that comes during the
  growth waits at most one chunk.
- `--speculative ngram` (off by default here: on the default model and the
  replay workload it did not pay off, docs/BENCHMARKS.md): prompt-lookup
  drafts (engines/lookup.py) of up to `--num-speculative-tokens` go into the
  step's batch with logits for every position; a draft is kept while each
  token is the model's own argmax and the rest of its KV cells are removed,
  so answers equal one-token-at-a-time decoding (tested). Counted in
  `codefill_speculative_{draft,accepted}_tokens_total`.

Sessions are (tenant, OpenAI `user`) (`session_key`); nothing is shared or
reused across cache salts, not even what a sequence last held. Shared heads
are counted in `codefill_engine_shared_prefix_tokens_total`. `drop_cache`
(the admin API) forgets a salt's or a session's states, in the context and in
RAM, run by the step loop between steps. A newer request of a session
supersedes its queued or running one (409 `superseded`, or an error event in
its stream once text was sent); a superseded or cancelled request (the client
left, a filter saw enough) leaves its sequence at the next step. `n > 1` and lists of prompts
run as parallel sequences in the same steps; only the first choice carries
the session (the others would supersede it). Generation stops on the model's
end-of-generation tokens, the family's stop tokens, `max_tokens` or the
context's end. Sampling (decoding.py) is numpy over the sequence's logits
row: temperature, top-p, presence/frequency penalties over the last 64
tokens, `seed`; logprobs come from the same row.
"""

from .engine import LlamaCppEngine, check_settings
from .states import _SavedSession, _SessionStates

__all__ = ["LlamaCppEngine", "check_settings", "_SavedSession", "_SessionStates"]

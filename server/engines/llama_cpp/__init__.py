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
  prompt-lookup speculation.
- `context.py`: the context, through llama-cpp-python's low-level API.
- `engine.py`: the Engine protocol (`generate`, supersede, cancellation).

Cold window: a request may carry a shorter version of its prompt
(`GenerationRequest.cold_tokens`). When the cache holds so little of the full
prompt that evaluating it would cost more than `cold_saving` tokens beyond
the short one, the short one is answered, and the full prompt is evaluated
as low-priority prefill whenever a step has nothing interactive to do; the
next keystroke there reuses it.
"""

from .engine import LlamaCppEngine, check_settings
from .states import _SavedSession, _SessionStates

__all__ = ["LlamaCppEngine", "check_settings", "_SavedSession", "_SessionStates"]

"""The post-processing filters, one module each, and the order a completion
passes through them.

Each filter has a `name` (what `codefill serve --disable-filter` takes) and a
`for_site` that sets it up for one completion, or says it has nothing to do
there (SingleLine outside `single_line` mode, SyntaxCheck without a grammar).
StopSequences is the request's own `stop` and always comes first; it is not
in ORDER and cannot be switched off. A new filter is a module with a `name`
and a `for_site`, and a place in ORDER.

The request's language is `detect_language(language, filepath)`, else
`infer_language` (server/languages.py). Filters marked (ts) use its
tree-sitter grammar; without one they fall back to language-agnostic rules
or are left out.

| filter | what it fixes |
|---|---|
| StopSequences | OpenAI `stop`, also when a sequence arrives split over tokens. On an empty cursor line (editor modes) only after the answer's first code character: a model that starts with a blank line would otherwise meet a client's `stop: ["\\n"]` and answer nothing |
| CodeFence | chat-tuned models wrapping code in Markdown fences |
| IndentStyle | indentation in another style than the file's: tabs/spaces, 4 vs 2 per level (the file's unit from the code around the cursor; the model's level only from the step after a line of its own that opens a block, never from a first line or a comment) |
| LeadingBlankLines | blank lines before code; indentation the editor already has (or less than it has) |
| SingleLine | one line only (or the next line when the cursor is at the end of one) |
| BlockEnd | multi-line: ends before the first line indented less than the body's first line |
| BracketBalance (ts) | closing brackets the suffix already has (editor-inserted): ends before one; a needed one is kept and a multi-line completion ends with its line. With a grammar: does the bracket add syntax errors to prefix + completion + suffix; without: count open vs suffix-closed brackets |
| SyntaxCheck (ts, multi-line) | per completed line, parse prefix + completion + suffix; end at the last point with no error node in the completion (prose, half-written statements). Lines inside an open bracket wait for its close. Streams by lines; re-parses incrementally (`Tree.edit` + the old tree) |
| SuffixRepeat | the completion writing again the line that follows the cursor (bracket-only lines are BracketBalance's) |
| RepeatsAbove | a copy of one of the last 3 code lines above the cursor (small models do this a lot) |
| LoopStop | multi-line: a line repeating the previous one, or written a third time |
| InlineLoop | a loop inside a line: a piece of 8+ characters written again right after itself (`"X", "X", "X", ...` in a list, to `max_tokens`); ends before the copy, which also stops the engine |
| SuffixOverlap | `x = |;` answered `5;`: the end that the rest of the line already holds (closing brackets: BracketBalance decided) |
| TrailingWhitespace | whitespace at the very end; with LeadingBlankLines, never an answer of whitespace alone |

Streaming stays streaming: filters hold back only what they cannot decide
yet (a possible stop sequence or fence, a line that might become a repeat,
leading whitespace until the line's code starts, and in SyntaxCheck the
current line until it ends: a parser cannot judge half a line). Parses run
when a line ends or at a closing bracket that closes code before the cursor,
never per token, on at most 32k characters before the cursor and 16k after
(`lexer.PARSE_PREFIX_CHARS`, `PARSE_SUFFIX_CHARS`; about 1 ms per request on
a 120-line window, docs/BENCHMARKS.md). Line-level repeats count only lines
of 6+ characters with a letter or digit (`}` or `pass` twice is no mistake).

`--disable-filter NAME` (repeatable; `all` for every filter but
StopSequences) leaves filters out. `codefill bench quality --ablate` measures
each filter that way: a server with every filter off records the model's raw
tokens per task once, and each variant is the same `plan` fed those tokens
(codefill/bench/ablation.py); filters only cut and re-indent, so this equals
a server per variant, and `--verify-every K` checks it against a live server.
`tests/golden/` holds one case per file (cursor, raw model output, expected
completion; see its README), which `tests/unit/test_golden.py` feeds through
the real pipeline whole, in model-like tokens and character by character.
"""

from __future__ import annotations

from .block_end import BlockEnd
from .bracket_balance import BracketBalance
from .code_fence import CodeFence
from .indent_style import IndentStyle
from .leading_blank_lines import LeadingBlankLines
from .inline_loop import InlineLoop
from .loop_stop import LoopStop
from .repeats_above import RepeatsAbove
from .single_line import SingleLine
from .stop_sequences import StopSequences
from .suffix_overlap import SuffixOverlap
from .suffix_repeat import SuffixRepeat
from .syntax_check import SyntaxCheck
from .trailing_whitespace import TrailingWhitespace

# The order matters: IndentStyle rewrites indentation before LeadingBlankLines
# drops what the editor has; SingleLine/BlockEnd cut before the brackets and
# repeats are judged; SuffixOverlap trusts BracketBalance's verdict on brackets;
# TrailingWhitespace sees the final text.
ORDER = (
    CodeFence,
    IndentStyle,
    LeadingBlankLines,
    SingleLine,
    BlockEnd,
    BracketBalance,
    SyntaxCheck,
    SuffixRepeat,
    RepeatsAbove,
    LoopStop,
    InlineLoop,
    SuffixOverlap,
    TrailingWhitespace,
)

__all__ = ["ORDER", "BlockEnd", "BracketBalance", "CodeFence", "IndentStyle", "InlineLoop", "LeadingBlankLines",
           "LoopStop", "RepeatsAbove", "SingleLine", "StopSequences", "SuffixOverlap", "SuffixRepeat", "SyntaxCheck",
           "TrailingWhitespace"]

"""The post-processing filters, one module each, and the order a completion
passes through them.

Each filter has a `name` (what `codefill serve --disable-filter` takes) and a
`for_site` that sets it up for one completion, or says it has nothing to do
there (SingleLine outside `single_line` mode, SyntaxCheck without a grammar).
StopSequences is the request's own `stop` and always comes first; it is not
in ORDER and cannot be switched off.
"""

from __future__ import annotations

from .block_end import BlockEnd
from .bracket_balance import BracketBalance
from .code_fence import CodeFence
from .indent_style import IndentStyle
from .leading_blank_lines import LeadingBlankLines
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
    SuffixOverlap,
    TrailingWhitespace,
)

__all__ = ["ORDER", "BlockEnd", "BracketBalance", "CodeFence", "IndentStyle", "LeadingBlankLines", "LoopStop",
           "RepeatsAbove", "SingleLine", "StopSequences", "SuffixOverlap", "SuffixRepeat", "SyntaxCheck",
           "TrailingWhitespace"]

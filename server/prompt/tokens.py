"""Tokenizing an editor's window a piece at a time, with the pieces remembered.

Every keystroke sends the ~120 lines around the cursor, of which only the
cursor's line changed, and llama.cpp's tokenizer costs milliseconds per
thousand characters: three passes over a window were ~21 ms of the server's
~30 ms of CPU per keystroke (docs/BENCHMARKS.md, "Where four typists' time
goes"). `LineTokens` cuts a text where a BPE pre-tokenizer cuts anyway (before
the last whitespace character of each run of whitespace that holds a line
break and is followed by a name: `pieces`), tokenizes each piece once and
remembers it, least recently used dropped first. The concatenation is the
text's own tokenization. Whether that holds for a vocabulary is checked once,
on sample code (`cuts_safely`); where it does not (a SentencePiece vocabulary
that prefixes every text with a space, say), texts are tokenized whole.

The memory is per cache salt, like the KV cache: one tenant's code never makes
another tenant's tokenization faster (a timing side channel), and the admin
API's drop forgets it with the KV states (`TokenMemory.drop`).
"""

from __future__ import annotations

import re
from array import array
from collections import OrderedDict

from ..tenants import salt_covers
from ..engines.vocab import Vocabulary

# Where a piece ends: before the last character of a whitespace run that holds a line break and comes before a
# letter or an underscore (a name: pre-tokenizers give it the space before it; a digit, say, they do not).
_CUT = re.compile(r"\s*\n\s*(?=[^\W\d])")
# Characters of pieces remembered per cache salt (a few files' windows), and the longest piece worth
# remembering. With SALTS salts at most ~50 MB in all.
CHARS = 512 * 1024
LONGEST = 4096
# Cache salts with a memory of their own (least recently used dropped first).
SALTS = 64

# Code for the check besides the generated cuts: tabs, CRLF, blank lines with spaces, braces, non-ASCII.
_SAMPLES = (
    "function add(a, b) {\n\treturn a + b;\n}\n\n\t\n// done\r\nconst x = {\r\n  \"k\": [1, 2],\r\n};\r\n",
    "#include <stdio.h>\n\nint main(void) {\n    printf(\"héllo wörld\\n\");  \n\n\n    return 0;\n}\n",
    "def f():\n    '''Doc.\n\n    More.'''\n        \n    return {  # ünïcode\n        1: 2,\n    }\n",
)


def pieces(text: str) -> list[str]:
    """`text` cut where a BPE pre-tokenizer cuts anyway; "".join(pieces(text)) == text."""
    out, start = [], 0
    for m in _CUT.finditer(text):
        cut = m.end() - 1
        if cut > start:
            out.append(text[start:cut])
            start = cut
    out.append(text[start:])
    return out


def _every_cut() -> str:
    """Every kind of place `pieces` cuts at: a name after each kind of whitespace run with a line break,
    after each kind of character."""
    before = ("a", "1", ")", "'", "é", "  ")
    runs = ("\n", "\n\n", "\n ", "\n    ", "\n\t", "\r\n  ", "  \n ", "\n \n   ", "\t\n\t\t", "\n\n\n        ")
    after = ("x", "_y", "é", "1", "(")  # names, where it cuts; a digit and a bracket, where it must not
    return "".join(f"{b}{r}{a} = 1" for b in before for r in runs for a in after)


def cuts_safely(vocab: Vocabulary) -> bool:
    """Whether tokenizing `pieces` one by one gives `vocab`'s tokens for the whole, on sample code
    (once per server, when its first completion makes the `TokenMemory`: ~250 short tokenizer calls)."""
    for text in (_every_cut(), *_SAMPLES):
        whole = vocab.tokenize(text, add_bos=True)
        if whole != LineTokens(vocab, safe=True).tokenize(text, add_bos=True):
            return False
    return True


class LineTokens:
    """A `Vocabulary` whose plain-text tokenization goes piece by piece through a memory."""

    def __init__(self, vocab: Vocabulary, *, safe: bool, chars: int = CHARS) -> None:
        self.vocab = vocab
        self.safe = safe
        self.chars = chars
        self._memo: OrderedDict[str, array] = OrderedDict()
        self._held = 0  # characters of the pieces in the memory

    def __getattr__(self, name: str):  # n_vocab, detokenize, special tokens: the vocabulary's own
        return getattr(self.vocab, name)

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        if special or not self.safe:
            return self.vocab.tokenize(text, special=special, add_bos=add_bos)
        out = self.vocab.tokenize("", add_bos=True) if add_bos else []
        for piece in pieces(text):
            if not piece:
                continue
            tokens = self._memo.get(piece)
            if tokens is not None:
                self._memo.move_to_end(piece)
                out.extend(tokens)
                continue
            fresh = self.vocab.tokenize(piece)
            out += fresh
            if len(piece) <= LONGEST:
                self._memo[piece] = array("i", fresh)
                self._held += len(piece)
                while self._held > self.chars:
                    old, _ = self._memo.popitem(last=False)
                    self._held -= len(old)
        return out


class TokenMemory:
    """One `LineTokens` per cache salt, for the prompt stage."""

    def __init__(self, vocab: Vocabulary, *, salts: int = SALTS) -> None:
        self.vocab = vocab
        self.salts = salts
        self._safe = cuts_safely(vocab)
        self._by_salt: OrderedDict[str | None, LineTokens] = OrderedDict()

    def for_salt(self, salt: str | None) -> LineTokens:
        tokens = self._by_salt.get(salt)
        if tokens is None:
            tokens = self._by_salt[salt] = LineTokens(self.vocab, safe=self._safe)
            if len(self._by_salt) > self.salts:
                self._by_salt.popitem(last=False)
        else:
            self._by_salt.move_to_end(salt)
        return tokens

    def drop(self, salt: str | None) -> None:
        """Forget what `salt` and the salts narrowed from it tokenized (`salt_covers`, as the engines' drop)."""
        for key in [k for k in self._by_salt if salt_covers(salt, k)]:
            del self._by_salt[key]

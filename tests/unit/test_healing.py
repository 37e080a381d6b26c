"""Token healing: which end of a prompt goes back to the model, and which tokens may replace it."""

import numpy as np

from codefill.server.engines.healing import Healer, _successor, best_allowed

# A toy vocabulary: whole words with their space, a bare space, pieces of words.
VOCAB = {0: b" ", 1: b" is", 2: b" isinstance", 3: b" None", 4: b"x", 5: b".", 6: b".join", 7: b"jo", 8: b"join",
         9: b"\n", 10: b"    ", 11: b"        ", 12: b"", 13: b"\xff", 14: b"\xff\xff"}


def tokenize(text: str) -> list[int]:
    """Greedy longest match over VOCAB, enough to find a prompt's last token."""
    data, out = text.encode(), []
    while data:
        t = max((t for t, p in VOCAB.items() if p and data.startswith(p)), key=lambda t: len(VOCAB[t]))
        out.append(t)
        data = data[len(VOCAB[t]):]
    return out


def test_extensions_are_the_tokens_that_begin_with_a_text():
    h = Healer(VOCAB)
    assert sorted(h.extensions(b" ").tolist()) == [0, 1, 2, 3, 10, 11]
    assert sorted(h.extensions(b" is").tolist()) == [1, 2]
    assert sorted(h.extensions(b".").tolist()) == [5, 6]
    assert h.extensions(b"zz").tolist() == []
    assert sorted(h.extensions(b"\xff").tolist()) == [13, 14]  # no byte after 0xff: the range runs to the end
    assert _successor(b"a\xff") == b"b" and _successor(b"\xff\xff") is None


def test_the_last_token_goes_back_when_another_token_begins_with_it():
    h = Healer(VOCAB)
    assert h.heal_text(tokenize, "x is") == " is"  # ` isinstance` begins with it
    assert h.heal_text(tokenize, "x.") == "."
    assert h.heal_text(tokenize, "x ") == " "
    assert h.heal_text(tokenize, "x None") == ""  # nothing else begins with ` None`
    assert h.heal_text(tokenize, "x\n") == ""  # a line's end: the filters' business
    assert h.heal_text(tokenize, " is") == ""  # the whole prompt: nothing would be left
    assert h.heal_text(tokenize, "") == ""
    assert h.heal_text(tokenize, "x\n    ") == "    "  # indentation can become deeper indentation


def test_the_first_token_is_the_best_of_the_allowed():
    logits = np.array([0.0, 5.0, 1.0, 9.0, 2.0])
    assert best_allowed(logits, np.array([0, 2, 4])) == 4
    assert best_allowed(logits, np.array([1])) == 1

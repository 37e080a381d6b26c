"""FIM templates against the literal forms in the model cards, and recognition."""

import pytest

from codefill.server.prompt.families import FAMILIES, Segment, detect_family, get_family

P, S = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"

# The prompt each model card shows, written out by hand (not from the template).
CARD_FORMS = {
    "starcoder": "<fim_prefix>" + P + "<fim_suffix>" + S + "<fim_middle>",
    "codellama": "<PRE> " + P + " <SUF>" + S + " <MID>",
    "deepseek-coder": "<｜fim▁begin｜>" + P + "<｜fim▁hole｜>" + S + "<｜fim▁end｜>",
    "qwen2.5-coder": "<|fim_prefix|>" + P + "<|fim_suffix|>" + S + "<|fim_middle|>",
    "codegemma": "<|fim_prefix|>" + P + "<|fim_suffix|>" + S + "<|fim_middle|>",
    "codestral": "[SUFFIX]" + S + "[PREFIX]" + P,
}


@pytest.mark.parametrize("name", sorted(CARD_FORMS))
def test_template_matches_model_card(name):
    assert FAMILIES[name].render(P, S) == CARD_FORMS[name]


@pytest.mark.parametrize("name", sorted(CARD_FORMS))
def test_markers_are_special_and_user_text_is_not(name):
    family = FAMILIES[name]
    segments = family.segments(P, S)
    assert [s.text for s in segments if s.special] == [m for m in _markers_in_order(family)]
    assert Segment(P) in segments and Segment(S) in segments
    # A file that contains a marker must not become a marker.
    sneaky = family.segments("x = '<fim_middle>'", "")
    assert Segment("x = '<fim_middle>'") in sneaky


def _markers_in_order(family):
    order = []
    text = family.template
    while True:
        found = [(text.find(m), m) for m in family.markers if text.find(m) >= 0]
        if not found:
            return order
        pos, marker = min(found)
        order.append(marker)
        text = text[pos + len(marker):]


def test_codellama_keeps_its_spaces():
    segments = FAMILIES["codellama"].segments("a", "b")
    assert [(s.text, s.special) for s in segments] == [
        ("<PRE>", True), (" ", False), ("a", False), (" ", False), ("<SUF>", True), ("b", False),
        (" ", False), ("<MID>", True),
    ]


def test_prefix_only_family_ignores_suffix():
    none = FAMILIES["none"]
    assert not none.supports_fim
    assert none.render(P, S) == P


def test_every_fim_family_stops_on_an_end_token():
    for family in FAMILIES.values():
        assert family.stop_tokens, family.name


class Vocab:
    def __init__(self, *tokens):
        self.tokens = set(tokens)

    def has_special_token(self, text):
        return text in self.tokens


@pytest.mark.parametrize("name", ["starcoder", "codellama", "deepseek-coder", "qwen2.5-coder", "codegemma", "codestral"])
def test_detects_family_from_its_tokens(name):
    family = FAMILIES[name]
    assert detect_family(Vocab(*family.detect_tokens, *family.stop_tokens)).name == name


def test_qwen_and_codegemma_share_markers_but_are_told_apart():
    markers = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
    assert detect_family(Vocab(*markers, "<|repo_name|>", "<|fim_pad|>")).name == "qwen2.5-coder"
    assert detect_family(Vocab(*markers, "<|file_separator|>")).name == "codegemma"


def test_no_fim_tokens_means_prefix_only():
    assert detect_family(Vocab("<|endoftext|>", "<|im_start|>")).name == "none"


def test_unknown_family_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="starcoder"):
        get_family("gpt-17")


# -- PSM / SPM order ---------------------------------------------------------

def test_orders_per_family():
    assert FAMILIES["starcoder"].orders == ("psm", "spm")
    assert FAMILIES["codellama"].orders == ("psm", "spm")
    assert FAMILIES["codestral"].orders == ("spm",)
    for name in ("deepseek-coder", "qwen2.5-coder", "codegemma", "none"):
        assert FAMILIES[name].orders == ("psm",), name


def test_auto_order_puts_the_suffix_first_where_the_family_allows():
    star = FAMILIES["starcoder"].in_order("auto")
    assert star.order == "spm"
    assert star.render("def f(", "):\n") == "<fim_prefix><fim_suffix>):\n<fim_middle>def f("
    assert FAMILIES["starcoder"].in_order("psm").render("a", "b") == "<fim_prefix>a<fim_suffix>b<fim_middle>"
    assert FAMILIES["codellama"].in_order("spm").render("a", "b") == "<PRE> <SUF>b <MID> a"
    assert FAMILIES["qwen2.5-coder"].in_order("auto") is FAMILIES["qwen2.5-coder"]
    assert FAMILIES["codestral"].in_order("auto").render("a", "b") == "[SUFFIX]b[PREFIX]a"


def test_spm_segments_keep_markers_special():
    segs = FAMILIES["starcoder"].in_order("spm").segments("x = ", "\n")
    assert [(s.text, s.special) for s in segs] == [
        ("<fim_prefix>", True), ("<fim_suffix>", True), ("\n", False), ("<fim_middle>", True), ("x = ", False)]


def test_an_order_the_family_lacks_is_refused():
    with pytest.raises(ValueError, match="no SPM form"):
        FAMILIES["qwen2.5-coder"].in_order("spm")
    with pytest.raises(ValueError, match="no PSM form"):
        FAMILIES["codestral"].in_order("psm")

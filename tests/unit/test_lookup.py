"""Prompt-lookup drafts (speculative decoding's proposer)."""

import pytest

from codefill.server.engines.lookup import PromptLookup


def test_proposes_what_followed_the_latest_match():
    # ... 1 2 3 [4 5 6] ... 1 2 3 [7 8] ... 1 2 3 -> the latest match wins: 7 8 ...
    lookup = PromptLookup([1, 2, 3, 4, 5, 6, 9, 1, 2, 3, 7, 8, 9, 1, 2, 3], draft_max=3)
    assert lookup.propose() == [7, 8, 9]


def test_longer_ngrams_win_over_shorter():
    # The 1-gram "3" last appeared before 0; the 2-gram "2 3" before 4.
    lookup = PromptLookup([2, 3, 4, 5, 9, 3, 0, 0, 2, 3], ngram_min=1, draft_max=2)
    assert lookup.propose() == [4, 5]


def test_no_match_no_draft():
    assert PromptLookup([1, 2, 3, 4, 5]).propose() == []
    assert PromptLookup([]).propose() == []
    assert PromptLookup([7]).propose() == []


def test_ngram_min_is_respected():
    # Only the last token (5) occurred before: a 1-gram, below ngram_min=2.
    assert PromptLookup([5, 6, 7, 1, 5], ngram_min=2).propose() == []
    assert PromptLookup([5, 6, 7, 1, 5], ngram_min=1, draft_max=2).propose() == [6, 7]


def test_draft_never_runs_past_what_is_known():
    lookup = PromptLookup([1, 2, 3, 1, 2], draft_max=8)
    assert lookup.propose() == [3, 1, 2]


def test_extra_tokens_are_a_source_and_a_draft_stops_at_their_end():
    # The suffix holds "4 5 6 7 8"; the context ends with "4 5".
    lookup = PromptLookup([9, 9, 4, 5], extra=[4, 5, 6, 7], draft_max=8)
    assert lookup.propose() == [6, 7]


def test_appended_tokens_are_matched_too():
    lookup = PromptLookup([1, 2, 3, 4], draft_max=2)
    assert lookup.propose() == []
    for t in (5, 1, 2):
        lookup.append(t)
    assert lookup.propose() == [3, 4]
    for _ in range(5000):  # grows past its first allocation
        lookup.append(0)
    assert len(lookup) == 5007


def test_bad_ngram_range():
    with pytest.raises(ValueError):
        PromptLookup([1], ngram_min=0)

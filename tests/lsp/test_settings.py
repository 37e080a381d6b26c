"""Settings from `codefill lsp` flags, initializationOptions and
workspace/didChangeConfiguration."""

from __future__ import annotations

from codefill.lsp.settings import Settings, merge


def test_camel_and_snake_case_at_top_level_or_in_a_section():
    s, problems = merge(Settings(), {"serverUrl": "http://gpu-box:9000", "max_tokens": 64})
    assert (s.server_url, s.max_tokens, problems) == ("http://gpu-box:9000", 64, [])
    s, problems = merge(s, {"codefill": {"mode": "single_line", "languages": ["python", "rust"]}})
    assert (s.mode, s.languages, s.server_url, problems) == ("single_line", ("python", "rust"),
                                                            "http://gpu-box:9000", [])


def test_only_named_keys_change():
    s, _ = merge(Settings(), {"apiKey": "k1", "timeoutMs": 900})
    s, _ = merge(s, {"prewarm": False})
    assert (s.api_key, s.timeout_ms, s.prewarm) == ("k1", 900, False)


def test_bad_values_are_reported_and_the_old_value_kept():
    s, problems = merge(Settings(), {"maxTokens": -3, "mode": "sometimes", "serverUrl": "localhost:8000",
                                     "languages": "python", "prewarm": "yes", "maxTokenz": 5})
    assert s.max_tokens == 128 and s.mode == "auto" and s.server_url == "http://127.0.0.1:8000"
    assert s.prewarm is True
    assert s.languages == ("python",)  # one language id as a string is fine
    assert len(problems) == 5
    assert any("maxTokenz" in p for p in problems)
    _, problems = merge(Settings(), ["not", "an", "object"])
    assert problems


def test_other_servers_settings_are_not_ours():
    s, problems = merge(Settings(), {"python": {"analysis": {}}, "rust-analyzer": {}})
    assert (s, problems) == (Settings(), [])


def test_normalisation():
    s, _ = merge(Settings(), {"serverUrl": "http://h:1/v1/", "mode": "multiLine", "apiKey": ""})
    assert (s.server_url, s.mode, s.api_key) == ("http://h:1", "multi_line", None)


def test_enabled_languages():
    assert Settings().enabled_for("anything")
    s, _ = merge(Settings(), {"languages": ["python"]})
    assert s.enabled_for("python") and not s.enabled_for("markdown")


def test_next_edit_settings():
    s, problems = merge(Settings(), {"codefill": {"inlineNextEdits": "always", "nextEditMaxTokens": 96}})
    assert (s.inline_next_edits, s.next_edit_max_tokens, problems) == ("always", 96, [])
    s, problems = merge(s, {"codefill": {"inlineNextEdits": "sometimes", "nextEditMaxTokens": 0}})
    assert (s.inline_next_edits, s.next_edit_max_tokens) == ("always", 96) and len(problems) == 2
    assert "invoked, always, off" in problems[0]
    assert merge(s, {"codefill": {"nextEditMaxTokens": None}})[0].next_edit_max_tokens is None


def test_deadline_ms():
    assert Settings().deadline_ms == 1500
    s, problems = merge(Settings(), {"codefill": {"deadlineMs": 800}})
    assert (s.deadline_ms, problems) == (800, [])
    assert merge(s, {"deadline_ms": 0})[0].deadline_ms == 0  # 0: not sent
    s, problems = merge(s, {"deadlineMs": 60001})
    assert s.deadline_ms == 800 and "at most 60000" in problems[0]
    s, problems = merge(s, {"deadlineMs": -1})
    assert s.deadline_ms == 800 and problems

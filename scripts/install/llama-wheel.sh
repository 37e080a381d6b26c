#!/usr/bin/env bash
# Prints the path of a llama-cpp-python wheel (the version pyproject.toml pins) compiled for this
# CPU, building it the first time (about 5 minutes on 2 cores) into a folder outside the tree that
# later installs, fresh clones and virtualenvs reuse: ~/.cache/codefill/wheels/ (CODEFILL_WHEELS).
#
# llama.cpp is compiled with -march=native. Where the CPU reports AMX but faults on its
# instructions (some virtual machines), AMX is compiled out (codefill/native_flags.py): otherwise
# llama.cpp crashes on its first quantized matrix multiplication. The folder's name carries the
# compiler flags, so a wheel is never reused under other flags (pip's own wheel cache would).
# CMAKE_ARGS from the environment is passed on (e.g. -DGGML_CUDA=on).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pip=${PIP:-pip}
python=$("$pip" --version | sed -n 's/.*(python \([0-9.]*\)).*/\1/p')
version=$(sed -n 's/^ *"llama-cpp-python==\([^"]*\)".*/\1/p' "$root/pyproject.toml")
[ -n "$version" ] || { echo "llama-wheel.sh: no llama-cpp-python pin in pyproject.toml" >&2; exit 1; }

flags=$(python3 "$root/codefill/native_flags.py")  # AMX compiled out where it faults (see there)
[ -z "$flags" ] || echo ">>> this CPU reports AMX but faults on it: llama.cpp is compiled without AMX" >&2
cmake_args="${CMAKE_ARGS:-}${flags:+ -DCMAKE_C_FLAGS='$flags' -DCMAKE_CXX_FLAGS='$flags'}"
key=$(printf '%s|%s|%s|%s' "$version" "$python" "$cmake_args" "$(uname -m)" | sha256sum | cut -c1-12)
dir="${CODEFILL_WHEELS:-$HOME/.cache/codefill/wheels}/llama-cpp-python-$version-$key"

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9  # one build at a time; a second caller waits and then takes the built wheel
wheel=$(ls "$dir"/llama_cpp_python-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo ">>> compiling llama.cpp (llama-cpp-python $version) for this CPU, once: about 5 minutes" >&2
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    CMAKE_ARGS="$cmake_args" "$pip" wheel --disable-pip-version-check --no-deps --no-cache-dir \
        --no-binary llama-cpp-python -w "$dir.partial" "llama-cpp-python==$version" >&2
    rm -rf "$dir" && mv "$dir.partial" "$dir"
    wheel=$(ls "$dir"/llama_cpp_python-*.whl | head -n 1)
fi
echo "$wheel"

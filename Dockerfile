# syntax=docker/dockerfile:1
# codefill's images, one file, two targets (docker-compose.yml builds both):
#
#   cpu      codefill on the CPU, python:3.11-slim: the llama.cpp engine with the default model,
#            or gateway mode (`codefill serve --upstream URL`) in front of vLLM
#   vllm     codefill with its in-process vLLM engine (`--engine vllm`) on an NVIDIA GPU, on top
#            of vLLM's own image (CUDA, PyTorch and vLLM already in it)
#
#   docker build --target cpu -t codefill:cpu .
#   docker build --target vllm -t codefill:vllm .
#
# Both install what the `build` stage makes: codefill's wheel (`pip wheel .`, as a user would)
# and its dependencies' wheels. llama-cpp-python compiles llama.cpp there, once (a few minutes),
# for any x86-64 CPU with AVX2 rather than for the building machine's own (GGML_NATIVE=OFF): an
# image runs on other machines than the one that built it.

ARG VLLM_IMAGE=vllm/vllm-openai:v0.33.0

FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY codefill codefill
COPY server server
COPY models models
COPY lsp lsp
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS cpu
# llama.cpp's threads (OpenMP); the compilers stay in the build stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels codefill \
 && codefill models fetch default
ENV CODEFILL_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
ENTRYPOINT ["codefill", "serve"]

FROM ${VLLM_IMAGE} AS vllm
# vLLM comes with the base image; codefill adds its server around it. The build stage's wheels
# that fit this image's Python are used (codefill's, llama-cpp-python's, the pure-Python ones);
# the rest come from PyPI.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python3 -m pip install --no-cache-dir --find-links /wheels codefill
ENV CODEFILL_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s \
  CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
ENTRYPOINT ["codefill", "serve", "--engine", "vllm"]

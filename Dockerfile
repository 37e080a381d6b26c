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
# llama-cpp-python compiles llama.cpp while the image builds (a few minutes).

ARG VLLM_IMAGE=vllm/vllm-openai:v0.33.0

FROM python:3.11-slim-bookworm AS cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/codefill
COPY pyproject.toml README.md ./
COPY codefill codefill
COPY server server
COPY models models
COPY lsp lsp
RUN pip install --no-cache-dir . \
 && codefill models fetch default
ENV CODEFILL_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
ENTRYPOINT ["codefill", "serve"]

FROM ${VLLM_IMAGE} AS vllm
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/codefill
COPY pyproject.toml README.md ./
COPY codefill codefill
COPY server server
COPY models models
COPY lsp lsp
# vLLM comes with the base image; codefill adds its server around it.
RUN python3 -m pip install --no-cache-dir .
ENV CODEFILL_HOST=0.0.0.0
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=300s \
  CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
ENTRYPOINT ["codefill", "serve", "--engine", "vllm"]

"""docker-compose.yml parses for every profile (`docker compose config`, or
Debian's `docker-compose`; no Docker engine needed), and what it runs makes
sense: nginx runs the shipped config and that config lists every CPU replica,
every vLLM replica is a backend of the session router and the gateway's one
upstream is that router, codefill's flags are codefill's, the images' build
targets exist in the Dockerfile, the vLLM image is the `vllm` extra's version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from codefill.cli import build_parser
from tests.helpers import ROOT


def _compose() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")  # Debian's package; `make test` installs it
    return [legacy] if legacy else None


COMPOSE = _compose()
pytestmark = pytest.mark.skipif(COMPOSE is None, reason="neither `docker compose` nor `docker-compose` is installed")


def config(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("CODEFILL_API_KEYS", "COMPOSE_PROFILES")}
    return subprocess.run([*COMPOSE, "-f", str(ROOT / "docker-compose.yml"), *args, "config"],
                          capture_output=True, text=True, env={**environ, **env}, timeout=60)


PROFILES = ("cpu", "single", "replicas")


@pytest.fixture(scope="module")
def services() -> dict:
    done = config(*(a for p in PROFILES for a in ("--profile", p)), CODEFILL_API_KEYS="team=secret")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_parses_on_its_own(profile):
    done = config("--profile", profile, CODEFILL_API_KEYS="team=secret")
    assert done.returncode == 0, done.stderr
    # (docker-compose 1.x prints every service whatever the profile; `docker compose` only the profile's.)
    assert any(profile in s.get("profiles", []) for s in yaml.safe_load(done.stdout)["services"].values())


def test_compose_refuses_to_start_without_an_api_key():
    done = config()
    assert done.returncode != 0
    assert "CODEFILL_API_KEYS" in done.stderr


def test_cpu_profile_is_nginx_with_the_shipped_config_in_front_of_every_cpu_replica(services):
    nginx = services["nginx"]
    # `docker compose` writes volumes as objects, docker-compose 1.x as "SOURCE:TARGET:MODE".
    mounted = dict((v["target"], v["source"]) if isinstance(v, dict) else v.split(":")[1::-1]
                   for v in nginx["volumes"])
    assert mounted["/etc/nginx/nginx.conf"] == str(ROOT / "deploy" / "nginx" / "codefill.conf")
    servers = set(re.findall(r"^\s*server ([\w-]+):8000\b", (ROOT / "deploy/nginx/codefill.conf").read_text(), re.M))
    replicas = {n for n, s in services.items() if "cpu" in s["profiles"] and n != "nginx"}
    assert servers == replicas and len(replicas) >= 2
    assert set(nginx["depends_on"]) == replicas
    for name in replicas:
        assert "deploy" not in services[name], "a CPU replica asks for a GPU"
        assert services[name]["build"]["target"] == "cpu"


def test_every_vllm_replica_is_behind_the_session_router_and_the_gateway_uses_it(services):
    replicas = {name for name, s in services.items() if name.startswith("vllm-") and name != "vllm-router"}
    assert len(replicas) >= 2
    router = " ".join(services["vllm-router"]["command"])
    backends = set(re.search(r"--static-backends=(\S+)", router).group(1).split(","))
    assert backends == {f"http://{name}:8000" for name in replicas}
    assert "--routing-logic=session" in router and "--session-key=x-session-id" in router
    for name in replicas:
        command = " ".join(services[name]["command"])
        assert "--enable-prefix-caching" in command and "--port=8000" in command
        assert "--enable-prompt-tokens-details" in command, "cached-token figures would read 0"
    gpus = [s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for n, s in services.items()
            if n in replicas]
    assert len({tuple(g) for g in gpus}) == len(replicas), "two replicas on the same GPU"


def test_the_vllm_image_is_the_vllm_extras_version(services):
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["vllm"]
    version = next(p.split("==")[1] for p in pins if p.startswith("vllm=="))
    assert services["vllm-a"]["image"] == f"vllm/vllm-openai:v{version}"
    assert f"ARG VLLM_IMAGE=vllm/vllm-openai:v{version}" in (ROOT / "Dockerfile").read_text()


def test_codefill_services_use_codefill_flags_and_dockerfile_targets(services):
    targets = set(re.findall(r"^FROM \S+ AS (\w+)$", (ROOT / "Dockerfile").read_text(), re.M))
    parser = build_parser()
    for name in ("gateway", "codefill", "codefill-1"):
        service = services[name]
        assert service["build"]["target"] in targets
        assert service["environment"]["CODEFILL_API_KEYS"] == "team=secret"
        args = parser.parse_args(["serve", *service["command"]])
        if name == "gateway":
            assert args.upstream == "http://vllm-router:8000"

"""docker-compose.yml parses (`docker compose config`, or Debian's
`docker-compose`; no Docker engine needed), and what it runs makes sense:
every replica is an upstream of the gateway, the gateway's flags are
codefill's, the images' build targets exist in the Dockerfile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from codefill.cli import build_parser
from tests.conftest import ROOT


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


@pytest.fixture(scope="module")
def services() -> dict:
    done = config("--profile", "single", "--profile", "replicas", CODEFILL_API_KEYS="team=secret")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)["services"]


def test_compose_refuses_to_start_without_an_api_key():
    done = config()
    assert done.returncode != 0
    assert "CODEFILL_API_KEYS" in done.stderr


def test_every_replica_is_an_upstream_of_the_gateway(services):
    replicas = {name for name, s in services.items() if "replicas" in s.get("profiles", []) and name != "gateway"}
    assert len(replicas) >= 2
    upstreams = {m.group(1) for arg in services["gateway"]["command"]
                 if (m := re.fullmatch(r"--upstream=http://([\w-]+):8000", arg))}
    assert upstreams == replicas
    for name in replicas:
        command = " ".join(services[name]["command"])
        assert "--enable-prefix-caching" in command and "--port=8000" in command
    gpus = [s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for n, s in services.items()
            if n in replicas]
    assert len({tuple(g) for g in gpus}) == len(replicas), "two replicas on the same GPU"


def test_codefill_services_use_codefill_flags_and_dockerfile_targets(services):
    targets = set(re.findall(r"^FROM \S+ AS (\w+)$", (ROOT / "Dockerfile").read_text(), re.M))
    parser = build_parser()
    for name in ("gateway", "codefill"):
        service = services[name]
        assert service["build"]["target"] in targets
        assert service["environment"]["CODEFILL_API_KEYS"] == "team=secret"
        args = parser.parse_args(["serve", *service["command"]])
        if name == "gateway":
            assert args.upstream == ["http://vllm-a:8000", "http://vllm-b:8000"]

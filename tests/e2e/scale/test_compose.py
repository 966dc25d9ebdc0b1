"""docker-compose.yml and the Dockerfile, checked against the code (no Docker engine runs here)."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
import tomllib

import pytest
import yaml

from ingest.settings import IngestSettings
from service.settings import ServiceSettings
from tests.fixtures.core import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
OUR_IMAGE = "transcript-rag"
# the settings class each console script reads: a name outside it would be silently ignored
SETTINGS_OF = {"rag-serve": ServiceSettings, "rag-ingest": IngestSettings}
SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def ours(compose) -> dict[str, dict]:
    """The services that run this project's image (the others are third-party images)."""
    return {name: svc for name, svc in compose["services"].items() if svc.get("image", "").startswith(OUR_IMAGE)}


def app_routes() -> set[str]:
    """Every path the app serves, from create_app's router (the lifespan does not run)."""
    from service.app import create_app

    def walk(routes, prefix=""):
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif getattr(route, "path", None) is not None:
                yield prefix + route.path

    return set(walk(create_app(ServiceSettings()).router.routes))


def env_names(svc: dict) -> list[str]:
    env = svc.get("environment") or {}
    return [e.split("=", 1)[0] for e in env] if isinstance(env, list) else list(env)


def command(value) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else list(value)


def dockerfile_instruction(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.read_text().splitlines()
            if line.split(None, 1)[:1] == [name]]


def test_compose_parses_with_the_expected_services(compose):
    assert {"chroma", "api", "ingest", "llm"} <= set(compose["services"])
    assert set(ours(compose)) == {"api", "ingest"}
    for svc in ours(compose).values():
        assert svc["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert compose["services"]["llm"]["profiles"] == ["llm"]
    assert "chroma-data" in compose["volumes"]


def settings_of(svc: dict) -> type:
    """The settings class of the program a service of ours runs."""
    return SETTINGS_OF[command(svc["command"])[0]]


def test_every_environment_name_is_a_setting_of_the_program_it_runs(compose):
    seen = {}
    for name, svc in ours(compose).items():
        cls = settings_of(svc)
        fields = {field.upper() for field in cls.model_fields}
        for var in env_names(svc):
            assert var in fields, f"{name}: {var} is not a field of {cls.__name__}"
        seen[name] = set(env_names(svc))
    assert {"CHROMA_HOST", "CHROMA_PORT", "API_KEY", "WORKERS"} <= seen["api"]
    assert {"CHROMA_HOST", "TRANSCRIPTS_DIR", "EMBEDDING_MODEL"} <= seen["ingest"]


def test_every_setting_value_in_the_file_is_valid(compose, monkeypatch):
    """The values (defaults of the ${…} interpolations) load as the settings of the program."""
    for name, svc in ours(compose).items():
        for var, raw in (svc.get("environment") or {}).items():
            # a required ${VAR:?…} stands for what the operator sets (a key: `openssl rand -hex 32`)
            monkeypatch.setenv(var, INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) == "-" else "x" * 64,
                                                      str(raw)))
        settings = settings_of(svc)()
        assert settings.client_server and settings.chroma_host == "chroma", name


def test_secrets_come_from_the_environment_and_required_ones_fail_loudly(compose):
    secrets = 0
    for name, svc in compose["services"].items():
        for var, raw in (svc.get("environment") or {}).items():
            if SECRET.search(var):
                secrets += 1
                m = INTERPOLATION.fullmatch(str(raw))
                assert m and m.group(1) == var, f"{name}: {var} must come from ${{{var}…}}, not be written in the file"
    assert secrets >= 1
    api_key = compose["services"]["api"]["environment"]["API_KEY"]
    m = INTERPOLATION.fullmatch(api_key)
    assert m.group(2) == "?" and len(m.group(3)) > 10, "API_KEY must be ${API_KEY:?message}"


def test_chroma_image_is_pinned_to_the_client_version(compose):
    image = compose["services"]["chroma"]["image"]
    assert image == f"chromadb/chroma:{importlib.metadata.version('chromadb')}"
    assert compose["services"]["chroma"]["volumes"] == ["chroma-data:/data"]
    llm_image = compose["services"]["llm"]["image"]
    assert re.fullmatch(r"ghcr\.io/ggml-org/llama\.cpp:server-b\d+", llm_image), "pin a llama.cpp build"


def test_api_waits_for_a_healthy_chroma_and_ports_and_healthcheck_match_the_app(compose):
    routes = app_routes()
    assert {"/health", "/ready", "/metrics", "/v1/chat"} <= routes
    api = compose["services"]["api"]
    assert api["depends_on"] == {"chroma": {"condition": "service_healthy"}}
    container_port = ServiceSettings().port
    published = [p.rsplit(":", 1)[1] for p in api["ports"]]
    assert published == [str(container_port)]
    assert f"--port {container_port}" in " ".join(command(api["command"]))
    assert api["environment"]["CHROMA_PORT"] == "8000"  # the chroma image's port
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", " ".join(api["healthcheck"]["test"]))
    assert url and int(url.group(1)) == container_port and url.group(2) in routes
    assert url.group(2) == "/health"
    assert "/api/v2/heartbeat" in " ".join(compose["services"]["chroma"]["healthcheck"]["test"])


def test_chroma_healthcheck_works_against_a_real_chroma_server(compose, chroma_server):
    """The bash probe (the image has no curl), run against `chroma run` on its test port."""
    test = compose["services"]["chroma"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "/bin/bash", "-c"]
    script = test[3].replace("$$", "$").replace("/8000", f"/{chroma_server.port}")
    assert subprocess.run(["/bin/bash", "-c", script], timeout=10, check=False).returncode == 0
    chroma_server.stop()
    probe = subprocess.run(["/bin/bash", "-c", script], timeout=10, stderr=subprocess.DEVNULL, check=False)
    assert probe.returncode != 0


def test_commands_are_console_scripts(compose, scripts):
    cmd = json.loads(dockerfile_instruction("CMD")[-1])
    assert cmd[0] in scripts and cmd[:3] == ["rag-serve", "--host", "0.0.0.0"]
    for name, svc in ours(compose).items():
        assert command(svc["command"])[0] in scripts, name
    assert command(compose["services"]["ingest"]["command"])[0] == "rag-ingest"


def test_dockerfile_installs_cpu_torch_first_and_runs_unprivileged():
    text = DOCKERFILE.read_text()
    assert dockerfile_instruction("FROM") == ["python:3.11-slim"]
    runs = dockerfile_instruction("RUN")
    torch = next(i for i, r in enumerate(runs) if "torch==" in r)
    project = next(i for i, r in enumerate(runs) if re.search(r"pip install (-e )?\.", r))
    assert torch < project
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]
    pinned = next(d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
                  if d.startswith("torch"))
    assert pinned in runs[torch]
    user = dockerfile_instruction("USER")
    assert user and user[-1] not in ("root", "0")
    for path in re.findall(r"^COPY (\S+)", text, flags=re.MULTILINE):
        assert (ROOT / path).exists(), f"COPY {path}: no such path in the repo"

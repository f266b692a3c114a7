"""compose.yaml and the Dockerfile cannot run here (no Docker engine): check that they say what
permsvc reads, and lint the image's structure."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from permsvc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
_BUILD_TOOLS = ("build-essential", "gcc", "g++", "make", "clang", "cargo", "rustc", "-dev ")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_configures_permsvc_against_its_postgres() -> None:
    services = _compose()["services"]
    env = services["permsvc"]["environment"]
    db = services["postgres"]["environment"]
    assert services["permsvc"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    expected_url = f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgres:5432/{db['POSTGRES_DB']}"
    assert env["PERMSVC_DATABASE_URL"] == expected_url
    resolved = {**env, "PERMSVC_API_KEYS": "a-key-from-the-environment"}
    settings = Settings.from_env(resolved)
    assert settings.database_url == expected_url
    assert settings.workers == 2
    assert settings.auth_method == "preshared" and settings.api_keys == (
        "a-key-from-the-environment",
    )


def test_compose_requires_the_keys_from_the_environment() -> None:
    """No key is written in the file: compose refuses to start until PERMSVC_API_KEYS is set."""
    env = _compose()["services"]["permsvc"]["environment"]
    assert re.fullmatch(r"\$\{PERMSVC_API_KEYS:\?[^$}]+\}", env["PERMSVC_API_KEYS"])


def test_compose_checks_readiness_and_runs_read_only_on_loopback() -> None:
    permsvc = _compose()["services"]["permsvc"]
    test = permsvc["healthcheck"]["test"]
    assert test[0] == "CMD" and "http://127.0.0.1:8080/readyz" in " ".join(test)
    assert permsvc["read_only"] is True and permsvc["tmpfs"] == ["/tmp"]
    assert permsvc["ports"] == ["127.0.0.1:8080:8080"]


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        assert stages, f"an instruction before the first FROM: {line}"
        stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_and_installs_permsvc_in_the_build_stage() -> None:
    build, final = _stages()
    assert re.match(r"FROM python:3\.\d+-slim\S* AS build$", build[0])
    assert any("pip install --no-cache-dir '.[otel]'" in line for line in build)
    assert re.match(r"FROM python:3\.\d+-slim\S* AS runtime$", final[0])
    assert build[0].split()[1] == final[0].split()[1], "the venv's interpreter is the runtime's"


def test_the_final_stage_has_no_build_tools_and_runs_unprivileged() -> None:
    final = _stages()[-1]
    body = " ".join(final)
    for tool in _BUILD_TOOLS:
        assert tool not in body, f"{tool!r} in the final stage"
    assert "pip install" not in body and "apt-get install" not in body
    assert any(line.startswith("COPY --from=build /opt/permsvc /opt/permsvc") for line in final)
    assert not any(line.startswith(("COPY permsvc", "COPY . ")) for line in final), "no source tree"
    (user,) = [line for line in final if line.startswith("USER ")]
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, "numeric non-root user (runAsNonRoot can verify it)"
    assert final.index(user) > max(
        i for i, line in enumerate(final) if line.startswith(("RUN", "COPY"))
    )
    assert 'ENTRYPOINT ["permsvc"]' in final
    assert 'CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]' in final

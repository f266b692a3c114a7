"""compose.yaml cannot run here (no Docker engine); check that it says what permsvc reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from permsvc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_compose_configures_permsvc_against_its_postgres() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    env = services["permsvc"]["environment"]
    db = services["postgres"]["environment"]
    assert services["permsvc"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    expected_url = f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@postgres:5432/{db['POSTGRES_DB']}"
    assert env["PERMSVC_DATABASE_URL"] == expected_url
    settings = Settings.from_env(env)
    assert settings.database_url == expected_url
    assert settings.workers == 2


def test_dockerfile_installs_the_package_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir ." in dockerfile
    assert '"permsvc", "serve"' in dockerfile

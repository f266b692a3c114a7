"""Settings.from_env: PERMSVC_* variables, overrides, validation."""

from __future__ import annotations

import pytest

from permsvc.settings import DEFAULT_MAX_BODY_BYTES, Settings, SettingsError


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8080, 1)
    assert (
        settings.database_url == "" and settings.data_dir == ".permsvc" and settings.migrate is True
    )
    assert settings.auth_method == "none" and settings.api_keys == ()
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "PERMSVC_HOST": "0.0.0.0",
            "PERMSVC_PORT": "9090",
            "PERMSVC_WORKERS": "4",
            "PERMSVC_DATABASE_URL": "postgresql://db/permsvc",
            "PERMSVC_DATA_DIR": "/var/lib/permsvc",
            "PERMSVC_MIGRATE": "false",
            "PERMSVC_AUTH_METHOD": "preshared",
            "PERMSVC_API_KEYS": "one, two ,",
            "PERMSVC_STORE": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "PERMSVC_MAX_BODY_BYTES": "4096",
            "PERMSVC_LOG_LEVEL": "debug",
            "PERMSVC_ACCESS_LOG": "false",
            "PERMSVC_GRACEFUL_SHUTDOWN_S": "2.5",
        }
    )
    assert settings.host == "0.0.0.0" and settings.port == 9090 and settings.workers == 4
    assert (
        settings.database_url == "postgresql://db/permsvc"
        and settings.data_dir == "/var/lib/permsvc"
    )
    assert settings.migrate is False and settings.access_log is False
    assert settings.auth_method == "preshared" and settings.api_keys == ("one", "two")
    assert settings.store == "01ARZ3NDEKTSV4RRFFQ69G5FAV" and settings.max_body_bytes == 4096
    assert settings.log_level == "debug" and settings.graceful_shutdown_s == 2.5


def test_overrides_win_and_none_overrides_are_ignored() -> None:
    settings = Settings.from_env(
        {"PERMSVC_PORT": "9090", "PERMSVC_HOST": "0.0.0.0"}, port=7070, host=None
    )
    assert settings.port == 7070 and settings.host == "0.0.0.0"


def test_empty_variables_mean_unset() -> None:
    assert Settings.from_env({"PERMSVC_PORT": "", "PERMSVC_DATABASE_URL": ""}).port == 8080


def test_keys_alone_turn_preshared_auth_on() -> None:
    assert Settings.from_env({"PERMSVC_API_KEYS": "k"}).auth_method == "preshared"
    assert (
        Settings.from_env({"PERMSVC_API_KEYS": "k", "PERMSVC_AUTH_METHOD": "none"}).auth_method
        == "none"
    )


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({"PERMSVC_PORT": "http"}, "PERMSVC_PORT", id="port_not_a_number"),
        pytest.param(
            {"PERMSVC_PORT": "70000"}, "port must be between 1 and 65535", id="port_out_of_range"
        ),
        pytest.param({"PERMSVC_WORKERS": "0"}, "workers must be at least 1", id="no_workers"),
        pytest.param(
            {"PERMSVC_AUTH_METHOD": "jwt"}, "PERMSVC_AUTH_METHOD", id="unknown_auth_method"
        ),
        pytest.param(
            {"PERMSVC_AUTH_METHOD": "preshared"},
            "needs at least one key",
            id="preshared_without_keys",
        ),
        pytest.param(
            {"PERMSVC_MAX_BODY_BYTES": "10"},
            "max_body_bytes must be at least 1024",
            id="tiny_body_limit",
        ),
        pytest.param({"PERMSVC_LOG_LEVEL": "loud"}, "PERMSVC_LOG_LEVEL", id="unknown_log_level"),
        pytest.param(
            {"PERMSVC_REQUEST_READ_TIMEOUT_S": "0"},
            r"request_read_timeout_s must be in \(0, 3600\]",
            id="no_read_timeout",
        ),
    ],
)
def test_invalid_values_are_precise_errors(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)

"""Without node/npm the provider tests skip locally and fail under CI=true."""

from __future__ import annotations

import oidckit
import pytest


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        pytest.param(None, pytest.skip.Exception, id="local_skips"),
        pytest.param("true", pytest.fail.Exception, id="ci_fails"),
    ],
)
def test_missing_node_gate(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(oidckit.shutil, "which", lambda name: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="node and npm are needed"):
        oidckit.install_runtime()

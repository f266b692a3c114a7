"""Authorization models shared by several test modules (import the constant; parse as needed)."""

from __future__ import annotations

from pathlib import Path

__all__ = ("DRIVE",)

_SCHEMA = Path(__file__).resolve().parents[1] / "schema"

DRIVE = (_SCHEMA / "bench-drive.fga").read_text()
"""The benchmark's Drive-like model (groups nest; folders form a tree; documents inherit from their
folder): fan-outs over groups and chains of parents."""

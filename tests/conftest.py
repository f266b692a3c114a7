"""Shared test configuration."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

CLIENT_PYTHON = REPO_ROOT / "clients" / "python"
"""The Python client's own distribution (``permsvc_client``), importable in the tests without
installing it: it has no dependency the server's test environment lacks."""
if str(CLIENT_PYTHON) not in sys.path:
    sys.path.insert(0, str(CLIENT_PYTHON))

"""discord.py lives in its own venv: its voice extra pins PyNaCl<1.6 and the project pins 1.6.

The venv (tests/conformance/.venv-discordpy, git-ignored) is created on first use from the
exact pins in requirements-discordpy.txt and re-created when that file changes; it holds only
discord.py and its dependencies, never the project.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-discordpy"
REQUIREMENTS = HERE / "requirements-discordpy.txt"


def ensure_venv() -> Path:
    """The discord.py venv's python, created (or refreshed) from the pinned requirements."""
    python = VENV / "bin" / "python"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(REQUIREMENTS)],
        check=True, timeout=600,
    )  # fmt: skip
    stamp.write_text(digest + "\n")
    return python


@pytest.fixture(scope="session")
def discordpy_python() -> Path:
    return ensure_venv()

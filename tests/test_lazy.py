"""Packages state their public surface in ``__all__`` and load it on first use
(``musicbot.lazy``): one emulator server still imports alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

import actors.guild
import musicbot.emulator


def test_one_submodule_imports_alone_and_a_public_name_loads_its_module() -> None:
    code = (
        "import sys, musicbot.emulator.world\n"
        "assert 'musicbot.emulator.server' not in sys.modules\n"
        "import musicbot.emulator as e\n"
        "assert e.open_emulator.__module__ == 'musicbot.emulator.server'\n"
        "assert 'musicbot.emulator.server' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize("package", [musicbot.emulator, actors.guild])
def test_every_public_name_resolves_and_others_do_not(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert all(getattr(package, name) is not None for name in names)
    assert set(names) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        package.nope  # type: ignore[attr-defined]  # noqa: B018

"""The documentation build is checked: a fixture tree built with the real extensions.

``make docs`` runs Sphinx with ``-W -n`` and the project's own extensions
(``docs/_ext/docstring_check.py``, ``docs/_ext/reexports.py``).  These tests build a tiny package
written into ``tmp_path`` three times: clean, it passes (and short imported names resolve the way
the module sees them, even where another class has the same name); with a public function that
lost its docstring, the build fails naming it; with a broken cross-reference, the build fails
naming the target.  The real code is never broken to show it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "docs" / "_ext"

CONF = f"""
import sys
sys.path.insert(0, {str(EXT)!r})
project = "fixture"
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.graphviz",
    "docstring_check",
    "reexports",
]
docstring_check_roots = ["fixturepkg"]
nitpicky = True
autodoc_default_options = {{"members": True, "undoc-members": True}}
autodoc_typehints = "description"
html_theme = "alabaster"
"""

INDEX = """\
Fixture
=======

.. automodule:: fixturepkg.models

.. automodule:: fixturepkg.other

.. automodule:: fixturepkg.core

.. automodule:: fixturepkg.farewell
"""

MODELS = '''\
"""Values."""


class Greeting:
    """A greeting."""

    def __init__(self, text: str) -> None:
        self.text = text
'''

OTHER = '''\
"""Another module with a class of the same name (so a bare ``Greeting`` is ambiguous)."""


class Greeting:
    """Another greeting."""
'''

FAREWELL = '''\
"""A module that imports ``Greeting`` for its type checker only."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fixturepkg.models import Greeting


def part(greeting: "Greeting") -> str:
    """Say goodbye after ``greeting``."""
    return "bye"
'''

CORE = '''\
"""Functions; they return a :class:`Greeting` (a short name this module imports)."""

from fixturepkg.models import Greeting


def greet(name: str) -> Greeting:
    """{doc}"""
    return Greeting("hello " + name)
{extra}'''

INIT = '''\
"""The fixture package."""

from fixturepkg.core import {names}
from fixturepkg.models import Greeting

__all__ = ["Greeting", {quoted}]
'''


def build(
    tmp_path: Path, *, doc: str = "Greet ``name``.", extra: str = "", names: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Write the fixture tree and run Sphinx on it as ``make docs`` does."""
    pkg = tmp_path / "src" / "fixturepkg"
    pkg.mkdir(parents=True)
    every = ("greet", *names)
    (pkg / "__init__.py").write_text(
        INIT.format(names=", ".join(every), quoted=", ".join(f'"{n}"' for n in every))
    )
    (pkg / "models.py").write_text(MODELS)
    (pkg / "other.py").write_text(OTHER)
    (pkg / "farewell.py").write_text(FAREWELL)
    (pkg / "core.py").write_text(CORE.format(doc=doc, extra=extra))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text(CONF)
    (docs / "index.rst").write_text(INDEX)
    env = {"PYTHONPATH": str(tmp_path / "src"), "PATH": "/usr/bin:/bin"}
    argv = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-n", "-q"]
    argv += [str(docs), str(tmp_path / "out")]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_clean_tree_builds_without_warnings(tmp_path: Path) -> None:
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    html = (tmp_path / "out" / "index.html").read_text()
    # Short names (a module docstring's, type hints', one imported only under TYPE_CHECKING)
    # link to the class the module imports, never to the other class of the same name.
    link = '<a class="reference internal" href="#fixturepkg.{}.Greeting"'
    assert html.count(link.format("models")) == 3
    assert link.format("other") not in html


def test_public_function_without_docstring_fails_the_build(tmp_path: Path) -> None:
    extra = "\n\ndef wave() -> None:\n    pass\n"
    result = build(tmp_path, extra=extra, names=("wave",))
    assert result.returncode != 0
    assert "public function fixturepkg.core.wave has no docstring" in result.stderr


def test_broken_cross_reference_fails_the_build(tmp_path: Path) -> None:
    result = build(tmp_path, doc="Greet ``name``; see :func:`wave_goodbye`.")
    assert result.returncode != 0
    assert "py:func reference target not found: wave_goodbye" in result.stderr

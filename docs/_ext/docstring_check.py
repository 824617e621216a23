"""A Sphinx extension: every public name must carry a docstring.

"Public" is what a package states as its surface: the names in the ``__all__`` of the
``__init__`` of every package under ``musicbot`` and ``actors``, and the public methods of those
classes.  The API reference documents every module (so that type hints resolve), but only the
stated surface is held to this rule.  When autodoc renders a public object whose docstring is
empty, this emits a warning; the build runs with ``-W``, so that fails ``make docs``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

log = logging.getLogger(__name__)


def public_objects(roots: list[str]) -> set[int]:
    """The ids of every object listed in a package ``__all__`` below ``roots``."""
    found: set[int] = set()
    for root in roots:
        pkg = importlib.import_module(root)
        names = [root] + [
            m.name for m in pkgutil.walk_packages(pkg.__path__, root + ".") if m.ispkg
        ]
        for name in names:
            mod = importlib.import_module(name)
            for attr in getattr(mod, "__all__", ()):
                found.add(id(getattr(mod, attr)))
    return found


def check_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """``autodoc-process-docstring`` hook: warn about a public object without a docstring."""
    public: set[int] = app.env.musicbot_public  # type: ignore[attr-defined]
    if what in ("class", "exception", "function"):
        if id(obj) not in public:
            return
    elif what == "method":
        owner = name.rsplit(".", 2)
        short = owner[-1]
        if short.startswith("_") or len(owner) < 2:
            return
        cls_name = name.rsplit(".", 1)[0]
        mod_name, _, cls_attr = cls_name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(mod_name), cls_attr)
        except (ImportError, AttributeError):
            return
        if id(cls) not in public:
            return
    else:
        return
    if not any(line.strip() for line in lines):
        log.warning(
            "public %s %s has no docstring", what, name, type="docstring", subtype="missing"
        )


def _on_builder_inited(app: Sphinx) -> None:
    app.env.musicbot_public = public_objects(app.config.docstring_check_roots)  # type: ignore[attr-defined]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hook and the ``docstring_check_roots`` setting."""
    app.add_config_value("docstring_check_roots", ["musicbot", "actors"], "env")
    app.connect("builder-inited", _on_builder_inited)
    app.connect("autodoc-process-docstring", check_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

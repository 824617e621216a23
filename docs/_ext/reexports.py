"""A Sphinx extension: resolve references the way the referring module sees the name.

Type hints and docstrings name things as their module imports them (``Track``, ``ExtractorMsg``),
while the API reference documents each object once, where it is defined
(``musicbot.models.track.Track``).  When a Python reference does not resolve, this tries, in order:

1. the name as the referring module sees it: import that module, look the name up, and link to
   where that very object is documented (a class or function by its ``__module__`` and
   ``__qualname__``; a type alias by identity with a documented module attribute);
2. the same name in each enclosing package of a dotted target, innermost first (re-exports);
3. an object from a third-party package (found in step 1) whose full name matches
   ``nitpick_ignore_regex``: rendered as plain text, like any ignored reference.

Step 1 also runs before Sphinx's own resolution, for a name that Sphinx would otherwise match
fuzzily and find ambiguous (``Guild`` names both the actor and the emulator's world object).
A name documented nowhere still fails the build.  Besides, a reference to a builtin (``type``,
``list``) is made exact, so that Sphinx does not match it fuzzily against every attribute of the
same name (``Channel.type``) and call it ambiguous.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import importlib.util
import inspect
import re
import sys
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.nodes import make_refnode

_MISSING = object()


def _candidates(target: str) -> list[str]:
    parts = target.split(".")
    name = parts[-1]
    return [".".join([*parts[:i], name]) for i in range(len(parts) - 2, 0, -1)]


def _lookup(modname: str, target: str) -> object:
    """The object ``target`` names inside module ``modname``, or ``_MISSING``."""
    try:
        obj: object = importlib.import_module(modname)
    except Exception:  # a module that cannot import names nothing
        return _MISSING
    for part in target.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


@functools.cache
def _imports(modname: str) -> dict[str, str]:
    """Every ``from X import Y`` of a module's source, ``if TYPE_CHECKING:`` ones included."""
    module = sys.modules.get(modname)
    try:
        tree = ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError, SyntaxError):
        tree = None
    found: dict[str, str] = {}
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _resolve(modname: str | None, target: str) -> object:
    """What ``target`` names: as module ``modname`` sees it (at run time, else as its type
    checker does: imports under ``if TYPE_CHECKING:``), else as an absolute dotted name."""
    if modname:
        obj = _lookup(modname, target)
        if obj is not _MISSING:
            return obj
        head, _, rest = target.partition(".")
        imported = _imports(modname).get(head)
        if imported is not None:
            target = f"{imported}.{rest}" if rest else imported
    parts = target.split(".")
    try:
        absolute = len(parts) > 1 and importlib.util.find_spec(parts[0]) is not None
    except (ImportError, ValueError):
        absolute = False
    for i in range(len(parts) - 1, 0, -1) if absolute else ():
        obj = _lookup(".".join(parts[:i]), ".".join(parts[i:]))
        if obj is not _MISSING:
            return obj
    return _MISSING


def _documented_as(objects: dict[str, Any], obj: object, last: str) -> str | None:
    """Where ``obj`` is documented: by its defining module, else by identity (type aliases)."""
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if isinstance(mod, str) and isinstance(qual, str) and f"{mod}.{qual}" in objects:
        return f"{mod}.{qual}"
    for full in objects:
        if not full.endswith("." + last):
            continue
        owner, _, attr = full.rpartition(".")
        module = sys.modules.get(owner)
        if module is not None and getattr(module, attr, _MISSING) is obj:
            return full
    return None


def _ignored(app: Sphinx, reftype: str, full: str) -> bool:
    for kind, pattern in app.config.nitpick_ignore_regex:
        if re.fullmatch(kind, f"py:{reftype}") and re.fullmatch(pattern, full):
            return True
    return False


def resolve_reexport(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Node | None:
    """``missing-reference`` hook for the Python domain."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    reftype = node.get("reftype", "obj")
    domain: Any = env.get_domain("py")
    objects: dict[str, Any] = domain.objects
    refdoc = node.get("refdoc", "")
    modname = node.get("py:module")
    if target in objects:  # a type alias (data) named where a class was expected
        entry = objects[target]
        return make_refnode(app.builder, refdoc, entry.docname, entry.node_id, contnode, target)
    if target:
        obj = _resolve(modname, target)
        if obj is not _MISSING:
            full = _documented_as(objects, obj, target.rsplit(".", 1)[-1])
            if full is not None:
                entry = objects[full]
                return make_refnode(
                    app.builder, refdoc, entry.docname, entry.node_id, contnode, full
                )
            mod = getattr(obj, "__module__", None)
            qual = getattr(obj, "__qualname__", getattr(obj, "__name__", None))
            known = isinstance(mod, str) and isinstance(qual, str)
            if known and _ignored(app, reftype, f"{mod}.{qual}"):
                return contnode
    for alias in _candidates(target):
        if alias in objects:
            node["reftarget"] = alias
            result: nodes.reference | None = domain.resolve_xref(
                env, refdoc, app.builder, reftype, alias, node, contnode
            )
            if result is not None:
                return result
    return None


class AsTheModuleSees(SphinxPostTransform):
    """Before Sphinx resolves references: a name the referring module imports is pointed at
    where that object is documented, so that a short name in a type hint (``Guild``) is not
    matched fuzzily against every documented object of that name."""

    default_priority = 5  # before sphinx's ReferencesResolver (10)

    def run(self, **kwargs: Any) -> None:
        """Rewrite the target of each Python reference the module's namespace decides."""
        objects: dict[str, Any] = self.env.get_domain("py").objects  # type: ignore[attr-defined]
        for node in self.document.findall(pending_xref):
            modname = node.get("py:module")
            target = node.get("reftarget", "")
            if node.get("refdomain") != "py" or not target or target in objects:
                continue
            bare = target.lstrip("~.")
            obj = _resolve(modname, bare)
            if obj is _MISSING:
                continue
            full = _documented_as(objects, obj, bare.rsplit(".", 1)[-1])
            if full is not None:
                node["reftarget"] = full


def exact_builtins(app: Sphinx, doctree: nodes.document) -> None:
    """``doctree-read`` hook: a reference to a builtin name is looked up exactly, not fuzzily."""
    for node in doctree.findall(pending_xref):
        if node.get("refdomain") != "py" or "refspecific" not in node:
            continue
        target = node.get("reftarget", "")
        if "." not in target and isinstance(getattr(builtins, target, None), type):
            del node["refspecific"]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hooks."""
    app.connect("missing-reference", resolve_reexport)
    app.connect("doctree-read", exact_builtins)
    app.add_post_transform(AsTheModuleSees)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

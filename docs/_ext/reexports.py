"""A Sphinx extension: resolve references to names a package re-exports.

Type hints name a class where it is defined (``musicbot.storage.store.Storage``), while the API
reference documents it where the package exports it (``musicbot.storage.Storage``).  When a
reference does not resolve, this tries the same name in each enclosing package, innermost first,
and links to the first one that is documented.  A name documented nowhere still fails the build.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def _candidates(target: str) -> list[str]:
    parts = target.split(".")
    name = parts[-1]
    return [".".join([*parts[:i], name]) for i in range(len(parts) - 2, 0, -1)]


def resolve_reexport(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """``missing-reference`` hook for the Python domain."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain: Any = env.get_domain("py")
    for alias in _candidates(target):
        if alias in domain.objects:
            node["reftarget"] = alias
            result: nodes.reference | None = domain.resolve_xref(
                env,
                node.get("refdoc", ""),
                app.builder,
                node.get("reftype", "obj"),
                alias,
                node,
                contnode,
            )
            if result is not None:
                return result
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hook."""
    app.connect("missing-reference", resolve_reexport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

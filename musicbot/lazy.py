"""Lazy re-exports for a package ``__init__`` (PEP 562).

A package states its public surface in ``__all__`` without importing every submodule up front:
its ``__init__`` maps each name to the submodule that defines it and installs the two hooks
:func:`exports` returns::

    __getattr__, __dir__ = lazy.exports(__name__, {"World": "world"}, globals(), __all__)

The first ``package.World`` imports ``package.world`` and caches the object in the package's
namespace, so later lookups never reach the hook again.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def exports(
    package: str, where: Mapping[str, str], namespace: dict[str, Any], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``where`` maps a public name to the
    submodule (relative to ``package``) that defines it; ``namespace`` is the package's
    ``globals()``, where a loaded name is cached; ``public`` its ``__all__``."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(public))

    return getattr_, dir_

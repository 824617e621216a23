"""Discord's error bodies and query-string parsing, as the emulator's REST server answers them.

Theory.  A 400 "Invalid Form Body" (code 50035) names every bad field by its path in the
request, nested the way the body is: ``{"errors": {"0": {"options": {"1": {"type": {"_errors":
[{"code": "BASE_TYPE_CHOICES", "message": ...}]}}}}}}`` (``reference.mdx``, "Error Messages").
A client that shows or logs the failing field (discord.py's ``HTTPException`` flattens this tree)
only works if the emulator nests errors the same way, so every validation problem goes through
:func:`form_error`.

Boolean query strings: Discord accepts ``True``/``true``/``1`` and ``False``/``false``/``0``
(``reference.mdx``, "Boolean Query Strings"); anything else is a 400 naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

INVALID_FORM_BODY: Final = 50035
TRUE_STRINGS: Final = frozenset({"True", "true", "1"})
FALSE_STRINGS: Final = frozenset({"False", "false", "0"})

Path = tuple[str | int, ...]


class BadQuery(ValueError):
    """A query parameter Discord would reject; carries the 400 body."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"{name}={value!r} is not a boolean")
        self.body = form_error([((name,), "BOOLEAN_TYPE_CONVERT", f"{value!r} is not a boolean.")])


def query_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter as Discord reads it; :class:`BadQuery` for anything else."""
    if name not in query:
        return default
    value = query[name]
    if value in TRUE_STRINGS:
        return True
    if value in FALSE_STRINGS:
        return False
    raise BadQuery(name, value)


def form_error(problems: Iterable[tuple[Path, str, str]]) -> dict[str, Any]:
    """Discord's 50035 body for ``(path, code, message)`` problems; ``()`` is the body itself."""
    errors: dict[str, Any] = {}
    for path, code, message in problems:
        node = errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return {"message": "Invalid Form Body", "code": INVALID_FORM_BODY, "errors": errors}


def flatten(errors: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted path, code)`` of every leaf of a 50035 ``errors`` tree (for tests and logs)."""
    out: list[tuple[str, str]] = []
    for key, value in errors.items():
        if key == "_errors":
            out.extend((prefix, str(e.get("code"))) for e in value)
        elif isinstance(value, Mapping):
            out.extend(flatten(value, f"{prefix}.{key}" if prefix else key))
    return out

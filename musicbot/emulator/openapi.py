"""Validate request bodies against Discord's OpenAPI description.

Theory: the emulator's REST server knows, for every route it serves, the OpenAPI path template
(``/applications/{application_id}/commands``) and the method.  The request-body schema of that
operation is addressed by JSON pointer inside the spec, which is registered once as a
``referencing`` resource so every ``#/components/schemas/...`` reference inside resolves
(JSON Schema Draft 2020-12, as OpenAPI 3.1 uses).

``jsonschema`` is a development dependency: this module imports it only when
:func:`load_validator` is called, so the emulator itself runs without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

SPEC_URI: Final = "urn:discord-openapi"

BodyValidator = Callable[[str, str, Any], list[str]]
"""``validator(method, openapi_path, body)`` → a list of problems (empty when valid)."""

ResponseValidator = Callable[[str, str, int, Any], list[str]]
"""``validator(method, openapi_path, status, body)`` → a list of problems."""


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


class _Spec:
    """The parsed spec with a registry and a cache of compiled validators."""

    def __init__(self, spec_path: Path | str) -> None:
        import referencing
        import referencing.jsonschema

        self.spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
        resource = referencing.Resource.from_contents(
            self.spec, default_specification=referencing.jsonschema.DRAFT202012
        )
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(
            SPEC_URI, resource
        )
        self.cache: dict[tuple[str, ...], Any] = {}

    def validator(self, method: str, path: str, *where: str) -> Any:
        """The validator of the JSON schema at ``paths/<path>/<method>/<where…>``, or None."""
        import jsonschema  # type: ignore[import-untyped]

        key = (method, path, *where)
        if key not in self.cache:
            node = self.spec["paths"].get(path, {}).get(method)
            if node is None:
                raise KeyError(f"the OpenAPI description has no {method.upper()} {path}")
            for part in where:
                node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                self.cache[key] = None
            else:
                parts = ("paths", path, method, *where)
                pointer = "/".join(_pointer_part(p) for p in parts)
                schema = {"$ref": f"{SPEC_URI}#/{pointer}"}
                self.cache[key] = jsonschema.Draft202012Validator(schema, registry=self.registry)
        return self.cache[key]


class Problem(str):
    """One schema violation: reads as ``"where: message"``; ``path`` is where in the body it
    is (a missing required field is named by its own path) and ``keyword`` the JSON Schema
    keyword that failed (``required``, ``maxLength``, ``enum`` …)."""

    path: tuple[str | int, ...]
    keyword: str

    @classmethod
    def of(cls, path: tuple[str | int, ...], keyword: str, message: str) -> Problem:
        where = "/".join(str(p) for p in path) or "(body)"
        problem = cls(f"{where}: {message[:300]}")
        problem.path = path
        problem.keyword = keyword
        return problem


def _branch(error: Any) -> list[Any]:
    """The errors of the ``oneOf``/``anyOf`` branch the instance most likely meant: the one
    whose discriminating ``type`` matched, then the one with the fewest errors."""
    branches: dict[Any, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    if not branches:
        return []

    def rank(errors: list[Any]) -> tuple[int, int]:
        on_type = any(tuple(e.relative_path)[-1:] == ("type",) for e in errors)
        return (1 if on_type else 0, len(errors))

    return min(branches.values(), key=rank)


def _problems(validator: Any, instance: Any) -> list[str]:
    problems: list[str] = []
    pending = list(validator.iter_errors(instance))
    while pending:
        error = pending.pop(0)
        path = tuple(error.absolute_path)
        keyword = str(error.validator)
        if keyword in ("oneOf", "anyOf") and (branch := _branch(error)):
            pending[:0] = branch
            continue
        if keyword == "required" and isinstance(error.instance, dict):
            missing = [k for k in error.validator_value if k not in error.instance]
            for name in missing:
                problems.append(Problem.of((*path, name), keyword, f"{name!r} is required"))
            if missing:
                continue
        problems.append(Problem.of(path, keyword, error.message))
    return problems


def load_validator(spec_path: Path | str) -> BodyValidator:
    """Build a validator for JSON request bodies from the spec at ``spec_path``."""
    spec = _Spec(spec_path)
    json_schema = ("requestBody", "content", "application/json", "schema")

    def validate(method: str, path: str, body: Any) -> list[str]:
        validator = spec.validator(method.lower(), path, *json_schema)
        if validator is None:
            return [] if body is None else [f"{method} {path} takes no JSON body"]
        return _problems(validator, body)

    return validate


def load_response_validator(spec_path: Path | str) -> ResponseValidator:
    """Build a validator for successful (2xx) JSON responses, to keep the emulator honest."""
    spec = _Spec(spec_path)

    def validate(method: str, path: str, status: int, body: Any) -> list[str]:
        where = ("responses", str(status), "content", "application/json", "schema")
        validator = spec.validator(method.lower(), path, *where)
        if validator is None:
            return [] if body is None else [f"{method} {path} {status} has no JSON body"]
        return _problems(validator, body)

    return validate

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


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def load_validator(spec_path: Path | str) -> BodyValidator:
    """Build a validator for JSON request bodies from the spec at ``spec_path``."""
    import jsonschema  # type: ignore[import-untyped]
    import referencing
    import referencing.jsonschema

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    resource = referencing.Resource.from_contents(
        spec, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(SPEC_URI, resource)
    cache: dict[tuple[str, str], Any] = {}

    def validator_for(method: str, path: str) -> Any:
        key = (method, path)
        if key not in cache:
            operation = spec["paths"].get(path, {}).get(method)
            if operation is None:
                raise KeyError(f"the OpenAPI description has no {method.upper()} {path}")
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                cache[key] = None
            else:
                parts = ("paths", path, method, "requestBody", "content", "application/json")
                pointer = "/".join(_pointer_part(p) for p in (*parts, "schema"))
                schema = {"$ref": f"{SPEC_URI}#/{pointer}"}
                cache[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return cache[key]

    def validate(method: str, path: str, body: Any) -> list[str]:
        validator = validator_for(method.lower(), path)
        if validator is None:
            return [] if body is None else [f"{method} {path} takes no JSON body"]
        problems: list[str] = []
        for error in validator.iter_errors(body):
            where = "/".join(str(p) for p in error.absolute_path) or "(body)"
            problems.append(f"{where}: {error.message[:300]}")
        return problems

    return validate

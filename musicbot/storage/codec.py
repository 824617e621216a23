"""JSON documents with a schema version, structured by cattrs with strict primitive types.

Every file is an envelope ``{"schema_version": N, "kind": "...", "data": {...}}``.  Reading
checks the kind, upgrades older versions one step at a time through ``migrations`` (a function
from version ``n`` to ``n + 1`` for each ``n``), and structures ``data`` into the attrs model.
A version newer than this code knows is refused (treated like a corrupt file: kept, never
overwritten), so running an older bot against newer data cannot silently downgrade it.

cattrs's default hooks coerce (``int("7")``, ``bool("no")``); here the primitive hooks check the
JSON type instead, so a damaged or hand-edited file fails validation rather than loading wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs
import cattrs
from cattrs.v import format_exception

T = TypeVar("T")

Migration = Callable[[dict[str, Any]], dict[str, Any]]


class DecodeProblem(ValueError):
    """Why the bytes of a file are not a valid document (becomes ``CorruptFile.reason``)."""


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__}")
    return value


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type(value).__name__}")
    return value


def _json_object(value: Any, _: type) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook_func(lambda tp: tp == dict[str, Any], _json_object)
    return conv


CONVERTER = make_converter()


@attrs.frozen
class Codec(Generic[T]):
    kind: str
    cls: type[T]
    version: int
    migrations: Mapping[int, Migration] = attrs.field(factory=dict)

    def encode(self, value: T) -> bytes:
        doc = {
            "schema_version": self.version,
            "kind": self.kind,
            "data": CONVERTER.unstructure(value),
        }
        # allow_nan=False: NaN/Infinity are not JSON and would not read back elsewhere.
        text = json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)
        return (text + "\n").encode("utf-8")

    def decode(self, raw: bytes) -> T:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DecodeProblem(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except json.JSONDecodeError as exc:
            raise DecodeProblem(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except RecursionError:
            raise DecodeProblem("not valid JSON (nested too deeply)") from None
        if not isinstance(doc, dict):
            raise DecodeProblem("not a JSON object")
        version = doc.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise DecodeProblem("missing or invalid schema_version")
        if doc.get("kind") != self.kind:
            raise DecodeProblem(f"kind is {doc.get('kind')!r}, expected {self.kind!r}")
        if version > self.version:
            raise DecodeProblem(
                f"written by a newer version (schema {version}, this bot knows {self.version})"
            )
        data = doc.get("data")
        if not isinstance(data, dict):
            raise DecodeProblem("missing data object")
        while version < self.version:
            step = self.migrations.get(version)
            if step is None:
                raise DecodeProblem(f"no migration from schema {version}")
            data = step(data)
            version += 1
        try:
            return CONVERTER.structure(data, self.cls)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
            raise DecodeProblem(f"invalid {self.kind}: {_describe(exc)}") from None


def _format_leaf(exc: BaseException, tp: type | None) -> str:
    # attrs validators raise ValueError("'field' must be <= 200: 300"): that text is the reason.
    if type(exc) is ValueError and str(exc):
        return str(exc)
    return format_exception(exc, tp)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc, format_exception=_format_leaf)
        return "; ".join(notes[:3]) if notes else str(exc)
    return str(exc) or type(exc).__name__

"""User-facing text in English and Vietnamese.

Keys are stable identifiers; every key must exist in both languages (a test checks it).
Discord sends the user's locale on every interaction (``"vi"`` for Vietnamese, ``"en-US"``,
``"en-GB"`` …); anything that is not Vietnamese falls back to English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

Catalog = Mapping[str, str]

EN: dict[str, str] = {}
VI: dict[str, str] = {}
CATALOGS: Final[dict[str, dict[str, str]]] = {"en": EN, "vi": VI}


def register(en: Catalog, vi: Catalog) -> None:
    """Add a module's strings.  Both languages must name the same keys."""
    if set(en) != set(vi):
        missing = sorted(set(en) ^ set(vi))
        raise ValueError(f"i18n keys differ between en and vi: {missing}")
    clash = set(en) & set(EN)
    if any(EN[k] != en[k] for k in clash):
        raise ValueError(f"i18n keys registered twice with different text: {sorted(clash)}")
    EN.update(en)
    VI.update(vi)


def language(locale: str | None) -> str:
    return "vi" if locale and locale.lower().startswith("vi") else "en"


def t(key: str, locale: str | None = None, /, **params: object) -> str:
    """The text for ``key`` in the user's language, formatted with ``params``."""
    catalog = CATALOGS[language(locale)]
    template = catalog.get(key) or EN.get(key)
    if template is None:
        raise KeyError(f"no text for {key!r}")
    return template.format(**params) if params else template

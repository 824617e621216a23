"""User-facing text in English and Vietnamese.

Keys are stable identifiers; every key must exist in both languages (``register`` checks it).
Plurals: a text with a ``count`` may have a singular form under ``<key>.one``, used when
``count == 1`` ("Cleared 1 track." rather than "1 tracks").  A ``.one`` key is optional per
language (Vietnamese nouns have no plural form), so it is exempt from the both-languages rule.
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
SINGULAR: Final = ".one"  # suffix of a key's form for count == 1


def register(en: Catalog, vi: Catalog) -> None:
    """Add a module's strings.  Both languages must name the same keys."""
    if _plain(en) != _plain(vi):
        missing = sorted(_plain(en) ^ _plain(vi))
        raise ValueError(f"i18n keys differ between en and vi: {missing}")
    clash = set(en) & set(EN)
    if any(EN[k] != en[k] for k in clash):
        raise ValueError(f"i18n keys registered twice with different text: {sorted(clash)}")
    EN.update(en)
    VI.update(vi)


def _plain(catalog: Catalog) -> set[str]:
    return {k for k in catalog if not k.endswith(SINGULAR)}


def language(locale: str | None) -> str:
    return "vi" if locale and locale.lower().startswith("vi") else "en"


def t(key: str, locale: str | None = None, /, **params: object) -> str:
    """The text for ``key`` in the user's language, formatted with ``params``."""
    catalog = CATALOGS[language(locale)]
    template: str | None = None
    if params.get("count") == 1:
        template = catalog.get(key + SINGULAR)
    template = template or catalog.get(key) or EN.get(key)
    if template is None:
        raise KeyError(f"no text for {key!r}")
    return template.format(**params) if params else template

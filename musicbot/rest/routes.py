"""Routes: a path template plus its parameters.

Theory: Discord rate-limits per *bucket*.  Which bucket a route belongs to is only learned from
the ``X-RateLimit-Bucket`` header of a response, and a bucket is shared per *major parameter*:
``channel_id``, ``guild_id``, or a webhook's ``id`` + ``token`` (an interaction's follow-ups use
the interaction token as webhook token; a callback's bucket is its interaction's).  So a route
knows

* ``key``: method + template, e.g. ``POST /channels/{channel_id}/messages`` (which routes share a
  learned bucket hash),
* ``major``: the values of its major parameters, e.g. ``"123"`` (which instance of the bucket),
* whether it is exempt from the global 50 req/s limit (interaction callbacks and
  ``/webhooks/{application_id}/{token}…``, as Discord documents).

``redacted`` is the path with tokens replaced, for logs and error text.
"""

from __future__ import annotations

from typing import Final

import attrs

MAJOR_PARAMETERS: Final = (
    "channel_id",
    "guild_id",
    "webhook_id",
    "webhook_token",
    "interaction_id",
)
SECRET_PARAMETERS: Final = ("webhook_token", "interaction_token")
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@attrs.frozen
class Route:
    method: str
    template: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, method: str, template: str, **params: int | str) -> Route:
        """A route for ``method`` and ``template`` with its ``{name}`` parameters filled from
        ``params``."""
        return cls(method.upper(), template, tuple((k, str(v)) for k, v in params.items()))

    def _fill(self, *, redact: bool) -> str:
        values = {
            k: ("{token}" if redact and k in SECRET_PARAMETERS else v) for k, v in self.params
        }
        return self.template.format(**values)

    @property
    def path(self) -> str:
        return self._fill(redact=False)

    @property
    def redacted(self) -> str:
        return self._fill(redact=True)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        values = dict(self.params)
        return ":".join(values[p] for p in MAJOR_PARAMETERS if p in values)

    @property
    def is_interaction(self) -> bool:
        """Interaction callback or an interaction webhook: exempt from the global limit."""
        return self.template.startswith(
            ("/interactions/", "/webhooks/{webhook_id}/{webhook_token}")
        )

    @property
    def is_interaction_callback(self) -> bool:
        return self.template.startswith("/interactions/") and self.template.endswith("/callback")

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS

    def __repr__(self) -> str:
        return f"Route({self.method} {self.redacted})"

"""Whatever a REST peer answers, reading it yields an Outcome and a typed error, never a crash.

Property-based: arbitrary status, rate-limit headers and body (JSON of any shape, or not JSON)
go through the same functions the client uses on every response.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.rest.client import _body, _outcome
from musicbot.rest.errors import HTTPError, error_for, field_errors

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
    | st.sampled_from(["_errors", "code", "message", "retry_after", "global"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["_errors", "code", "message", "retry_after", "global", "errors", "0", "x"]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
_header_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12
) | st.sampled_from(["nan", "inf", "-1", "1e400", "true", "shared", "global", "0.25"])
_headers = st.dictionaries(
    st.sampled_from(
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset-after",
            "x-ratelimit-bucket",
            "x-ratelimit-global",
            "x-ratelimit-scope",
            "retry-after",
        ]
    ),
    _header_value,
    max_size=7,
)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([200, 204, 400, 401, 403, 404, 429, 500, 502, 503]),
    _headers,
    _json | st.binary(max_size=20),
    st.booleans(),
)
def test_any_response_reads_as_an_outcome_and_a_typed_error(
    status: int, headers: dict[str, str], payload: Any, as_json: bool
) -> None:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if as_json:
        headers = {**headers, "content-type": "application/json"}
    response = httpx.Response(status, headers=headers, content=content)
    body = _body(response)
    outcome = _outcome(response, body)
    if status == 429:
        assert math.isfinite(outcome.retry_after) and outcome.retry_after >= 0
    error = error_for(status=status, body=body, method="GET", route="/x")
    assert isinstance(error, HTTPError)
    assert isinstance(str(error), str)
    assert all(isinstance(line, str) for line in field_errors(error.errors))

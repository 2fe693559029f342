"""Where a sign-in sends the browser back to: ``safe_next``, the stored flow, and the real redirect.

The properties:

* ``safe_next`` returns ``/`` or its input unchanged, and what it returns is a
  local path: one leading ``/``, no backslash, no C0 control character, not
  under ``/auth/``; resolved against the app's URL — by ``urljoin``, by a
  browser's rules (tabs and newlines dropped, ``\\`` read as ``/``), and after
  Werkzeug's IRI-to-URI conversion of the ``Location`` header — it stays on
  the app's host;
* ``GET /auth/login?next=<x>`` stores such a path in the sign-in flow in Redis;
* after a real sign-in, the callback's ``Location`` is such a path.
"""

from __future__ import annotations

import unicodedata

from hypothesis import event, example, given
from hypothesis import strategies as st

from entra_auth.flask_web import safe_next

from .budget import budget
from .flows import SIGNIN_COOKIE, set_cookie, sign_in, stored_flow
from .oracles import assert_local, route_path
from .strategies import next_values


@budget(1500)
@given(value=next_values)
def test_safe_next_returns_home_or_a_local_path(value):
    result = safe_next(value)
    event("kept" if result == value and value != "/" else "home")
    assert result == "/" or result == value, "safe_next rewrites instead of refusing"
    assert_local(result)


@budget(1500)
@given(value=next_values)
def test_safe_next_never_leads_back_into_the_sign_in_machinery(value):
    result = safe_next(value)
    assert not route_path(result).startswith("/auth/"), (value, route_path(result))


@budget(1500)
@given(value=next_values)
def test_safe_next_lets_no_control_character_through(value):
    result = safe_next(value)
    assert not any(unicodedata.category(c) == "Cc" for c in result), repr(result)


# -- through the app -------------------------------------------------------------------------------

@budget(200)
@given(value=next_values)
def test_the_sign_in_flow_stores_a_local_path(fuzz_client, fuzz_redis, value):
    resp = fuzz_client.get("/auth/login", query_string={"next": value})
    assert resp.status_code == 302, (resp.status_code, resp.data[:200])
    cookie = set_cookie(resp, SIGNIN_COOKIE)
    flow = stored_flow(fuzz_redis, cookie)
    event("kept" if flow["next_path"] == value and value != "/" else "home")
    assert_local(flow["next_path"])


@budget(20)
# Few examples (a sign-in each): classic tricks first, then drawn values, most of them paths safe_next keeps.
@example(value="/\uff0f\uff0fevil.example")
@example(value="/.//evil.example")
@example(value="/\\evil.example")
@example(value="/\x7f\x85")
@given(value=st.one_of(next_values.filter(lambda v: v.startswith("/") and not v.startswith("//") and "\\" not in v
                                        and not any(ord(c) < 0x20 for c in v)), next_values))
def test_a_real_sign_in_redirects_to_a_local_path(fuzz_client, idp, value):
    resp = sign_in(fuzz_client, idp, value)
    assert resp.status_code == 302, (resp.status_code, resp.data[:200])
    location = resp.headers["Location"]
    event("kept" if location != "/" else "home")
    assert_local(location)

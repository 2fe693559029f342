"""The bearer-token parser and validator, called directly (no HTTP): many examples per property.

The properties:

* ``parse_compact`` hands back exactly what a strict base64url/JSON reading of
  the three segments gives, or raises ``InvalidToken`` — nothing else;
* ``TokenValidator.validate`` refuses with ``InvalidToken`` anything that is not
  a genuine token, whatever it is, and returns the genuine token's own claims
  for the genuine token; no other exception ever escapes;
* its memories (validated tokens by text, header segments) cannot be poisoned:
  a forgery that follows the genuine token, or precedes it, or comes between
  two uses of it, is still refused, and the genuine token still passes with
  its claims unchanged;
* claims the provider itself signed are still checked: what passes meets the
  policy (tenant, issuer, audience, lifetime).
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from entra_auth.errors import InvalidToken
from entra_auth.jwt_validation import SEEN_MAX_BYTES, TokenValidator, parse_compact
from tests.api.helpers import sign_rs256

from .budget import budget
from .oracles import same_signature_bytes, strict_segment
from .strategies import (
    arbitrary_inputs,
    claim_edits,
    json_objects,
    json_values,
    kid_variants,
    mutations,
    noncanonical_signatures,
)


@pytest.fixture(scope="module")
def policy_and_keys(fuzz_app):
    """The app's own policy, with v1.0 tokens accepted too (both versions' rules in play), and its
    (warm, shared) cache of the provider's keys."""
    validator = fuzz_app.extensions["entra_auth"].validator
    return dataclasses.replace(validator.policy, accept_v1=True), validator.keys


@pytest.fixture(scope="module")
def new_validator(policy_and_keys):
    def make(**kwargs) -> TokenValidator:
        return TokenValidator(*policy_and_keys, **kwargs)

    return make


@pytest.fixture(scope="module")
def warm(new_validator, genuine) -> TokenValidator:
    """A validator that has validated the genuine token already: its memory is in play for every example."""
    validator = new_validator()
    assert validator.validate(genuine.token).claims == genuine.claims
    return validator


def outcome(validator: TokenValidator, token) -> dict | InvalidToken:
    """The claims the validator accepted, or its refusal; any other exception propagates (a failure)."""
    try:
        return validator.validate(token).claims
    except InvalidToken as exc:
        return exc


def assert_refused_or_genuine(result, candidate, genuine) -> None:
    if isinstance(result, InvalidToken):
        assert result.reason and candidate not in result.reason
        return
    # Accepted: it must be the genuine token (see test_a_non_canonical_signature_encoding_is_refused for
    # the one spelling of it that passes today), and the claims are the genuine ones, untouched.
    assert candidate == genuine.token or same_signature_bytes(candidate, genuine.token), "a forgery was accepted"
    assert result == genuine.claims


# -- the parser ------------------------------------------------------------------------------------

@budget(800)
@given(value=arbitrary_inputs)
def test_parse_compact_returns_exactly_the_segments_or_refuses(value):
    try:
        header, claims, signing_input, signature = parse_compact(value)
    except InvalidToken as exc:
        assert exc.reason == "malformed token"
        return
    assert isinstance(value, str) and value.count(".") == 2
    segments = value.split(".")
    decoded = [strict_segment(s) for s in segments]
    assert None not in decoded, "a segment outside strict base64url was decoded"
    assert header == json.loads(decoded[0]) and isinstance(header, dict)
    assert claims == json.loads(decoded[1]) and isinstance(claims, dict)
    assert signing_input == f"{segments[0]}.{segments[1]}".encode("ascii")
    assert signature == decoded[2]


# -- the validator: anything at all ------------------------------------------------------------------

@budget(800)
@given(value=arbitrary_inputs)
def test_arbitrary_input_is_refused_with_invalid_token(new_validator, warm, value):
    for validator in (new_validator(), warm):
        assert isinstance(outcome(validator, value), InvalidToken)


@budget(250)
@given(data=st.data())
def test_any_header_and_claims_signed_by_a_rogue_key_are_refused(new_validator, warm, genuine, rogue_key, data):
    header = data.draw(st.one_of(
        json_objects,
        st.fixed_dictionaries({"alg": st.just("RS256"), "kid": kid_variants(genuine)}, optional={"typ": json_values}),
        st.just(genuine.header),
    ), label="header")
    claims = data.draw(st.one_of(json_objects, st.just(genuine.claims), claim_edits(genuine.claims)), label="claims")
    token = sign_rs256(header, claims, rogue_key)
    for validator in (new_validator(), warm):
        assert isinstance(outcome(validator, token), InvalidToken)


# -- the validator: forgeries made from a genuine token ---------------------------------------------

@budget(1200)
@given(data=st.data())
def test_a_modified_token_is_refused_and_the_genuine_one_still_passes(new_validator, warm, genuine, rogue_key,
                                                                     data):
    kind, candidate = data.draw(mutations(genuine, rogue_key), label="mutation")
    event(kind.split("-segment")[0] if "segment-" in kind else kind.split("-")[0])
    # A validator that never saw the genuine token, and one that did (and remembers it).
    assert_refused_or_genuine(outcome(new_validator(), candidate), candidate, genuine)
    first = outcome(warm, candidate)
    assert_refused_or_genuine(first, candidate, genuine)
    # Nothing the forgery did stays behind: the genuine token passes as before, the forgery fails again.
    assert warm.validate(genuine.token).claims == genuine.claims
    again = outcome(warm, candidate)
    assert type(again) is type(first) and (again == first if isinstance(first, dict) else again.reason == first.reason)


@budget(200)
@given(data=st.data())
def test_the_memory_of_validated_tokens_cannot_be_poisoned(new_validator, genuine, rogue_key, data):
    """Any order of genuine tokens and forgeries, through a small memory (evictions included)."""
    # Room for none, about one, two or three tokens of this size, or the default budget.
    one = 2 * len(genuine.token) + 64 * len(genuine.claims) + 1024
    validator = new_validator(seen_max_bytes=data.draw(st.sampled_from([0, one, 2 * one, 3 * one, SEEN_MAX_BYTES]),
                                                       label="memory bytes"))
    sequence = data.draw(st.lists(st.one_of(st.just(("genuine", genuine.token)), mutations(genuine, rogue_key)),
                                  min_size=2, max_size=10), label="sequence")
    for kind, candidate in sequence:
        note(f"{kind}: {candidate[:60]!r}...")
        assert_refused_or_genuine(outcome(validator, candidate), candidate, genuine)
    assert validator.validate(genuine.token).claims == genuine.claims


@budget(20)
@given(data=st.data())
def test_a_non_canonical_signature_encoding_is_refused(new_validator, genuine, data):
    _, candidate = data.draw(noncanonical_signatures(genuine), label="candidate")
    assert candidate != genuine.token
    assert isinstance(outcome(new_validator(), candidate), InvalidToken)


# -- claims the provider signed ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def now(genuine) -> float:
    """The validators' clock here: a fixed moment of the genuine token's life (not the wall clock, so the
    examples mean the same however long the run took to get here)."""
    return float(genuine.claims["iat"] + 30)


def lifetimes(now: float) -> st.SearchStrategy:
    """exp/iat/nbf values: around ``now`` (in 7 s steps), at the clock-skew edges, and far or odd."""
    return st.one_of(
        st.integers(-3 * 3600, 3 * 3600).map(lambda d: int(now) + d * 7),
        st.sampled_from([now, now - 59.5, now + 59.5, now - 61, now + 61, 0, -1, 2**31, 2**63, 10**30]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["1700000000", None, True, False, [], {}]),
    )


def meets_policy(claims: dict, policy, now: float) -> bool:
    """The acceptance rule, written from the policy's description rather than from the validator's code."""
    if not all(name in claims for name in policy.required_claims):
        return False
    tid, aud = claims["tid"], claims["aud"]
    if not isinstance(tid, str) or tid not in policy.allowed_tenants:
        return False
    # Per version, as Entra issues them: v2.0 names the client id; v1.0 (when accepted) the App ID URI or client id.
    accepted = {"2.0": (f"{policy.authority_host}/{tid}/v2.0", {policy.client_id})}
    if policy.accept_v1:
        accepted["1.0"] = (f"https://sts.windows.net/{tid}/", {policy.client_id, *policy.app_id_uris})
    version = claims.get("ver")
    if not isinstance(version, str) or version not in accepted or claims["iss"] != accepted[version][0]:
        return False
    if not isinstance(aud, str) or aud not in accepted[version][1]:
        return False
    # An access token names its client: azp (v2.0) or appid (v1.0); an ID token does not.
    if policy.access_token and not isinstance(claims.get({"2.0": "azp", "1.0": "appid"}[version]), str):
        return False
    times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
    if not all(isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) for t in times.values()):
        return False
    skew = policy.clock_skew
    return times["exp"] > now - skew and times["iat"] <= now + skew and times.get("nbf", times["iat"]) <= now + skew


@budget(250)
@given(data=st.data())
def test_claims_the_provider_signed_are_still_checked(new_validator, genuine, emulator, now, data):
    key = emulator.emulator.keys.find(genuine.header["kid"])
    claims = data.draw(claim_edits(genuine.claims), label="claims")
    for name in data.draw(st.sets(st.sampled_from(["exp", "iat", "nbf"])), label="times changed"):
        claims[name] = data.draw(lifetimes(now), label=name)
    token = sign_rs256(genuine.header, claims, key.private_key)
    validator = new_validator(clock=lambda: now)
    result = outcome(validator, token)
    expected = meets_policy(claims, validator.policy, now)
    event("accepted" if isinstance(result, dict) else "refused")
    assert isinstance(result, dict) == expected, (result, claims)
    if expected:
        assert result == claims


@budget(20)
@given(data=st.data())
def test_non_finite_lifetimes_are_refused(new_validator, genuine, emulator, now, data):
    key = emulator.emulator.keys.find(genuine.header["kid"])
    claims = dict(genuine.claims)
    name = data.draw(st.sampled_from(["exp", "iat", "nbf"]), label="claim")
    claims[name] = data.draw(st.sampled_from([math.nan, math.inf, -math.inf]), label="value")
    token = sign_rs256(genuine.header, claims, key.private_key)
    assert isinstance(outcome(new_validator(clock=lambda: now), token), InvalidToken)


def test_the_claims_properties_start_from_claims_that_pass(new_validator, genuine, emulator, now):
    """The control for the two properties above: re-signed as issued, the genuine claims pass at their clock,
    so a refusal there comes from what the example changed."""
    key = emulator.emulator.keys.find(genuine.header["kid"])
    token = sign_rs256(genuine.header, genuine.claims, key.private_key)
    assert outcome(new_validator(clock=lambda: now), token) == genuine.claims


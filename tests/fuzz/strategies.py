"""Hypothesis strategies of the fuzz tests: hostile token texts, headers, bodies and redirect targets.

Token mutations start from a genuine emulator token (``Genuine`` in conftest)
and return ``(kind, text)``: the kind is reported with ``hypothesis.event`` so
a run's statistics show that every family was exercised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import string

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import strategies as st

from tests.api.helpers import b64url, b64url_json, public_jwk, self_signed_der, sign_rs256
from tests.conftest import FOREIGN_TENANT_ID, HOME_TENANT_ID

B64URL = string.ascii_letters + string.digits + "-_"
# What sits near a token in real traffic, or what a lenient decoder would skip.
WHITESPACE = [" ", "\t", "\n", "\r", "\x00", "\x0b", "\x0c", "\x85", "\u00a0", "\u2003", "\u2028", "\u3000", "\ufeff"]

# -- building blocks -------------------------------------------------------------------------------

any_char = st.one_of(
    st.sampled_from(B64URL),
    st.sampled_from(".+/=%" + "".join(WHITESPACE)),
    st.characters(),  # any code point but lone surrogates
    st.characters(categories=["Cs"]),  # lone surrogates too (a str can carry them)
)

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=6)


@st.composite
def _with_stray_character(draw, segment: str) -> str:
    """A segment with one character a lenient base64 decoder would skip over (space, punctuation, control)."""
    position = draw(st.integers(0, len(segment)))
    stray = draw(st.characters(codec="ascii").filter(lambda c: c not in B64URL))
    return segment[:position] + stray + segment[position:]


segments = st.one_of(
    st.text(alphabet=B64URL, max_size=80),
    json_objects.map(lambda v: b64url_json(v)).flatmap(_with_stray_character),
    json_values.map(lambda v: b64url(json.dumps(v).encode())),
    json_objects.map(lambda v: b64url_json(v)),
    st.binary(max_size=300).map(b64url),
    st.text(max_size=30),
)


def three_segments() -> st.SearchStrategy[str]:
    """Strings shaped like a compact JWS (or nearly: two to four dots now and then)."""
    return st.one_of(
        st.tuples(segments, segments, segments).map(".".join),
        st.lists(segments, min_size=1, max_size=5).map(".".join),
    )


arbitrary_inputs = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="ascii"), max_size=400),
    st.binary(),
    three_segments(),
    st.none(), st.integers(), st.lists(st.text(max_size=5), max_size=3),
)


# -- forgeries from a genuine token ----------------------------------------------------------------

def _set_segment(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


@st.composite
def _char_edit(draw, token: str) -> tuple[str, str]:
    """Flip, insert or delete one character of one segment, change its case, or cut it short."""
    parts = token.split(".")
    index = draw(st.integers(0, len(parts) - 1))
    segment = parts[index]
    op = draw(st.sampled_from(["flip", "insert", "delete", "case", "truncate"]))
    # Ends of segments matter most (padding bits, separators): drawn often, not only by chance.
    position = draw(st.one_of(st.integers(0, max(0, len(segment) - 1)), st.sampled_from([0, max(0, len(segment) - 1)])))
    if op == "flip" and segment:
        new = draw(any_char.filter(lambda c: c != segment[position]))
        segment = segment[:position] + new + segment[position + 1:]
    elif op == "insert":
        position = draw(st.integers(0, len(segment)))
        segment = segment[:position] + draw(any_char) + segment[position:]
    elif op == "delete" and segment:
        segment = segment[:position] + segment[position + 1:]
    elif op == "case":
        segment = draw(st.sampled_from([segment.upper(), segment.lower(), segment.swapcase(),
                                        segment[:position] + segment[position:position + 1].swapcase()
                                        + segment[position + 1:]]))
    else:
        segment = segment[:position]
    parts[index] = segment
    return f"{op}-segment-{index}", ".".join(parts)


def _reencoded_segment(segment: str, how: str) -> str:
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if how == "padded":
        return base64.urlsafe_b64encode(raw).decode()
    if how == "standard-alphabet":
        return base64.b64encode(raw).decode().rstrip("=")
    if how == "standard-padded":
        return base64.b64encode(raw).decode()
    if how == "mime-lines":
        return base64.encodebytes(raw).decode().rstrip("\n").rstrip("=")
    return segment + "=" * int(how)  # padding characters where none belong


@st.composite
def _reencoding(draw, token: str) -> tuple[str, str]:
    index = draw(st.integers(0, 2))
    how = draw(st.sampled_from(["padded", "standard-alphabet", "standard-padded", "mime-lines", "1", "2", "3", "4"]))
    return f"reencode-{how}-{index}", _set_segment(token, index, _reencoded_segment(token.split(".")[index], how))


@st.composite
def _json_reencoding(draw, genuine) -> tuple[str, str]:
    """The same header or claims as JSON written differently, under the genuine signature."""
    index = draw(st.integers(0, 1))
    value = genuine.header if index == 0 else genuine.claims
    text = json.dumps(value, separators=draw(st.sampled_from([(",", ":"), (", ", ": "), (",", ": ")])),
                      sort_keys=draw(st.booleans()), ensure_ascii=draw(st.booleans()),
                      indent=draw(st.sampled_from([None, 0, 1])))
    text = draw(st.sampled_from([text, " " + text, text + " ", text + "\n", "\ufeff" + text]))
    return f"json-reencode-{index}", _set_segment(genuine.token, index, b64url(text.encode()))


@st.composite
def _segment_shuffle(draw, genuine) -> tuple[str, str]:
    parts = genuine.segments
    order = draw(st.sampled_from([p for p in itertools.product(range(3), repeat=3) if p != (0, 1, 2)]
                                 + [(0, 1), (0, 1, 2, 2), (0, 1, 1, 2), (0, 0, 1, 2), (1, 2)]))
    return "segments-" + "".join(map(str, order)), ".".join(parts[i] for i in order)


@st.composite
def _whitespace(draw, token: str) -> tuple[str, str]:
    space = "".join(draw(st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=3)))
    where = draw(st.sampled_from(["before", "after", "both", "around-dot", "inside"]))
    if where == "before":
        return "whitespace-before", space + token
    if where == "after":
        return "whitespace-after", token + space
    if where == "both":
        return "whitespace-both", space + token + space
    if where == "around-dot":
        return "whitespace-around-dot", token.replace(".", draw(st.sampled_from([space + ".", "." + space])), 1)
    position = draw(st.integers(1, len(token) - 1))
    return "whitespace-inside", token[:position] + space + token[position:]


def _swapped_signatures(genuine) -> st.SearchStrategy[tuple[str, str]]:
    mine, theirs = genuine.token.rsplit(".", 1), genuine.other.rsplit(".", 1)
    return st.sampled_from([
        ("signature-of-another-token", f"{mine[0]}.{theirs[1]}"),
        ("claims-of-another-token", f"{theirs[0]}.{mine[1]}"),
        ("header-with-another-payload", f"{mine[0].split('.')[0]}.{theirs[0].split('.')[1]}.{mine[1]}"),
    ])


def kid_variants(genuine) -> st.SearchStrategy:
    kid = genuine.header["kid"]
    others = [k for k in genuine.published if k != kid]
    return st.one_of(
        st.just(kid),
        st.sampled_from(others) if others else st.just(kid),
        st.sampled_from([kid.upper(), kid.lower(), kid.swapcase(), f" {kid}", f"{kid} ", f"{kid}\x00", kid[:-1],
                         kid[1:], f"{kid}=", kid.replace("-", "+").replace("_", "/"), f"{kid}{kid}", "",
                         "../" + kid, kid + "#", "null"]),
        st.builds(lambda a, b: a + kid + b, st.text(max_size=3), st.text(max_size=3)),
        st.text(max_size=40),
        st.sampled_from([None, 0, 1, True, [kid], {"kid": kid}]),
    )


def _public_key_forms(public_key: rsa.RSAPublicKey, certificate: bytes, kid: str) -> list[bytes]:
    """Every form of the provider's public key a forger could use as an HMAC secret."""
    numbers = public_key.public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    spki_pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1_pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    return [
        spki_pem, spki_pem.rstrip(b"\n"), pkcs1_pem,
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1),
        n, b64url(n).encode(), certificate, base64.b64encode(certificate),
        json.dumps(public_jwk_of(public_key, kid)).encode(),
    ]


def public_jwk_of(public_key: rsa.RSAPublicKey, kid: str) -> dict:
    numbers = public_key.public_numbers()

    def as_b64(value: int) -> str:
        return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "use": "sig", "kid": kid, "n": as_b64(numbers.n), "e": as_b64(numbers.e)}


@st.composite
def claim_edits(draw, claims: dict) -> dict:
    """The genuine claims with a few changed, removed or added: what a forger wants to say."""
    edited = dict(claims)
    interesting = st.one_of(
        json_values,
        st.sampled_from([FOREIGN_TENANT_ID, HOME_TENANT_ID, ["Orders.Admin"], "Orders.Read Orders.Write Orders.Admin",
                         2**62, 0, -1, 1e308, "99999999999", [claims.get("aud")], f"api://{claims.get('aud')}",
                         "00000000-0000-0000-0000-000000000000", claims.get("oid"), "1.0", "2.0",
                         f"https://sts.windows.net/{claims.get('tid')}/"]),
    )
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "delete", "add", "tenant"]))
        if op == "tenant" and isinstance(edited.get("tid"), str) and isinstance(edited.get("iss"), str):
            # Another tenant, coherently: its issuer too (what a token from another directory says).
            other = draw(st.one_of(st.sampled_from([FOREIGN_TENANT_ID, HOME_TENANT_ID, "common", "organizations",
                                                    "9188040d-6c67-4c5b-b112-36a304b66dad"]),
                                   st.uuids().map(str)))
            edited["iss"] = edited["iss"].replace(edited["tid"], other)
            edited["tid"] = other
        elif op == "set" and edited:
            edited[draw(st.sampled_from(sorted(edited)))] = draw(interesting)
        elif op == "delete" and edited:
            edited.pop(draw(st.sampled_from(sorted(edited))))
        else:
            edited[draw(st.sampled_from(["roles", "scp", "wids", "idtyp", "azp", "nonce", "x"]))] = draw(interesting)
    return edited


@st.composite
def _forged_header(draw, genuine, rogue_key: rsa.RSAPrivateKey) -> dict:
    header = {"alg": "RS256", "typ": "JWT", "kid": draw(kid_variants(genuine))}
    extra = draw(st.dictionaries(
        st.sampled_from(["jku", "x5u", "jwk", "x5c", "x5t", "crit", "typ", "cty", "zip", "b64", "enc", "kid", "alg"]),
        st.one_of(
            json_values,
            st.just(public_jwk(rogue_key, "rogue")),
            st.just([base64.b64encode(self_signed_der(rogue_key)).decode()]),
            st.sampled_from(["https://attacker.example/keys", "JWT", "at+jwt", "RS256", "none", ["b64"]]),
        ),
        max_size=2,
    ))
    header.update(extra)
    return header


@st.composite
def _resigned(draw, genuine, rogue_key: rsa.RSAPrivateKey) -> tuple[str, str]:
    """Header and claims of the forger's choosing, signed by the forger's own key."""
    header = draw(_forged_header(genuine, rogue_key))
    claims = draw(st.one_of(st.just(genuine.claims), claim_edits(genuine.claims), json_objects))
    return "rogue-rs256", sign_rs256(header, claims, rogue_key)


@st.composite
def _unsigned_or_hmac(draw, genuine) -> tuple[str, str]:
    """alg none / HS256 with the provider's public key as the secret / other algorithms, genuine signature kept."""
    alg = draw(st.sampled_from(["none", "None", "NONE", "nOnE", "", None, "HS256", "HS384", "HS512", "hs256",
                                "RS256 ", "rs256", "RS384", "RS512", "PS256", "ES256", "EdDSA", ["RS256"]]))
    kid = draw(st.sampled_from(sorted(genuine.published)))
    header = {**genuine.header, "alg": alg, "kid": draw(st.sampled_from([kid, genuine.header["kid"]]))}
    # Mostly the genuine claims: the forgery here is the algorithm, and valid claims let nothing else refuse it.
    claims = draw(claim_edits(genuine.claims)) if draw(st.sampled_from([False, False, True])) else genuine.claims
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    how = draw(st.sampled_from(["genuine", "hmac-public-key", "empty", "random"]))
    if how == "empty":
        signature = ""
    elif how == "genuine":
        signature = genuine.segments[2]
    elif how == "hmac-public-key":
        secret = draw(st.sampled_from(_public_key_forms(genuine.published[kid], genuine.certificates[kid], kid)))
        digest = {"HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(str(alg), hashlib.sha256)
        signature = b64url(hmac.new(secret, signing_input.encode(), digest).digest())
    else:
        signature = draw(st.text(alphabet=B64URL, max_size=400))
    return f"alg-{alg}-{how}", f"{signing_input}.{signature}"


@st.composite
def _kid_swap(draw, genuine) -> tuple[str, str]:
    """Another kid (or a kid of another type) in an otherwise genuine header, genuine payload and signature."""
    header = {**genuine.header, "kid": draw(kid_variants(genuine))}
    if draw(st.booleans()):
        header.pop("kid")
    parts = genuine.segments
    return "kid-variation", f"{b64url_json(header)}.{parts[1]}.{parts[2]}"


@st.composite
def _combination(draw, genuine) -> tuple[str, str]:
    text = genuine.token
    kinds = []
    for _ in range(draw(st.integers(2, 4))):
        kind, text = draw(_char_edit(text))
        kinds.append(kind.split("-")[0])
    return "combined-" + "+".join(kinds), text


def mutations(genuine, rogue_key: rsa.RSAPrivateKey) -> st.SearchStrategy[tuple[str, str]]:
    """Modified versions of the genuine token (now and then the genuine token itself, which must pass)."""
    return st.one_of(
        st.just(("genuine", genuine.token)),
        _char_edit(genuine.token),
        _reencoding(genuine.token),
        _json_reencoding(genuine),
        _segment_shuffle(genuine),
        _whitespace(genuine.token),
        _swapped_signatures(genuine),
        _resigned(genuine, rogue_key),
        _unsigned_or_hmac(genuine),
        _kid_swap(genuine),
        _combination(genuine),
    )


def noncanonical_signatures(genuine) -> st.SearchStrategy[tuple[str, str]]:
    """The genuine token with its signature's last character changed only in bits base64 leaves unused.

    256 signature bytes take 342 characters carrying 2052 bits: the last
    character's low four bits are padding, so 16 characters decode alike.
    """
    signature = genuine.segments[2]
    unused_bits = (-len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) * 8) % 6
    last = B64URL.index(signature[-1])
    same = [c for c in B64URL if B64URL.index(c) >> unused_bits == last >> unused_bits and c != signature[-1]]
    return st.sampled_from(same).map(lambda c: ("noncanonical-signature", f"{genuine.token[:-1]}{c}"))


# -- HTTP-level ------------------------------------------------------------------------------------

# What a WSGI server can hand over in a header value: latin-1, no line breaks.
latin1 = st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n")
schemes = st.one_of(
    st.sampled_from(["Bearer ", "bearer ", "BEARER ", "Bearer  ", " Bearer ", "Bearer\t", "Bearer", "Bearer,",
                     "Basic ", "DPoP ", "Token ", "MAC ", "", "Bearer=", "Bearer:", "B\u00e9arer ", "Bearer\x00 "]),
    st.text(latin1, max_size=10),
)


def as_header_text(text: str) -> str:
    """What a WSGI server hands over for ``text`` sent as UTF-8 in a header: latin-1, line breaks gone."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1").replace("\r", "").replace("\n", "")


def _repeat(unit: str, count: int) -> str:
    return unit * count


long_values = st.builds(
    lambda scheme, value: scheme + value,
    st.sampled_from(["Bearer ", "", "bearer  "]),
    st.builds(_repeat, st.sampled_from(["A", ".", " ", "\x00", "\xff", "a.b", "Bearer ", "=", "\t"]),
              st.sampled_from([1024, 8 * 1024, 16 * 1024, 16 * 1024 + 1, 64 * 1024, 200 * 1024])),
)

_token_like = st.text(alphabet=B64URL + ".", min_size=8, max_size=60)
authorization_values = st.one_of(
    st.text(latin1, max_size=300),
    # Several credentials or parameters in one value: "Bearer a b", "Bearer a, Bearer b", "Bearer a,b=c"...
    st.builds(lambda s, a, sep, b: s + a + sep + b, schemes, _token_like,
              st.sampled_from([" ", "  ", ", ", ",", "\t", ", Bearer ", " Bearer ", "=", '="', ";"]), _token_like),
    st.builds(lambda s, v: s + v, schemes, st.text(latin1, max_size=300)),
    st.builds(lambda s, v: s + v, schemes, three_segments().map(as_header_text)),
    long_values,
)


@st.composite
def decorated(draw, token: str) -> str:
    """A token inside an Authorization header value: schemes, spaces and extra material around it."""
    token = as_header_text(token)
    before = draw(st.one_of(schemes, st.sampled_from(["Bearer ", "bearer "])))
    after = draw(st.one_of(st.just(""), st.sampled_from([" ", "  ", "\t", ",", ", Bearer x", " x", "\x00", "\xa0"]),
                           st.text(latin1, max_size=5)))
    return before + token + after


# -- redirect targets ------------------------------------------------------------------------------

# Characters browsers and URL parsers treat specially, and look-alikes of "/" and "\".
_URLISH = "/\\.:@?#%&=;+-_~ \t\r\n\x00\x7f" + string.ascii_letters[:8] + "0123456789"
_LOOKALIKES = ["\u2215", "\u2044", "\uff0f", "\u29f8", "\u2216", "\ufe68", "\uff3c", "\u29f5", "\u3002", "\uff0e",
               "\u2024", "\u0338", "\u00a0", "\u2028", "\u200b", "\ufeff", "\x85", "\x9b"]
_PIECES = ["//", "/\\", "\\\\", "\\/", "/./", "/../", "..", "%2f", "%2F", "%5c", "%5C", "%2e", "%252f", "%09", "%0a",
           "%0d", "%00", "http:", "https:", "javascript:", "data:", "HTTPS://", "evil.example", "@evil.example",
           "app.example", "auth/", "/auth/", "/auth/callback", "/auth/logout", "AUTH", "%61uth", "login", "?next=",
           "#", "?", ":", "@", ";", "\x7f", "\x85", "\x9b", "\x80"]
# Paths built segment by segment: dot segments and encoded dots that a browser or server resolves.
_SEGMENTS = ["", ".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "auth", "%61uth", "%41UTH", "AUTH", "callback", "logout",
             "login", "frontchannel", "profile", "x", "%2f", "%5c", "\u2215", "\uff0f", "evil.example", "@evil.example"]
_dotted_paths = st.lists(st.one_of(st.sampled_from(_SEGMENTS), st.text(alphabet=_URLISH, max_size=3)), min_size=1,
                         max_size=6).map(lambda segments: "/" + "/".join(segments))
next_values = st.one_of(
    _dotted_paths,
    st.text(alphabet=_URLISH, max_size=40),
    st.lists(st.one_of(st.sampled_from(_PIECES), st.sampled_from(_LOOKALIKES), st.text(alphabet=_URLISH, max_size=4)),
             max_size=8).map("".join),
    st.lists(st.one_of(st.sampled_from(_PIECES), st.sampled_from(_LOOKALIKES)), max_size=6).map(
        lambda pieces: "/" + "".join(pieces)),
    st.text(max_size=30),
    st.text(max_size=30).map(lambda t: "/" + t),
    st.sampled_from(["/", "/profile", "/orders?x=1", "/orders#frag", "//evil.example", "/\\evil.example",
                     "/\t/evil.example", "https://evil.example/", "/" + "a" * 2000, "/" + "a" * 1999]),
)

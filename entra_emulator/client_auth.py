"""Client authentication at the token endpoint, the three ways Entra accepts.

* ``client_secret`` (form post or HTTP Basic);
* ``client_assertion`` signed with a certificate registered on the app
  (``x5t`` / ``x5t#S256`` header, ``aud`` = the token endpoint);
* a federated credential: an assertion this emulator's managed-identity
  endpoint issued for ``api://AzureADTokenExchange``, accepted only when its
  issuer, subject and audience match one of the app's federated credentials.
"""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from urllib.parse import unquote

import jwt

from .manifest import TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_AUDIENCE, Manifest, Registration
from .pki import CertificateCredential
from .protocol import OAuthError
from .tokens import V1_ISSUER_HOST, TokenIssuer, unverified_parts, verify_own_token

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AuthenticatedClient:
    registration: Registration
    method: str  # "client_secret", "certificate", "federated", or "none" (a public client)

    @property
    def azpacr(self) -> str:
        # Entra's azpacr: 0 = public client, 1 = shared secret, 2 = certificate or assertion.
        return {"none": "0", "client_secret": "1"}.get(self.method, "2")


def authenticate(
    manifest: Manifest,
    issuer: TokenIssuer,
    certificates: dict[str, CertificateCredential],
    form: dict[str, str],
    authorization_header: str | None,
    token_endpoint: str,
    *,
    public: bool = False,
) -> AuthenticatedClient:
    """The client presenting the request. ``public``: what it redeems is a single-page app's (a
    ``spa`` redirect URI's code or refresh token), which a browser redeems with no credential."""
    basic_id, basic_secret = _basic_credentials(authorization_header)
    client_id = form.get("client_id") or basic_id
    if not client_id:
        raise OAuthError("invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
    registration = manifest.registration(client_id)
    if registration is None or registration.first_party:
        raise OAuthError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory. This can happen if the "
            "application has not been installed by the administrator of the tenant.",
        )
    if basic_id and basic_id != client_id:
        raise OAuthError("invalid_client", 7000215, "The client id in the Authorization header does not match.")
    secret = form.get("client_secret") or basic_secret
    assertion = form.get("client_assertion")
    if secret is not None:
        if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in registration.secrets()):
            raise OAuthError(
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
                status=401,
            )
        return AuthenticatedClient(registration, "client_secret")
    if assertion:
        if form.get("client_assertion_type") != JWT_BEARER_ASSERTION:
            raise OAuthError("invalid_request", 70002, "The client_assertion_type is not supported.")
        try:
            header, claims = unverified_parts(assertion)
        except ValueError:
            raise OAuthError("invalid_client", 50027, "JWT token is invalid or malformed.", status=401) from None
        # Issued by this emulator (v2.0 or v1.0 issuer): a federated assertion, not a certificate's.
        if str(claims.get("iss", "")).startswith((issuer.authority_host + "/", V1_ISSUER_HOST + "/")):
            _check_federated(registration, issuer, assertion, claims)
            return AuthenticatedClient(registration, "federated")
        _check_certificate_assertion(registration, certificates, assertion, header, token_endpoint)
        return AuthenticatedClient(registration, "certificate")
    if public:
        return AuthenticatedClient(registration, "none")
    raise OAuthError(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        status=401,
    )


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        user, _, password = decoded.partition(":")
    except (ValueError, UnicodeDecodeError):
        raise OAuthError("invalid_client", 7000215, "Malformed HTTP Basic client credentials.", status=401) from None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(user), unquote(password)


def _check_certificate_assertion(
    registration: Registration,
    certificates: dict[str, CertificateCredential],
    assertion: str,
    header: dict,
    token_endpoint: str,
) -> None:
    registered = [certificates[name] for name in registration.certificate_names() if name in certificates]
    # MSAL pads its base64url thumbprints; Entra compares them either way.
    x5t_s256 = str(header.get("x5t#S256", "")).rstrip("=")
    x5t = str(header.get("x5t", "")).rstrip("=")
    cert = next(
        (c for c in registered if (x5t_s256 and x5t_s256 == c.x5t_s256) or (x5t and x5t == c.x5t)),
        None,
    )
    if cert is None:
        raise OAuthError(
            "invalid_client",
            700027,
            "Client assertion failed signature validation. The key was not found: the certificate used to sign "
            f"the assertion is not registered on app '{registration.client_id}'.",
            status=401,
        )
    if cert.expired:
        raise OAuthError(
            "invalid_client",
            700027,
            f"The certificate with identifier used to sign the client assertion is expired on application "
            f"'{registration.client_id}'.",
            status=401,
        )
    try:
        claims = jwt.decode(
            assertion,
            cert.certificate.public_key(),
            algorithms=["RS256", "PS256"],
            audience=token_endpoint,
            issuer=registration.client_id,
            leeway=60,
            options={"require": ["exp", "aud", "iss", "sub"], "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError(
            "invalid_client", 700024, "Client assertion is not within its valid time range.", status=401
        ) from None
    except jwt.InvalidAudienceError:
        raise OAuthError(
            "invalid_client",
            700027,
            f"Client assertion contains an invalid audience; it must be the token endpoint {token_endpoint}.",
            status=401,
        ) from None
    except jwt.InvalidTokenError as exc:
        raise OAuthError(
            "invalid_client", 700027, f"Client assertion failed signature validation. ({type(exc).__name__})", status=401
        ) from None
    if claims.get("sub") != registration.client_id:
        raise OAuthError("invalid_client", 700023, "Client assertion subject must be the client id.", status=401)
    if claims["exp"] - int(time.time()) > 3600:
        raise OAuthError(
            "invalid_client", 700024, "Client assertion lifetime is too long (at most one hour).", status=401
        )


def _check_federated(registration: Registration, issuer: TokenIssuer, assertion: str, claims: dict) -> None:
    if claims.get("aud") not in (TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_AUDIENCE):
        # A token for another resource (Graph's cannot even be verified here): no credential has its audience.
        raise OAuthError(
            "invalid_client",
            700212,
            f"No matching federated identity record found for presented assertion audience '{claims.get('aud')}'.",
            status=401,
        )
    try:
        # Entra's own token for the exchange names it by app id (v2.0); the credential by URI.
        verified = verify_own_token(issuer, assertion, audience=TOKEN_EXCHANGE_APP_ID)
    except jwt.ExpiredSignatureError:
        raise OAuthError(
            "invalid_client", 700024, "Client assertion is not within its valid time range.", status=401
        ) from None
    except jwt.InvalidAudienceError:
        raise OAuthError(
            "invalid_client",
            700212,
            f"No matching federated identity record found for presented assertion audience "
            f"'{claims.get('aud')}'.",
            status=401,
        ) from None
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise OAuthError(
            "invalid_client", 700027, f"Client assertion failed signature validation. ({type(exc).__name__})", status=401
        ) from None
    matching_issuer = [f for f in registration.federated_credentials if f.issuer == verified["iss"]]
    if not matching_issuer:
        raise OAuthError(
            "invalid_client",
            700211,
            f"No matching federated identity record found for presented assertion issuer '{verified['iss']}'.",
            status=401,
        )
    if not any(f.subject == verified["sub"] and TOKEN_EXCHANGE_AUDIENCE in f.audiences for f in matching_issuer):
        raise OAuthError(
            "invalid_client",
            700213,
            f"No matching federated identity record found for presented assertion subject '{verified['sub']}'. "
            "Check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
            status=401,
        )

"""The app's own client credential: configuration in, MSAL's ``client_credential`` out.

Configuration comes in Microsoft.Identity.Web's ``ClientCredentials`` shape
(``{prefix}_CREDENTIALS``, a JSON list) or from simple variables
(``{prefix}_CERTIFICATE_PATH``, ``{prefix}_SECRET``). Each entry becomes a
*source*; ``ClientCredential`` hands MSAL the first source that can produce a
credential now, remembers it, and says in the log which one is in use.

Sources: a client secret; a certificate (PEM with private key + certificate,
sent as ``x5t`` or, for subject name + issuer auth, ``x5c``); a managed
identity's token for ``api://AzureADTokenExchange`` used as a federated
assertion; a Kubernetes workload-identity token file. Assertions are given to
MSAL as callables, so they are renewed rather than baked in until they expire.

No secret, private key, password or assertion ever goes into a message, a log
line or a ``repr``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from msal.managed_identity import DEFAULT_TO_VM, get_managed_identity_source

from .json_answers import JsonAnswersOnly, NotJsonAnswer

log = logging.getLogger(__name__)

TOKEN_EXCHANGE_URL = "api://AzureADTokenExchange"  # the audience Entra expects of federated assertions
SUPPORTED_SOURCE_TYPES = ("ClientSecret", "Path", "SignedAssertionFromManagedIdentity", "SignedAssertionFilePath")

MsalCredential = str | dict[str, Any]


class CredentialUnavailable(Exception):
    """A source cannot produce a credential now. The message is safe to log (never a secret)."""


class CredentialSourceDown(CredentialUnavailable):
    """A source's endpoint answered with something other than its answer (a proxy's HTML page,
    a body cut short): an outage that passes by itself, not a wrong credential."""


class CredentialConfigError(ValueError):
    """The credential configuration itself is wrong; the message names the variable."""


# -- sources ------------------------------------------------------------------------------------------


class CredentialSource:
    """One way to authenticate the app. ``origin`` names the setting it came from."""

    kind = "unknown"

    def __init__(self, origin: str):
        self.origin = origin

    def describe(self) -> str:
        """What this source is, with a non-secret identifier, for logs and error pages."""
        raise NotImplementedError

    def load(self) -> MsalCredential:
        """MSAL's ``client_credential`` from this source; raises ``CredentialUnavailable``."""
        raise NotImplementedError

    def still_good(self) -> bool:
        """Whether the value of the last successful ``load()`` can be handed out again."""
        return True

    def bind(self, http_client: requests.Session) -> None:
        """Give the source the HTTP client for any call it makes (only the managed identity calls out)."""

    def __repr__(self) -> str:  # describe() is secret-free by contract, so the repr is too
        return f"<{type(self).__name__} {self.describe()}>"


class ClientSecretSource(CredentialSource):
    """A client secret: MSAL sends it as ``client_secret``."""

    kind = "client_secret"

    def __init__(self, secret: str, *, origin: str):
        super().__init__(origin)
        self.__secret = secret  # name-mangled: harder to print by accident

    def describe(self) -> str:
        return f"client secret from {self.origin}"

    def load(self) -> MsalCredential:
        return self.__secret


class CertificateSource(CredentialSource):
    """A PEM file holding an RSA private key and its certificate (``private_key_jwt``).

    Without ``send_x5c`` MSAL signs RS256 with the SHA-1 ``x5t`` header, which
    Entra matches against the certificates uploaded to the registration. With
    ``send_x5c`` MSAL signs PS256 with ``x5t#S256`` and sends the certificate in
    ``x5c``: what subject name + issuer authentication needs.
    """

    kind = "certificate"

    def __init__(self, path: str, *, origin: str, send_x5c: bool = False, password: str | None = None):
        super().__init__(origin)
        self.path = path
        self.send_x5c = send_x5c
        self.__password = password
        self._loaded: tuple[tuple[int, int, int], dt.datetime] | None = None  # (file stat, not after)
        self._label = ""

    def describe(self) -> str:
        extra = ", sent as x5c" if self.send_x5c else ""
        return f"certificate {self.path}{f' ({self._label}{extra})' if self._label else ''}"

    def still_good(self) -> bool:
        # A rotated file (a new certificate mounted by a secret store) or the
        # expiry of the one in use means loading again, or falling back.
        if self._loaded is None:
            return False
        stat, not_after = self._loaded
        try:
            now_stat = _stat_key(os.stat(self.path))
        except OSError:
            return False
        return now_stat == stat and _now() < not_after

    def load(self) -> MsalCredential:
        where = f"certificate {self.path}"
        self._label = ""  # describe() must not show a previous file's thumbprint
        try:
            stat = _stat_key(os.stat(self.path))
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise CredentialUnavailable(f"{where} cannot be read ({exc.strerror or type(exc).__name__})") from None
        blocks = _pem_blocks(data)
        key_blocks = [b for label, b in blocks if label.endswith(b"PRIVATE KEY")]
        cert_blocks = [b for label, b in blocks if label == b"CERTIFICATE"]
        if not blocks:
            raise CredentialUnavailable(
                f"{where} is not a PEM file (it must hold the private key and the certificate in PEM; "
                "convert a .pfx with `openssl pkcs12 -in cert.pfx -out cert.pem`)"
            )
        if not key_blocks or not cert_blocks:
            missing = "private key" if not key_blocks else "certificate"
            raise CredentialUnavailable(f"{where} holds no {missing} (it needs both, in PEM)")
        key = self._private_key(where, key_blocks[0])
        cert = _matching_certificate(key, cert_blocks)
        if cert is None:
            raise CredentialUnavailable(f"{where}: the private key matches none of the certificates in the file")
        sha256 = cert.fingerprint(hashes.SHA256()).hex()
        sha1 = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Entra's x5t (and the portal) use SHA-1
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        # The Entra portal lists certificates by their SHA-1 thumbprint; we log both.
        self._label = f"thumbprint sha256 {sha256}, sha1 {sha1.upper()}, valid until {not_after:%Y-%m-%d}"
        now = _now()
        if now >= not_after:
            raise CredentialUnavailable(
                f"{where} (thumbprint sha256 {sha256}) expired on {not_after:%Y-%m-%d %H:%M} UTC"
            )
        if now < not_before:
            raise CredentialUnavailable(
                f"{where} (thumbprint sha256 {sha256}) is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
            )
        # An unencrypted in-memory PEM: MSAL then needs no passphrase, and does
        # not run the key-derivation function again for every app it builds.
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        self._loaded = (stat, not_after)
        if self.send_x5c:
            # msal/application.py _build_client: a PEM public_certificate makes it compute
            # the SHA-256 thumbprint itself, sign PS256 and add the x5c header.
            cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
            return {"private_key": key_pem, "public_certificate": cert_pem}
        # A "thumbprint" (SHA-1 hex) makes MSAL sign RS256 with an x5t header and no x5c.
        return {"private_key": key_pem, "thumbprint": sha1}

    def _private_key(self, where: str, block: bytes) -> rsa.RSAPrivateKey:
        password = self.__password.encode() if self.__password else None
        try:
            key = serialization.load_pem_private_key(block, password=password)
        except TypeError:  # cryptography: encrypted without a password, or a password for a plain key
            if password is None:
                raise CredentialUnavailable(f"{where}: the private key is encrypted; set CertificatePassword") from None
            raise CredentialUnavailable(
                f"{where}: CertificatePassword is set but the private key is not encrypted"
            ) from None
        except ValueError:  # never chain: the cause could name key material
            raise CredentialUnavailable(
                f"{where}: the private key cannot be read (a wrong CertificatePassword, or not a PEM key)"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialUnavailable(f"{where}: the private key is not RSA (Entra client certificates must be RSA)")
        return key


class ManagedIdentityAssertionSource(CredentialSource):
    """A managed identity's token for ``TokenExchangeUrl``, presented as a federated assertion.

    The app registration trusts the identity through a federated identity
    credential (issuer, subject = the identity's principal id, audience
    ``api://AzureADTokenExchange``). MSAL gets a callable: each token request
    asks the managed-identity client, whose cache answers until the token is
    within 5 minutes of expiry (or past half its life when it lives >= 2 h),
    then fetches a new one.
    """

    kind = "managed_identity"

    def __init__(self, client_id: str | None, *, origin: str, token_exchange_url: str = TOKEN_EXCHANGE_URL):
        super().__init__(origin)
        self.client_id = client_id
        self.token_exchange_url = token_exchange_url
        self._assertion: _ManagedIdentityAssertion | None = None

    def describe(self) -> str:
        who = f"user-assigned, client id {self.client_id}" if self.client_id else "system-assigned"
        audience = "" if self.token_exchange_url == TOKEN_EXCHANGE_URL else f", for {self.token_exchange_url}"
        return f"managed identity assertion ({who}{audience})"

    def bind(self, http_client: requests.Session) -> None:
        if self._assertion is None:  # one MI client per source: its token cache is what renews
            identity = (msal.UserAssignedManagedIdentity(client_id=self.client_id) if self.client_id
                        else msal.SystemAssignedManagedIdentity())
            # The client checks that each answer is JSON: see json_answers.py for what MSAL does otherwise.
            client = msal.ManagedIdentityClient(
                identity, http_client=JsonAnswersOnly(http_client, get="managed-identity endpoint"))
            self._assertion = _ManagedIdentityAssertion(client, self.token_exchange_url, self.describe())

    def load(self) -> MsalCredential:
        if self._assertion is None:
            raise RuntimeError("ManagedIdentityAssertionSource.bind(http_client) was not called")
        self._assertion()  # "can produce a credential" means an assertion can be had now
        return {"client_assertion": self._assertion}


class _ManagedIdentityAssertion:
    """The zero-argument callable MSAL invokes for each token request."""

    def __init__(self, client: msal.ManagedIdentityClient, resource: str, label: str):
        self._client = client
        self._resource = resource
        self._label = label

    def __call__(self) -> str:
        try:
            result = self._client.acquire_token_for_client(resource=self._resource)
        except NotJsonAnswer as exc:  # the message names endpoint and status, never the body
            raise CredentialSourceDown(f"{self._label} cannot get a token: {exc}") from None
        except (requests.RequestException, ValueError) as exc:  # transport, or an unexpected answer
            raise CredentialUnavailable(
                f"{self._label} cannot get a token: {type(exc).__name__}: {exc}{_mi_hint()}"
            ) from None
        result = result if isinstance(result, dict) else {}
        token = result.get("access_token")
        if not token:
            # App Service errors come as "<statusCode>, <message>": no secret in them.
            reason = result.get("error_description") or result.get("error") or "no token in the answer"
            raise CredentialUnavailable(f"{self._label} cannot get a token: {reason}{_mi_hint()}")
        return token

    def __repr__(self) -> str:
        return f"<{self._label} for {self._resource}>"


class FederatedTokenFileSource(CredentialSource):
    """A token file written by the platform (Kubernetes workload identity), used as the assertion.

    The kubelet rotates the projected token, so MSAL gets a callable that reads
    the file again on every token request.
    """

    kind = "federated_token_file"

    def __init__(self, path: str | None, *, origin: str):
        super().__init__(origin)
        self.path = path

    def describe(self) -> str:
        return f"federated token file {self.path}" if self.path else "federated token file (no path)"

    def load(self) -> MsalCredential:
        if not self.path:
            raise CredentialUnavailable(
                f"federated token file: {self.origin} has no SignedAssertionFileDiskPath and "
                "AZURE_FEDERATED_TOKEN_FILE is not set (is the workload identity webhook enabled for this pod?)"
            )
        assertion = _FileAssertion(self.path)
        assertion()
        return {"client_assertion": assertion}


class _FileAssertion:
    """Reads the assertion file on each call."""

    def __init__(self, path: str):
        self._path = path

    def __call__(self) -> str:
        try:
            text = Path(self._path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise CredentialUnavailable(f"federated token file {self._path} cannot be read ({reason})") from None
        if not text:
            raise CredentialUnavailable(f"federated token file {self._path} is empty")
        return text

    def __repr__(self) -> str:
        return f"<federated token file {self._path}>"


# -- configuration ------------------------------------------------------------------------------------


def parse_client_credentials(prefix: str, settings: Mapping[str, Any]) -> list[CredentialSource]:
    """The credential sources configured for ``prefix`` (``ENTRA_CLIENT``, ``API_CLIENT``, ``DAEMON_CLIENT``).

    In order of preference: the entries of ``{prefix}_CREDENTIALS`` (JSON, in
    Microsoft.Identity.Web's ``ClientCredentials`` shape) in their order, then
    ``{prefix}_CERTIFICATE_PATH``, then ``{prefix}_SECRET`` last. Raises
    ``CredentialConfigError`` naming the variable when the configuration is wrong.
    """
    variable = f"{prefix}_CREDENTIALS"
    federated_file = _setting(settings, "AZURE_FEDERATED_TOKEN_FILE")
    entries = _entries(variable, settings.get(variable))
    sources = [_source(f"{variable}[{i}]", entry, federated_file) for i, entry in entries]
    certificate = _setting(settings, f"{prefix}_CERTIFICATE_PATH")
    if certificate:
        sources.append(CertificateSource(certificate, origin=f"{prefix}_CERTIFICATE_PATH"))
    secret = _setting(settings, f"{prefix}_SECRET")
    if secret:
        sources.append(ClientSecretSource(secret, origin=f"{prefix}_SECRET"))
    return sources


def _setting(settings: Mapping[str, Any], name: str) -> str | None:
    value = settings.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, str):
        raise CredentialConfigError(f"{name} must be a string (got {type(value).__name__})")
    return value.strip() or None


def _entries(variable: str, raw: Any) -> list[tuple[int, dict]]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:  # exc.msg and position only: the text may hold a secret
            raise CredentialConfigError(
                f"{variable} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); expected a list "
                'like [{"SourceType": "Path", "CertificateDiskPath": "/path/cert.pem"}]'
            ) from None
    if not isinstance(raw, (list, tuple)):
        raise CredentialConfigError(f"{variable} must be a JSON list of credential objects (got {type(raw).__name__})")
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise CredentialConfigError(f"{variable}[{i}] must be a JSON object with a SourceType")
    return list(enumerate(raw))


def _source(where: str, entry: Mapping, federated_file: str | None) -> CredentialSource:
    # .NET configuration binding matches names case-insensitively; so do we.
    fields = {str(k).lower(): v for k, v in entry.items()}
    source_type = fields.get("sourcetype")
    supported = ", ".join(SUPPORTED_SOURCE_TYPES)
    if not isinstance(source_type, str) or not source_type.strip():
        raise CredentialConfigError(f"{where} has no SourceType (supported: {supported})")
    kind = source_type.strip().lower()
    if kind == "clientsecret":
        return ClientSecretSource(_field(where, fields, "ClientSecret", required=True), origin=where)
    if kind == "path":
        return CertificateSource(
            _field(where, fields, "CertificateDiskPath", alias="Path", required=True),
            origin=where,
            send_x5c=_flag(where, fields, "SendX5C"),
            password=_field(where, fields, "CertificatePassword"),
        )
    if kind == "signedassertionfrommanagedidentity":
        client_id = _field(where, fields, "ManagedIdentityClientId")
        if client_id:
            try:
                uuid.UUID(client_id)
            except ValueError:
                raise CredentialConfigError(
                    f"{where}.ManagedIdentityClientId must be the managed identity's client id (a GUID), "
                    f"got {client_id!r}; leave it out for the system-assigned identity"
                ) from None
        url = _field(where, fields, "TokenExchangeUrl") or TOKEN_EXCHANGE_URL
        # MSAL's managed identity takes a resource, not a scope.
        url = url.removesuffix("/.default")
        return ManagedIdentityAssertionSource(client_id, origin=where, token_exchange_url=url)
    if kind == "signedassertionfilepath":
        path = _field(where, fields, "SignedAssertionFileDiskPath") or federated_file
        return FederatedTokenFileSource(path, origin=where)
    shown = source_type if len(source_type) <= 40 else source_type[:40] + "…"
    raise CredentialConfigError(f"{where}: SourceType {shown!r} is not supported here (supported: {supported})")


def _field(where: str, fields: dict, name: str, *, alias: str | None = None, required: bool = False) -> str | None:
    value = fields.get(name.lower())
    if value in (None, "") and alias:
        value = fields.get(alias.lower())
    if value is not None and not isinstance(value, str):
        raise CredentialConfigError(f"{where}.{name} must be a string")
    value = value.strip() if value else None
    if required and not value:
        also = f" (or {alias})" if alias else ""
        raise CredentialConfigError(f"{where} needs {name}{also} for its SourceType")
    return value


def _flag(where: str, fields: dict, name: str) -> bool:
    value = fields.get(name.lower(), False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CredentialConfigError(f"{where}.{name} must be true or false")


# -- the credential -----------------------------------------------------------------------------------


class ClientCredential:
    """The sources of one registration, tried in order; the first that works is remembered.

    A source can fail two ways. Locally (a file missing, a certificate expired):
    it is skipped at once. At Entra (``invalid_client``: a certificate removed
    from the registration, a secret expired, a federated credential deleted):
    the caller reports it with ``refused()``, the source is skipped for
    ``refused_for_seconds`` (long enough not to pay a refused round trip per
    request, short enough that a certificate uploaded again is used again
    without a restart), and the caller retries once with the next source, as
    Microsoft.Identity.Web does after a certificate error (TokenAcquisition.cs,
    ``MaxCertificateRetries = 1``). When every source has been refused they are
    tried in order again: Entra, not a local guess, keeps deciding.

    Thread-safe: the remembered choice is read without a lock; choosing takes one.
    """

    REFUSED_FOR_SECONDS = 300.0

    def __init__(
        self, sources: list[CredentialSource], *, http_client: requests.Session, logger: logging.Logger | None = None,
        refused_for_seconds: float = REFUSED_FOR_SECONDS,
        on_refused: Callable[[CredentialSource, str, float], None] | None = None,
    ):
        if not sources:
            raise CredentialConfigError(
                "no client credential is configured (set <PREFIX>_CREDENTIALS, _CERTIFICATE_PATH or _SECRET)"
            )
        self._sources = tuple(sources)
        for source in self._sources:
            source.bind(http_client)
        self._log = logger or log
        self._lock = threading.Lock()
        self._chosen: tuple[CredentialSource, MsalCredential] | None = None
        self._announced: str | None = None
        self._refused_for = refused_for_seconds
        self._refused: dict[CredentialSource, tuple[float, str]] = {}  # source -> (skipped until, reason)
        self._on_refused = on_refused

    @property
    def sources(self) -> tuple[CredentialSource, ...]:
        return self._sources

    def msal_credential(self) -> MsalCredential:
        """What to pass as MSAL's ``client_credential`` (see ``current()``)."""
        return self.current()[1]

    def current(self) -> tuple[CredentialSource, MsalCredential]:
        """The source to use and its MSAL ``client_credential``: the first, in order, that can
        produce one and that Entra has not refused lately.

        Logs at INFO which source is in use (once per change) and a WARNING for
        each source skipped, with its reason. Raises ``CredentialUnavailable``
        listing every source's reason when none works.
        """
        chosen = self._chosen
        if chosen is not None and self._keeps(chosen[0]):
            return chosen
        with self._lock:
            chosen = self._chosen
            if chosen is not None and self._keeps(chosen[0]):
                return chosen  # another thread chose while we waited
            now = time.monotonic()
            # Refusals whose time ran out are forgotten: those sources get their turn again.
            self._refused = {s: entry for s, entry in self._refused.items() if entry[0] > now}
            fresh = [s for s in self._sources if self._refused.get(s, (0.0, ""))[0] <= now]
            # Every source refused lately: try them all again rather than refuse locally.
            candidates = fresh or list(self._sources)
            reasons = [f"{s.describe()} was refused by Entra ({self._refused[s][1]})"
                       for s in self._sources if s not in candidates]
            down = False
            for source in candidates:
                try:
                    value = source.load()
                except CredentialUnavailable as exc:
                    reasons.append(str(exc))
                    down = down or isinstance(exc, CredentialSourceDown)
                    self._log.warning("client credential skipped: %s", exc)
                    continue
                self._chosen = (source, value)
                description = source.describe()
                if description != self._announced:
                    self._announced = description
                    self._log.info("client credential in use: %s", description)
                return self._chosen
            self._chosen = None
            self._announced = None
            # When a source was only down, the next request may well succeed: say it is an outage.
            unavailable = CredentialSourceDown if down else CredentialUnavailable
            raise unavailable("no client credential can be used: " + "; ".join(reasons))

    def refused(self, source: CredentialSource, reason: str) -> bool:
        """Entra answered ``invalid_client`` to ``source``: skip it for a while.

        ``reason`` is the error and AADSTS code only (never Entra's free text,
        never the credential). Returns whether another source can be tried now,
        i.e. whether retrying the request is worth it.
        """
        with self._lock:
            until = time.monotonic() + self._refused_for
            # Copied, never changed in place: readers (status(), _keeps()) take no lock.
            self._refused = {**self._refused, source: (until, reason)}
            if self._chosen is not None and self._chosen[0] is source:
                self._chosen = None
            others = [s for s in self._sources if s is not source and not self._is_refused(s)]
        self._log.warning("client credential refused by Entra: %s (%s); %s", source.describe(), reason,
                          "trying the next one" if others else "no other credential left to try")
        if self._on_refused is not None:
            try:
                self._on_refused(source, reason, self._refused_for)
            except Exception as exc:  # noqa: BLE001 - a report must never cost the retry
                self._log.warning("could not record the refused client credential: %s", type(exc).__name__)
        return bool(others)

    def status(self) -> dict[str, Any]:
        """This worker's view, without secrets or paths: the origin and kind of the source in use
        and of those Entra refused lately (with the error code and seconds until retried)."""
        now = time.monotonic()
        chosen, refused = self._chosen, self._refused
        return {
            "in_use": _short(chosen[0]) if chosen is not None else None,
            "refused": [{"source": _short(s), "reason": reason, "retried_in_seconds": int(until - now)}
                        for s, (until, reason) in refused.items() if until > now],
        }

    def _keeps(self, source: CredentialSource) -> bool:
        """The remembered source still serves: loadable, not refused, and no source preferred
        to it (earlier in the list) has come back from a refusal (its time ran out)."""
        if not source.still_good() or self._is_refused(source):
            return False
        refused = self._refused
        if not refused:
            return True
        now = time.monotonic()
        earlier = self._sources[: self._sources.index(source)]
        return not any(s in refused and refused[s][0] <= now for s in earlier)

    def _is_refused(self, source: CredentialSource) -> bool:
        entry = self._refused.get(source)
        return entry is not None and entry[0] > time.monotonic()

    def describe(self) -> str:
        """The source in use, or the configured ones when none is chosen yet; never a secret."""
        chosen = self._chosen
        if chosen is not None:
            return chosen[0].describe()
        return "one of: " + "; ".join(s.describe() for s in self._sources)

    @property
    def only_secrets(self) -> bool:
        """True when every configured source is a client secret (discouraged in production)."""
        return all(s.kind == ClientSecretSource.kind for s in self._sources)

    def reset(self) -> None:
        """Forget the remembered source: the next call tries them in order again."""
        with self._lock:
            self._chosen = None

    def __repr__(self) -> str:
        return f"<ClientCredential {self.describe()}>"


def _short(source: CredentialSource) -> str:
    """Where a source is configured and its kind: enough for a probe's answer, no path or thumbprint."""
    return f"{source.origin} ({source.kind})"


# -- helpers ------------------------------------------------------------------------------------------

_PEM_BLOCK = re.compile(rb"(-----BEGIN ([A-Z0-9 ]+)-----\r?\n.+?-----END \2-----)", re.S)


def _pem_blocks(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(label, block) for block, label in _PEM_BLOCK.findall(data)]


def _matching_certificate(key: rsa.RSAPrivateKey, blocks: list[bytes]) -> x509.Certificate | None:
    """The certificate of ``key`` among ``blocks`` (a chain may come in any order)."""
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    public = key.public_key().public_bytes(der, spki)
    for block in blocks:
        try:
            cert = x509.load_pem_x509_certificate(block)
        except ValueError:
            continue
        if cert.public_key().public_bytes(der, spki) == public:
            return cert
    return None


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _mi_hint() -> str:
    # Without IDENTITY_ENDPOINT/IDENTITY_HEADER (App Service, Container Apps, Functions),
    # MSAL falls back to the Azure VM metadata endpoint: say so, it explains the error.
    if get_managed_identity_source() is DEFAULT_TO_VM:
        return " (no IDENTITY_ENDPOINT in the environment, so MSAL tried the Azure VM metadata endpoint)"
    return ""

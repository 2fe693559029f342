"""Certificates and keys the emulator makes for itself, kept in its state folder.

* a local CA and the HTTPS server certificate it signs (``ca.pem`` is what
  clients trust: ``ENTRA_CA_BUNDLE``);
* one key + certificate PEM per certificate credential of the manifest
  (``credentials/<name>.pem``), which apps load as their client certificate;
* the token-signing keys, published in the JWKS with ``kid`` and ``x5t``.

Everything is generated on first run and reused afterwards, so a browser or
a running app keeps trusting the emulator across restarts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
SERVER_FILE = "server.pem"
SERVER_HOSTS_FILE = "server-hosts.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


class LocalCA:
    """The emulator's certificate authority, loaded from or written to ``state_dir``."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = state_dir / CA_FILE, state_dir / CA_KEY_FILE
        if cert_path.exists() and key_path.exists():
            self._ca = trustme.CA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
        else:
            self._ca = trustme.CA(organization_name="Entra emulator (development only)")
            cert_path.write_bytes(self._ca.cert_pem.bytes())
            _write_private(key_path, self._ca.private_key_pem.bytes())

    @property
    def cert_path(self) -> Path:
        return self.state_dir / CA_FILE

    def server_certificate(self, hosts: list[str]) -> Path:
        """Key + chain PEM for the HTTPS server, reissued when the host list changes."""
        path = self.state_dir / SERVER_FILE
        hosts_path = self.state_dir / SERVER_HOSTS_FILE
        wanted = sorted(set(hosts))
        if path.exists() and hosts_path.exists() and json.loads(hosts_path.read_text()) == wanted:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
            if cert.not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7):
                return path
        leaf = self._ca.issue_cert(*wanted, common_name="Entra emulator")
        _write_private(path, leaf.private_key_and_cert_chain_pem.bytes())
        hosts_path.write_text(json.dumps(wanted))
        return path

    def issue_rsa_certificate(self, common_name: str, *, expired: bool = False) -> trustme.LeafCert:
        now = dt.datetime.now(dt.timezone.utc)
        if expired:
            not_before, not_after = now - dt.timedelta(days=60), now - dt.timedelta(days=1)
        else:
            not_before, not_after = now - dt.timedelta(minutes=5), now + dt.timedelta(days=365)
        return self._ca.issue_cert(
            common_name,
            common_name=common_name,
            not_before=not_before,
            not_after=not_after,
            key_type=trustme.KeyType.RSA,
        )


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate registered on an app: what the emulator checks assertions with."""

    name: str
    path: Path  # private key + certificate PEM, for the app to load
    certificate: x509.Certificate

    @property
    def x5t(self) -> str:
        return b64url(self.certificate.fingerprint(hashes.SHA1()))  # noqa: S303 - Entra's x5t is SHA-1

    @property
    def x5t_s256(self) -> str:
        return b64url(self.certificate.fingerprint(hashes.SHA256()))

    @property
    def expired(self) -> bool:
        return self.certificate.not_valid_after_utc < dt.datetime.now(dt.timezone.utc)


def certificate_credential(ca: LocalCA, name: str, *, expired: bool = False) -> CertificateCredential:
    """Load (or create) the client certificate registered under ``name``."""
    path = ca.state_dir / "credentials" / f"{name}.pem"
    if not path.exists():
        leaf = ca.issue_rsa_certificate(f"{name}.client.entra-emulator.invalid", expired=expired)
        # Private key first, then the certificate: the PEM layout apps expect.
        _write_private(path, leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
    cert = x509.load_pem_x509_certificate(_first_certificate(path.read_bytes()))
    return CertificateCredential(name=name, path=path, certificate=cert)


def _first_certificate(pem: bytes) -> bytes:
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    end = pem.index(b"-----END CERTIFICATE-----", start) + len(b"-----END CERTIFICATE-----")
    return pem[start:end]


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def x5t(self) -> str:
        return b64url(self.certificate.fingerprint(hashes.SHA1()))  # noqa: S303 - Entra's x5t is SHA-1

    def jwk(self, issuer: str | None = None) -> dict:
        """The key as Entra publishes it; ``issuer`` scopes it (the ``{tenantid}`` template for
        keys every tenant's tokens use)."""
        numbers = self.private_key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
            "x5c": [base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()],
            "alg": "RS256",
        }
        if issuer:
            jwk["issuer"] = issuer
        return jwk


class SigningKeys:
    """Token-signing keys with Entra-like rotation.

    The JWKS always publishes the active key and the next one (pre-published,
    as Entra does, so relying parties can learn it before it signs). Rotation
    promotes the next key, creates a new next key and keeps the previous one
    published until ``retire()`` drops it.
    """

    def __init__(self, ca: LocalCA, folder: str = "signing-keys"):
        self._ca = ca
        self._dir = ca.state_dir / folder
        self._lock = threading.Lock()
        self._order_path = self._dir / "order.json"
        if self._order_path.exists():
            order = json.loads(self._order_path.read_text())
            self.active = self._load(order["active"])
            self.next = self._load(order["next"])
            self.retired = [self._load(k) for k in order.get("retired", [])]
        else:
            self.active, self.next, self.retired = self._create(), self._create(), []
            self._save()

    def _create(self) -> SigningKey:
        leaf = self._ca.issue_rsa_certificate("signing.entra-emulator.invalid")
        key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
        cert = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
        assert isinstance(key, rsa.RSAPrivateKey)
        kid = b64url(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Entra uses kid == x5t
        _write_private(self._dir / f"{kid}.pem", leaf.private_key_pem.bytes() + leaf.cert_chain_pems[0].bytes())
        return SigningKey(kid, key, cert)

    def _load(self, kid: str) -> SigningKey:
        pem = (self._dir / f"{kid}.pem").read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return SigningKey(kid, key, x509.load_pem_x509_certificate(_first_certificate(pem)))

    def _save(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        self._order_path.write_text(
            json.dumps({"active": self.active.kid, "next": self.next.kid, "retired": [k.kid for k in self.retired]})
        )

    def published(self) -> list[SigningKey]:
        return [self.active, self.next, *self.retired]

    def find(self, kid: str) -> SigningKey | None:
        return next((k for k in self.published() if k.kid == kid), None)

    def rotate(self, *, emergency: bool = False) -> SigningKey:
        """Promote the pre-published key; an emergency rotation signs with a
        brand-new key nobody has seen yet (relying parties meet an unknown kid)."""
        with self._lock:
            self.retired.insert(0, self.active)
            if emergency:
                self.active = self._create()
            else:
                self.active, self.next = self.next, self._create()
            self._save()
            return self.active

    def retire(self) -> list[str]:
        """Stop publishing every key that is neither active nor next."""
        with self._lock:
            dropped = [k.kid for k in self.retired]
            self.retired = []
            self._save()
            return dropped


def sha256_hex(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()

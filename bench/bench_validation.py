"""API bearer validation per request vs the floor, measured side by side in one run.

    .venv/bin/python bench/bench_validation.py [--rounds 2000]

Compares, on the same emulator-issued access token with keys already loaded:
  * TokenValidator.validate for a first-seen token and for one seen before (what API requests pay),
  * a plain PyJWT decode with a preloaded key (signature + its own claim checks),
  * a bare RS256 signature verify with ``cryptography`` (the physical floor).
Prints a table of per-call medians and the ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script too

import cryptography
import jwt
import msal
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from entra_auth.http import build_http_session
from entra_auth.jwks import JwksCache
from entra_auth.jwt_validation import TokenValidator, policy_from_settings
from entra_emulator import EmulatorServer

API = "6b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8"
DAEMON = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
HOME = "11111111-1111-4111-8111-111111111111"


def per_call(fn, rounds: int, repeats: int = 7) -> float:
    """Median over ``repeats`` batches of the mean seconds per call."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        samples.append((time.perf_counter() - start) / rounds)
    return statistics.median(samples)


def measure(rounds: int = 2000) -> tuple[dict[str, float], int]:
    """Seconds per call of each measurement, and the token's size in bytes."""
    with tempfile.TemporaryDirectory() as state:
        server = EmulatorServer(port=0, state_dir=state).start()
        try:
            http = build_http_session(str(server.ca_path))
            daemon = msal.ConfidentialClientApplication(
                DAEMON, client_credential="dev-only-daemon-secret", authority=f"{server.url}/{HOME}",
                http_client=http, instance_discovery=False,
            )
            token = daemon.acquire_token_for_client([f"api://{API}/.default"])["access_token"]
            jwks = JwksCache(lambda: f"{server.url}/{HOME}/discovery/v2.0/keys", http)
            policy = policy_from_settings(server.url, API, [HOME], app_id_uris=[f"api://{API}"])
            validator = TokenValidator(policy, jwks)
            validator.validate(token)  # warm the key cache; the token is now "seen before"
            # First-seen tokens: the same code path with the memory of validated tokens switched off.
            first_seen = TokenValidator(policy, jwks, seen_max_bytes=0)
            first_seen.validate(token)
            kid = jwt.get_unverified_header(token)["kid"]
            key = jwks.key(kid)
            signing_input, _, sig_b64 = token.rpartition(".")
            signature = jwt.utils.base64url_decode(sig_b64)

            def bare_verify():
                key.verify(signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())

            def pyjwt_decode():
                jwt.decode(token, key, algorithms=["RS256"], audience=API, issuer=f"{server.url}/{HOME}/v2.0")

            # Interleaved batches: all four share whatever else the machine is doing.
            samples: dict[str, list[float]] = {name: [] for name in MEASUREMENTS}
            fns = dict(zip(MEASUREMENTS, (bare_verify, pyjwt_decode, lambda: first_seen.validate(token),
                                          lambda: validator.validate(token))))
            for _ in range(7):
                for name, fn in fns.items():
                    samples[name].append(per_call(fn, rounds, repeats=1))
            results = {name: statistics.median(values) for name, values in samples.items()}
        finally:
            server.stop()
    return results, len(token)


MEASUREMENTS = ("bare RS256 verify (cryptography)", "PyJWT decode, preloaded key",
                "TokenValidator.validate, first-seen token", "TokenValidator.validate, token seen before")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    results, size = measure(args.rounds)
    floor = results["bare RS256 verify (cryptography)"]
    pyjwt_cost = results["PyJWT decode, preloaded key"]
    print(f"python {platform.python_version()}, cryptography {cryptography.__version__}, PyJWT {jwt.__version__}, "
          f"{platform.machine()}, token {size} bytes, {args.rounds} calls x 7 batches (median)")
    print("| measurement | µs per call | vs bare verify | vs PyJWT decode |")
    print("|---|---:|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e6:.1f} | {seconds / floor:.2f}x | {seconds / pyjwt_cost:.2f}x |")


if __name__ == "__main__":
    main()

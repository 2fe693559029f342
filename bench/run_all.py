"""All benchmarks in one run; the table goes to bench/RESULTS.md.

    bench/run            (or: .venv/bin/python -m bench.run_all [--quick])

Every figure is a ratio of two things measured side by side in this run, on
this machine; absolute times are printed for context only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from importlib.metadata import version
from pathlib import Path

from bench import bench_pages, bench_validation
from bench.stack import start_stack

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    versions = ", ".join(f"{p} {version(p)}" for p in ("flask", "msal", "flask-session", "pyjwt", "cryptography",
                                                         "redis", "gunicorn", "identity"))
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; {versions}")


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(validation: dict, token_size: int, pages: dict, command: str) -> str:
    v = {k: t * 1e6 for k, t in validation.items()}
    floor, pyjwt = v["bare RS256 verify (cryptography)"], v["PyJWT decode, preloaded key"]
    first, seen = v["TokenValidator.validate, first-seen token"], v["TokenValidator.validate, token seen before"]
    p = pages["pages"]
    ours, bare, theirs = p["orders"], p["bare"], p["identity"]
    costs, rates, load = pages["costs"], pages["rates"], pages["load"]
    ratio_rate = rates["authenticated"] / rates["open"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `{command}`.",
        "",
        f"Machine: {machine()}.",
        "",
        "Each ratio compares two measurements taken side by side in this run (interleaved batches or rounds).",
        "",
        "## Bearer-token validation per request (one process, keys loaded)",
        "",
        f"Token: an emulator-issued access token of {token_size} bytes.",
        "",
        "| measurement | µs per call | vs bare RS256 verify | vs PyJWT decode |",
        "|---|---:|---:|---:|",
        *(f"| {name} | {value:.1f} | {value / floor:.2f}× | {value / pyjwt:.2f}× |" for name, value in v.items()),
        "",
        f"* first-seen token within 2× the bare signature verify: {first / floor:.2f}× — {verdict(first <= 2 * floor)}",
        f"* token seen before within 0.25× of a PyJWT decode: {seen / pyjwt:.3f}× — {verdict(seen <= 0.25 * pyjwt)}",
        "",
        "## A signed-in page: `/orders` under identical gunicorn settings",
        "",
        "gthread, 1 worker, 4 threads, TLS; one keep-alive client; median over interleaved rounds of the mean.",
        "Server time is gunicorn's own `%(D)s` per request; client time adds TLS and the Python client.",
        "",
        "| page | server ms | vs bare | client ms | Redis commands / request | identity-provider calls / request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {"orders": "Orders app (session + token cache in Redis, API in-process)",
              "bare": "bare Flask route, same Redis reads, same template",
              "identity": "`identity` library's Flask adapter (token cache in the session)"}
    for name in ("orders", "bare", "identity"):
        t, (redis_per, idp_per) = p[name], costs[name]
        lines.append(f"| {labels[name]} | {t.server_ms:.2f} | {t.server_ms / bare.server_ms:.2f}× | "
                     f"{t.client_ms:.2f} | {redis_per:.1f} | {idp_per:.2f} |")
    api_redis, api_idp = costs["api"]
    lines += [
        "",
        f"* within 1.5× the bare Redis route: {ours.server_ms / bare.server_ms:.2f}× — "
        f"{verdict(ours.server_ms <= 1.5 * bare.server_ms)}",
        f"* faster than the identity-library page: {ours.server_ms:.2f} ms vs {theirs.server_ms:.2f} ms — "
        f"{verdict(ours.server_ms < theirs.server_ms)}",
        f"* identity-provider calls in steady state: {costs['orders'][1]:.2f} per page, {api_idp:.2f} per API "
        f"request — {verdict(costs['orders'][1] == 0 and api_idp == 0)}",
        "",
        "## The API: `/api/orders`",
        "",
        f"Per request: {api_redis:.1f} Redis commands, {api_idp:.2f} identity-provider calls (app-only token).",
        "",
        "| handler | requests / s (8 keep-alive clients) |",
        "|---|---:|",
        f"| with bearer validation and authorization | {rates['authenticated']:.0f} |",
        f"| same store read and JSON, no authentication | {rates['open']:.0f} |",
        "",
        f"* authenticated throughput at least 80% of unauthenticated: {ratio_rate:.0%} — "
        f"{verdict(ratio_rate >= 0.8)}",
        "",
        "## Load: signed-in users for a fixed time",
        "",
        f"{load['users']} users, {load['seconds']:.0f} s, alternating `/profile` (on-behalf-of, cached) and "
        f"`/orders`; every page checked for its own user's `oid` and name.",
        "",
        "| requests | requests / s | errors | cross-user mix-ups | identity-provider calls per 1000 | p50 ms | p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {load['requests']} | {load['requests_per_second']:.0f} | {load['errors']} | {load['mixups']} | "
        f"{load['idp_calls_per_1000']:.2f} | {load['p50_ms']:.1f} | {load['p95_ms']:.1f} |",
        "",
        "The load generator shares the machine with the servers (loopback only), so absolute rates are a floor.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds: to check the harness, not to quote")
    args = parser.parse_args()
    quick = args.quick
    validation, size = bench_validation.measure(300 if quick else 3000)
    stack = start_stack(["orders", "bare", "identity"])
    try:
        pages = bench_pages.run(stack, rounds=3 if quick else 7, per_round=30 if quick else 200,
                                throughput_seconds=2 if quick else 8, load_users=5 if quick else 20,
                                load_seconds=5 if quick else 30)
    finally:
        stack.stop()
    text = report(validation, size, pages, "bench/run" + (" --quick" if quick else ""))
    print(text)
    if not quick:
        RESULTS.write_text(text)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

"""How hard the fuzz tests try: Hypothesis profiles, reproducible in CI.

``fuzz-ci`` (the default) is derandomized and keeps no example database, so a
run on CI explores exactly what a run on a laptop explores and a failure
reproduces by running the same test again. ``FUZZ_PROFILE=fuzz-deep
./run-tests tests/fuzz`` explores ten times as many examples with fresh
randomness each run, for a longer look before a release.

The profiles are applied per test (``budget(n)``), never loaded globally,
so they cannot change the settings of Hypothesis tests elsewhere.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("fuzz-ci", max_examples=100, derandomize=True, database=None, deadline=None,
                          print_blob=False)
# deadline=None in both: an example's time includes real HTTPS and Redis round trips, whose jitter
# is not a finding; the whole directory's time is the budget that matters (about 60 s).
settings.register_profile("fuzz-deep", max_examples=1000, derandomize=False, database=None, deadline=None)

PROFILE = settings.get_profile(os.environ.get("FUZZ_PROFILE", "fuzz-ci"))
_SCALE = PROFILE.max_examples / 100


def budget(examples: int, **overrides) -> settings:
    """Settings for a test that runs ``examples`` examples under the default profile (scaled by the active one)."""
    return settings(PROFILE, max_examples=max(1, round(examples * _SCALE)), **overrides)

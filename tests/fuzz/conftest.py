"""Hypothesis profiles for the fuzz suite.

`make test` runs these tests with hypothesis' default budget. `make fuzz` sets
HYPOTHESIS_PROFILE=fuzz: many more examples (FUZZ_EXAMPLES, default 5000) per property, no deadline.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

"""How long a throttled Alibaba Cloud OpenAPI call asks the caller to wait, from its headers.

Two forms are in use, both in milliseconds (docs/platform.md, "Throttling headers"):

- `x-acs-retry-after: 1500`, which the current SDKs (darabonba-openapi 0.4.5 and later, the
  aliyun CLI) read;
- `x-ratelimit-user-api` / `x-ratelimit-user: Limit:10,Remain:0,TimeLeft:1500,...`, which the
  SDKs before them read, waiting for the larger TimeLeft of the two.

Pure: no I/O, any mapping of header names (in any case) to values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RETRY_AFTER = "x-acs-retry-after"
RATE_LIMIT_HEADERS = ("x-ratelimit-user-api", "x-ratelimit-user")


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait: `x-acs-retry-after` when it holds a positive number, else the larger
    positive TimeLeft of the rate-limit headers; None when neither says anything usable."""
    items = getattr(headers, "items", None)
    if items is None:  # (None, or not a mapping: nothing to read)
        return None
    lowered = {str(name).lower(): value for name, value in items()}
    milliseconds = _positive(lowered.get(RETRY_AFTER))
    if milliseconds is None:
        left = [_time_left(lowered.get(name)) for name in RATE_LIMIT_HEADERS]
        milliseconds = max((ms for ms in left if ms is not None), default=None)
    return None if milliseconds is None else milliseconds / 1000


def _time_left(value: object) -> float | None:
    """TimeLeft of "Limit:10,Remain:0,TimeLeft:1500,Reset:..." (keys in any case and order;
    unknown keys and malformed pairs are skipped)."""
    if not isinstance(value, str):
        return None
    for pair in value.split(","):
        key, colon, number = pair.partition(":")
        if colon and key.strip().lower() == "timeleft":
            return _positive(number)
    return None


def _positive(value: object) -> float | None:
    """A finite number above zero, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None

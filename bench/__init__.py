"""Benchmarks behind `make bench`: cold start, core cost, throughput at the API's limit, batches.

Run `python -m bench.run --help`. Every figure is a ratio measured in the same run (machine noise
cancels); absolute times are kept beside them in bench/results.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"
for _path in (ROOT, FUNCTION_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

"""bench/fast_validation.py (a proposal for the core owner) must give exactly the verdicts of the
shipped RequestValidator: the same ProvisioningRequest, or the same Rejection."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fast_validation import FastRequestValidator
from cgw_provisioner.validation import RequestValidator

from .test_core_fuzz import broken_requests, to_json, valid_requests

SHIPPED = RequestValidator()
FAST = FastRequestValidator()


def test_the_prototype_compiles_the_shipped_schema():
    assert FAST._accept is not None


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_requests | broken_requests().map(lambda pair: pair[0]), st.booleans())
def test_same_verdict_as_the_shipped_validator(fields, ascii_only):
    body = to_json(fields, ascii_only)
    assert FAST.validate(body) == SHIPPED.validate(body)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_same_verdict_on_arbitrary_bytes(body):
    assert FAST.validate(body) == SHIPPED.validate(body)


def test_float_asn_goes_the_full_way():
    body = json.dumps({"RegionId": "cn-shanghai", "IpAddress": "203.0.113.1", "Asn": 65001.0})
    assert FAST.validate(body.encode()) == SHIPPED.validate(body.encode())

"""The SDK surface localcloud claims is held to the parity suites, by introspection.

Every public method of aliyun-mns-sdk's Account, Queue, Topic and Subscription and of fc2's
Client must be either driven by a parity test (its `@covers` declaration, enforced while the
test runs) or listed, with a reason, as deliberately unsupported in localcloud (where the
router answers it with the service's own error). A method a new SDK release adds fails here
until someone decides which it is. For VPC, every action localcloud serves must have a parity
case, and every other action of the SDKs is swept by test_vpc_sdk_parity.py.
"""

from __future__ import annotations

import pytest
from mns.queue import Queue

from localcloud.fc.unsupported import UNSUPPORTED as FC_UNSUPPORTED
from localcloud.mns.unsupported import UNSUPPORTED as MNS_UNSUPPORTED
from localcloud.vpc.responses import SERVED_ACTIONS
from tests.localcloud import test_fc_sdk_parity, test_mns_sdk_parity, test_vpc_sdk_parity
from tests.localcloud.sdk_coverage import (
    FC_CLASSES,
    INTERNAL,
    MNS_CLASSES,
    covers,
    declared_in,
    missing_from,
    public_methods,
)

MNS_SURFACE = public_methods(MNS_CLASSES)
FC_SURFACE = public_methods(FC_CLASSES)
FC_LISTED = {f"fc2.Client.{name}" for name in FC_UNSUPPORTED}


def test_every_mns_sdk_method_is_exercised_or_listed_as_unsupported():
    declared = declared_in(test_mns_sdk_parity)
    missing = missing_from(MNS_SURFACE, declared, set(MNS_UNSUPPORTED) | set(INTERNAL))
    assert not missing, f"aliyun-mns-sdk methods with no parity test and no reason: {missing}"


def test_every_fc2_client_method_is_exercised_or_listed_as_unsupported():
    declared = declared_in(test_fc_sdk_parity)
    missing = missing_from(FC_SURFACE, declared, FC_LISTED)
    assert not missing, f"fc2.Client methods with no parity test and no reason: {missing}"


def test_every_served_vpc_action_has_a_parity_case():
    assert set(test_vpc_sdk_parity.PARITY) == set(SERVED_ACTIONS)


@pytest.mark.parametrize(
    ("listed", "surface", "declared_by"),
    [
        (set(MNS_UNSUPPORTED) | set(INTERNAL), MNS_SURFACE, test_mns_sdk_parity),
        (FC_LISTED, FC_SURFACE, test_fc_sdk_parity),
    ],
    ids=["mns", "fc"],
)
def test_the_lists_are_honest(listed, surface, declared_by):
    """No stale entry (every listed name is a real method) and nothing both exercised and
    called unsupported."""
    assert listed <= surface, sorted(listed - surface)
    assert not listed & declared_in(declared_by)


def test_every_unsupported_entry_has_a_reason():
    reasons = [e.reason for e in MNS_UNSUPPORTED.values()] + list(FC_UNSUPPORTED.values())
    reasons += list(INTERNAL.values())
    assert all(len(reason.split()) >= 5 for reason in reasons)


def test_a_new_sdk_method_fails_the_check():
    class NewerQueue(Queue):
        def purge(self) -> None:  # what a future SDK release might add
            raise NotImplementedError

    surface = public_methods({"Queue": NewerQueue})
    declared = declared_in(test_mns_sdk_parity)
    listed = set(MNS_UNSUPPORTED) | set(INTERNAL)
    assert missing_from(surface, declared, listed) == ["Queue.purge"]


def test_a_declared_but_uncalled_method_fails_the_test():
    @covers("Queue.delete")
    def test_that_forgets_to_delete() -> None:
        return None

    with pytest.raises(AssertionError, match=r"never calls \['Queue.delete'\]"):
        test_that_forgets_to_delete()


def test_covers_refuses_a_name_the_sdk_does_not_have():
    with pytest.raises(ValueError, match=r"Queue\.purge"):
        covers("Queue.purge")

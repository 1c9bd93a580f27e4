"""Every public operation of aliyun-mns-sdk 1.3.0 (Account, Queue, Topic, Subscription),
unmodified, over HTTP against localcloud, checked field by field against what the SDK parses.

Each test declares the SDK methods it drives (`@covers`); tests/localcloud/test_sdk_surface.py
fails when an SDK method is neither declared here nor listed in localcloud.mns.unsupported.
"""

from __future__ import annotations

import pytest
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import QueueMeta

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tests.localcloud.sdk_coverage import covers

# GetQueueAttributes counts are "deprecated" in the SDK, but still parsed and still served.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def account(localcloud) -> Account:
    return Account(localcloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


@pytest.fixture
def mns(localcloud):
    return localcloud.cloud.backends["mns"]


def _error(call) -> MNSServerException:
    with pytest.raises(MNSServerException) as info:
        call()
    return info.value


def _calls(localcloud, action: str) -> list[dict]:
    return [c for c in localcloud.cloud.calls.snapshot() if c["action"] == action]


# --- queues -----------------------------------------------------------------------------------
@covers("Account.get_queue", "Queue.create", "Queue.set_attributes", "Queue.get_attributes")
def test_set_queue_attributes_changes_only_what_is_given(account, localcloud):
    queue = account.get_queue("orders")
    queue.create(QueueMeta(vis_timeout=45, delay_sec=2))
    before = queue.get_attributes()

    changed = QueueMeta()  # the SDK sends only the attributes that were set
    changed.set_visibilitytimeout(90)
    changed.set_polling_wait_seconds(5)
    changed.set_logging_enabled(True)
    queue.set_attributes(changed)

    after = queue.get_attributes()
    assert (after.visibility_timeout, after.polling_wait_seconds) == (90, 5)
    assert after.logging_enabled is True
    assert after.delay_seconds == 2  # not sent, so unchanged
    assert after.maximum_message_size == before.maximum_message_size
    assert after.create_time == before.create_time
    assert after.last_modify_time >= before.last_modify_time
    (call,) = _calls(localcloud, "SetQueueAttributes")
    assert call["status"] == 204


@covers("Account.get_queue", "Queue.set_attributes")
def test_set_queue_attributes_errors_as_mns(account):
    missing = _error(lambda: account.get_queue("nope").set_attributes(QueueMeta(vis_timeout=60)))
    assert missing.type == "QueueNotExist"
    assert missing.req_id  # the SDK reads it from the <Error> document
    account.get_queue("orders").create(QueueMeta())
    bad = _error(lambda: account.get_queue("orders").set_attributes(QueueMeta(vis_timeout=43201)))
    assert bad.type == "InvalidArgument"
    assert "VisibilityTimeout" in bad.message

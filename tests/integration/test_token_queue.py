"""token_queue over real HTTP: the MNS SDK against localcloud's MNS, unmodified."""

from __future__ import annotations

import time

import pytest
from mns.account import Account
from mns.queue import QueueMeta

from cgw_provisioner.arns import Destination
from cgw_provisioner.config import Endpoint
from cgw_provisioner.credentials import Credentials
from cgw_provisioner.token_queue import MnsTokenQueue, TokenQueueError
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

CREDENTIALS = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)


def _queue(name: str) -> Destination:
    return Destination("mns-queue", "", "", name)


@pytest.fixture
def pool(localcloud):
    """A fresh token queue (visibility 5 s) and an MnsTokenQueue on it; also the raw queue."""
    url = localcloud.cloud.base_url
    raw = Account(url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("tokens")
    raw.create(QueueMeta(vis_timeout=5))
    tokens = MnsTokenQueue(_queue("tokens"), Endpoint("http", url.removeprefix("http://")))
    tokens.use(CREDENTIALS)
    return tokens, raw


def _counts(raw) -> tuple[int, int, int]:
    meta = raw.get_attributes()
    return meta.active_messages, meta.inactive_messages, meta.delay_messages


def test_an_empty_pool_is_seeded_with_one_token(pool):
    tokens, raw = pool
    token = tokens.take(time.monotonic() + 5)
    assert token is not None
    assert token.waited  # (there was none when asked)
    assert tokens.holding == 1
    assert _counts(raw) == (0, 1, 0)


def test_tokens_carry_the_senders_mark_and_an_unmarked_sender_sends_plain_ones(pool):
    tokens, raw = pool
    first = tokens.take(time.monotonic() + 5)  # (the seed: a fresh instance's, unmarked)
    assert first is not None
    assert not first.marked
    tokens.marking = True  # (its slow start is over)
    tokens.release(first)
    again = tokens.take(time.monotonic() + 5)
    assert again is not None
    assert again.marked
    tokens.marking = False
    tokens.release(again)
    raw.set_encoding(False)  # (the function sends tokens without base64)
    assert raw.receive_message(1).message_body == "token"  # what a plain one looks like


def test_a_token_given_back_comes_back_a_second_after_it_came(pool):
    tokens, raw = pool
    first = tokens.take(time.monotonic() + 5)
    tokens.give_back(first)
    again = tokens.take(time.monotonic() + 5)
    assert again is not None
    assert again.received_at - first.received_at >= 1.0
    assert again.received_at - first.received_at < 1.5
    assert tokens.holding == 1
    assert sum(_counts(raw)) == 1  # still one token: deleted, then sent again


def test_a_removed_token_leaves_the_pool(pool):
    tokens, raw = pool
    tokens.remove(tokens.take(time.monotonic() + 5))
    assert tokens.holding == 0
    assert _counts(raw) == (0, 0, 0)


def test_added_tokens_are_sent_at_once_off_the_callers_thread(pool):
    tokens, raw = pool
    tokens.add(3)  # (queued for the returner thread: a call's answer does not wait for it)
    deadline = time.monotonic() + 2
    while _counts(raw)[0] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _counts(raw) == (3, 0, 0)
    taken = [tokens.take(time.monotonic() + 1) for _ in range(3)]
    assert all(t is not None and not t.waited for t in taken)


def test_take_some_gets_several_tokens_in_one_receive(pool):
    tokens, raw = pool
    tokens.add(5)
    tokens.flush()  # (sends whatever the returner has not sent yet)
    taken = tokens.take_some(time.monotonic() + 1, 4)
    assert len(taken) == 4
    assert tokens.holding == 4
    assert _counts(raw) == (1, 4, 0)


def test_flush_sends_held_tokens_back_when_due(pool):
    tokens, raw = pool
    tokens.add(1)
    token = tokens.take(time.monotonic() + 1)
    tokens.give_back(token)
    tokens.flush()  # waits until the token is due, then sends it back
    assert time.monotonic() >= token.received_at + 1.0
    assert tokens.holding == 0
    assert _counts(raw) == (1, 0, 0)


def test_a_token_already_back_is_not_doubled(localcloud):
    url = localcloud.cloud.base_url
    raw = Account(url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET).get_queue("short")
    raw.create(QueueMeta(vis_timeout=1))
    endpoint = Endpoint("http", url.removeprefix("http://"))
    tokens = MnsTokenQueue(_queue("short"), endpoint, reuse_after_s=5.0)  # held past its visibility
    tokens.use(CREDENTIALS)
    tokens.add(1)
    tokens.give_back(tokens.take(time.monotonic() + 1))
    time.sleep(1.2)  # its visibility ended: it is back, and its receipt handle is stale
    tokens.flush()
    assert sum(_counts(raw)) == 1


def test_a_missing_queue_is_a_token_queue_error(localcloud):
    url = localcloud.cloud.base_url
    tokens = MnsTokenQueue(_queue("no-such-queue"), Endpoint("http", url.removeprefix("http://")))
    tokens.use(CREDENTIALS)
    with pytest.raises(TokenQueueError):
        tokens.take(time.monotonic() + 1)

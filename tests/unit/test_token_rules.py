"""token_rules: what one answer does to the fleet's token pool."""

from __future__ import annotations

import itertools

from cgw_provisioner.token_rules import PoolChange, TokenRules


def test_slow_start_adds_a_token_per_grant_until_a_throttle_with_retry_after():
    rules = TokenRules(probe=0.0)
    assert rules.granted(waited=False) == PoolChange(keep=True, add=1)
    assert rules.throttled(None) == PoolChange(keep=True)  # (no retry-after: not ours to judge)
    assert rules.granted(waited=False).add == 1
    assert rules.throttled(0.05) == PoolChange(keep=False)
    assert rules.granted(waited=True) == PoolChange(keep=True, add=0)


def test_after_slow_start_only_grants_that_waited_may_add_one():
    draws = itertools.cycle([0.01, 0.5])
    rules = TokenRules(probe=0.02, rand=lambda: next(draws))
    rules.throttled(0.1)
    assert rules.granted(waited=False).add == 0  # (no draw: demand did not wait)
    assert [rules.granted(waited=True).add for _ in range(4)] == [1, 0, 1, 0]


def test_other_failures_give_the_token_back():
    assert TokenRules().failed() == PoolChange(keep=True)


def test_a_marked_token_ends_slow_start_and_the_instance_then_marks_its_own():
    rules = TokenRules(probe=0.0)
    assert not rules.mark  # (in slow start: its tokens carry no mark)
    rules.received(marked=False)
    assert rules.granted(waited=False).add == 1  # still in slow start
    rules.received(marked=True)  # another instance's slow start is over: the fleet's is
    assert rules.granted(waited=False).add == 0
    assert rules.mark
    rules.received(marked=False)  # (an unmarked token never starts it again)
    assert rules.granted(waited=False).add == 0


def test_a_throttle_with_retry_after_makes_the_instance_mark_its_tokens():
    rules = TokenRules(probe=0.0)
    rules.throttled(0.1)
    assert rules.mark

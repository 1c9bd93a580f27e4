"""The fleet token pool's queue: an MNS queue whose messages are send tokens (decision 0013).

A call takes a token (ReceiveMessage; it turns invisible for the queue's visibility timeout).
After a grant the instance holds it until `reuse_after_s` after it came, then deletes it and
sends a copy: the fleet makes at most as many calls a second as the queue holds tokens. A
copy is sent only when the delete worked (a stale receipt handle means the token is already
visible again). A token's body says whether its sender's slow start is over (`marking`;
token_rules.py). The rules that decide what an answer does are token_rules.py's; this module
only moves tokens.

Threads: any number call `take` or `take_some` (at most `receivers` receive at once); one
background thread sends held tokens back when they are due; `flush` sends every held token
back, waiting for the last (an invocation calls it before it returns: FC freezes an idle
instance, and its held tokens would come back only when their visibility timeout ends).
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

from mns.mns_exception import MNSExceptionBase, MNSServerException
from mns.queue import Message

from .arns import Destination
from .config import Endpoint
from .credentials import Credentials
from .destinations import MnsAccounts, mns_endpoint

TOKEN_BODY = "token"  # sent by an instance in slow start (a fresh deployment's first token)
MARKED_BODY = "token past-slow-start"  # sent by an instance whose slow start is over
EMPTY = "MessageNotExist"  # an empty queue (or too many long polls) answers this
STALE = {"MessageNotExist", "ReceiptHandleError"}  # a receipt handle that expired
WAITED_S = 0.05  # a receive that took longer than this waited for its token
MAX_BATCH = 16  # BatchReceiveMessage's most messages per request
SEED_AFTER = 3  # empty polls in a row before an instance that has had tokens looks to seed


class TokenQueueError(Exception):
    """The token queue could not be used (unreachable, refused): the caller paces alone."""


@dataclass(frozen=True)
class Token:
    receipt_handle: str
    received_at: float  # on the queue's clock
    waited: bool  # no token was there when asked: the pool held the fleet back
    marked: bool = False  # its sender's slow start was over (MARKED_BODY)


class MnsTokenQueue:
    def __init__(
        self,
        queue: Destination,
        endpoint: Endpoint | None = None,
        accounts: MnsAccounts | None = None,
        *,
        receivers: int = 2,
        reuse_after_s: float = 1.0,
        poll_s: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.queue, self._endpoint_override = queue, endpoint
        self.endpoint: Endpoint | None = endpoint
        self.receivers = receivers
        self.reuse_after_s, self.poll_s = reuse_after_s, poll_s
        self._accounts = accounts or MnsAccounts()
        self._clock, self._sleep = clock, sleep
        self._credentials: Credentials | None = None
        self._receiving = threading.BoundedSemaphore(receivers)
        self._lock = threading.Condition()
        # (due, order, token): a held token to send back, or None: a new token to send
        self._held: list[tuple[float, int, Token | None]] = []
        self._order = count()
        self._returner: threading.Thread | None = None
        self.holding = 0  # tokens taken and not yet given back or removed
        self._unsent = 0  # new tokens add() queued that are not in the queue yet
        self._empty_polls = 0  # empty receives in a row, on any thread
        self._seen_token = False  # this instance has had a token (the pool was seeded)
        self._seeded_at = -math.inf  # when this instance last looked whether to seed
        self.broken: TokenQueueError | None = None  # the returner's last failure
        self.marking = False  # the tokens this instance sends carry MARKED_BODY

    def use(self, credentials: Credentials, region: str = "", account_id: str = "") -> None:
        """The invocation's credentials (STS credentials rotate), region and account (an ARN
        without them means the function's own)."""
        self._credentials = credentials
        resolved = self.queue.resolved(region, account_id)
        self.endpoint = self._endpoint_override or mns_endpoint(resolved)

    # -- taking ----------------------------------------------------------------------------
    def take(self, latest: float) -> Token | None:
        """A token, or None when none came by `latest` (on this queue's clock)."""
        taken = self.take_some(latest, 1)
        return taken[0] if taken else None

    def take_some(
        self,
        latest: float,
        most: int,
        poll_s: int | None = None,
        wanted: Callable[[], bool] = lambda: True,
    ) -> list[Token]:
        """Up to `most` tokens (at most 16: one BatchReceiveMessage) as soon as at least one
        is there; none when none came by `latest`, or once `wanted()` says no (asked between
        polls). Long polls last `poll_s` at most (default: the queue's `poll_s`)."""
        most = max(1, min(MAX_BATCH, most))
        poll_s = self.poll_s if poll_s is None else poll_s
        asked = self._clock()
        if not self._receiving.acquire(timeout=max(0.0, latest - asked)):
            return []
        try:
            polls = 0
            while (remaining := latest - self._clock()) > 0 and wanted():
                wait = min(poll_s, int(remaining))  # whole seconds; 0: a short poll
                if not self._seen_token and polls == 0:
                    wait = 0  # (a fresh instance looks at once: it may have to seed the pool)
                polled = self._clock()
                received = self._receive(wait, most)
                if received:
                    now = self._clock()
                    with self._lock:
                        self.holding += len(received)
                        self._seen_token = True
                        self._empty_polls = 0
                    waited = polls > 0 or now - asked > WAITED_S
                    return [Token(handle, now, waited, marked) for handle, marked in received]
                polls += 1
                with self._lock:
                    self._empty_polls += 1
                    empty = self._empty_polls
                # A fresh instance looks at once; one that has had tokens after every
                # `SEED_AFTER` empty polls in a row, on any thread (a token on its way back is
                # deleted a moment before its copy is sent, and a look in between would add one
                # too many; a pool emptied by throttles must not stay empty).
                if (polls == 1 and not self._seen_token) or empty % SEED_AFTER == 0:
                    self._seed_if_empty()
                # An empty answer before the wait was up (a short poll, or MNS refusing a long
                # poll over its limit, which it still bills): not straight back.
                pause = max(0.05, wait) - (self._clock() - polled)
                if pause > 0:
                    self._sleep(min(pause, max(0.0, latest - self._clock())))
            return []
        finally:
            self._receiving.release()

    def _receive(self, wait_s: int, most: int) -> list[tuple[str, bool]]:
        """(receipt handle, marked) of each token received."""
        with self._queue(wait_s + 2) as queue:
            try:
                if most == 1:
                    messages = [queue.receive_message(wait_s)]
                else:
                    messages = queue.batch_receive_message(most, wait_s)
            except MNSServerException as exc:
                if exc.type == EMPTY:
                    return []
                raise
        return [
            (str(message.receipt_handle), message.message_body == MARKED_BODY)
            for message in messages
        ]

    def _seed_if_empty(self) -> None:
        """The first token of a fresh pool (or one that expired): only when the queue holds
        none at all, visible, in flight or delayed, and not twice a second from one instance
        (its receivers find the pool empty together)."""
        with self._lock:
            now = self._clock()
            if now - self._seeded_at < 1.0 or self._unsent:
                return  # (new tokens of this instance's are on their way: not empty)
            self._seeded_at = now
        with self._queue(3) as queue:
            meta = queue.get_attributes()
            if meta.active_messages + meta.inactive_messages + meta.delay_messages == 0:
                queue.send_message(self._token_message())

    # -- giving back, removing, adding ----------------------------------------------------
    def give_back(self, token: Token) -> None:
        """Back in the pool `reuse_after_s` after it came (by the returner thread)."""
        self._schedule(token.received_at + self.reuse_after_s, [token])

    def add(self, tokens: int) -> None:
        """New tokens into the pool, sent by the returner thread (not on a call's path)."""
        self._schedule(self._clock(), [None] * tokens)

    def _schedule(self, due: float, tokens: list[Token | None]) -> None:
        if not tokens:
            return
        with self._lock:
            for token in tokens:
                heapq.heappush(self._held, (due, next(self._order), token))
                self._unsent += token is None
            self._lock.notify()
            if self._returner is None:
                self._returner = threading.Thread(
                    target=self._return_when_due, name="token-returner", daemon=True
                )
                self._returner.start()

    def release(self, token: Token) -> None:
        """Back at once, unused (fetched ahead for a message that no longer needs it)."""
        self._send_back(token)

    def remove(self, token: Token) -> None:
        """Out of the pool (a throttle said the pool is too big)."""
        with self._lock:
            self.holding -= 1
        self._delete(token)

    def flush(self, wait: bool = True) -> None:
        """Every held token back and every new one sent, each when it is due: waiting for the
        last (at most `reuse_after_s`) keeps the pool's second exact (a whole-second
        DelaySeconds instead returned tokens up to a second late: decision 0013).
        `wait=False` (someone waits for the invocation): a token not due yet stays hidden
        for the whole seconds it has left (ChangeMessageVisibility), then comes back by itself."""
        with self._lock:
            held, self._held = sorted(self._held, key=lambda entry: entry[:2]), []
        for due, _, token in held:
            early = due - self._clock()
            if token is not None and early > 0:
                if not wait:
                    self._hide(token, math.ceil(early))
                    continue
                self._sleep(early)
            self._deliver(token)

    def _hide(self, token: Token, seconds: int) -> None:
        with self._lock:
            self.holding -= 1
        with self._queue(3) as queue:
            try:
                queue.change_message_visibility(token.receipt_handle, seconds)
            except MNSServerException as exc:
                if exc.type not in STALE:  # (stale: the token is back already)
                    raise

    def _return_when_due(self) -> None:
        while True:
            with self._lock:
                while not self._held or self._held[0][0] > self._clock():
                    if not self._held:
                        if not self._lock.wait(timeout=30):
                            self._returner = None  # idle: the next give_back starts another
                            return
                        continue
                    self._lock.wait(timeout=max(0.0, self._held[0][0] - self._clock()))
                _, _, token = heapq.heappop(self._held)
            try:
                self._deliver(token)
            except Exception as exc:  # (the thread must go on: the policy reads `broken`)
                self.broken = exc if isinstance(exc, TokenQueueError) else TokenQueueError(exc)

    def _deliver(self, token: Token | None) -> None:
        if token is None:
            try:
                with self._queue(3) as queue:
                    queue.send_message(self._token_message())
            finally:
                with self._lock:
                    self._unsent -= 1
        else:
            self._send_back(token)

    def _send_back(self, token: Token) -> None:
        with self._lock:
            self.holding -= 1
        if self._delete(token):
            with self._queue(3) as queue:
                queue.send_message(self._token_message())

    def _delete(self, token: Token) -> bool:
        """True when deleted; False when the handle was stale (the token is back already)."""
        with self._queue(3) as queue:
            try:
                queue.delete_message(token.receipt_handle)
            except MNSServerException as exc:
                if exc.type in STALE:
                    return False
                raise
        return True

    def _token_message(self) -> Message:
        return Message(MARKED_BODY if self.marking else TOKEN_BODY)

    # -- the SDK ---------------------------------------------------------------------------
    @contextmanager
    def _queue(self, timeout_s: float) -> Iterator[Any]:
        """An MNS queue object on a pooled client; SDK errors become TokenQueueError."""
        credentials, endpoint = self._credentials, self.endpoint
        if credentials is None or endpoint is None:
            raise TokenQueueError("no credentials yet (use() comes first)")
        key = MnsAccounts.key(endpoint, credentials, timeout_s)
        account = self._accounts.take(key)
        healthy = False
        try:
            queue = account.get_queue(self.queue.name)
            queue.set_encoding(False)
            yield queue
            healthy = True
        except MNSServerException as exc:
            healthy = True
            raise TokenQueueError(f"{exc.type}: {exc.message}") from exc
        except MNSExceptionBase as exc:
            raise TokenQueueError(f"{exc.type}: {exc.message}") from exc
        finally:
            self._accounts.give_back(key, account, healthy)

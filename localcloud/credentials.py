"""The AccessKey pairs (and optional STS tokens) that localcloud accepts, with their permissions."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

DEFAULT_ACCESS_KEY_ID = "LTAI5tLocalCloudTestKey"
DEFAULT_ACCESS_KEY_SECRET = "localcloud-secret-do-not-use-in-production"


class CredentialSpecError(ValueError):
    """A --credential, --restrict or --sub-user value that cannot be parsed."""


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None
    # None means every action; otherwise only these (Forbidden / Forbbiden.SubUser outside them).
    allowed_actions: frozenset[str] | None = None
    sub_user: bool = False

    def allows(self, action: str) -> bool:
        return self.allowed_actions is None or action in self.allowed_actions


@dataclass
class CredentialStore:
    """Thread-safe map of AccessKeyId -> Credential."""

    _by_id: dict[str, Credential] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, credential: Credential) -> None:
        with self._lock:
            self._by_id[credential.access_key_id] = credential

    def get(self, access_key_id: str) -> Credential | None:
        with self._lock:
            return self._by_id.get(access_key_id)

    def restrict(self, access_key_id: str, actions: set[str], *, sub_user: bool = False) -> None:
        with self._lock:
            current = self._by_id.get(access_key_id)
            if current is None:
                raise CredentialSpecError(f"unknown AccessKeyId {access_key_id!r} in restriction")
            self._by_id[access_key_id] = Credential(
                current.access_key_id,
                current.access_key_secret,
                current.security_token,
                frozenset(actions),
                sub_user,
            )

    def all(self) -> list[Credential]:
        with self._lock:
            return list(self._by_id.values())


def parse_credential(spec: str) -> Credential:
    """`ID:SECRET` or `ID:SECRET:TOKEN` (an STS credential: the token must accompany the key)."""
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        # Only the part before the first ':' is echoed: the rest may be a secret.
        raise CredentialSpecError(
            f"credential must be ID:SECRET or ID:SECRET:TOKEN, got {parts[0][:64]!r}"
            + (":..." if len(parts) > 1 else "")
        )
    token = parts[2] if len(parts) == 3 and parts[2] else None
    return Credential(parts[0], parts[1], token)


def parse_credential_lines(text: str, source: str) -> list[Credential]:
    """One `ID:SECRET[:TOKEN]` per line; blank lines and `#` comments are skipped.

    For --credential-file and $LOCALCLOUD_CREDENTIALS: unlike --credential, neither shows the
    secret in the process list. Errors name `source` and the line number, never the secret."""
    credentials = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            credentials.append(parse_credential(line))
        except CredentialSpecError as exc:
            raise CredentialSpecError(f"{source} line {number}: {exc}") from None
    return credentials


def parse_restriction(spec: str) -> tuple[str, set[str]]:
    """`ID=Action1,Action2` -> (ID, {Action1, Action2})."""
    key, sep, actions = spec.partition("=")
    if not sep or not key:
        raise CredentialSpecError(f"restriction must be ID=Action1,Action2, got {spec!r}")
    return key, {a.strip() for a in actions.split(",") if a.strip()}

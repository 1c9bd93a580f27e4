"""localcloud: a local stand-in for the Alibaba Cloud APIs this project uses.

It speaks the real wire protocols on 127.0.0.1 (VPC OpenAPI RPC style, MNS, FC invoke), verifies
signatures, and keeps its state in memory, so the official SDKs talk to it unmodified. It is a test
and development tool and never ships in the function package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.server import LocalCloud

__all__ = ["LocalCloud"]


def __getattr__(name: str) -> Any:
    # Lazily, so that importing a part (localcloud.core, a service) does not load the server.
    if name == "LocalCloud":
        from localcloud.server import LocalCloud

        return LocalCloud
    raise AttributeError(f"module 'localcloud' has no attribute {name!r}")

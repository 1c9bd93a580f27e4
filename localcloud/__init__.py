"""localcloud: a local stand-in for the Alibaba Cloud APIs this project uses.

It speaks the real wire protocols on 127.0.0.1 (VPC OpenAPI RPC style, MNS, FC invoke), verifies
signatures, and keeps its state in memory, so the official SDKs talk to it unmodified. It is a test
and development tool and never ships in the function package.
"""

from localcloud.server import LocalCloud

__all__ = ["LocalCloud"]

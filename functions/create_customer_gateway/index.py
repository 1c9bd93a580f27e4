"""Function Compute entry points (handler `index.handler`, initializer `index.initializer`).

Wiring only: the work is in cgw_provisioner.app.
"""

from typing import Any

from cgw_provisioner import app


def initializer(context: Any) -> None:
    """Once per instance: config, clients, the compiled request schema."""
    app.initialize(context)


def handler(event: bytes, context: Any) -> Any:
    """One invocation: the outcome event (direct invocation of one request) or a summary."""
    return app.handle(event, context)

"""Function Compute entry points (handler `index.handler`, initializer `index.initializer`).

Wiring only: the work is in cgw_provisioner.app.
"""

from cgw_provisioner import app


def initializer(context):
    """Once per instance: config, clients, the compiled request schema."""
    app.initialize(context)


def handler(event, context):
    """One invocation: the outcome event (direct invocation of one request) or a summary."""
    return app.handle(event, context)

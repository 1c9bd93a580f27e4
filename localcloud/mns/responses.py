"""Wire format of the mns service (placeholder until the service lands)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response


class MnsResponses:
    def __init__(self, cloud) -> None:
        self.cloud = cloud

    def dispatch(self, request: Request) -> Response:
        return Response(b"not implemented", 501)

"""FC API errors: the wire code and HTTP status travel with the exception (rendered as JSON
{"ErrorCode", "ErrorMessage"} by responses.py)."""

from __future__ import annotations

from localcloud.core import ServiceError


class FcError(ServiceError):
    def __str__(self) -> str:
        return self.message  # the code travels apart (logs and dead-letter reasons add it)

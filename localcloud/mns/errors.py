"""MNS errors: the wire code and HTTP status travel with the exception."""

from __future__ import annotations

from localcloud.core import ServiceError


class MnsError(ServiceError):
    """An MNS error with its wire code and HTTP status (rendered as <Error> by responses.py)."""


def queue_not_exist(name: str) -> MnsError:
    return MnsError("QueueNotExist", 404, f"The queue name you provided is not exist. ({name})")


def topic_not_exist(name: str) -> MnsError:
    return MnsError("TopicNotExist", 404, f"The topic you provided does not exist. ({name})")


def message_not_exist() -> MnsError:
    return MnsError("MessageNotExist", 404, "Message not exist.")


def invalid_argument(message: str) -> MnsError:
    return MnsError("InvalidArgument", 400, message)


def check_range(element: str, value: float, low: float, high: float, unit: str) -> None:
    if not low <= value <= high:
        raise invalid_argument(
            f"The value of Element {element} should between {low} and {high} {unit}. (got {value})"
        )

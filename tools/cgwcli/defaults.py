"""Queue and topic names: template.yml's parameter defaults (PyYAML; the template uses no tags)."""

from __future__ import annotations

from typing import Any

import yaml

NAMES = {
    "queue": "RequestQueueName",
    "dead_letter_queue": "DeadLetterQueueName",
    "topic": "ResultTopicName",
    "token_queue": "TokenQueueName",
}
FALLBACK = {
    "queue": "cgw-requests",
    "dead_letter_queue": "cgw-requests-dlq",
    "topic": "cgw-outcomes",
    "token_queue": "cgw-send-tokens",
}


def names(template_text: str | None) -> dict[str, str]:
    """{queue, dead_letter_queue, topic, token_queue} from the template's Parameters (fallbacks
    if absent)."""
    parameters: Any = {}
    if template_text:
        document = yaml.safe_load(template_text)
        parameters = document.get("Parameters", {}) if isinstance(document, dict) else {}
    found = dict(FALLBACK)
    for key, parameter in NAMES.items():
        default = (parameters.get(parameter) or {}).get("Default")
        if isinstance(default, str) and default:
            found[key] = default
    return found


def endpoint_identity(endpoint: str) -> tuple[str | None, str | None]:
    """(region, account id) from an MNS endpoint https://<account>.mns.<region>.aliyuncs.com
    (also -internal / -internal-vpc hosts); (None, None) for any other host (e.g. localcloud)."""
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    parts = host.split(".")
    if (
        len(parts) >= 5
        and parts[1] == "mns"
        and parts[0].isdigit()
        and host.endswith(".aliyuncs.com")
    ):
        region = parts[2]
        for suffix in ("-internal-vpc", "-internal"):
            region = region.removesuffix(suffix)
        return region, parts[0]
    return None, None

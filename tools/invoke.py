"""`make invoke EVENT=events/<file>`: invoke the function with fc2 and print its answer.

    python tools/invoke.py EVENT [--async] [--log] [--service S] [--function F] [--endpoint URL]

Without --endpoint (and without FC_ENDPOINT in the environment) localcloud is started with
template.yml for the call and stopped afterwards. With an endpoint the same command invokes the
deployed function on Alibaba Cloud, e.g. FC_ENDPOINT=https://<account>.cn-shanghai.fc.aliyuncs.com,
signed with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (and
ALIBABA_CLOUD_SECURITY_TOKEN for STS). Service and function names default to the template's.
Exit status: 0 on success, 1 on a function error (printed as FC reports it), 2 on an API error.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402
from tools.localcloud_process import LocalCloudProcess  # noqa: E402
from tools.run import TEMPLATE, localcloud_args  # noqa: E402


def template_defaults(template: Path) -> tuple[str, str]:
    """The ServiceName and FunctionName parameter defaults of the template."""
    import yaml

    parameters = (yaml.safe_load(template.read_text(encoding="utf-8")) or {}).get(
        "Parameters"
    ) or {}
    return (
        str((parameters.get("ServiceName") or {}).get("Default", "cgw-provisioner")),
        str((parameters.get("FunctionName") or {}).get("Default", "create-customer-gateway")),
    )


def invoke(
    endpoint: str,
    key: str,
    secret: str,
    token: str,
    service: str,
    function: str,
    payload: bytes,
    asynchronous: bool,
    log_tail: bool,
    qualifier: str | None,
) -> int:
    import fc2

    client = fc2.Client(
        endpoint=endpoint,
        accessKeyID=key,
        accessKeySecret=secret,
        securityToken=token,
        Timeout=660,
    )
    headers = {"x-fc-invocation-type": "Async" if asynchronous else "Sync"}
    if log_tail and not asynchronous:
        headers["x-fc-log-type"] = "Tail"
    try:
        response = client.invoke_function(
            service, function, payload=payload, headers=headers, qualifier=qualifier
        )
    except fc2.FcError as exc:
        try:
            detail = json.loads(exc.message)
        except ValueError:
            detail = {"message": exc.message}
        print(json.dumps(detail, indent=2, ensure_ascii=False))
        if exc.status_code == 200:
            print(f"function error (request {exc.request_id})", file=sys.stderr)
            return 1
        print(f"FC API error {exc.status_code} {exc.err_code}", file=sys.stderr)
        return 2
    request_id = response.headers.get("X-Fc-Request-Id", "")
    if asynchronous:
        print(f"accepted for asynchronous invocation: request {request_id}")
        return 0
    log_result = response.headers.get("X-Fc-Log-Result")
    if log_result:
        print(base64.b64decode(log_result).decode("utf-8", "replace"), file=sys.stderr)
    try:
        print(json.dumps(json.loads(response.data), indent=2, ensure_ascii=False))
    except ValueError:
        print(response.data.decode("utf-8", "replace"))
    print(f"request {request_id}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("event", type=Path, help="file whose bytes are the event")
    parser.add_argument("--endpoint", default=os.environ.get("FC_ENDPOINT", ""))
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--service", help="FC service (default: the template's)")
    parser.add_argument("--function", help="FC function (default: the template's)")
    parser.add_argument("--qualifier", help="version or alias (default LATEST)")
    parser.add_argument("--async", dest="asynchronous", action="store_true")
    parser.add_argument("--log", action="store_true", help="print the invocation's log tail")
    args = parser.parse_args(argv)
    try:
        payload = args.event.read_bytes()
    except OSError as exc:
        print(f"cannot read the event: {exc}", file=sys.stderr)
        return 2
    service, function = template_defaults(args.template)
    service, function = args.service or service, args.function or function
    if args.endpoint:
        key = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
        secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
        if not key or not secret:
            print(
                "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                "to invoke a deployed function",
                file=sys.stderr,
            )
            return 2
        token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", "")
        return invoke(
            args.endpoint, key, secret, token, service, function, payload,
            args.asynchronous, args.log, args.qualifier,
        )  # fmt: skip
    print(f"starting localcloud with {args.template.name} ...", file=sys.stderr)
    with LocalCloudProcess(*localcloud_args(args.template)) as cloud:
        status = invoke(
            cloud.info["fc"], DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "", service,
            function, payload, args.asynchronous, args.log, args.qualifier,
        )  # fmt: skip
        if args.asynchronous:
            print("(localcloud stops now; an async run may be cut short)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

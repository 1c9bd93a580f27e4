"""`python -m localcloud`: run localcloud in the foreground until interrupted."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from localcloud.credentials import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    Credential,
    CredentialSpecError,
    parse_credential,
    parse_credential_lines,
    parse_restriction,
)
from localcloud.faults import FaultRuleError
from localcloud.http_handler import DEFAULT_READ_TIMEOUT_S
from localcloud.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LocalCloud
from localcloud.template import TemplateError, validate

CREDENTIALS_ENV = "LOCALCLOUD_CREDENTIALS"


def _parameter(spec: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise ValueError(f"--parameter must be NAME=VALUE, got {spec!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m localcloud",
        description="Local stand-in for the Alibaba Cloud VPC, MNS and FC APIs.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--region", default=DEFAULT_REGION)
    p.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    p.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="ID:SECRET[:TOKEN]",
        help=f"accepted AccessKey (repeatable); default {DEFAULT_ACCESS_KEY_ID}:"
        f"{DEFAULT_ACCESS_KEY_SECRET}. Visible to everyone in `ps`: prefer --credential-file",
    )
    p.add_argument(
        "--credential-file",
        action="append",
        default=[],
        metavar="FILE",
        help=f"accepted AccessKeys, one ID:SECRET[:TOKEN] per line (# comments); keeps secrets "
        f"out of `ps`. ${CREDENTIALS_ENV} (same format, one per line) works too",
    )
    p.add_argument(
        "--restrict",
        action="append",
        default=[],
        metavar="ID=Action1,Action2",
        help="limit a credential to these actions (others: Forbidden)",
    )
    p.add_argument(
        "--sub-user",
        action="append",
        default=[],
        metavar="ID=Action1,Action2",
        help="like --restrict, for a sub-user (others: Forbbiden.SubUser)",
    )
    p.add_argument("--quota", type=int, default=100, help="customer gateways per region")
    p.add_argument("--faults", metavar="FILE", help="JSON list of fault rules to start with")
    p.add_argument("--fault-seed", type=int, help="seed for fault probabilities (repeatable runs)")
    p.add_argument("--ready-file", metavar="PATH", help="write the service URLs here when ready")
    p.add_argument(
        "--template",
        metavar="FILE",
        help="deploy this ROS template (template.yml): queues, topic, function, triggers",
    )
    p.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter value (repeatable)",
    )
    p.add_argument(
        "--code-uri", metavar="DIR", help="function code directory (default: LocalCodeUri)"
    )
    p.add_argument(
        "--max-instances", type=int, default=3, help="FC instances per function (default 3)"
    )
    p.add_argument(
        "--trigger-time-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply trigger retry intervals and FC async retry delays (e.g. 0.01)",
    )
    p.add_argument(
        "--function-log",
        metavar="FILE",
        help="append function instance output here (default: localcloud's stderr)",
    )
    p.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help="close a connection that sends nothing for this long "
        f"(default {DEFAULT_READ_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="log each request: method, path, action, status (secrets masked)",
    )
    return p


def credentials_from(args: argparse.Namespace, environ: dict[str, str]) -> list[Credential]:
    """--credential, then each --credential-file, then $LOCALCLOUD_CREDENTIALS."""
    credentials = [parse_credential(c) for c in args.credential]
    for path in args.credential_file:
        with open(path, encoding="utf-8") as fh:
            credentials += parse_credential_lines(fh.read(), path)
    if environ.get(CREDENTIALS_ENV):
        credentials += parse_credential_lines(environ[CREDENTIALS_ENV], f"${CREDENTIALS_ENV}")
    return credentials


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s localcloud %(levelname)s %(message)s",
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        if args.template:  # a template or parameter error ends here, before anything starts
            validate(args.template, dict(_parameter(p) for p in args.parameter), args.region)
        cloud = LocalCloud(
            host=args.host,
            port=args.port,
            region=args.region,
            account_id=args.account_id,
            credentials=credentials_from(args, dict(os.environ)),
            quota=args.quota,
            fault_seed=args.fault_seed,
            template=args.template,
            template_parameters=dict(_parameter(p) for p in args.parameter),
            code_uri=args.code_uri,
            fc_max_instances=args.max_instances,
            trigger_time_scale=args.trigger_time_scale,
            read_timeout=args.read_timeout,
        )
        if args.function_log:
            cloud.cloud.backends.fc.log_file = open(  # noqa: SIM115 (open while running)
                args.function_log, "a", encoding="utf-8"
            )
        for spec in args.restrict:
            cloud.cloud.credentials.restrict(*parse_restriction(spec))
        for spec in args.sub_user:
            cloud.cloud.credentials.restrict(*parse_restriction(spec), sub_user=True)
        if args.faults:
            cloud.cloud.faults.load_file(args.faults)
    except (CredentialSpecError, FaultRuleError, OSError, ValueError) as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2

    try:
        cloud.start()
    except TemplateError as exc:
        print(f"localcloud: {exc}", file=sys.stderr)
        return 2
    info = cloud.ready_info()
    if args.ready_file:
        tmp = f"{args.ready_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
        os.replace(tmp, args.ready_file)
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

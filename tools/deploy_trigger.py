"""Create the MNS queue trigger (FC `eventbridge` trigger) from template.yml on Function Compute.

    python tools/deploy_trigger.py --region cn-shanghai --account-id 1234567890123456 \\
        [--parameter NAME=VALUE ...] [--endpoint URL] [--update] [--dry-run]

ROS cannot create this trigger (ALIYUN::FC::Trigger documents no `eventbridge` type), so its
exact FC triggerConfig lives in template.yml under Metadata `CgwProvisioner::QueueTrigger`.
This tool resolves it (Ref / Fn::Sub / Fn::Join with the stack's parameters and the
ALIYUN::Region / ALIYUN::AccountId pseudo parameters) and calls fc2's
Client.create_trigger(serviceName, functionName, triggerName, 'eventbridge', triggerConfig,
sourceArn, invocationRole) - or update_trigger with --update when it exists already.
Run it after the ROS stack is created, with the same parameter values you gave the stack.

Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (and
ALIBABA_CLOUD_SECURITY_TOKEN for STS). Endpoint: --endpoint, else FC_ENDPOINT, else
https://<account-id>.<region>.fc.aliyuncs.com.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localcloud.template import Resolver, TemplateError, load, queue_trigger  # noqa: E402

TEMPLATE = ROOT / "template.yml"


def resolved_trigger(template: Path, region: str, account_id: str, parameters: dict[str, str]):
    spec = queue_trigger(Resolver(load(template), region, account_id, parameters))
    if spec is None:
        raise TemplateError(f"{template}: no Metadata CgwProvisioner::QueueTrigger")
    return spec


def _parameter(spec: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--parameter must be NAME=VALUE, got {spec!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--region", default=os.environ.get("ALIBABA_CLOUD_REGION_ID", ""))
    parser.add_argument("--account-id", default=os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID", ""))
    parser.add_argument("--parameter", type=_parameter, action="append", default=[])
    parser.add_argument("--endpoint", default=os.environ.get("FC_ENDPOINT", ""))
    parser.add_argument("--update", action="store_true", help="update the trigger if it exists")
    parser.add_argument("--dry-run", action="store_true", help="print the call, do not make it")
    args = parser.parse_args(argv)
    if not args.region or not args.account_id:
        parser.error("--region and --account-id are required (the stack's region and account)")
    try:
        spec = resolved_trigger(args.template, args.region, args.account_id, dict(args.parameter))
    except (TemplateError, ValueError) as exc:
        print(f"deploy_trigger: {exc}", file=sys.stderr)
        return 2
    call = {
        "serviceName": spec.service,
        "functionName": spec.function,
        "triggerName": spec.name,
        "triggerType": spec.type,
        "triggerConfig": spec.config,
        "sourceArn": spec.source_arn,
        "invocationRole": spec.invocation_role,
    }
    if args.dry_run:
        print(json.dumps(call, indent=2))
        return 0
    key = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
    if not key or not secret:
        print(
            "deploy_trigger: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            file=sys.stderr,
        )
        return 2
    import fc2

    endpoint = args.endpoint or f"https://{args.account_id}.{args.region}.fc.aliyuncs.com"
    client = fc2.Client(
        endpoint=endpoint,
        accessKeyID=key,
        accessKeySecret=secret,
        securityToken=os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
    )
    try:
        try:
            response = client.create_trigger(
                spec.service,
                spec.function,
                spec.name,
                spec.type,
                spec.config,
                spec.source_arn,
                spec.invocation_role,
            )
            verb = "created"
        except fc2.FcError as exc:
            if exc.err_code != "TriggerAlreadyExists" or not args.update:
                raise
            response = client.update_trigger(
                spec.service, spec.function, spec.name, triggerConfig=spec.config
            )
            verb = "updated"
    except fc2.FcError as exc:
        print(f"deploy_trigger: {exc.status_code} {exc.err_code}: {exc.message}", file=sys.stderr)
        if exc.err_code == "TriggerAlreadyExists":
            print("  (run again with --update to change the existing trigger)", file=sys.stderr)
        return 1
    data = response.data
    source = spec.config["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"]
    print(
        f"{verb} trigger {spec.name} ({spec.type}) on {spec.service}/{spec.function}: "
        f"queue {source['QueueName']}, sourceArn {data.get('sourceArn') or '(set by FC)'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

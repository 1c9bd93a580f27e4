"""template.yml held against the code it deploys (no ROS linter exists on PyPI: this is ours).

- the entry points it names exist in index.py and are callable;
- every setting cgw_provisioner.config reads is set or has a default, nothing unknown is set,
  and the resolved environment parses (config.load) as the function will parse it on FC;
- the role's policy allows exactly what the code calls: the VPC actions of the aliyunsdkvpc
  request classes cgw_provisioner/vpc.py imports, the MNS/FC action of each configured destination
  kind (destinations.py: topic -> PublishMessage, queue -> SendMessage, FC -> InvokeFunction),
  and log writing for the service's log config - no more;
- the runtime is a real FC runtime (python3.10, the one make package builds for);
- the queue trigger (Metadata) points at the template's request queue, dead-letters to its DLQ
  and is a configuration localcloud's EventBridge emulation accepts;
- every Ref / Fn::GetAtt / Fn::Sub resolves, and the template deploys on localcloud.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import fc2
import pytest
import yaml

from cgw_provisioner import config as config_module
from cgw_provisioner.arns import parse_destination_arn
from localcloud import LocalCloud
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.fc.models import RUNTIMES
from localcloud.fc.triggers import QueueTriggerConfig
from localcloud.template import QUEUE_TRIGGER_METADATA, Resolver, TemplateError, queue_trigger

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"
PACKAGE = FUNCTION_DIR / "cgw_provisioner"
REGION, ACCOUNT = "cn-hangzhou", "5555666677778888"

# Resource types documented in the ROS resource reference (help.aliyun.com/zh/ros/...).
ROS_TYPES = {
    "ALIYUN::RAM::Role",
    "ALIYUN::SLS::Project",
    "ALIYUN::SLS::Logstore",
    "ALIYUN::FC::Service",
    "ALIYUN::FC::Function",
    "ALIYUN::MNS::Queue",
    "ALIYUN::MNS::Topic",
}
DESTINATION_ACTIONS = {
    "mns-topic": "mns:PublishMessage",
    "mns-queue": "mns:SendMessage",
    "fc": "fc:InvokeFunction",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resolver(template) -> Resolver:
    return Resolver(template, REGION, ACCOUNT)


def _resources_of(template: dict[str, Any], kind: str) -> list[str]:
    return [name for name, r in template["Resources"].items() if r["Type"] == kind]


def _one(template: dict[str, Any], kind: str) -> str:
    names = _resources_of(template, kind)
    assert len(names) == 1, f"expected one {kind}, found {names}"
    return names[0]


def _props(resolver: Resolver, name: str) -> dict[str, Any]:
    return resolver.resolve(resolver.template["Resources"][name]["Properties"], name)


@pytest.fixture(scope="module")
def function(template, resolver) -> dict[str, Any]:
    return _props(resolver, _one(template, "ALIYUN::FC::Function"))


@pytest.fixture(scope="module")
def environment(function) -> dict[str, str]:
    return {k: str(v) for k, v in function["EnvironmentVariables"].items()}


def test_is_a_ros_template_of_documented_resource_types(template):
    assert str(template["ROSTemplateFormatVersion"]) == "2015-09-01"
    assert {r["Type"] for r in template["Resources"].values()} <= ROS_TYPES
    assert "Transform" not in template  # plain ROS, not the Funcraft transform


def test_every_reference_resolves(template, resolver):
    resolver.resolve(template["Resources"], "Resources")
    outputs = resolver.resolve(template["Outputs"], "Outputs")
    assert {"RequestQueueName", "ResultTopicName", "FunctionName"} <= set(outputs)
    assert queue_trigger(resolver) is not None


def test_handler_and_initializer_exist_in_index_py(function):
    spec = importlib.util.spec_from_file_location("fc_index_under_test", FUNCTION_DIR / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for entry in (function["Handler"], function["Initializer"]):
        file, _, name = entry.partition(".")
        assert file == "index"
        assert callable(getattr(module, name, None)), f"index.py has no callable {name}"


def test_runtime_is_a_real_fc_runtime_and_the_packaged_one(function):
    assert function["Runtime"] in RUNTIMES
    assert function["Runtime"] == "python3.10"
    assert 1 <= function["Timeout"] <= 600
    assert 1 <= function["InitializationTimeout"] <= 300


def test_every_setting_is_set_or_defaulted_and_nothing_unknown_is_set(environment):
    known = {name for name, _ in config_module.SETTINGS}
    required = {name for name, default in config_module.SETTINGS if default is None}
    assert required <= set(environment), f"missing: {sorted(required - set(environment))}"
    assert set(environment) <= known, f"unknown: {sorted(set(environment) - known)}"


def test_environment_parses_as_the_function_parses_it(environment):
    config = config_module.load(environment)
    assert config.success_destination.region == REGION
    assert config.success_destination.account_id == ACCOUNT
    assert config.vpc_endpoint is None  # on the cloud: the real regional endpoints


def _vpc_actions_called_by_the_code() -> set[str]:
    tree = ast.parse((PACKAGE / "vpc.py").read_text(encoding="utf-8"))
    actions = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "aliyunsdkvpc.request."
        ):
            for alias in node.names:
                actions.add("vpc:" + re.sub(r"Request$", "", alias.name))
    return actions


def _policy(template, resolver) -> list[dict[str, Any]]:
    role = _props(resolver, _one(template, "ALIYUN::RAM::Role"))
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_destinations_py_calls_what_the_action_table_assumes():
    source = (PACKAGE / "destinations.py").read_text(encoding="utf-8")
    for call in ("publish_message(", "send_message(", "invoke_function("):
        assert call in source


def test_policy_allows_exactly_the_actions_the_code_calls(template, resolver, environment):
    expected = _vpc_actions_called_by_the_code()
    assert expected == {"vpc:CreateCustomerGateway", "vpc:DescribeCustomerGateways"}
    for variable in ("SUCCESS_DESTINATION", "FAILURE_DESTINATION"):
        expected.add(DESTINATION_ACTIONS[parse_destination_arn(environment[variable]).kind])
    service = _props(resolver, _one(template, "ALIYUN::FC::Service"))
    if service.get("LogConfig"):
        expected.add("log:PostLogStoreLogs")
    statements = _policy(template, resolver)
    assert all(s["Effect"] == "Allow" for s in statements)
    allowed = [a for s in statements for a in s["Action"]]
    assert sorted(allowed) == sorted(expected)  # no more, no less, no duplicates


def test_publish_is_allowed_only_on_the_result_topic(template, resolver, environment):
    destinations = {
        parse_destination_arn(environment[v])
        for v in ("SUCCESS_DESTINATION", "FAILURE_DESTINATION")
    }
    resources = {
        r
        for s in _policy(template, resolver)
        if any(a.startswith("mns:") for a in s["Action"])
        for r in s["Resource"]
    }
    assert resources == {
        f"acs:mns:{d.region}:{d.account_id}:/topics/{d.name}/messages" for d in destinations
    }
    topic = _props(resolver, _one(template, "ALIYUN::MNS::Topic"))["TopicName"]
    assert {d.name for d in destinations} == {topic}


def test_role_is_assumed_by_fc_and_used_by_the_service(template, resolver):
    role_name = _one(template, "ALIYUN::RAM::Role")
    role = _props(resolver, role_name)
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [["fc.aliyuncs.com"]]
    service = _props(resolver, _one(template, "ALIYUN::FC::Service"))
    assert service["Role"] == resolver.get_att(role_name, "Arn")


def test_queue_trigger_points_at_the_request_queue_and_dead_letters_to_the_dlq(
    template, resolver, function
):
    spec = queue_trigger(resolver)
    assert spec.type == "eventbridge"
    assert (spec.service, spec.function) == (function["ServiceName"], function["FunctionName"])
    config = QueueTriggerConfig.parse(spec.config)  # what localcloud's emulation accepts
    queues = {
        name: _props(resolver, name)["QueueName"]
        for name in _resources_of(template, "ALIYUN::MNS::Queue")
    }
    assert config.queue == queues["RequestQueue"]
    assert config.dead_letter_queue == queues["DeadLetterQueue"]
    dlq_arn = spec.config["runOptions"]["deadLetterQueue"]["Arn"]
    assert dlq_arn == resolver.get_att("DeadLetterQueue", "ARN.WithSlash")
    assert config.region == REGION
    assert (config.mode, config.schema, config.errors_tolerance) == (
        "event-streaming",
        "CloudEvents",
        "ALL",
    )
    assert config.base64_decode  # the MNS SDK Base64-encodes queue bodies by default
    assert not config.asynchronous  # a function error must fail the push (retry, then DLQ)
    assert spec.invocation_role == ""  # EventBridge triggers use the service-linked role
    assert QUEUE_TRIGGER_METADATA in template["Metadata"]


def test_request_queue_hides_a_message_longer_than_the_function_runs(template, resolver, function):
    queue = _props(resolver, "RequestQueue")
    assert queue["VisibilityTimeout"] > function["Timeout"]


def test_code_comes_from_the_zip_make_package_builds(function):
    package_tool = (ROOT / "tools" / "package.py").read_text(encoding="utf-8")
    built = re.search(r'OUTPUT = ROOT / "build" / "([^"]+)"', package_tool)[1]
    assert Path(function["Code"]["OssObjectName"]).name == built
    assert function["Code"]["OssBucketName"]


def test_template_deploys_on_localcloud_as_described(tmp_path):
    with LocalCloud(template=TEMPLATE) as cloud:
        outputs = cloud.deployment.outputs
        client = fc2.Client(
            endpoint=cloud.cloud.base_url,
            accessKeyID=DEFAULT_ACCESS_KEY_ID,
            accessKeySecret=DEFAULT_ACCESS_KEY_SECRET,
        )
        data = client.get_function(outputs["ServiceName"], outputs["FunctionName"]).data
        assert (data["runtime"], data["handler"], data["initializer"]) == (
            "python3.10",
            "index.handler",
            "index.initializer",
        )
        env = data["environmentVariables"]
        account, region = cloud.cloud.account_id, cloud.cloud.region
        assert env["SUCCESS_DESTINATION"] == f"acs:mns:{region}:{account}:/topics/cgw-outcomes"
        assert env["VPC_ENDPOINT"] == env["MNS_ENDPOINT"] == cloud.cloud.base_url
        mns = cloud.cloud.backends.mns
        assert set(mns.list_queues()) >= {
            outputs["RequestQueueName"],
            outputs["DeadLetterQueueName"],
        }
        assert outputs["ResultTopicName"] in mns.list_topics()
        role = cloud.cloud.credentials.get(cloud.cloud.backends.fc.role_credential.access_key_id)
        assert role.allowed_actions == {
            "CreateCustomerGateway",
            "DescribeCustomerGateways",
            "PublishMessage",
            "PostLogStoreLogs",
        }
        # a reset (per-test isolation) deploys the template again
        cloud.cloud.reset()
        assert outputs["RequestQueueName"] in mns.list_queues()


def test_deploy_trigger_tool_creates_the_trigger_with_fc2(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT))
    from tools import deploy_trigger

    with LocalCloud(template=TEMPLATE) as cloud:
        fc = cloud.cloud.backends.fc
        service, function, name = cloud.deployment.triggers[0]
        fc.delete_trigger(service, function, name)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
        args = [
            "--region", cloud.cloud.region,
            "--account-id", cloud.cloud.account_id,
            "--endpoint", cloud.cloud.base_url,
        ]  # fmt: skip
        assert deploy_trigger.main(args) == 0
        created = fc.get_trigger(service, function, name)
        assert created.type == "eventbridge"
        assert (
            created.config["eventSourceConfig"]["eventSourceParameters"]["sourceMNSParameters"][
                "QueueName"
            ]
            == cloud.deployment.outputs["RequestQueueName"]
        )
        assert deploy_trigger.main(args) == 1  # exists already
        assert "--update" in capsys.readouterr().err
        resized = [*args, "--update", "--parameter", "TriggerBatchSize=5"]
        assert deploy_trigger.main(resized) == 0
        updated = fc.get_trigger(service, function, name)
        assert updated.config["runOptions"]["batchWindow"]["CountBasedWindow"] == 5


def test_resolver_functions_and_errors():
    template = {
        "ROSTemplateFormatVersion": "2015-09-01",
        "Parameters": {
            "Name": {"Type": "String", "Default": "q1"},
            "N": {"Type": "Number", "Default": 3},
        },
        "Resources": {
            "Q": {"Type": "ALIYUN::MNS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}
        },
    }
    resolver = Resolver(template, "cn-beijing", "42", {"Name": "q2"})
    resolve = resolver.resolve
    assert resolve({"Ref": "Q"}) == "q2"
    assert resolve({"Fn::Sub": "${ALIYUN::Region}/${Name}/${Q.ARN.WithSlash}"}) == (
        "cn-beijing/q2/acs:mns:cn-beijing:42:/queues/q2"
    )
    assert resolve({"Fn::Sub": ["${A}-${Name}", {"A": {"Ref": "ALIYUN::AccountId"}}]}) == "42-q2"
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "N"}]]}) == "a-3"
    assert resolve({"Fn::Select": [1, ["x", "y"]]}) == "y"
    assert resolve({"keep": 1, "drop": {"Ref": "ALIYUN::NoValue"}}) == {"keep": 1}
    with pytest.raises(TemplateError, match="Ref 'Nope'"):
        resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="no attribute 'Bogus'"):
        resolve({"Fn::GetAtt": ["Q", "Bogus"]})
    with pytest.raises(TemplateError, match="Fn::FindInMap is not supported"):
        resolve({"Fn::FindInMap": ["m", "a", "b"]})
    with pytest.raises(TemplateError, match="unknown parameter"):
        Resolver(template, "r", "1", {"Typo": "x"})


def test_unsupported_resources_are_refused_by_name(tmp_path):
    text = TEMPLATE.read_text(encoding="utf-8").replace(
        "Resources:\n", "Resources:\n  Vpc:\n    Type: ALIYUN::ECS::VPC\n    Properties: {}\n", 1
    )
    broken = tmp_path / "template.yml"
    broken.write_text(text)
    with pytest.raises(TemplateError, match=r"Vpc \(ALIYUN::ECS::VPC\)"):
        LocalCloud(template=broken).start()
    result = subprocess.run(
        [sys.executable, "-m", "localcloud", "--template", str(broken)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "resource types localcloud cannot deploy: Vpc (ALIYUN::ECS::VPC)" in result.stderr

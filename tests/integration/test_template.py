"""template.yml held against the code it deploys (no ROS linter exists on PyPI: this is ours).

- the entry points it names exist in index.py and are callable;
- every setting cgw_provisioner.config reads is set or has a default, nothing unknown is set,
  and the resolved environment parses (config.load) as the function will parse it on FC;
- the role's policy allows exactly what the code calls: the VPC actions of the aliyunsdkvpc
  request classes cgw_provisioner/vpc.py imports, the MNS/FC action of each configured destination
  kind (destinations.py: topic -> PublishMessage, queue -> SendMessage, FC -> InvokeFunction),
  and log writing for the service's log config - no more;
- the runtime is a real FC runtime (python3.10, the one make package builds for);
- the queue trigger is a stack resource (ALIYUN::FC::Trigger, eventbridge) that depends on the
  function and both queues, points at the request queue, dead-letters to the DLQ, sets nothing
  FC ignores for an MNS source, and is a configuration localcloud's EventBridge emulation accepts;
- ARNs use the account (ALIYUN::TenantId), never the executing identity (ALIYUN::AccountId);
- parameters carry the services' limits (a ServiceName of its maximum length still gives a valid
  RAM role name), and localcloud refuses a value that breaks one, naming it, with exit status 2;
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
from localcloud.template import Resolver, TemplateError, validate

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
FUNCTION_DIR = ROOT / "functions" / "create_customer_gateway"
PACKAGE = FUNCTION_DIR / "cgw_provisioner"
REGION, ACCOUNT = "cn-hangzhou", "5555666677778888"

# Resource types of the ROS resource reference (help.aliyun.com/zh/ros/developer-reference/...).
ROS_TYPES = {
    "ALIYUN::ROS::AutoEnableService",
    "ALIYUN::RAM::Role",
    "ALIYUN::SLS::Project",
    "ALIYUN::SLS::Logstore",
    "ALIYUN::SLS::Index",
    "ALIYUN::FC::Service",
    "ALIYUN::FC::Function",
    "ALIYUN::FC::Trigger",
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
    assert "Metadata" not in template  # nothing is deployed from Metadata any more


def test_arns_name_the_account_not_the_identity_that_runs_the_stack(template):
    text = yaml.safe_dump(template)  # the declarations, not the comments
    assert "ALIYUN::AccountId" not in text
    assert "ALIYUN::TenantId" in text


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


# what cgw_provisioner/token_queue.py calls on the token queue (RETRY_POLICY=fleet-tokens).
# BatchReceiveMessage: its API page names the action mns:BatchReceiveMessage, the RAM mapping
# table mns:ReceiveMessage (docs/deploying.md): the role has both.
TOKEN_QUEUE_ACTIONS = {
    "receive_message(": {"mns:ReceiveMessage"},
    "batch_receive_message(": {"mns:BatchReceiveMessage", "mns:ReceiveMessage"},
    "delete_message(": {"mns:DeleteMessage"},
    "change_message_visibility(": {"mns:ChangeMessageVisibility"},
    "send_message(": {"mns:SendMessage"},
    "get_attributes(": {"mns:GetQueueAttributes"},
}
TOKEN_ACTIONS = set().union(*TOKEN_QUEUE_ACTIONS.values())


def test_token_queue_py_calls_what_the_action_table_assumes():
    source = (PACKAGE / "token_queue.py").read_text(encoding="utf-8")
    calls = set(re.findall(r"(?<![.\w])queue\.([a-z_]+)\(", source)) - {"set_encoding"}  # (local)
    assert {f"{c}(" for c in calls} == set(TOKEN_QUEUE_ACTIONS)


def test_policy_allows_exactly_the_actions_the_code_calls(template, resolver, environment):
    expected = _vpc_actions_called_by_the_code()
    assert expected == {"vpc:CreateCustomerGateway", "vpc:DescribeCustomerGateways"}
    expected |= TOKEN_ACTIONS
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
        if "mns:PublishMessage" in s["Action"]
        for r in s["Resource"]
    }
    assert resources == {
        f"acs:mns:{d.region}:{d.account_id}:/topics/{d.name}/messages" for d in destinations
    }
    topic = _props(resolver, _one(template, "ALIYUN::MNS::Topic"))["TopicName"]
    assert {d.name for d in destinations} == {topic}


def test_token_queue_actions_are_allowed_only_on_the_token_queue(template, resolver, environment):
    queue = parse_destination_arn(environment["TOKEN_QUEUE"])
    arn = f"acs:mns:{queue.region}:{queue.account_id}:/queues/{queue.name}"
    resources = {
        r
        for s in _policy(template, resolver)
        if TOKEN_ACTIONS & set(s["Action"])
        for r in s["Resource"]
    }
    assert resources == {arn, f"{arn}/messages"}
    assert queue.name == _props(resolver, "TokenQueue")["QueueName"]


def test_role_is_assumed_by_fc_and_used_by_the_service(template, resolver):
    role_name = _one(template, "ALIYUN::RAM::Role")
    role = _props(resolver, role_name)
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [["fc.aliyuncs.com"]]
    service = _props(resolver, _one(template, "ALIYUN::FC::Service"))
    assert service["Role"] == resolver.get_att(role_name, "Arn")


def test_queue_trigger_is_a_resource_on_the_request_queue_dead_lettering_to_the_dlq(
    template, resolver, function
):
    name = _one(template, "ALIYUN::FC::Trigger")
    declared = template["Resources"][name]
    assert set(declared["DependsOn"]) >= {"Function", "RequestQueue", "DeadLetterQueue"}
    trigger = _props(resolver, name)
    assert trigger["TriggerType"] == "eventbridge"
    assert (trigger["ServiceName"], trigger["FunctionName"]) == (
        function["ServiceName"],
        function["FunctionName"],
    )
    assert "InvocationRole" not in trigger  # EventBridge uses its service-linked roles
    raw = trigger["TriggerConfig"]
    config = QueueTriggerConfig.parse(raw)  # what localcloud's emulation accepts
    queues = {
        name: _props(resolver, name)["QueueName"]
        for name in _resources_of(template, "ALIYUN::MNS::Queue")
    }
    assert config.queue == queues["RequestQueue"]
    assert config.dead_letter_queue == queues["DeadLetterQueue"]
    assert raw["runOptions"]["deadLetterQueue"]["Arn"] == resolver.get_att(
        "DeadLetterQueue", "ARN.WithSlash"
    )
    assert config.region == REGION
    assert (config.mode, config.schema, config.errors_tolerance) == (
        "event-streaming",
        "CloudEvents",
        "ALL",
    )
    assert config.base64_decode  # the MNS SDK Base64-encodes queue bodies by default
    assert not config.asynchronous  # a function error must fail the push (retry, then DLQ)
    # nothing FC ignores for an MNS source: maximumTasks is for Kafka, deliveryOption.mode is
    # deprecated (runOptions.mode counts)
    assert "maximumTasks" not in raw["runOptions"]
    assert "mode" not in raw["eventSinkConfig"]["deliveryOption"]
    assert config.maximum_tasks is None


def test_request_queue_hides_a_message_longer_than_the_function_runs(template, resolver, function):
    queue = _props(resolver, "RequestQueue")
    assert queue["VisibilityTimeout"] > template["Parameters"]["FunctionTimeout"]["MaxValue"]


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
            "ReceiveMessage",
            "BatchReceiveMessage",
            "DeleteMessage",
            "ChangeMessageVisibility",
            "SendMessage",
            "GetQueueAttributes",
        }
        # the queue trigger comes from Resources, read back over the FC API
        trigger = client.get_trigger(
            outputs["ServiceName"], outputs["FunctionName"], "request-queue"
        ).data
        assert trigger["triggerType"] == "eventbridge"
        source = trigger["triggerConfig"]["eventSourceConfig"]["eventSourceParameters"]
        assert source["sourceMNSParameters"]["QueueName"] == outputs["RequestQueueName"]
        assert set(cloud.deployment.recorded) == {
            "LogIndex",
            "ActivateFunctionCompute",
            "ActivateMessageService",
            "ActivateLogService",
        }
        # a reset (per-test isolation) deploys the template again, trigger included
        cloud.cloud.reset()
        assert outputs["RequestQueueName"] in mns.list_queues()
        assert cloud.deployment.triggers == [
            (outputs["ServiceName"], outputs["FunctionName"], "request-queue")
        ]


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


ROLE_NAME = re.compile(r"[A-Za-z0-9.-]{1,64}")  # RAM: letters, digits, "." and "-", at most 64


def test_a_service_name_of_its_maximum_length_still_gives_a_valid_role_name(template):
    spec = template["Parameters"]["ServiceName"]
    longest = "s" + "-" * (spec["MaxLength"] - 2) + "x"
    resolver = Resolver(template, REGION, ACCOUNT, {"ServiceName": longest})
    role = _props(resolver, _one(template, "ALIYUN::RAM::Role"))["RoleName"]
    assert len(role) == 64
    assert ROLE_NAME.fullmatch(role)
    with pytest.raises(TemplateError, match=r"ServiceName.*MaxLength 50"):
        Resolver(template, REGION, ACCOUNT, {"ServiceName": longest + "x"})
    with pytest.raises(TemplateError, match=r"ServiceName.*AllowedPattern"):
        Resolver(template, REGION, ACCOUNT, {"ServiceName": "has_underscore"})  # not in a role


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("RequestQueueName", "1-starts-with-a-digit", "AllowedPattern"),
        ("ResultTopicName", "-dash", "AllowedPattern"),
        ("DeadLetterQueueName", "q" * 121, "MaxLength 120"),
        ("LogProjectName", "Upper-Case", "AllowedPattern"),
        ("LogProjectName", "ab", "MinLength 3"),
        ("LogProjectName", "ends-with-dash-", "AllowedPattern"),
        ("CodeBucket", "a" * 64, "MaxLength 63"),
        ("CodeObject", "/absolute.zip", "AllowedPattern"),
        ("FunctionMemory", "100", "AllowedValues"),
        ("FunctionMemory", "200", "AllowedValues"),  # not a multiple of 64
        ("FunctionMemory", "3136", "AllowedValues"),  # above 3 GB
        ("FunctionTimeout", "0", "MinValue 1"),
        ("FunctionTimeout", "601", "MaxValue 600"),
        ("FunctionTimeout", "abc", "Type Number"),
        ("MaxAttempts", "0", "AllowedPattern"),
        ("BatchConcurrency", "65", "AllowedPattern"),
        ("TriggerBatchSize", "10001", "MaxValue 10000"),
        ("TriggerBatchWindowSeconds", "16", "MaxValue 15"),
    ],
)
def test_a_value_beyond_a_documented_limit_is_refused_naming_parameter_and_rule(
    template, name, value, rule
):
    with pytest.raises(TemplateError) as caught:
        Resolver(template, REGION, ACCOUNT, {name: value})
    message = str(caught.value)
    assert message.startswith(f"parameter {name}: ")
    assert rule in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("FunctionMemory", "3072", 3072),
        ("FunctionMemory", "128", 128),
        ("FunctionTimeout", "600", 600),
        ("MaxAttempts", "100", "100"),
        ("LogProjectName", "abc", "abc"),
        ("RequestQueueName", "Q" + "q" * 119, "Q" + "q" * 119),
    ],
)
def test_values_at_the_limits_are_accepted(template, name, value, expected):
    assert Resolver(template, REGION, ACCOUNT, {name: value}).parameters[name] == expected


def _run_localcloud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_parameter_ends_localcloud_with_status_2_and_one_line():
    result = _run_localcloud("--template", str(TEMPLATE), "--parameter", "FunctionTimeout=abc")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "localcloud: parameter FunctionTimeout: Type Number, got 'abc'"
    ]
    assert result.stdout == ""


def test_a_reference_cycle_ends_localcloud_with_status_2_naming_the_resources(tmp_path):
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    template["Resources"]["LogProject"]["Properties"]["Description"] = {
        "Fn::GetAtt": ["Function", "FunctionName"]
    }
    cyclic = tmp_path / "template.yml"
    cyclic.write_text(yaml.safe_dump(template))
    result = _run_localcloud("--template", str(cyclic))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("localcloud: reference cycle: ")
    cycle = line.removeprefix("localcloud: reference cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1]
    assert {"Function", "LogProject"} <= set(cycle)
    with pytest.raises(TemplateError, match="reference cycle"):
        validate(cyclic)


def test_a_ref_cycle_inside_properties_is_refused_not_a_recursion_error():
    template = {
        "ROSTemplateFormatVersion": "2015-09-01",
        "Resources": {
            "A": {"Type": "ALIYUN::MNS::Queue", "Properties": {"QueueName": {"Ref": "B"}}},
            "B": {"Type": "ALIYUN::MNS::Queue", "Properties": {"QueueName": {"Ref": "A"}}},
        },
    }
    with pytest.raises(TemplateError, match=r"reference cycle: A -> B -> A"):
        Resolver(template, REGION, ACCOUNT).resolve({"Ref": "A"}, "test")


def test_depends_on_a_missing_resource_is_refused(tmp_path):
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    template["Resources"]["QueueTrigger"]["DependsOn"].append("Nowhere")
    broken = tmp_path / "template.yml"
    broken.write_text(yaml.safe_dump(template))
    with pytest.raises(TemplateError, match="QueueTrigger: DependsOn names no resource: Nowhere"):
        validate(broken)


DOCS = ROOT / "docs" / "deploying.md"
STRUCTLOG_KEYS = {"level", "event"}  # added by cgw_provisioner/logs.py's processors


def _indexed_json_keys(template) -> set[str]:
    index = template["Resources"][_one(template, "ALIYUN::SLS::Index")]["Properties"]
    [message] = [k for k in index["KeyIndices"] if k["Name"] == "message"]
    assert message["Type"] == "json"
    return {k["Name"] for k in message["JsonKeyIndices"]}


def test_the_log_index_covers_keys_the_code_logs_and_the_docs_query_only_those(template):
    keys = _indexed_json_keys(template)
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.glob("*.py"))
    logged = set(re.findall(r"\b([a-z_]+)=", source)) | STRUCTLOG_KEYS
    assert keys <= logged, f"indexed but never logged: {sorted(keys - logged)}"
    assert {"level", "event", "message_id", "client_token", "code", "fc_request_id"} <= keys
    index = template["Resources"][_one(template, "ALIYUN::SLS::Index")]["Properties"]
    assert index["LogstoreName"] == {"Ref": "LogStoreName"}
    queries = re.findall(r"^message\.event: .*$", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(queries) == 3
    used = {k for q in queries for k in re.findall(r"\bmessage\.([a-z_]+)", q)}
    assert used <= keys, f"queried but not indexed: {sorted(used - keys)}"
    events = [  # every event the queries name is one the code logs
        event
        for query in queries
        for event in re.findall(r'message\.event: "?([a-z ]+?)"?(?: or| and| \||$)', query)
    ]
    assert len(events) == 5
    for event in events:
        assert f'"{event}"' in source, event


def test_a_yaml_error_is_one_line_with_status_2(tmp_path):
    broken = tmp_path / "template.yml"
    broken.write_text('ROSTemplateFormatVersion: "2015-09-01"\nResources: {a: [\n')
    result = _run_localcloud("--template", str(broken))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"localcloud: {broken}: while parsing")

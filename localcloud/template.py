"""Deploy a ROS template (template.yml) onto localcloud, the way ROS would deploy it on the cloud.

    deployment = deploy(cloud, "template.yml", parameters={"ResultTopicName": "x"})

What is understood (everything template.yml uses):
- Parameters with Default (overridable), each value checked against its declaration as ROS checks
  it at ValidateTemplate / CreateStack time (Type, AllowedValues, AllowedPattern, MinLength /
  MaxLength, MinValue / MaxValue; localcloud/parameters.py); the pseudo parameters ALIYUN::Region,
  ALIYUN::AccountId, ALIYUN::TenantId (localcloud has one account: both are its id),
  ALIYUN::StackName, ALIYUN::StackId, ALIYUN::NoValue;
- references between resources (Ref, Fn::GetAtt, Fn::Sub's ${Resource.Attr}, DependsOn) form no
  cycle (a cycle is refused, naming the resources on it);
- Ref, Fn::Sub (string or [string, variables]), Fn::Join, Fn::GetAtt, Fn::Select;
- ALIYUN::MNS::Queue / ALIYUN::MNS::Topic -> MNS backend queues and topics;
- ALIYUN::RAM::Role -> the FC service role: localcloud's STS role credential is restricted to the
  policy's actions (service prefix dropped: vpc:CreateCustomerGateway -> CreateCustomerGateway),
  so a call the policy does not allow fails here as it would on the cloud (resources not checked);
- ALIYUN::SLS::Project / Logstore -> recorded (the service's log config);
- ALIYUN::FC::Service / Function -> FC backend; the code comes from the function resource's
  Metadata `LocalCodeUri` (relative to the template) or the `code_uri` override, and
  VPC_ENDPOINT / MNS_ENDPOINT / FC_ENDPOINT are set to localcloud's URL;
- ALIYUN::FC::Trigger resources -> FC triggers (the MNS queue trigger is one: TriggerType
  eventbridge), created after the functions and queues they name;
- ALIYUN::SLS::Index and ALIYUN::ROS::AutoEnableService -> recorded only (localcloud keeps no
  logs index, and every service is "active").
Other resource types are refused with a TemplateError naming them. Every error is a
TemplateError whose one-line message names the parameter or resource and the rule broken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from localcloud.fc.errors import FcError
from localcloud.mns.errors import MnsError
from localcloud.parameters import ParameterError, check_parameter

if TYPE_CHECKING:
    from localcloud.core import Cloud

LOCAL_CODE_URI = "LocalCodeUri"
ENDPOINT_VARIABLES = ("VPC_ENDPOINT", "MNS_ENDPOINT", "FC_ENDPOINT")
STACK_NAME = "localcloud"

_NO_VALUE = object()
_QUEUE_PROPERTIES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "VisibilityTimeout",
    "PollingWaitSeconds",
    "LoggingEnabled",
)
_SUPPORTED = {
    "ALIYUN::MNS::Queue",
    "ALIYUN::MNS::Topic",
    "ALIYUN::RAM::Role",
    "ALIYUN::SLS::Project",
    "ALIYUN::SLS::Logstore",
    "ALIYUN::FC::Service",
    "ALIYUN::FC::Function",
    "ALIYUN::FC::Trigger",
}
_RECORDED = {"ALIYUN::SLS::Index", "ALIYUN::ROS::AutoEnableService"}


class TemplateError(ValueError):
    """The template cannot be deployed locally; the message names the resource and field, on
    one line (a YAML parser's or a backend's multi-line message is folded)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def load(path: str | Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, RecursionError) as exc:
        raise TemplateError(f"{path}: {exc}") from None
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a ROS template (no Resources section)")
    if str(document.get("ROSTemplateFormatVersion")) != "2015-09-01":
        raise TemplateError(f"{path}: ROSTemplateFormatVersion must be '2015-09-01'")
    return document


class Resolver:
    """Evaluates ROS intrinsic functions against parameters and (locally known) resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        region: str,
        account_id: str,
        parameters: Mapping[str, Any] | None = None,
        base_url: str = "",
    ) -> None:
        self.template = template
        self.region = region
        self.account_id = account_id
        self.base_url = base_url
        declared = template.get("Parameters") or {}
        unknown = set(parameters or {}) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        self.parameters: dict[str, Any] = {}
        for name, spec in declared.items():
            if parameters and name in parameters:
                value = parameters[name]
            elif isinstance(spec, Mapping) and "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default: give a value")
            try:
                self.parameters[name] = check_parameter(name, spec, value)
            except ParameterError as exc:
                raise TemplateError(str(exc)) from None
        self._evaluating: list[str] = []  # resources whose properties are being resolved
        self.pseudo = {
            "ALIYUN::Region": region,
            "ALIYUN::AccountId": account_id,
            "ALIYUN::TenantId": account_id,  # one account locally: the executor is the owner
            "ALIYUN::StackName": STACK_NAME,
            "ALIYUN::StackId": f"local-{STACK_NAME}",
        }

    # -- evaluation ------------------------------------------------------------------------
    def resolve(self, value: Any, where: str = "") -> Any:
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                try:
                    return self._function(key, arg, where)
                except TemplateError:
                    raise
                except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
                    raise TemplateError(f"{where}: malformed {key}: {exc}") from None
        resolved = {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _function(self, key: str, arg: Any, where: str) -> Any:
        if key == "Ref":
            return self.ref(arg, where)
        if key == "Fn::Sub":
            return self._sub(arg, where)
        if key == "Fn::Join":
            separator, parts = self.resolve(arg, where)
            return str(separator).join(str(p) for p in parts)
        if key == "Fn::GetAtt":
            resource, attribute = self.resolve(arg, where)
            return self.get_att(resource, attribute, where)
        if key == "Fn::Select":
            index, items = self.resolve(arg, where)
            return items[int(index)]
        raise TemplateError(f"{where}: {key} is not supported by localcloud")

    def ref(self, name: str, where: str = "") -> Any:
        if name == "ALIYUN::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resources = self.template.get("Resources") or {}
        if name in resources:
            return self._physical_name(name)
        raise TemplateError(f"{where}: Ref {name!r} is neither a parameter nor a resource")

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1], where)
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in (self.template.get("Resources") or {}):
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute, where))
            return str(self.ref(name, where))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)

    def _properties(self, name: str) -> dict[str, Any]:
        resource = (self.template.get("Resources") or {})[name]
        if name in self._evaluating:
            path = [*self._evaluating[self._evaluating.index(name) :], name]
            raise TemplateError(f"reference cycle: {' -> '.join(path)}")
        self._evaluating.append(name)
        try:
            return self.resolve(resource.get("Properties") or {}, name)
        finally:
            self._evaluating.pop()

    def _physical_name(self, name: str) -> str:
        resource = self.template["Resources"][name]
        props = self._properties(name)
        key = {
            "ALIYUN::MNS::Queue": "QueueName",
            "ALIYUN::MNS::Topic": "TopicName",
            "ALIYUN::RAM::Role": "RoleName",
            "ALIYUN::SLS::Project": "Name",
            "ALIYUN::SLS::Logstore": "LogstoreName",
            "ALIYUN::FC::Service": "ServiceName",
            "ALIYUN::FC::Function": "FunctionName",
            "ALIYUN::FC::Trigger": "TriggerName",
        }.get(resource.get("Type"))
        if key is None or key not in props:
            raise TemplateError(f"Ref {name}: no physical name for {resource.get('Type')}")
        return props[key]

    def get_att(self, name: str, attribute: str, where: str = "") -> Any:
        resources = self.template.get("Resources") or {}
        if name not in resources:
            raise TemplateError(f"{where}: Fn::GetAtt of unknown resource {name!r}")
        kind = resources[name].get("Type")
        props = self._properties(name)
        region, account = self.region, self.account_id
        attributes: dict[str, Any] = {}
        if kind == "ALIYUN::MNS::Queue":
            queue = props["QueueName"]
            attributes = {
                "QueueName": queue,
                "ARN.WithSlash": f"acs:mns:{region}:{account}:/queues/{queue}",
                "ARN": f"acs:mns:{region}:{account}:queues/{queue}",
                "QueueUrl": f"{self.base_url}/queues/{queue}",
            }
        elif kind == "ALIYUN::MNS::Topic":
            topic = props["TopicName"]
            attributes = {
                "TopicName": topic,
                "ARN.WithSlash": f"acs:mns:{region}:{account}:/topics/{topic}",
                "ARN": f"acs:mns:{region}:{account}:topics/{topic}",
                "TopicUrl": f"{self.base_url}/topics/{topic}",
            }
        elif kind == "ALIYUN::RAM::Role":
            role = props["RoleName"]
            attributes = {
                "RoleName": role,
                "Arn": f"acs:ram::{account}:role/{role.lower()}",
                "RoleId": f"local-{role}",
            }
        elif kind == "ALIYUN::FC::Service":
            attributes = {"ServiceName": props["ServiceName"], "ServiceId": f"local-{name}"}
        elif kind == "ALIYUN::FC::Function":
            service, function = props["ServiceName"], props["FunctionName"]
            attributes = {
                "FunctionName": function,
                "ServiceName": service,
                "FunctionId": f"local-{service}-{function}",
                "ARN": f"acs:fc:{region}:{account}:services/{service}/functions/{function}",
            }
        elif kind == "ALIYUN::SLS::Project":
            attributes = {"Name": props["Name"]}
        elif kind == "ALIYUN::SLS::Logstore":
            attributes = {
                "LogstoreName": props["LogstoreName"],
                "ProjectName": props["ProjectName"],
            }
        if attribute not in attributes:
            raise TemplateError(f"{where}: {kind} {name} has no attribute {attribute!r} locally")
        return attributes[attribute]


@dataclass
class Deployment:
    """What was deployed, by logical resource id, plus the resolved Outputs."""

    queues: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (service, name)
    triggers: list[tuple[str, str, str]] = field(default_factory=list)
    role_names: dict[str, str] = field(default_factory=dict)  # role id -> RoleName
    role_actions: dict[str, list[str]] = field(default_factory=dict)  # role id -> actions
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> resolved properties
    outputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "queues": self.queues,
            "topics": self.topics,
            "functions": {k: list(v) for k, v in self.functions.items()},
            "triggers": [list(t) for t in self.triggers],
            "recorded": sorted(self.recorded),
            "outputs": self.outputs,
        }


def policy_actions(role_properties: Mapping[str, Any]) -> list[str]:
    """Every Allow action of a resolved ALIYUN::RAM::Role's inline policies."""
    actions: list[str] = []
    for policy in role_properties.get("Policies") or []:
        for statement in (policy.get("PolicyDocument") or {}).get("Statement") or []:
            if statement.get("Effect") != "Allow":
                continue
            listed = statement.get("Action") or []
            actions.extend([listed] if isinstance(listed, str) else listed)
    return actions


def validate(
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    region: str = "cn-hangzhou",
    account_id: str = "1",
) -> dict[str, Any]:
    """What can be checked before anything is created, as ROS ValidateTemplate does: the
    document, every parameter value against its constraints, the resource types localcloud
    deploys, and no reference cycle. Returns the loaded template; TemplateError if not."""
    template = load(path)
    check_document(template, parameters, region, account_id)
    return template


def check_document(
    template: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    region: str = "cn-hangzhou",
    account_id: str = "1",
) -> None:
    """validate() of a loaded template (pure): TemplateError naming what is wrong."""
    if not isinstance(template.get("Parameters") or {}, Mapping):
        raise TemplateError("Parameters must map names to parameter declarations")
    Resolver(template, region, account_id, parameters)
    resources = template.get("Resources")
    if not isinstance(resources, Mapping) or not all(
        isinstance(r, Mapping) for r in resources.values()
    ):
        raise TemplateError("Resources must map names to resource declarations")
    unsupported = {
        str(n): str(r.get("Type"))
        for n, r in resources.items()
        if not isinstance(r.get("Type"), str) or r["Type"] not in _SUPPORTED | _RECORDED
    }
    if unsupported:
        listed = ", ".join(f"{n} ({t})" for n, t in sorted(unsupported.items()))
        raise TemplateError(f"resource types localcloud cannot deploy: {listed}")
    check_acyclic(resources)


def deploy(
    cloud: Cloud,
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    code_uri: str | Path | Mapping[str, str | Path] | None = None,
    max_instances: int | None = None,
) -> Deployment:
    """Create the template's resources in `cloud` (queues, topics, role, service, function,
    triggers). `code_uri` (a directory, or {function logical id: directory}) overrides the
    functions' LocalCodeUri."""
    path = Path(path).resolve()
    template = validate(path, parameters, cloud.region, cloud.account_id)
    resolver = Resolver(template, cloud.region, cloud.account_id, parameters, cloud.base_url)
    resources: dict[str, Any] = template["Resources"]
    mns, fc = cloud.backends.mns, cloud.backends.fc
    deployment = Deployment()
    by_type: dict[str, list[str]] = {}
    for name, resource in resources.items():
        by_type.setdefault(resource["Type"], []).append(name)

    current = [""]  # the resource being created, for error messages

    def props(name: str) -> dict[str, Any]:
        current[0] = name
        return resolver.resolve(resources[name].get("Properties") or {}, name)

    try:
        for name in by_type.get("ALIYUN::MNS::Queue", []):
            p = props(name)
            mns.create_queue(p["QueueName"], **{k: p[k] for k in _QUEUE_PROPERTIES if k in p})
            deployment.queues[name] = p["QueueName"]
        for name in by_type.get("ALIYUN::MNS::Topic", []):
            p = props(name)
            attrs = {k: p[k] for k in ("MaximumMessageSize", "LoggingEnabled") if k in p}
            mns.create_topic(p["TopicName"], **attrs)
            deployment.topics[name] = p["TopicName"]
        for name in by_type.get("ALIYUN::RAM::Role", []):
            p = props(name)
            deployment.role_names[name] = p["RoleName"]
            deployment.role_actions[name] = policy_actions(p)
        for name in by_type.get("ALIYUN::FC::Service", []):
            p = props(name)
            log_config = p.get("LogConfig") or {}
            fc.create_service(
                p["ServiceName"],
                role=p.get("Role", ""),
                log_project=log_config.get("Project", ""),
                log_store=log_config.get("Logstore", ""),
                description=p.get("Description", ""),
            )
            _restrict_role(cloud, fc, str(p.get("Role") or ""), deployment)
        for name in by_type.get("ALIYUN::FC::Function", []):
            p = props(name)
            code_dir = _code_dir(path, name, resources[name], code_uri)
            environment = {k: str(v) for k, v in (p.get("EnvironmentVariables") or {}).items()}
            environment.update(dict.fromkeys(ENDPOINT_VARIABLES, cloud.base_url))
            extra = {"max_instances": max_instances} if max_instances else {}
            fc.create_function(
                p["ServiceName"],
                p["FunctionName"],
                handler=p["Handler"],
                runtime=p["Runtime"],
                code_dir=str(code_dir),
                initializer=p.get("Initializer") or None,
                timeout=p.get("Timeout", 3),
                initialization_timeout=p.get("InitializationTimeout", 3),
                memory=int(p.get("MemorySize", 128)),
                environment=environment,
                description=p.get("Description", ""),
                **extra,
            )
            deployment.functions[name] = (p["ServiceName"], p["FunctionName"])
        for name in by_type.get("ALIYUN::FC::Trigger", []):
            p = props(name)
            fc.create_trigger(
                p["ServiceName"],
                p["FunctionName"],
                p["TriggerName"],
                p["TriggerType"],
                p.get("TriggerConfig") or {},
                source_arn=p.get("SourceArn", ""),
                invocation_role=p.get("InvocationRole", ""),
                qualifier=p.get("Qualifier", ""),
            )
            deployment.triggers.append((p["ServiceName"], p["FunctionName"], p["TriggerName"]))
        for kind in sorted(_RECORDED):
            for name in by_type.get(kind, []):
                deployment.recorded[name] = props(name)
    except TemplateError:
        raise
    except (FcError, MnsError) as exc:
        raise TemplateError(f"{path.name}: {getattr(exc, 'code', '')}: {exc}") from None
    except KeyError as exc:
        raise TemplateError(f"{current[0]}: missing property {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"{current[0]}: malformed properties: {exc}") from None
    for name, output in (template.get("Outputs") or {}).items():
        deployment.outputs[name] = resolver.resolve(output.get("Value"), f"Outputs.{name}")
    return deployment


def references(value: Any) -> set[str]:
    """Every name a value refers to with Ref, Fn::GetAtt or Fn::Sub (`${Name}`, `${Name.Attr}`);
    pseudo parameters and parameters included (the caller keeps the resources)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt" and isinstance(arg, list) and arg and isinstance(arg[0], str):
                found.add(arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) and arg else arg
                if isinstance(text, str):
                    variables = arg[1] if isinstance(arg, list) and len(arg) > 1 else {}
                    local = set(variables) if isinstance(variables, dict) else set()
                    names = re.findall(r"\$\{([^}!][^}.]*)", text)
                    found |= {n for n in names if n not in local}
            found |= references(arg)
    return found


def check_acyclic(resources: Mapping[str, Any]) -> None:
    """Refuse a template whose resources depend on each other in a cycle (through references or
    DependsOn), or whose DependsOn names no resource: ROS refuses both before creating anything."""
    edges: dict[str, list[str]] = {}
    for name, resource in resources.items():
        depends = resource.get("DependsOn") or []
        depends = [depends] if isinstance(depends, str) else depends
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise TemplateError(f"{name}: DependsOn must be a resource name or a list of them")
        unknown = [d for d in depends if d not in resources]
        if unknown:
            raise TemplateError(
                f"{name}: DependsOn names no resource: {', '.join(map(str, unknown))}"
            )
        refs = references(resource.get("Properties") or {}) & set(resources)
        edges[name] = sorted(set(depends) | refs)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in edges[name]:
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise TemplateError(f"reference cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def _code_dir(
    template_path: Path,
    name: str,
    resource: Mapping[str, Any],
    code_uri: str | Path | Mapping[str, str | Path] | None,
) -> Path:
    chosen = code_uri.get(name) if isinstance(code_uri, Mapping) else code_uri
    if chosen is None:
        local = (resource.get("Metadata") or {}).get(LOCAL_CODE_URI)
        if not local:
            raise TemplateError(
                f"{name}: the code is on OSS; give Metadata.{LOCAL_CODE_URI} or a code_uri override"
            )
        chosen = template_path.parent / local
    directory = Path(chosen).resolve()
    if not (directory / "index.py").exists() and not any(directory.glob("*.py")):
        raise TemplateError(f"{name}: code directory {directory} has no Python module")
    return directory


def _restrict_role(cloud: Cloud, fc: Any, role_arn: str, deployment: Deployment) -> None:
    """Limit localcloud's role credential to what the service role's policy allows (a role
    from outside the template, e.g. an existing ARN, leaves the credential unrestricted)."""
    role_name = role_arn.rsplit("/", 1)[-1]
    for logical_id, name in deployment.role_names.items():
        if name.lower() == role_name.lower():
            actions = {a.split(":", 1)[-1] for a in deployment.role_actions[logical_id]}
            cloud.credentials.restrict(fc.role_credential.access_key_id, actions)
            return

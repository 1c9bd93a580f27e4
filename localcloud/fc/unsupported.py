"""The fc2.Client (aliyun-fc2 for FC API 2016-08-15) operations localcloud does not serve.

Keyed by the fc2.Client method name so that tests/localcloud/test_sdk_surface.py can check
that every public method is either exercised by tests/localcloud/test_fc_sdk_parity.py or
listed here with its reason. localcloud's FC router answers any request it has no route for
with FC's own error for an unsupported request path: HTTP 400, JSON
{"ErrorCode": "PathNotSupported", "ErrorMessage": "'<METHOD>' against '<path>' is not
supported", "RequestId": ...} (see localcloud/fc/responses.py), never a 500; the parity suite
calls each method below and checks exactly that.
"""

from __future__ import annotations

_DEPLOY = (
    "services and functions are deployed into localcloud from template.yml "
    "(localcloud.template) or its in-process API (FcBackend.create_service/create_function), "
    "not through the FC API; the provisioner only reads them"
)
_VERSIONS = (
    "versions and aliases are not emulated: every function runs as LATEST, and a qualifier "
    "other than LATEST is refused"
)
_CAPACITY = (
    "capacity settings (provisioned, on-demand, reserved instances) change billing and "
    "scaling in the cloud; localcloud runs a fixed pool of local worker instances"
)
_ASYNC_CONFIG = (
    "async invoke destinations and retry settings are not emulated: async invocations run "
    "once in the background with no destination"
)

UNSUPPORTED: dict[str, str] = {
    "create_service": _DEPLOY,
    "update_service": _DEPLOY,
    "delete_service": _DEPLOY,
    "list_services": _DEPLOY,
    "create_function": _DEPLOY,
    "update_function": _DEPLOY,
    "delete_function": _DEPLOY,
    "list_functions": _DEPLOY,
    "get_function_code": "function code lives in a local directory; there is no OSS URL to give",
    "list_triggers": (
        "triggers are read by name (GetTrigger) by tools/deploy_trigger.py; listing is not "
        "needed by anything in this project"
    ),
    "publish_version": _VERSIONS,
    "list_versions": _VERSIONS,
    "delete_version": _VERSIONS,
    "create_alias": _VERSIONS,
    "update_alias": _VERSIONS,
    "get_alias": _VERSIONS,
    "delete_alias": _VERSIONS,
    "list_aliases": _VERSIONS,
    "create_custom_domain": "custom domains need DNS and HTTP triggers; neither exists here",
    "update_custom_domain": "custom domains need DNS and HTTP triggers; neither exists here",
    "get_custom_domain": "custom domains need DNS and HTTP triggers; neither exists here",
    "delete_custom_domain": "custom domains need DNS and HTTP triggers; neither exists here",
    "list_custom_domains": "custom domains need DNS and HTTP triggers; neither exists here",
    "do_http_request": (
        "HTTP triggers (/proxy/...) are not emulated: the function is event-driven "
        "(MNS queue via EventBridge, or direct invocation)"
    ),
    "put_provision_config": _CAPACITY,
    "get_provision_config": _CAPACITY,
    "list_provision_configs": _CAPACITY,
    "put_on_demand_config": _CAPACITY,
    "get_on_demand_config": _CAPACITY,
    "delete_on_demand_config": _CAPACITY,
    "list_on_demand_config": _CAPACITY,
    "list_reserved_capacities": _CAPACITY,
    "put_function_async_invoke_config": _ASYNC_CONFIG,
    "get_function_async_invoke_config": _ASYNC_CONFIG,
    "delete_function_async_invoke_config": _ASYNC_CONFIG,
    "list_function_async_invoke_configs": _ASYNC_CONFIG,
    "get_account_settings": "account settings (available zones) have no local meaning",
    "get_resource_tags": "resource tags are not emulated for FC resources",
    "tag_resource": "resource tags are not emulated for FC resources",
    "untag_resource": "resource tags are not emulated for FC resources",
    "list_instances": (
        "instances are local worker processes; localcloud's admin API (/_localcloud/state) "
        "shows them instead"
    ),
    "instance_exec": "running commands inside an instance (WebSocket) is not emulated",
    "websocket": (
        "builds the WebSocket that instance_exec uses (sends nothing itself); its handshake "
        "against localcloud is refused like instance_exec's"
    ),
}

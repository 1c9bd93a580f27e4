"""The benchmarks' localcloud: tools/localcloud_process.py's child process with a quota no
benchmark reaches, the result topic + reader queue the function publishes to, and the
function's environment."""

from __future__ import annotations

from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tools.localcloud_process import LocalCloudProcess, clean_env

TOPIC = "cgw-outcomes"
READER = "cgw-outcomes-reader"
SERVICE = "cgw-provisioner"
FUNCTION = "create-customer-gateway"
TOKENS = "cgw-send-tokens"


class BenchCloud(LocalCloudProcess):
    def __init__(self, *args: str, quota: int = 1_000_000) -> None:
        super().__init__("--quota", str(quota), *args, timeout=30)

    # -- MNS -------------------------------------------------------------------------------------
    def create_result_topic(self) -> None:
        """The result topic with a queue subscribed to it (JSON notify format)."""
        from mns.queue import QueueMeta
        from mns.subscription import SubscriptionMeta
        from mns.topic import TopicMeta

        account = self.mns()
        account.get_topic(TOPIC).create(TopicMeta())
        account.get_queue(READER).create(QueueMeta())
        endpoint = f"acs:mns:{self.info['region']}:{self.info['account_id']}:queues/{READER}"
        meta = SubscriptionMeta(endpoint, notify_content_format="JSON")
        account.get_topic(TOPIC).get_subscription("reader").subscribe(meta)

    def retry_policy_env(self, retry_policy: str) -> dict[str, str]:
        """RETRY_POLICY for the function; for fleet-tokens also its token queue (created)."""
        if retry_policy != "fleet-tokens":
            return {"RETRY_POLICY": retry_policy}
        from mns.queue import QueueMeta

        self.mns().get_queue(TOKENS).create(QueueMeta(vis_timeout=5))  # (as template.yml's)
        region, account = self.info["region"], self.info["account_id"]
        return {
            "RETRY_POLICY": retry_policy,
            "TOKEN_QUEUE": f"acs:mns:{region}:{account}:/queues/{TOKENS}",
        }

    def function_env(self, **extra: str) -> dict[str, str]:
        """What the function's environment needs to talk to this localcloud."""
        return clean_env(
            VPC_ENDPOINT=self.url,
            MNS_ENDPOINT=self.info["mns"],
            FC_ENDPOINT=self.info["fc"],
            SUCCESS_DESTINATION=f"acs:mns:::/topics/{TOPIC}",
            FAILURE_DESTINATION=f"acs:mns:::/topics/{TOPIC}",
            ALIBABA_CLOUD_ACCESS_KEY_ID=DEFAULT_ACCESS_KEY_ID,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEFAULT_ACCESS_KEY_SECRET,
            LOG_LEVEL="WARNING",
            **extra,
        )

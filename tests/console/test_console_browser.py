"""The console in a real browser (Debian's chromium, driven by Playwright) against localcloud with
template.yml deployed: requests sent through the queue show up as counts, chart bars and outcome
rows; a rule added with the form throttles calls; markup in a request is shown as text."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from mns.account import Account
from mns.queue import Message
from playwright.sync_api import Browser, Page, expect, sync_playwright

from localcloud import LocalCloud
from localcloud.credentials import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from tools.browser import chromium_path

AUTH_KEY = "bgp-Console-Secret-9"
XSS_NAME = "<img src=x onerror=window.__xss=1>"
VPC_DOWN = {
    "service": "vpc",
    "action": "CreateCustomerGateway",
    "error": {"status": 503, "code": "ServiceUnavailable", "message": "down"},
}
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def console(outage_stack: LocalCloud, browser: Browser) -> Iterator[Page]:
    outage_stack.cloud.reset()
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{outage_stack.urls['admin']}/console/")
    expect(page.get_by_test_id("status")).to_contain_text("live", timeout=10_000)
    yield page
    assert dialogs == [], f"the page opened dialogs: {dialogs}"
    page.close()


def _send(cloud: LocalCloud, requests: list[dict]) -> None:
    account = Account(cloud.cloud.base_url, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    queue = account.get_queue(cloud.deployment.outputs["RequestQueueName"])
    for request in requests:
        queue.send_message(Message(json.dumps(request)))


def _request(i: int, **fields) -> dict:
    return {
        "RegionId": "cn-shanghai",
        "IpAddress": f"203.0.113.{i}",
        "Name": f"branch-{i}",
        "AuthKey": AUTH_KEY,
        "ClientToken": f"console-test-{i}-{time.time_ns()}",
        **fields,
    }


def _drained(page: Page, cloud: LocalCloud) -> None:
    """Wait, through the console, until the request queue holds nothing: a batch still being
    retried would otherwise run on into the next test."""
    row = page.locator(f'tr[data-queue="{cloud.deployment.outputs["RequestQueueName"]}"]')
    for field in ("visible", "in_flight", "delayed"):
        expect(row.locator(f'[data-field="{field}"]')).to_have_text("0", timeout=60_000)


def _number(page: Page, element_id: str) -> int:
    return int(page.locator(f"#{element_id}").inner_text())


def test_requests_flow_into_counts_chart_and_outcome_rows(console: Page, outage_stack: LocalCloud):
    expect(console.get_by_test_id("stack")).to_contain_text("batch_count")
    expect(console.locator("#outcomes tr")).to_have_count(0)
    _send(outage_stack, [_request(i) for i in range(1, 4)])
    expect(console.locator("#outcomes-created")).to_have_text("3", timeout=30_000)
    expect(console.locator('#outcomes tr[data-outcome="created"]')).to_have_count(3)
    expect(console.locator("#outcomes")).to_contain_text("branch-2")
    expect(console.locator("#outcomes")).to_contain_text("cgw-")
    assert _number(console, "vpc-answered") >= 3
    expect(console.get_by_test_id("function-counts")).not_to_contain_text("0 invocations")
    expect(console.get_by_test_id("gateways")).to_contain_text("cn-shanghai")
    # The chart has drawn answered calls: some pixel of the canvas is the answered colour.
    green = console.evaluate(
        """() => { const c = document.getElementById('chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] === 0x1b && d[i + 1] === 0x7f && d[i + 2] === 0x3b) return true; }
        return false; }"""
    )
    assert green is True
    console.get_by_test_id("outcome-filter").select_option("failed")
    expect(console.locator("#outcomes tr")).to_have_count(0)
    _drained(console, outage_stack)


def test_a_throttling_rule_from_the_form_is_counted(console: Page, outage_stack: LocalCloud):
    form = console.get_by_test_id("fault-form")
    form.locator('select[name="effect"]').select_option("rate_limit_qps")
    form.locator('input[name="action"]').fill("CreateCustomerGateway")
    form.locator('input[name="value"]').fill("1")
    console.get_by_test_id("add-fault").click()
    expect(console.get_by_test_id("fault-message")).to_have_text("1 rule(s) in force")
    expect(console.get_by_test_id("faults")).to_contain_text('"rate_limit_qps":1')
    assert outage_stack.cloud.faults.rules() == [
        {"service": "vpc", "action": "CreateCustomerGateway", "rate_limit_qps": 1}
    ]
    expect(console.locator("#vpc-limit")).to_have_text("1/s")
    _send(outage_stack, [_request(i) for i in range(20, 30)])
    expect(console.locator("#outcomes-created")).to_have_text("10", timeout=90_000)
    assert _number(console, "vpc-throttled") > 0
    console.get_by_test_id("clear-faults").click()
    _drained(console, outage_stack)
    expect(console.get_by_test_id("faults")).to_be_empty()
    assert outage_stack.cloud.faults.rules() == []


def test_the_form_shows_the_admin_api_refusal(console: Page, outage_stack: LocalCloud):
    form = console.get_by_test_id("fault-form")
    form.locator('select[name="effect"]').select_option("latency_ms")
    form.locator('input[name="value"]').fill("10")
    form.locator('input[name="probability"]').fill("5")
    console.get_by_test_id("add-fault").click()
    expect(console.get_by_test_id("fault-message")).to_have_text(
        "refused: rule 0: probability must be a number in [0, 1]"
    )
    assert outage_stack.cloud.faults.rules() == []


def test_markup_is_shown_as_text_and_secrets_never_reach_the_page(
    console: Page, outage_stack: LocalCloud
):
    _send(outage_stack, [_request(40, Name=XSS_NAME)])
    row = console.locator("#outcomes tr").first
    expect(row).to_be_visible(timeout=30_000)
    expect(row.locator('[data-field="name"]')).to_have_text(XSS_NAME)
    assert console.locator("#outcomes img").count() == 0
    assert console.evaluate("() => window.__xss") is None
    # A request with its AuthKey goes to the dead-letter queue (the VPC API is down), and is
    # peeked at there.
    outage_stack.cloud.faults.set_rules([VPC_DOWN])
    _send(outage_stack, [_request(41)])
    dlq = outage_stack.deployment.outputs["DeadLetterQueueName"]
    reason = console.get_by_test_id("dead-letter-reason")
    expect(reason).to_contain_text("1 × ", timeout=90_000)
    expect(reason).to_contain_text("ServiceUnavailable")
    console.locator(f'tr[data-queue="{dlq}"] button').click()
    expect(console.get_by_test_id("peek-message")).to_contain_text("203.0.113.41")
    expect(console.get_by_test_id("peek-message")).to_contain_text("******")
    snapshot = console.evaluate("() => fetch('api/snapshot').then(r => r.text())")
    html = console.content()
    for secret in (AUTH_KEY, DEFAULT_ACCESS_KEY_SECRET):
        assert secret not in snapshot
        assert secret not in html

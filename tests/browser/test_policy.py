"""The Policy page: a form for the common fields and the JSON view for every field; the
Requests page lists what expired and why."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import Tab, claim, row, status, visit

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_policy_form_and_json_view(tab: Tab) -> None:
    page, device = tab.page, tab.device
    await claim(tab)
    await visit(tab, "Policy", "Policy v1")
    form = page.locator("form.policy")
    await expect(form.get_by_label("Approvers required")).to_have_value("1")
    await expect(form.get_by_label("Request expires after (s)")).to_have_value("300")
    await expect(form.get_by_label("passkeys must verify the user")).to_be_checked()
    await form.get_by_label("Request expires after (s)").fill("1")
    await form.get_by_label("Longest session (s)").fill("900")
    await form.get_by_label("drives").uncheck()
    await form.get_by_role("button", name="Save policy").click()
    await expect(page.get_by_role("heading", name="Policy v2")).to_be_visible()
    await expect(status(tab)).to_have_text("policy saved")
    await tab.screenshot("policy-form")

    # what gatekeeper holds now (over the page's own API)
    saved = await (await page.request.get("/api/policy")).json()
    policy = saved["policy"]
    assert policy["request_timeout_s"] == 1 and policy["approvers_required"] == 1
    assert policy["scope_ceiling"]["max_duration_s"] == 900
    assert policy["scope_ceiling"]["drives"] is False
    assert policy["origins"] == [device.origin]  # the fields the form has not, unchanged

    # the JSON view edits every field
    await page.get_by_text("JSON (every field").click()
    text = page.get_by_role("textbox", name="Policy JSON")
    await expect(text).to_have_value(re.compile('"request_timeout_s": 1,'))
    edited = (await text.input_value()).replace('"approval_window_s": 0', '"approval_window_s": 60')
    await text.fill(edited)
    await page.get_by_role("button", name="Save JSON").click()
    await expect(page.get_by_role("heading", name="Policy v3")).to_be_visible()
    await expect(page.locator("form.policy").get_by_label("Approval window")).to_have_value("60")

    # a request nobody approves within the second expires, and the page says so
    await visit(tab, "Requests", "Pending requests")
    await device.file_request("late1")
    expired = page.get_by_role("row").filter(has_text="late1")
    await expect(expired).to_contain_text("not approved in time")
    await expect(expired.locator(".badge.expired")).to_have_text("expired")
    await expect(expired.get_by_role("button")).to_have_count(0)  # nothing to decide
    await expect(page.get_by_text("Nothing is waiting for approval")).to_be_visible()
    await tab.screenshot("requests-expired")
    assert (await device.request("late1"))["state"] == "expired"
    await expect(row(tab, "late1")).to_have_count(1)

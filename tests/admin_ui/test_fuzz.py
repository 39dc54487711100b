"""schemathesis against the live app's own OpenAPI document, logged in as the owner: no 5xx.

Examples are bounded (``EXAMPLES`` per operation and mode, valid and schema-violating) so the run takes well under a minute.
The event stream (endless) and logout (it would end the login the run uses) are left out;
both are covered by the route sweep.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from yarl import URL

from tests.admin_ui.conftest import Browser

EXAMPLES = 6
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)  # valid bodies, then invalid ones
SKIP = {("GET", "/api/events"), ("POST", "/api/logout")}


@pytest.fixture
def ui_settings() -> dict[str, str]:
    # fuzz the login paths, not the rate limit
    return {"login_attempts": "100000", "login_attempts_all": "100000"}


def _fuzz(base: str, headers: dict[str, str], cookies: dict[str, str]) -> list[str]:
    schema = schemathesis.openapi.from_url(base + "/api/openapi.json")
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]  # our own document: no invalid operations
    for operation, mode in itertools.product(operations, MODES):
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        def check(case: Any) -> None:
            response = case.call(base_url=base, headers=headers, cookies=cookies, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{response.status_code} {case.as_curl_command()}: {response.text[:200]}"
                )

        try:
            check()
        except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck):
            continue  # nothing to negate (no parameters, no body)
    return failures


async def test_no_server_errors(owner: Browser) -> None:
    ui = owner.ui
    token = owner.http.cookie_jar.filter_cookies(URL(ui.base))["lucid_session"].value
    headers = {"Origin": ui.origin, "X-CSRF-Token": owner.csrf}
    failures = await asyncio.to_thread(_fuzz, ui.base, headers, {"lucid_session": token})
    assert not failures, "\n".join(failures)
    await owner.ok("GET", "/api/me")  # the run did not break the login either

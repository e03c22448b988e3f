"""The wallboard page in a real browser: Debian's chromium driven by Playwright against a running
service. The page signs in from the URL fragment, shows the figures, follows calls enqueued and
answered through the gRPC API, signs out; a screenshot is saved under tests/artifacts/.

No browser is downloaded (never ``playwright install``): the test uses Debian's chromium and
installs it with apt-get when it is missing and the test runs as root (as CI does); otherwise
it is skipped with the reason. Chromium runs with ``--no-sandbox``: its sandbox needs user
namespaces or a setuid helper, which containers usually lack, and chromium refuses to start as
root with the sandbox on. The page it loads is the service's own, from loopback.

``ACD_WALLBOARD_FIGURE=tests/figures/wallboard.png`` also writes the screenshot there (the
README's figure).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.server.clock import Clock
from acd.v1 import agent_pb2, common_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of
from wallboard_helpers import address_of, wallboard_config

T = 5.0
EXPECT_MS = 10_000
ARTIFACTS = Path(__file__).parent / "artifacts"
APT_TIMEOUT_S = 900
# The sales queue watched: a call waiting past 20 s, an SL under 80 %, more than one waiting.
CONFIG = TEST_CONFIG.replace(
    "wrapup = 0.2",
    "wrapup = 0.2\nalerts = { waiting_above = 1, longest_wait_above_s = 20, sl_below = 0.8,"
    " min_calls = 1 }",
    1,
)


def chromium() -> str:
    """Debian's chromium, installed first when missing (as root)."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed; as root: apt-get install chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, timeout=APT_TIMEOUT_S)
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    subprocess.run(install, check=True, env=env, timeout=APT_TIMEOUT_S)
    found = shutil.which("chromium")
    assert found is not None, "apt-get installed chromium, but it is not on PATH"
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    path = chromium()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


class Wall:
    """The service's wall clock, set by the test (a Tuesday morning, 10:15 UTC)."""

    def __init__(self) -> None:
        self.s = 1_773_137_700.0

    def __call__(self) -> float:
        return self.s


def test_the_page_follows_the_calls(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    wall = Wall()
    config = wallboard_config(CONFIG, refresh_ms=200)
    with running(tmp_path, config, clock=Clock(wall)) as (server, s):
        address = address_of(server)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        try:
            page.goto(f"http://{address}/#token=t-supervisor")
            sales = page.locator('[data-queue="sales"]')
            waiting = sales.locator('[data-figure="waiting"] .value')
            expect(waiting).to_have_text("0", timeout=EXPECT_MS)
            assert "token" not in page.url  # the fragment is cleared at once
            cookie = next(c for c in context.cookies() if c["name"] == "acd_wallboard")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert page.evaluate("document.cookie") == ""  # the page's script cannot read it
            expect(page.locator("#status")).to_have_text("live", timeout=EXPECT_MS)

            for call in ("b1", "b2", "b3"):
                enqueue(s, call, caller_number="+4930555")
            expect(waiting).to_have_text("3", timeout=EXPECT_MS)
            expect(sales.locator('[data-figure="waiting"]')).to_have_class(
                "figure big level-red", timeout=EXPECT_MS
            )
            anna = login_ready(s, "anna")
            assert anna.until(offer_of).offer.offer.call_id == "b1"
            accept = agent_pb2.AcceptOfferRequest(agent_id="anna", call_id="b1")
            s.agent.AcceptOffer(accept, metadata=md("t-anna"), timeout=T)
            s.agent.Login(agent_pb2.LoginRequest(agent_id="ben"), metadata=md("t-ben"), timeout=T)
            expect(waiting).to_have_text("2", timeout=EXPECT_MS)
            answered = sales.locator('[data-figure="answered"] .value')
            expect(answered).to_have_text("1 / 3", timeout=EXPECT_MS)
            expect(sales.locator('[data-figure="sl"] .value')).to_have_text("100%")
            expect(page.locator('[data-agent="anna"]')).to_have_attribute("data-state", "on_call")
            expect(page.locator('[data-agent="ben"]')).to_have_attribute("data-state", "break")
            on_call = page.locator('#agent-summary [data-state="on_call"] .value')
            expect(on_call).to_have_text("1")
            # Two calls have waited 42 s: past the queue's 20 s limit, so red.
            wall.s += 42
            longest = sales.locator('[data-figure="longest_wait"]')
            expect(longest.locator(".value")).to_have_text("0:42", timeout=EXPECT_MS)
            expect(longest).to_have_class("figure big level-red")
            expect(sales.locator('[data-figure="sl"]')).to_have_class("figure big level-green")
            # The alerts raised while nobody was logged in clear; the wait's is raised.
            alerts = page.locator("#alerts .alert")
            # (the first was raised at 3 or 2 waiting: whenever its check came)
            waiting_alert = re.compile(r"sales: [23] calls waiting \(limit 1\)")
            raised = [waiting_alert, "sales: a call has waited 42 s (limit 20 s)"]
            expect(alerts).to_have_text(raised, timeout=EXPECT_MS)

            ARTIFACTS.mkdir(exist_ok=True)
            shot = page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)
            assert shot[:8] == b"\x89PNG\r\n\x1a\n"
            if figure := os.environ.get("ACD_WALLBOARD_FIGURE"):
                Path(figure).write_bytes(shot)

            # Forcing ben ready shows on the page too; then signing out hides the board.
            force = supervision_pb2.ForceAgentStateRequest(
                agent_id="ben", state=common_pb2.AGENT_STATE_READY
            )
            s.supervision.ForceAgentState(force, metadata=md("t-supervisor"), timeout=T)
            expect(page.locator('[data-agent="ben"]')).not_to_have_attribute(
                "data-state", "break", timeout=EXPECT_MS
            )
            page.locator("#logout").click()
            expect(page.locator("#login")).to_be_visible(timeout=EXPECT_MS)
            expect(page.locator("#board")).to_be_hidden()
            page.locator("#token").fill("not-a-token")
            page.locator("#login button").click()
            expect(page.locator("#login-error")).to_have_text("unknown token", timeout=EXPECT_MS)
            anna.close()
        finally:
            context.close()

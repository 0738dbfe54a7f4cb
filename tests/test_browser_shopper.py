"""The shopper's pages in headless Chromium against a real pos-central on a real port.

A phone-sized browser opens the receipt QR's URL (upper case, as printed), creates an account,
adds the purchase, sees it with its points in /account, watches the member code change without a
reload (decoded from a screenshot with zxing-cpp), is refused a second claim of the same code, and
sees a claim made before its sale reached head office turn into a purchase after the push.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from test_web_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Till,
    add_admin,
    add_shopper,
    add_store,
    db_of,
    new_app,
    running_server,
    url_path_of_claim,
)

from sync.codes import verify_member_code
from sync.server import claims
from sync.server.push import points_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
PHONE = {"width": 390, "height": 844}
DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


@pytest.fixture
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def watch_for_problems(page: Any) -> list[str]:
    """Collect script errors, console errors (CSP violations among them) and requests leaving 127.0.0.1."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(("http://127.0.0.1:", "data:", "about:"))
            else problems.append(f"request off the server: {request.url}")
        ),
    )
    return problems


def decode_qr(png: Path) -> str:
    import zxingcpp

    results = zxingcpp.read_barcodes(Image.open(png))
    assert results, f"no QR code found in {png}"
    return str(results[0].text)


def test_shopper_claims_on_a_phone_and_sees_points_and_a_changing_member_code(
    browser: object, tmp_path: Path
) -> None:
    app = new_app(tmp_path)
    add_store(app, name="Berlin Mitte")
    lines = [("4006381333931", "Green tea 100 g", 2, 450), ("4006381333948", "Tea mug", 1, 1299)]
    total = 2 * 450 + 1299
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as api:
        till = Till.enroll(api, app)
        code, _entry = till.sell(lines)
        claim_path = url_path_of_claim(code)
        assert claim_path.startswith("/C/") and claim_path == claim_path.upper()

        context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)  # type: ignore[attr-defined]
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems = watch_for_problems(page)

        # The receipt QR opens the claim page: the purchase, its points, and the account forms.
        response = page.goto(base + claim_path)
        assert response is not None and response.status == 200
        assert page.inner_text("#purchase-store") == "Berlin Mitte"
        assert "Green tea 100 g" in page.inner_text("#purchase")
        assert "21.99" in page.inner_text("#purchase-total")
        earns = points_for(total, "EUR")
        assert str(earns) in page.inner_text("#purchase-points")
        page.screenshot(path=str(tmp_path / "claim.png"), full_page=True)

        # Create an account right there with a password; the purchase joins it.
        page.click("#password-forms summary")  # the password way, behind the mail sign-in
        page.fill("#signup-email", "mia@example.org")
        page.fill("#signup-password", "a long enough password")
        page.click("#signup-submit")
        page.wait_for_url("**/account?added=ready")
        assert "Added to your account" in page.inner_text("#added-note")
        assert page.inner_text("#points-balance") == str(earns)
        purchases = page.inner_text("#purchases")
        assert "Berlin Mitte" in purchases and f"+{earns}" in purchases and "added from receipt" in purchases
        page.screenshot(path=str(tmp_path / "account.png"), full_page=True)

        # The member code: what the scanner reads off the screen is genuine, and offline the page
        # keeps showing the right code for a day (the browser's clock is moved, not waited for).
        page.clock.install(time=datetime.now(UTC))
        page.goto(base + "/account")
        box = page.locator("#member-code")
        first = box.get_attribute("data-code")
        assert first
        public_key = till.public_key()
        member = verify_member_code(first, public_key=public_key, now=datetime.now(UTC))
        page.locator("#member-qr svg").screenshot(path=str(tmp_path / "member-qr.png"))
        assert decode_qr(tmp_path / "member-qr.png") == first
        assert "Valid for" in page.inner_text("#member-countdown")
        page.evaluate("window.__same_page = true")
        context.set_offline(True)
        page.clock.fast_forward("23:00:00")
        page.wait_for_function(
            "first => document.getElementById('member-code').getAttribute('data-code') !== first", arg=first
        )
        assert page.evaluate("window.__same_page") is True  # no reload happened
        later = box.get_attribute("data-code")
        page.locator("#member-qr svg").screenshot(path=str(tmp_path / "member-qr-later.png"))
        assert decode_qr(tmp_path / "member-qr-later.png") == later
        browser_now = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, UTC)
        assert verify_member_code(later, public_key=public_key, now=browser_now).member_id == member.member_id
        # After the last code the phone holds, the code is greyed out, not shown.
        page.clock.fast_forward("04:00:00")
        page.wait_for_selector("#member-expired", state="visible")
        assert page.locator("#member-qr svg").count() == 0 and box.get_attribute("data-code") == ""
        assert "expired" in page.inner_text("#member-expired")
        assert "No connection" in page.inner_text("#member-code-status")  # its fetches failed, it said so
        context.set_offline(False)
        problems[:] = [p for p in problems if "ERR_INTERNET_DISCONNECTED" not in p]  # the offline fetches

        # Another shopper on another phone opening the same receipt is refused.
        other = browser.new_context(viewport=PHONE, is_mobile=True)  # type: ignore[attr-defined]
        other_page = other.new_page()
        response = other_page.goto(base + claim_path.lower())
        assert response is not None and response.status == 409
        assert "already in an account" in other_page.inner_text("#refused-heading")
        assert other_page.locator("#claimed-help").count() == 1  # a way on, not a dead end
        other.close()

        # A receipt whose sale has not reached head office yet: accepted as pending.
        pending_code = till.claim_code()
        response = page.goto(base + url_path_of_claim(pending_code))
        assert response is not None and response.status == 200
        assert "appear when the store syncs" in page.inner_text("#pending-note")
        page.click("#claim-submit")
        page.wait_for_url("**/account?added=pending")
        assert "Waiting for the store to sync" in page.inner_text("#purchases")
        assert page.inner_text("#points-balance") == str(earns)

        # The store syncs: the pending claim becomes a purchase with its points.
        till.push([till.sale_entry([("4006381333955", "Teapot", 1, 3450)], claim=pending_code)])
        page.goto(base + "/account")
        assert page.inner_text("#points-balance") == str(earns + points_for(3450, "EUR"))
        purchases = page.inner_text("#purchases")
        assert "Waiting for the store to sync" not in purchases
        assert purchases.count("added from receipt") == 2
        assert problems == [], problems
        context.close()

    keep_screenshots(tmp_path, {"claim.png": "claim-page.png", "account.png": "account-page.png"})


def keep_screenshots(tmp_path: Path, names: dict[str, str]) -> None:
    """Copy screenshots into docs/images when asked (STORELINK_SCREENSHOTS=1), after every check passed.

    Off by default so a test run never rewrites files tracked in git.
    """
    if os.environ.get("STORELINK_SCREENSHOTS") != "1":
        return
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    for taken, kept in names.items():
        shutil.copyfile(tmp_path / taken, DOCS_IMAGES / kept)


def test_head_office_signs_in_and_sees_sales_chart_and_fleet(browser: object, tmp_path: Path) -> None:
    app = new_app(tmp_path)
    add_store(app, "S01", "Berlin Mitte")
    add_store(app, "S02", "Hamburg Jungfernstieg")
    add_admin(app)
    now = datetime.now(UTC)
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as api:
        berlin = Till.enroll(api, app, "S01")
        hamburg = Till.enroll(api, app, "S02")
        codes = []
        for days in range(0, 30, 3):
            code, _ = berlin.sell(
                [("TEA", "Green tea 100 g", 1 + days % 4, 450), ("MUG", "Tea mug", 1, 1299)],
                completed_at=now - timedelta(days=days),
            )
            codes.append(code)
            hamburg.sell([("SCARF", "Wool scarf", 1, 2500)], completed_at=now - timedelta(days=days))
        shopper_id = add_shopper(app)
        with db_of(app).begin() as conn:
            for code in codes[::2]:  # every other Berlin receipt was added to an online account
                claims.claim_purchase(conn, code.text, shopper_id, now)
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems = watch_for_problems(page)
        response = page.goto(base + "/hq")
        assert response is not None and page.url.endswith("/hq/signin")
        page.fill("#hq-email", ADMIN_EMAIL)
        page.fill("#hq-password", ADMIN_PASSWORD)
        page.click("#hq-signin")
        page.wait_for_url("**/hq")
        assert page.inner_text('#store-S01 [data-figure="month-sales"]') == "10"
        assert page.inner_text('#store-S01 [data-figure="today-online"]') == "100 %"
        assert page.inner_text('#store-S02 [data-figure="month-online"]') == "0 %"
        assert page.locator("#store-S01 svg.chart rect.bar").count() >= 10
        page.screenshot(path=str(tmp_path / "hq.png"), full_page=True)
        page.click("text=Fleet")
        page.wait_for_url("**/hq/fleet")
        assert page.locator("#fleet tbody tr").count() == 2
        # Both tills just pushed: online, each in its store's card, each with its Revoke form.
        for store in ("S01", "S02"):
            row = page.locator(f"#store-{store} tbody tr")
            assert row.count() == 1
            assert row.locator('[data-figure="state"]').inner_text().strip() == "online"
            assert row.locator("form.revoke button").inner_text() == "Revoke"
        page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)
        assert problems == [], problems
        context.close()
    keep_screenshots(tmp_path, {"hq.png": "hq-dashboard.png", "fleet.png": "hq-fleet.png"})

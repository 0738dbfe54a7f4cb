"""A new shopper's whole journey on a phone, in English, German and Chinese, with axe-core.

Headless Chromium (Debian's /usr/bin/chromium) at 390x844 against pos-central on a real port and a
real SMTP server (aiosmtpd): sign up by the mail's link, the purchase is added; open it as its full
receipt; sign out; sign in with the mail's 6-digit code from a second receipt's claim page (adding
it in the same step, after one wrong code whose message takes the focus); download the data;
delete the account. axe-core (the npm package, installed into build/axe by this test's setup and
loaded from disk) must report no violations on every page on the way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from test_web_support import (
    Mailbox,
    Till,
    add_store,
    mail_code_and_link,
    new_app,
    running_server,
    url_path_of_claim,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium"),
]

ROOT = Path(__file__).resolve().parent.parent
AXE_DIR = ROOT / "build" / "axe"
AXE_VERSION = "4.10"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
LANGUAGES = {"en": "en", "de": "de", "zh-CN": "zh-Hans"}  # browser locale -> the page's <html lang>
TEA = [("4006381333931", "Green tea 100 g", 2, 450), ("4006381333948", "Tea mug", 1, 1299)]
SCARF = [("4006381333955", "Scarf", 1, 2500)]


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's axe.min.js from the npm package, installed once into build/axe."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed to install axe-core (apt-get install npm)"
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), f"axe-core@~{AXE_VERSION}", "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    try:
        yield box
    finally:
        box.stop()


class Axe:
    """Runs axe-core on each page the journey passes and remembers every violation."""

    def __init__(self, page: Any, source: str) -> None:
        self.page = page
        self.source = source
        self.checked: list[str] = []
        self.violations: list[dict[str, Any]] = []

    def check(self, name: str) -> None:
        self.page.evaluate(self.source)  # via the DevTools protocol: the page's CSP is not bent
        found = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(
                v => ({id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))"""
        )
        self.checked.append(name)
        self.violations.extend({"page": name, **v} for v in found)


def keep_screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """A full-page screenshot; copied into docs/images when STORELINK_SCREENSHOTS=1."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("STORELINK_SCREENSHOTS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "images" / name)


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_a_new_shopper_joins_claims_signs_in_by_code_exports_and_deletes(
    browser: Any, axe_source: str, mailbox: Mailbox, tmp_path: Path, language: str
) -> None:
    app = new_app(tmp_path, privacy_url="https://chain.example/privacy", **mailbox.settings())
    add_store(app, name="Berlin Mitte")
    email = f"mia.{language.lower()}@example.org"
    suffix = "" if language == "en" else f"-{language.split('-')[0]}"
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as api:
        till = Till.enroll(api, app)
        first, first_sale = till.sell(TEA)
        second, second_sale = till.sell(SCARF)

        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale=language,
            accept_downloads=True,
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        axe = Axe(page, axe_source)

        # 1. The receipt QR opens the claim page; the mail form is the first thing on it.
        page.goto(base + url_path_of_claim(first))
        assert page.get_attribute("html", "lang") == LANGUAGES[language]
        box = page.locator("#mail-email").bounding_box()
        assert box is not None and box["y"] + box["height"] < PHONE["height"] * 2  # reachable, near the top
        axe.check("claim page")
        keep_screenshot(page, tmp_path, f"shopper-claim{suffix}.png")
        page.fill("#mail-email", email)
        page.click("#mail-submit")
        page.wait_for_selector("#mail-sent")
        axe.check("check your mail")
        keep_screenshot(page, tmp_path, f"shopper-mail-sent{suffix}.png")

        # 2. Sign up by the mail's link: one tap, and the purchase is in the new account.
        _code, link = mail_code_and_link(mailbox.wait_for(email))
        page.goto(base + urlparse(link).path)  # the mail names the public URL; this server is on a free port
        axe.check("sign-in link")
        page.click("#link-submit")
        page.wait_for_url("**/account?added=ready")
        axe.check("account")
        keep_screenshot(page, tmp_path, f"shopper-account{suffix}.png")
        assert page.locator(f'[data-sale="{first_sale.payload["sale_id"]}"]').count() == 1

        # 3. The purchase opens as its full receipt.
        page.click(f'[data-sale="{first_sale.payload["sale_id"]}"] a')
        page.wait_for_selector("#receipt")
        assert "Green tea 100 g" in page.inner_text("#receipt-lines")
        assert page.locator("#receipt-taxes tbody tr").count() == 1
        axe.check("receipt")
        keep_screenshot(page, tmp_path, f"shopper-receipt{suffix}.png")
        with page.expect_download() as receipt_pdf:
            page.click("#receipt-pdf")
        from pypdf import PdfReader

        printed = (
            PdfReader(receipt_pdf.value.path()).pages[0].extract_text().replace(" ", "").replace("\x00", "")
        )
        assert "Greentea100g" in printed and first_sale.payload["receipt_no"] in printed

        # 4. Sign out, then the second receipt: sign in with the mail's code, adding it in one step.
        page.goto(base + "/account")
        page.click("#signout")
        page.wait_for_url("**/account/signin")
        axe.check("sign-in page")
        page.click("#password-forms summary")
        axe.check("sign-in page, password forms open")
        # Signed out, the first receipt (in this account already) explains and offers sign-in.
        refused = page.goto(base + url_path_of_claim(first))
        assert refused is not None and refused.status == 409
        assert page.locator("#mail-email").count() == 1 and page.locator("#claimed-help").count() == 1
        axe.check("receipt in an account")
        used = page.goto(base + urlparse(link).path)
        assert used is not None and used.status == 410
        axe.check("used sign-in link")
        page.goto(base + url_path_of_claim(second))
        page.fill("#mail-email", email)
        page.click("#mail-submit")
        page.wait_for_selector("#mail-code")
        code, _link = mail_code_and_link(mailbox.wait_for(email, count=2))
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        page.fill("#mail-code", wrong)
        page.click("#code-submit")
        page.wait_for_selector("#mail-code-error")
        # The message is where the shopper looks: the field has the focus, is marked and described.
        assert page.evaluate("document.activeElement.id") == "mail-code"
        assert page.get_attribute("#mail-code", "aria-invalid") == "true"
        assert "mail-code-error" in (page.get_attribute("#mail-code", "aria-describedby") or "")
        axe.check("wrong code")
        page.fill("#mail-code", code)
        page.click("#code-submit")
        page.wait_for_url("**/account?added=ready")
        assert page.locator(f'[data-sale="{second_sale.payload["sale_id"]}"]').count() == 1
        assert page.locator("#purchases .purchase").count() == 2

        # 5. The data, as a download.
        with page.expect_download() as download:
            page.click("#export-link")
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert data["account"]["email"] == email
        assert {p["sale_id"] for p in data["purchases"]} == {
            first_sale.payload["sale_id"],
            second_sale.payload["sale_id"],
        }

        # 6. Delete: first without the box (a message, focus on the box), then for real.
        page.click("#delete-account summary")
        page.click("#delete-submit")
        page.wait_for_selector("#delete-error")
        assert page.evaluate("document.activeElement.id") == "delete-confirm"
        axe.check("delete refused")
        page.check("#delete-confirm")
        page.click("#delete-submit")
        page.wait_for_selector("#deleted-heading")
        axe.check("account deleted")
        page.goto(base + "/account")
        page.wait_for_url("**/account/signin")

        context.close()
    assert errors == []
    assert axe.violations == [], json.dumps(axe.violations, ensure_ascii=False, indent=1)
    assert len(axe.checked) == 12

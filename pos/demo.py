"""``pos demo``: a standalone terminal with a demo store, staff and catalog in a fresh data dir.

The demo store sells in euros with German prices (tax-inclusive, 19 % and 7 %); the cashier's
language can be switched on the sign-in screen. The sign-in screen shows the demo PINs. Member codes
are verified with a demo public key kept in the terminal's config (a standalone terminal has no
server to enroll with); :func:`demo_member_code` makes one to scan.
"""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from pos.config import update_config
from pos.hardware.resources import resource_path
from pos.services import catalog as catalog_service
from pos.services import shift as shift_service
from pos.services import staff as staff_service
from pos.services.terminal import close_terminal, open_terminal, set_store_settings
from sync.codes import make_member_code, public_key_bytes

#: (name, role, PIN): shown on the demo's sign-in screen.
DEMO_STAFF: tuple[tuple[str, str, str], ...] = (
    ("Anna Becker", "cashier", "1111"),
    ("Li Wei", "cashier", "2222"),
    ("Maria Schmidt", "manager", "9999"),
)
DEMO_STORE = {
    "store_name": "Storelink Kaufhaus Mitte",
    "currency": "EUR",
    "locale": "de_DE",
    "tax_mode": "inclusive",
    "discount_limit_percent": 10,
    "timezone": "Europe/Berlin",
    "rcn_region": "de",
}
DEMO_PUBLIC_URL = "https://claim.storelink.example"
#: Opening float of the demo shift, in cents.
DEMO_FLOAT = 15000
_KEY_FILE = "demo-member-signing.key"


@dataclass(frozen=True)
class Demo:
    data_dir: Path
    pins: tuple[tuple[str, str, str], ...]
    products: int


def demo_catalog() -> Path:
    return resource_path("demo", "catalog.csv")


def prepare_demo(
    data_dir: Path | None = None, *, catalog: Path | None = None, store: dict[str, object] | None = None
) -> Demo:
    """Set up a demo terminal in ``data_dir`` (a fresh temporary dir if None) and return where.

    A dir that already holds the demo is reused as it is (its sales stay). ``store`` overrides
    the demo store's settings (e.g. ``{"locale": "zh_CN", "currency": "CNY"}``).
    """
    folder = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="storelink-demo-"))
    marker = folder / "demo.ready"
    if marker.exists():
        return Demo(folder, DEMO_STAFF, int(marker.read_text() or 0))
    folder.mkdir(parents=True, exist_ok=True)
    signing = Ed25519PrivateKey.generate()
    (folder / _KEY_FILE).write_bytes(signing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    update_config(
        folder,
        terminal_id=1,
        terminal_code="K1",
        terminal_name="Kasse 1",
        store_code="DEMO",
        store_name=str((store or {}).get("store_name", DEMO_STORE["store_name"])),
        public_url=DEMO_PUBLIC_URL,
        server_public_key=base64.b64encode(public_key_bytes(signing)).decode("ascii"),
    )
    terminal = open_terminal(folder, daily_backup=False)
    try:
        set_store_settings(terminal, **{**DEMO_STORE, **(store or {})})
        for name, role, pin in DEMO_STAFF:
            staff_service.add_staff(terminal, name=name, role=role, pin=pin)
        products = catalog_service.import_catalog(terminal, catalog or demo_catalog()).rows
        # The manager opens the day's shift so the demo starts at the sale screen after sign-in.
        staff_service.sign_in(terminal, DEMO_STAFF[-1][2])
        shift_service.open_shift(terminal, DEMO_FLOAT)
        staff_service.sign_out(terminal)
    finally:
        close_terminal(terminal)
    marker.write_text(str(products))
    return Demo(folder, DEMO_STAFF, products)


def demo_member_code(data_dir: Path, member_id: int, now: datetime) -> str:
    """A member code the demo terminal accepts (signed with the demo's key), as a phone would show."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key((data_dir / _KEY_FILE).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return make_member_code(member_id=member_id, signing_key=key, now=now)

"""What the screens show, as plain data: the till (pos/ui/till.py) builds these from the services'
results with money and dates already formatted for the locale, and the screens only render them."""

from __future__ import annotations

from dataclasses import dataclass, field

from pos.hardware.receipt import Receipt


class TillError(Exception):
    """An action was refused; ``str()`` is the message for the cashier (already translated)."""

    #: Play the error sound (unknown or mangled scans, refused codes).
    beep = True


class NeedsManager(TillError):
    """The action needs a manager's PIN; retry it with one."""

    beep = False


@dataclass(frozen=True)
class StaffView:
    staff_id: str
    name: str
    role: str  # "cashier" or "manager"
    #: False when no shift is open on this terminal yet (the till asks for the opening float).
    shift_open: bool = True

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


@dataclass(frozen=True)
class LineView:
    line_id: int
    name: str
    code: str
    quantity: str
    unit_price: str
    amount: str
    discount: str = ""


@dataclass(frozen=True)
class TenderView:
    label: str
    amount: str
    reference: str = ""


@dataclass(frozen=True)
class SaleView:
    """The sale in progress (or just completed)."""

    lines: tuple[LineView, ...] = ()
    total: str = ""
    total_minor: int = 0
    tax: str = ""
    discount: str = ""
    paid: str = ""
    remaining: str = ""
    remaining_minor: int = 0
    tenders: tuple[TenderView, ...] = ()
    member: str = ""
    #: The line the last scan added or changed (shown large on the sale screen).
    last_line_id: int | None = None
    currency: str = "EUR"

    @property
    def last_line(self) -> LineView | None:
        for line in self.lines:
            if line.line_id == self.last_line_id:
                return line
        return self.lines[-1] if self.lines else None

    @property
    def is_empty(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class CompletedSale:
    """A sale the ledger has committed, with its receipt."""

    sale: SaleView
    receipt_number: str
    change: str
    change_minor: int
    claim_url: str
    receipt: Receipt
    receipt_text: str
    #: Empty when the receipt printed (or no printer is configured); else why it did not.
    print_problem: str = ""


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan did: the sale as it now is, and a line for the cashier (e.g. "Member 1234 attached")."""

    sale: SaleView
    message: str = ""
    #: A receipt's claim code or URL was scanned: the return of that sale opens (the sale is unchanged).
    return_code: str = ""


@dataclass(frozen=True)
class ProductHit:
    sku: str
    name: str
    code: str
    price: str
    #: On hand as the till shows it (head office's figure less this till's unsynced sales); empty
    #: when head office never sent one (a standalone till).
    stock: str = ""


@dataclass(frozen=True)
class StatusView:
    cashier: str = ""
    shift: str = ""
    queued: int = 0
    last_sync: str = ""
    store: str = ""
    terminal: str = ""


@dataclass(frozen=True)
class PaymentStep:
    """After a tender: either the sale is still open (``completed`` None) or it is committed."""

    sale: SaleView
    completed: CompletedSale | None = None


@dataclass(frozen=True)
class StoreView:
    name: str
    language: str  # the store's language for the customer display and the receipt
    locale: str
    currency: str
    demo_pins: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (name, role, pin)
    #: The full demo's head office: (URL of /hq, e-mail, password); empty otherwise.
    demo_head_office: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReturnLineView:
    """One line of the sale being returned: what was bought, what may still come back, what does."""

    line_no: int
    name: str
    bought: str
    returnable: str
    returnable_milli: int
    returning: str
    refund: str


@dataclass(frozen=True)
class ReturnView:
    """The return being prepared: the original receipt, its lines, the refund so far."""

    receipt_number: str
    lines: tuple[ReturnLineView, ...]
    refund: str
    refund_minor: int


@dataclass(frozen=True)
class ShiftView:
    """The open shift's drawer: what it should hold now."""

    expected: str
    expected_minor: int


@dataclass(frozen=True)
class ShiftClosedView:
    expected: str
    counted: str
    #: counted - expected, signed ("-€1.50" short, "€0.20" over).
    difference: str
    difference_minor: int

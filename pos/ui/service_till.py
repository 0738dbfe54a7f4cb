"""The till on the terminal core: every cashier action is one pos/services call.

Runs on the UI's worker thread (see :mod:`pos.ui.tasks`), never on the UI thread. It keeps the sale
in progress in memory (as pos/services expects), turns service results into the screens' views with
money and dates formatted for the store's locale (pos/domain formatting, babel), renders the
receipt from the sale's journal payload, and prints it through pos/hardware.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal

from pos.domain.keypad import QuantityError, parse_quantity
from pos.domain.money import format_money, parse_money
from pos.domain.sale import Discount, SaleError
from pos.hardware.printer import PrinterError, PrinterSettings, print_receipt
from pos.hardware.receipt import Receipt, ReceiptLine, ReceiptTax, ReceiptTender, render_receipt
from pos.ledger import sales as sales_ledger
from pos.ledger import shifts as shift_ledger
from pos.ledger import staff as staff_ledger
from pos.ledger import state as ledger_state
from pos.services import catalog as catalog_service
from pos.services import returns as returns_service
from pos.services import sale as sale_service
from pos.services import shift as shift_service
from pos.services import staff as staff_service
from pos.services import syncing
from pos.services.terminal import ApprovalNeeded, ServiceError, Terminal, close_terminal, open_terminal
from pos.ui.i18n import N_, _, gettext_for, normalise
from pos.ui.settings import load_ui_settings, save_ui_settings
from pos.ui.views import (
    CompletedSale,
    LineView,
    NeedsManager,
    PaymentStep,
    ProductHit,
    ReturnLineView,
    ReturnView,
    SaleView,
    ScanOutcome,
    ShiftClosedView,
    ShiftView,
    StaffView,
    StatusView,
    StoreView,
    TenderView,
    TillError,
)

log = logging.getLogger(__name__)

TENDER_LABELS = {"cash": N_("Cash"), "card": N_("Card"), "voucher": N_("Voucher")}

# Service messages the cashier sees often, so they are in the catalogs too (others show in English).
SERVICE_MESSAGES = (
    N_("Wrong PIN."),
    N_("Wrong manager PIN."),
    N_("A PIN is 4 to 8 digits."),
    N_("Open a shift before selling."),
    N_("The sale has no lines yet."),
    N_("There is no receipt to reprint yet."),
    N_("This terminal cannot check member codes until it is enrolled."),
    N_("Sign in with your PIN first."),
    N_("Payment has started: take back the tenders before changing the sale."),
    N_("Reverse the card or voucher payments first (take back the tenders)."),
    N_("A return needs a manager's PIN."),
    N_("Closing the shift needs a manager's PIN."),
    N_("Taking cash out needs a manager's PIN."),
    N_("No sale with this receipt code on this terminal."),
    N_("Choose at least one line to return."),
    N_("Say why the cash goes in or out (up to 200 characters)."),
)
# Service messages with a value in them: (pattern, translatable template).
SERVICE_PATTERNS = (
    (
        re.compile(r"^Barcode (?P<code>\S+) is not in the catalog\.$"),
        N_("Barcode {code} is not in the catalog."),
    ),
    (re.compile(r"^No product with code (?P<code>\S+)\.$"), N_("No product with code {code}.")),
    (
        re.compile(r"^A discount above (?P<limit>\d+)% needs a manager's PIN\.$"),
        N_("A discount above {limit}% needs a manager's PIN."),
    ),
    (re.compile(r"^Member code refused: (?P<reason>.*)\.$"), N_("Member code refused: {reason}.")),
    (
        re.compile(
            r"^Short member code not accepted \((?P<reason>.*)\)\. Check the digits, or scan the QR code\.$"
        ),
        N_("Short member code not accepted ({reason}). Check the digits, or scan the QR code."),
    ),
    (
        re.compile(r"^Too many wrong PINs: PIN entry is locked until (?P<until>.*)\.$"),
        N_("Too many wrong PINs: PIN entry is locked until {until}."),
    ),
)


@lru_cache(maxsize=8192)
def _formatted(minor: int, currency: str, locale: str) -> str:
    # babel's formatting costs ~0.1 ms a call and a sale screen shows the same amounts again and
    # again; remembering them keeps a scan well inside one frame.
    return format_money(minor, currency, locale)


@lru_cache(maxsize=8192)
def _formatted_quantity(milli: int, unit: str, locale: str) -> str:
    # babel again: a search shows 50 stock figures per keystroke.
    if unit == "kg":
        return f"{format_decimal(milli / 1000, format='#,##0.000', locale=locale)} kg"
    return str(format_decimal(milli // 1000, locale=locale))


def cashier_message(error: BaseException) -> str:
    """A service's refusal in the cashier's language where the catalog has it."""
    text = str(error)
    if text in SERVICE_MESSAGES:
        return _(text)
    for pattern, template in SERVICE_PATTERNS:
        match = pattern.match(text)
        if match:
            return _(template).format(**match.groupdict())
    return text


def refused(error: BaseException) -> TillError:
    if isinstance(error, ApprovalNeeded):
        return NeedsManager(cashier_message(error))
    return TillError(cashier_message(error))


class ServiceTill:
    """:class:`pos.ui.till.Till` over pos/services on one open terminal."""

    def __init__(
        self,
        terminal: Terminal,
        *,
        printer: PrinterSettings | None = None,
        demo_pins: tuple[tuple[str, str, str], ...] = (),
        demo_head_office: tuple[str, ...] = (),
    ) -> None:
        self.terminal = terminal
        self.printer = printer or PrinterSettings()
        self.demo_pins = demo_pins
        self.demo_head_office = demo_head_office
        self._sale: sale_service.SaleInProgress | None = None
        self._last_line_id: int | None = None
        self._return: returns_service.ReturnInProgress | None = None
        #: The cashier's language on this terminal (ui.json), None for the store's.
        self.language: str | None = None

    @classmethod
    def open(
        cls,
        data_dir: Path | None = None,
        *,
        demo_pins: tuple[tuple[str, str, str], ...] = (),
        demo_head_office: tuple[str, ...] = (),
    ) -> ServiceTill:
        """Open the terminal in ``data_dir`` with the printer from ``ui.json`` beside the ledger."""
        terminal = open_terminal(data_dir)
        try:
            settings = load_ui_settings(terminal.data_dir)
        except BaseException:
            close_terminal(terminal)
            raise
        till = cls(terminal, printer=settings.printer, demo_pins=demo_pins, demo_head_office=demo_head_office)
        till.language = settings.language
        return till

    # --- formatting ---------------------------------------------------------------------------

    @property
    def locale(self) -> str:
        return self.terminal.settings.locale or "en"

    @property
    def currency(self) -> str:
        return self.terminal.settings.currency

    def money(self, minor: int) -> str:
        return _formatted(minor, self.currency, self.locale)

    def when(self, stamp: str) -> str:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        return str(format_datetime(moment, "short", tzinfo=self._zone(), locale=self.locale))

    def _zone(self) -> Any:
        from zoneinfo import ZoneInfo

        name = self.terminal.settings.timezone or "UTC"
        try:
            return ZoneInfo(name)
        except Exception:
            log.warning("the store's time zone %r is not known here: times are shown in UTC", name)
            return ZoneInfo("UTC")

    def quantity_text(self, milli: int, unit: str) -> str:
        if unit == "kg":
            return f"{milli / 1000:.3f} kg"
        return str(milli // 1000) if milli % 1000 == 0 else f"{milli / 1000:g}"

    # --- identity -------------------------------------------------------------------------------

    def store(self) -> StoreView:
        settings = self.terminal.settings
        return StoreView(
            name=settings.store_name,
            language=normalise(settings.locale),
            locale=settings.locale,
            currency=settings.currency,
            demo_pins=self.demo_pins,
            demo_head_office=self.demo_head_office,
        )

    def sign_in(self, pin: str) -> StaffView:
        try:
            signed = staff_service.sign_in(self.terminal, pin)
        except ServiceError as error:
            raise refused(error) from error
        return StaffView(
            staff_id=signed.staff_id, name=signed.name, role=signed.role, shift_open=self.shift_open()
        )

    def unlock(self, pin: str) -> StaffView:
        """The locked cashier (or a manager, who then takes over the till) signs in again."""
        return self.sign_in(pin)

    def lock(self) -> None:
        """Locking keeps the cashier and the sale; only the screen is closed until a PIN is entered."""

    def sign_out(self) -> None:
        if self._sale is not None and self._sale.sale.lines:
            raise TillError(_("Finish or cancel the sale before signing out."))
        staff_service.sign_out(self.terminal)
        self._sale = None

    def remember_language(self, language: str) -> None:
        """Keep the cashier's language for this terminal in ui.json."""
        settings = load_ui_settings(self.terminal.data_dir)
        save_ui_settings(self.terminal.data_dir, replace(settings, language=language))
        self.language = language

    def startup_notice(self) -> str:
        """After a crash: whether the sale being paid when the till stopped was completed."""
        outcome = sale_service.last_sale_outcome(self.terminal)
        if outcome is None or outcome.completed or outcome.total is None:
            return ""
        sale_service.acknowledge_interrupted_sale(self.terminal)
        return _("The last sale ({total}) was NOT completed: nothing was recorded. Ring it up again.").format(
            total=self.money(outcome.total)
        )

    def open_shift(self, opening_float: str) -> str:
        amount = self._amount(opening_float) or 0
        try:
            shift = shift_service.open_shift(self.terminal, amount)
        except ServiceError as error:
            raise refused(error) from error
        return shift.id

    def shift_open(self) -> bool:
        return shift_ledger.current(self.terminal.ledger.read()) is not None

    # --- the sale ---------------------------------------------------------------------------------

    def _current(self) -> sale_service.SaleInProgress:
        if self._sale is None or self._sale.completed is not None:
            try:
                self._sale = sale_service.start_sale(self.terminal)
            except ServiceError as error:
                raise refused(error) from error
            self._last_line_id = None
        return self._sale

    def sale(self) -> SaleView:
        return self._view(self._sale)

    def _view(self, s: sale_service.SaleInProgress | None) -> SaleView:
        if s is None:
            return SaleView(currency=self.currency, total=self.money(0))
        sale = s.sale
        totals = sale.totals()
        lines = []
        for line in sale.lines:
            line_total = totals.line(line.line_id)
            off = line_total.line_discount + line_total.sale_discount
            lines.append(
                LineView(
                    line_id=line.line_id,
                    name=line.product.name,
                    code=line.product.barcode or line.product.sku,
                    quantity=self.quantity_text(line.quantity_milli, line.product.unit.value),
                    unit_price=self.money(line.product.unit_price),
                    amount=self.money(line_total.total),
                    discount=f"-{self.money(off)}" if off else "",
                )
            )
        payment = s.payment
        tenders = tuple(
            TenderView(_(TENDER_LABELS[t.kind.value]), self.money(t.amount), t.reference or "")
            for t in (payment.tenders if payment else ())
        )
        remaining = payment.remaining if payment else totals.total
        return SaleView(
            lines=tuple(lines),
            total=self.money(totals.total),
            total_minor=totals.total,
            tax=self.money(totals.tax),
            discount=f"-{self.money(totals.discounts)}" if totals.discounts else "",
            paid=self.money(payment.paid if payment else 0),
            remaining=self.money(remaining),
            remaining_minor=remaining,
            tenders=tenders,
            member=str(sale.member_id) if sale.member_id else "",
            last_line_id=self._last_line_id,
            currency=self.currency,
        )

    def parse_quantity(self, text: str) -> str:
        try:
            milli = parse_quantity(text)
        except QuantityError as error:
            raise TillError(str(error)) from error
        return self.quantity_text(milli, "kg" if milli % 1000 else "piece")

    def scan(self, code: str, quantity: str | None = None) -> ScanOutcome:
        s = self._current()
        try:
            if quantity is not None:
                sale_service.set_next_quantity(s, parse_quantity(quantity))
            result = sale_service.scan(self.terminal, s, code)
        except (ServiceError, QuantityError) as error:
            s.next_quantity = None  # a refused scan leaves the sale as it was, quantity included
            raise refused(error) from error
        message = ""
        if result.line is not None:
            self._last_line_id = result.line.line_id
        elif result.kind == "member":
            message = _("Member {number} attached to the sale").format(number=result.member_id)
        elif result.kind == "return":
            return ScanOutcome(self._view(s), "", return_code=code)
        return ScanOutcome(self._view(s), message)

    def add_product(self, sku: str, quantity: str | None = None) -> SaleView:
        s = self._current()
        try:
            milli = parse_quantity(quantity) if quantity is not None else None
            line = sale_service.add_product(self.terminal, s, sku, milli)
        except (ServiceError, QuantityError) as error:
            raise refused(error) from error
        self._last_line_id = line.line_id
        return self._view(s)

    def remove_line(self, line_id: int) -> SaleView:
        s = self._current()
        try:
            sale_service.remove_line(s, line_id)
        except ServiceError as error:
            raise refused(error) from error
        if self._last_line_id == line_id:
            self._last_line_id = s.sale.lines[-1].line_id if s.sale.lines else None
        return self._view(s)

    def _discount(self, text: str) -> Discount:
        cleaned = text.strip()
        try:
            if cleaned.endswith("%") or not re.search(r"[.,]", cleaned):
                return sale_service.parse_discount(cleaned)
            return Discount.of_amount(parse_money(cleaned, self.currency))
        except (ServiceError, SaleError, ValueError) as error:
            raise TillError(
                _("Not a discount: {text} (type 10% or an amount like 2.50)").format(text=text)
            ) from error

    def discount(self, line_id: int | None, text: str, manager_pin: str | None = None) -> SaleView:
        s = self._current()
        discount = self._discount(text)
        try:
            if line_id is None:
                sale_service.discount_sale(self.terminal, s, discount, manager_pin=manager_pin)
            else:
                sale_service.discount_line(self.terminal, s, line_id, discount, manager_pin=manager_pin)
        except ServiceError as error:
            raise refused(error) from error
        return self._view(s)

    def void_sale(self) -> SaleView:
        if self._sale is None:
            return self._view(None)
        try:
            sale_service.void_sale(self.terminal, self._sale, "cancelled at the till")
        except ServiceError as error:
            raise refused(error) from error
        self._sale = None
        return self._view(None)

    # --- payment ----------------------------------------------------------------------------------

    def _amount(self, text: str | None) -> int | None:
        if text is None or not text.strip():
            return None
        try:
            return parse_money(text, self.currency)
        except ValueError as error:
            raise TillError(_("Not an amount: {text}").format(text=text)) from error

    def pay_cash(self, amount: str | None) -> PaymentStep:
        s = self._current()
        tendered = self._amount(amount)
        try:
            sale_service.tender_cash(self.terminal, s, tendered)
        except ServiceError as error:
            raise refused(error) from error
        return self._after_tender(s)

    def pay_card(self, amount: str | None, reference: str) -> PaymentStep:
        s = self._current()
        value = self._amount(amount)
        try:
            sale_service.tender_card(self.terminal, s, reference, value)
        except ServiceError as error:
            raise refused(error) from error
        return self._after_tender(s)

    def _after_tender(self, s: sale_service.SaleInProgress) -> PaymentStep:
        assert s.payment is not None
        if not s.payment.is_complete:
            return PaymentStep(self._view(s))
        view = self._view(s)
        try:
            # The sale is complete only once this returns: the ledger committed it.
            done = sale_service.complete_sale(self.terminal, s)
        except ServiceError as error:
            raise refused(error) from error
        self._sale = None
        self._last_line_id = None
        return PaymentStep(view, self._completed(view, done.payload, reprint=False))

    # --- receipts -----------------------------------------------------------------------------

    def receipt_for(self, payload: dict[str, Any], *, reprint: bool) -> Receipt:
        """The printed receipt of a sale's journal payload, in the store's language and locale."""
        store_t = gettext_for(self.locale)
        reader = self.terminal.ledger.read()
        cashier_id = payload.get("cashier_id")
        member = staff_ledger.get(reader, cashier_id) if cashier_id else None
        codes = {row["rate"]: chr(ord("A") + i) for i, row in enumerate(payload["taxes"])}
        lines = []
        for line in payload["lines"]:
            quantity = self.quantity_text(line["quantity_milli"], line["unit"])
            detail = ""
            if line["quantity_milli"] != 1000:
                detail = f"{quantity} x {self.money(line['unit_price'])}"
            if line["discount"]:
                detail = (
                    detail + "  " if detail else ""
                ) + f"{store_t('Discount')} -{self.money(line['discount'])}"
            lines.append(
                ReceiptLine(line["name"], self.money(line["total"]), codes.get(line["tax_rate"], ""), detail)
            )
        tenders = [
            ReceiptTender(
                store_t(TENDER_LABELS[t["kind"]]),
                self.money(t["tendered"] if t.get("tendered") is not None else t["amount"]),
                t.get("reference") or "",
            )
            for t in payload["tenders"]
        ]
        claim = ""
        if payload.get("claim_code"):
            from sync.codes import claim_url

            claim = claim_url(self.terminal.config.public_url, payload["claim_code"])
        return Receipt(
            store_name=self.terminal.settings.store_name,
            receipt_number=payload["receipt_no"],
            issued_at=self.when(payload["completed_at"]),
            cashier=member.name if member else "",
            terminal=self.terminal.config.terminal_name or self.terminal.config.terminal_code,
            total=self.money(payload["total"]),
            lines=lines,
            taxes=[
                ReceiptTax(
                    codes[row["rate"]],
                    f"{row['rate']} %",
                    self.money(row["net"]),
                    self.money(row["tax"]),
                    self.money(row["gross"]),
                )
                for row in payload["taxes"]
            ],
            tenders=tenders,
            change=self.money(payload.get("change", 0)) if payload.get("change") else "",
            discount=f"-{self.money(payload['sale_discount'])}" if payload.get("sale_discount") else "",
            member=str(payload["member_id"]) if payload.get("member_id") else "",
            claim_url=claim,
            reprint=reprint,
        )

    def _completed(self, view: SaleView, payload: dict[str, Any], *, reprint: bool) -> CompletedSale:
        receipt = self.receipt_for(payload, reprint=reprint)
        text = render_receipt(receipt, gettext_for(self.locale))
        problem = ""
        if self.printer.kind != "none":
            try:
                print_receipt(
                    self.printer,
                    text,
                    claim_url=receipt.claim_url,
                    # A cash sale opens the drawer; a reprint or a card-only sale does not.
                    open_drawer=not reprint and any(t["kind"] == "cash" for t in payload["tenders"]),
                )
            except PrinterError as error:
                log.warning("receipt %s did not print: %s", receipt.receipt_number, error)
                problem = str(error)
        return CompletedSale(
            sale=view,
            receipt_number=receipt.receipt_number,
            change=self.money(payload.get("change", 0)),
            change_minor=int(payload.get("change", 0)),
            claim_url=receipt.claim_url,
            receipt=receipt,
            receipt_text=text,
            print_problem=problem,
        )

    def reprint_last(self) -> CompletedSale:
        try:
            payload = sale_service.reprint_last_receipt(self.terminal)
        except ServiceError as error:
            raise refused(error) from error
        view = SaleView(
            total=self.money(payload["total"]), total_minor=payload["total"], currency=self.currency
        )
        return self._completed(view, payload, reprint=True)

    # --- search and status ------------------------------------------------------------------------

    def search(self, text: str, limit: int = 50) -> list[ProductHit]:
        products = catalog_service.search_products(self.terminal, text, limit)
        on_hand = syncing.shown_on_hand_many(self.terminal.ledger.read(), [p.sku for p in products])
        return [
            ProductHit(
                sku=p.sku,
                name=p.name,
                code=p.barcode or p.sku,
                price=self.money(p.price),
                stock=self.quantity(on_hand[p.sku], p.unit) if p.sku in on_hand else "",
            )
            for p in products
        ]

    def quantity(self, milli: int, unit: str) -> str:
        """A stock quantity for the cashier: whole pieces, or kilograms to 3 decimals, in the store's locale."""
        return _formatted_quantity(milli, unit, self.locale)

    def status(self) -> StatusView:
        reader = self.terminal.ledger.read()
        shift = shift_ledger.current(reader)
        sync = ledger_state.sync_state(reader)
        cashier = self.terminal.cashier
        return StatusView(
            cashier=cashier.name if cashier else "",
            shift=_("since {time}").format(time=self.when(shift.opened_at)) if shift else "",
            queued=ledger_state.queued_events(reader),
            last_sync=self.when(sync.last_sync_at) if sync.last_sync_at else "",
            store=self.terminal.settings.store_name,
            terminal=self.terminal.config.terminal_code,
        )

    # --- returns ---------------------------------------------------------------------------------

    def start_return(self, code: str) -> ReturnView:
        try:
            self._return = returns_service.start_return(self.terminal, code)
        except ServiceError as error:
            self._return = None
            raise refused(error) from error
        self._return.ret.return_all()
        return self._return_view()

    def _return_view(self) -> ReturnView:
        r = self._return
        if r is None:
            raise TillError(_("No return is being prepared."))
        chosen = {line.line_no: line for line in r.ret.lines}
        lines = []
        for line in r.original.lines:
            picked = chosen.get(line.line_no)
            left = r.ret.returnable(line.line_no)
            lines.append(
                ReturnLineView(
                    line_no=line.line_no,
                    name=line.name,
                    bought=self.quantity_text(line.quantity_milli, line.unit),
                    returnable=self.quantity_text(left, line.unit),
                    returnable_milli=left,
                    returning=self.quantity_text(picked.quantity_milli, line.unit) if picked else "",
                    refund=self.money(picked.refund) if picked else "",
                )
            )
        total = r.ret.refund_total if r.ret.lines else 0
        return ReturnView(r.original.receipt_no, tuple(lines), self.money(total), total)

    def set_return_quantity(self, line_no: int, quantity: str) -> ReturnView:
        r = self._return
        if r is None:
            raise TillError(_("No return is being prepared."))
        try:
            milli = parse_quantity(quantity) if quantity.strip() not in ("0", "") else 0
            returns_service.set_return_quantity(r, line_no, milli)
        except (ServiceError, QuantityError) as error:
            raise refused(error) from error
        return self._return_view()

    def complete_return(self, manager_pin: str | None = None) -> CompletedSale:
        r = self._return
        if r is None:
            raise TillError(_("No return is being prepared."))
        try:
            done = returns_service.complete_return(
                self.terminal, r, manager_pin=manager_pin, refund_kind="cash"
            )
        except ServiceError as error:
            raise refused(error) from error
        self._return = None
        payload = sales_ledger.payload_of(self.terminal.ledger.read(), done.sale_id)
        assert payload is not None
        view = SaleView(
            total=self.money(payload["total"]), total_minor=payload["total"], currency=self.currency
        )
        return self._completed(view, payload, reprint=False)

    # --- the shift and the drawer -------------------------------------------------------------------

    def shift_drawer(self) -> ShiftView:
        try:
            expected = shift_service.expected_cash(self.terminal)
        except ServiceError as error:
            raise refused(error) from error
        return ShiftView(self.money(expected), expected)

    def cash_difference(self, expected_minor: int, counted: str) -> str:
        amount = self._amount(counted)
        if amount is None:
            return ""
        difference = amount - expected_minor
        return f"-{self.money(-difference)}" if difference < 0 else self.money(difference)

    def close_shift(self, counted: str, manager_pin: str | None = None) -> ShiftClosedView:
        if self._sale is not None and self._sale.sale.lines:
            raise TillError(_("Finish or cancel the sale before closing the shift."))
        amount = self._amount(counted)
        if amount is None:
            raise TillError(_("Enter the cash counted in the drawer."))
        try:
            closed = shift_service.close_shift(self.terminal, amount, manager_pin=manager_pin)
        except ServiceError as error:
            raise refused(error) from error
        self._sale = None
        return ShiftClosedView(
            expected=self.money(closed.expected_cash),
            counted=self.money(closed.counted_cash),
            difference=self.cash_difference(closed.expected_cash, counted),
            difference_minor=closed.difference,
        )

    def cash_movement(self, kind: str, amount: str, reason: str, manager_pin: str | None = None) -> str:
        value = self._amount(amount)
        if value is None:
            raise TillError(_("Enter an amount."))
        try:
            if kind == "out":
                left = shift_service.cash_out(self.terminal, value, reason, manager_pin=manager_pin)
            else:
                left = shift_service.cash_in(self.terminal, value, reason)
        except ServiceError as error:
            raise refused(error) from error
        return self.money(left)

    def close(self) -> None:
        close_terminal(self.terminal)

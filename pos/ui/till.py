"""The till: everything the cashier's screens ask of the terminal core, as one interface.

The screens call a :class:`Till` only through the :class:`~pos.ui.tasks.TaskRunner`, so every
method here may block on the ledger (they run on the worker thread, never the UI thread). Methods
return the plain views in :mod:`pos.ui.views` with text already formatted for the store's locale, and
raise :class:`~pos.ui.views.TillError` with a message for the cashier when an action is refused.
"""

from __future__ import annotations

from typing import Protocol

from pos.ui.views import (
    CompletedSale,
    PaymentStep,
    ProductHit,
    ReturnView,
    SaleView,
    ScanOutcome,
    ShiftClosedView,
    ShiftView,
    StaffView,
    StatusView,
    StoreView,
)


class Till(Protocol):
    def store(self) -> StoreView: ...

    def sign_in(self, pin: str) -> StaffView: ...

    def unlock(self, pin: str) -> StaffView: ...

    def lock(self) -> None: ...

    def sign_out(self) -> None: ...

    def open_shift(self, opening_float: str) -> str: ...

    def remember_language(self, language: str) -> None: ...

    def startup_notice(self) -> str:
        """A message for the first screen (e.g. the last sale did not complete), or ""."""
        ...

    def sale(self) -> SaleView: ...

    def parse_quantity(self, text: str) -> str:
        """Check a typed quantity (``3``, ``1.250``) without I/O; returns it normalised or raises TillError."""
        ...

    def scan(self, code: str, quantity: str | None = None) -> ScanOutcome: ...

    def add_product(self, sku: str, quantity: str | None = None) -> SaleView: ...

    def remove_line(self, line_id: int) -> SaleView: ...

    def discount(self, line_id: int | None, text: str, manager_pin: str | None = None) -> SaleView: ...

    def void_sale(self) -> SaleView: ...

    def pay_cash(self, amount: str | None) -> PaymentStep: ...

    def pay_card(self, amount: str | None, reference: str) -> PaymentStep: ...

    def search(self, text: str, limit: int = 50) -> list[ProductHit]: ...

    def reprint_last(self) -> CompletedSale: ...

    def status(self) -> StatusView: ...

    def start_return(self, code: str) -> ReturnView:
        """Open the return of the sale with this receipt claim code/URL or number (all lines chosen)."""
        ...

    def set_return_quantity(self, line_no: int, quantity: str) -> ReturnView: ...

    def complete_return(self, manager_pin: str | None = None) -> CompletedSale:
        """Refund the chosen lines in cash (NeedsManager without a manager) and print the receipt."""
        ...

    def shift_drawer(self) -> ShiftView: ...

    def cash_difference(self, expected_minor: int, counted: str) -> str:
        """counted - expected, formatted, without I/O (raises TillError for a bad amount)."""
        ...

    def close_shift(self, counted: str, manager_pin: str | None = None) -> ShiftClosedView: ...

    def cash_movement(self, kind: str, amount: str, reason: str, manager_pin: str | None = None) -> str:
        """Cash ``kind`` "in" or "out" of the drawer; returns what the drawer should hold now."""
        ...

    def close(self) -> None: ...

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
    SaleView,
    ScanOutcome,
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

    def close(self) -> None: ...

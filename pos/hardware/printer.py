"""The receipt printer and the cash drawer behind it, through python-escpos.

Which printer is used comes from the terminal's config (:class:`PrinterSettings`): a network printer
(``tcp``), a USB one, a serial one, a file (tests and "print to file"), or none.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

if TYPE_CHECKING:
    from escpos.escpos import Escpos

PrinterKind = Literal["none", "file", "network", "usb", "serial"]


class PrinterError(RuntimeError):
    """The printer could not be reached or refused the job; the message says which and why."""


def _capabilities_cache() -> None:
    """Keep python-escpos's parsed printer profiles between starts.

    On import it parses its 1 MB capabilities.json with pure-Python YAML (about half a second)
    and pickles the result into a new temporary folder every time, so the pickle is never reused.
    A folder in the user's cache makes the parse happen once per machine and user; if that folder
    cannot be made, python-escpos does as before."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    folder = Path(platformdirs.user_cache_dir("storelink-pos", appauthor=False)) / "escpos"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)


@cache
def escpos_printers() -> ModuleType:
    """python-escpos's printer classes, imported on first use: the import (USB, serial, image and
    barcode libraries) is a tenth of the till's start, and only a sale's receipt needs it."""
    _capabilities_cache()
    from escpos import printer

    return printer


@cache
def _network_printer_class() -> type:
    class NetworkPrinter(escpos_printers().Network):  # type: ignore[misc]
        """python-escpos's network printer, but a refused connection leaks no socket and says where."""

        def open(self, raise_not_found: bool = True) -> None:
            try:
                self.device = socket.create_connection((self.host, self.port), timeout=self.timeout)
            except OSError as exc:
                raise PrinterError(
                    f"cannot reach the network printer at {self.host}:{self.port}: {exc}"
                ) from exc

    return NetworkPrinter


@dataclass(frozen=True)
class PrinterSettings:
    """How to reach the receipt printer. Unused fields are ignored for a kind."""

    kind: PrinterKind = "none"
    #: ``file``: the file (or device node such as /dev/usb/lp0) the ESC/POS bytes go to.
    path: str = ""
    #: ``network``: host and port (9100 is the usual raw port).
    host: str = ""
    port: int = 9100
    #: ``usb``: vendor and product ids, e.g. 0x04B8 / 0x0202.
    usb_vendor: int = 0
    usb_product: int = 0
    #: ``serial``: device and speed.
    serial_device: str = ""
    baudrate: int = 9600
    #: Native QR (the printer draws it from the URL) is sharp and fast; some old printers need an image.
    native_qr: bool = True
    #: QR module size in printer dots (1-16).
    qr_size: int = 6
    #: python-escpos capability profile, e.g. "TM-T88V"; empty uses the generic default.
    profile: str = ""

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> PrinterSettings:
        """Settings from a config mapping (e.g. the ``[printer]`` table of the terminal config)."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise PrinterError(f"unknown printer setting(s): {', '.join(unknown)}")
        kind = known.get("kind", "none")
        if kind not in ("none", "file", "network", "usb", "serial"):
            raise PrinterError(f"printer kind must be none, file, network, usb or serial, not {kind!r}")
        for key in ("usb_vendor", "usb_product"):
            if isinstance(known.get(key), str):
                known[key] = int(known[key], 0)
        return cls(**known)


def open_printer(settings: PrinterSettings) -> Escpos:
    """Connect to the configured printer; raises :class:`PrinterError` naming what failed."""
    escpos_printer = escpos_printers()
    profile: dict[str, Any] = {"profile": settings.profile} if settings.profile else {}
    try:
        if settings.kind == "file":
            if not settings.path:
                raise PrinterError("printer kind 'file' needs a path")
            return escpos_printer.File(devfile=settings.path, **profile)
        if settings.kind == "network":
            if not settings.host:
                raise PrinterError("printer kind 'network' needs a host")
            return _network_printer_class()(host=settings.host, port=settings.port, timeout=5, **profile)
        if settings.kind == "usb":
            return escpos_printer.Usb(settings.usb_vendor, settings.usb_product, **profile)
        if settings.kind == "serial":
            return escpos_printer.Serial(
                devfile=settings.serial_device, baudrate=settings.baudrate, **profile
            )
    except PrinterError:
        raise
    except Exception as exc:  # escpos raises many kinds (USBNotFoundError, OSError, ...)
        raise PrinterError(f"cannot reach the {settings.kind} printer: {exc}") from exc
    raise PrinterError("no receipt printer is configured")


@contextmanager
def connected(settings: PrinterSettings) -> Iterator[Escpos]:
    device = open_printer(settings)
    try:
        yield device
    finally:
        device.close()


def write_receipt(
    device: Escpos,
    text: str,
    *,
    claim_url: str = "",
    qr_caption: str = "",
    settings: PrinterSettings,
    open_drawer: bool = False,
) -> None:
    """Send one receipt: kick the cash drawer if asked, the text, the claim QR (if any) with its
    caption, then cut."""
    if open_drawer:
        device.cashdraw(2)  # first, so the cashier can count change while the receipt prints
    device.set(align="left", font="a")
    device.text(text)
    if claim_url:
        device.set(align="center")
        device.qr(claim_url, native=settings.native_qr, size=settings.qr_size, center=not settings.native_qr)
        if qr_caption:
            device.text(qr_caption + "\n")
        device.set(align="left")
    device.cut()


def print_receipt(
    settings: PrinterSettings,
    text: str,
    *,
    claim_url: str = "",
    qr_caption: str = "",
    open_drawer: bool = False,
) -> None:
    """Print one receipt on the configured printer (kicking the drawer wired to it when
    ``open_drawer``); raises :class:`PrinterError` if that fails."""
    try:
        with connected(settings) as device:
            write_receipt(
                device,
                text,
                claim_url=claim_url,
                qr_caption=qr_caption,
                settings=settings,
                open_drawer=open_drawer,
            )
    except PrinterError:
        raise
    except Exception as exc:
        raise PrinterError(f"the receipt printer failed: {exc}") from exc


def open_cash_drawer(settings: PrinterSettings) -> None:
    """Kick the cash drawer wired to the printer (pin 2, the usual one)."""
    try:
        with connected(settings) as device:
            device.cashdraw(2)
    except PrinterError:
        raise
    except Exception as exc:
        raise PrinterError(f"the cash drawer did not open: {exc}") from exc

"""What a scan (or typed code) at the sale screen means: :func:`route_scan`.

==========================================  ===============  ======================================
input                                       result           notes
==========================================  ===============  ======================================
1 to 6 digits                               LookupScan       a PLU/SKU the cashier typed
8, 12, 13 or 14 digits, valid check digit   ProductScan      GTIN, normalised (see below)
same, GS1 variable-measure prefix (RCN)     ProductScan      embedded price/weight/count, when the
                                                             store's ``rcn_region`` knows the prefix
GS1 element string: ``(01)...(3103)...``,   ProductScan      GTIN from AI 01/02, weight 310n (kg),
FNC1/GS separated, ``]C1``/``]e0``/``]Q3``                   price 392n/393n, count AI 30
GS1 Digital Link ``https://.../01/<gtin>``  ProductScan      same AIs as element strings
185 digits starting with 9 (member code)    MemberScan       verify with sync.codes (needs the key)
11 digits, valid Luhn digit (short code)    MemberShortScan  head office names the member (online)
claim URL ``.../C/<48 chars>`` or the code  ClaimScan        opens the return of that sale
anything else                               InvalidScan      ``reason`` says what was wrong
==========================================  ===============  ======================================

GTIN normal form: GTIN-13 whenever the number fits in 13 digits (GTIN-8 and UPC-A/GTIN-12 are
left-padded with zeros; a GTIN-14 with indicator digit 0 drops it), GTIN-14 otherwise (trade
units with an indicator digit 1-9). :func:`normalize_gtin` is the same rule for catalog barcodes,
so a catalog lookup by ``ProductScan.gtin`` finds what the catalog import stored.

A variable-measure code (RCN) is looked up by the code with its measure zeroed (biip's
``without_variable_measure``): the catalog lists a weighed item under that number.

Check digits are computed by biip, never by hand. :func:`route_scan` never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from pos.domain.money import minor_digits
from pos.domain.sale import MAX_QUANTITY_MILLI, Product, Unit
from sync.codes import (
    SHORT_CODE_DIGITS,
    claim_code_from_scan,
    looks_like_member_code,
    looks_like_short_member_code,
)

if TYPE_CHECKING:
    from biip import ParseError
    from biip.gs1_messages import GS1Message
    from biip.gtin import Gtin

#: Longest all-digit input routed as a PLU/SKU lookup.
PLU_MAX_DIGITS = 6
GTIN_LENGTHS = (8, 12, 13, 14)
_GS = "\x1d"

# biip is imported where a scan needs it, not with this module: importing biip decompresses and
# parses its GS1 prefix tables (a quarter of a second of the till's start on a busy machine), and
# the till shows its sale screen before anything is scanned. The regions biip knows, in its order;
# tests/test_scanning.py checks this list against biip's RcnRegion.
RCN_REGIONS = ("dk", "ee", "fi", "de", "gb", "lv", "lt", "no", "se")


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Store settings for reading scans.

    ``rcn_region``: the GS1 region whose variable-measure rules apply (biip's codes: "de", "se",
    "gb", "dk", "no", "fi", "ee", "lt", "lv"); None reads such codes as plain product numbers.
    ``rcn_prefixes``: if given, only these two-digit prefixes are read as variable-measure.
    ``currency``: the currency of embedded prices.
    """

    currency: str = "EUR"
    rcn_region: str | None = None
    rcn_prefixes: frozenset[str] | None = None
    plu_max_digits: int = PLU_MAX_DIGITS

    def __post_init__(self) -> None:
        minor_digits(self.currency)
        if self.rcn_region is not None and self.rcn_region not in RCN_REGIONS:
            known = ", ".join(RCN_REGIONS)
            raise ValueError(f"unknown RCN region {self.rcn_region!r}: known are {known}")
        if self.rcn_prefixes is not None and any(not re.fullmatch(r"2[0-9]", p) for p in self.rcn_prefixes):
            raise ValueError(f"RCN prefixes are two digits from 20 to 29, got {sorted(self.rcn_prefixes)}")
        if not 0 <= self.plu_max_digits <= 7:
            raise ValueError("plu_max_digits must be from 0 to 7")


@dataclass(frozen=True, slots=True)
class ProductScan:
    """A product barcode. Look the product up by ``gtin`` (normal form, see module docstring).

    Embedded measures, when the code carries them: ``weight_milli`` in grams, ``count`` pieces,
    ``price`` the line's price in minor units.
    """

    text: str
    gtin: str
    weight_milli: int | None = None
    count: int | None = None
    price: int | None = None
    variable_measure: bool = False


@dataclass(frozen=True, slots=True)
class LookupScan:
    """A short number a cashier typed: look it up as a PLU or SKU."""

    text: str
    code: str


@dataclass(frozen=True, slots=True)
class MemberScan:
    """A shopper's member code; verify it with ``sync.codes.verify_member_code``."""

    text: str
    code: str


@dataclass(frozen=True, slots=True)
class MemberShortScan:
    """A member short code the cashier typed (11 digits); head office resolves it."""

    text: str
    code: str


@dataclass(frozen=True, slots=True)
class ClaimScan:
    """A receipt's claim code (bare or in its URL), upper case: opens the return of that sale."""

    text: str
    code: str


@dataclass(frozen=True, slots=True)
class InvalidScan:
    """Nothing we can use. ``reason`` is for the cashier."""

    text: str
    reason: str = field(default="")


Scan = ProductScan | LookupScan | MemberScan | MemberShortScan | ClaimScan | InvalidScan


def _shown(text: str) -> str:
    printable = "".join(ch if ch.isprintable() else "␝" if ch == _GS else "?" for ch in text)
    return printable if len(printable) <= 60 else printable[:57] + "..."


def normalize_gtin(text: str) -> str:
    """The normal form of a GTIN-8/12/13/14 (GTIN-13 if it fits, else GTIN-14).

    Raises ValueError saying what is wrong (length, characters, check digit).
    """
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) not in GTIN_LENGTHS:
        raise ValueError(f"not a GTIN: {_shown(text)!r} (expected 8, 12, 13 or 14 digits)")
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        gtin = Gtin.parse(digits)
    except ParseError as exc:
        raise ValueError(_gtin_problem(digits, exc)) from exc
    return _normal(gtin)


def _normal(gtin: Gtin) -> str:
    fourteen = gtin.as_gtin_14()
    return fourteen[1:] if fourteen.startswith("0") else fourteen


def _gtin_problem(digits: str, exc: ParseError) -> str:
    from biip.checksums import gs1_standard_check_digit

    if gs1_standard_check_digit(digits[:-1]) != int(digits[-1]):
        return f"check digit wrong in {digits}"
    if "variable measure" in str(exc):
        return f"price/weight check digit wrong in {digits}"
    return f"not a barcode we know: {digits} ({exc})"


def _to_minor(amount: Decimal, currency: str) -> int | None:
    scaled = amount.scaleb(minor_digits(currency))
    return int(scaled) if scaled == scaled.to_integral_value() else None


def _weight_milli(kg: Decimal) -> int | None:
    grams = kg.scaleb(3)
    if grams != grams.to_integral_value() or not 0 < grams <= MAX_QUANTITY_MILLI:
        return None
    return int(grams)


def _from_gtin(text: str, digits: str, config: ScanConfig) -> Scan:
    use_region = config.rcn_region is not None and (
        config.rcn_prefixes is None or digits.zfill(13)[:2] in config.rcn_prefixes
    )
    from biip import ParseConfig, ParseError
    from biip.gtin import Gtin
    from biip.rcn import Rcn, RcnUsage

    parse_config = ParseConfig(rcn_region=config.rcn_region if use_region else None)
    try:
        gtin = Gtin.parse(digits, config=parse_config)
    except ParseError as exc:
        return InvalidScan(text, _gtin_problem(digits, exc))
    if not isinstance(gtin, Rcn) or gtin.usage is not RcnUsage.GEOGRAPHICAL or gtin.region is None:
        return ProductScan(text, _normal(gtin))
    if gtin.weight is None and gtin.price is None and gtin.count is None:
        # The region has no rule for this prefix: a plain in-store number.
        return ProductScan(text, _normal(gtin))
    lookup = _normal(gtin.without_variable_measure())
    scan = ProductScan(text, lookup, variable_measure=True)
    if gtin.weight is not None:
        weight = _weight_milli(gtin.weight)
        if weight is None:
            return InvalidScan(text, f"weight of 0 in {digits}: weigh the item again")
        scan = replace(scan, weight_milli=weight)
    if gtin.count is not None:
        if gtin.count <= 0:
            return InvalidScan(text, f"count of 0 in {digits}")
        scan = replace(scan, count=gtin.count)
    if gtin.price is not None:
        price = _to_minor(gtin.price, config.currency)
        if price is None:
            return InvalidScan(text, f"price in {digits} has more decimals than {config.currency}")
        scan = replace(scan, price=price)
    return scan


def _from_gs1_message(text: str, message: GS1Message, config: ScanConfig) -> Scan:
    strings = message.element_strings
    item = strings.get(ai="01") or strings.get(ai="02")
    if item is None:
        return InvalidScan(text, f"no product number (AI 01) in {_shown(text)}")
    if item.gtin is None:
        return InvalidScan(text, f"check digit wrong in {item.value}")
    scan = ProductScan(text, _normal(item.gtin))
    weight = strings.get(ai="310")
    if weight is not None and weight.decimal is not None:
        grams = _weight_milli(weight.decimal)
        if grams is None:
            return InvalidScan(text, f"weight {weight.decimal} kg in {_shown(text)} is not usable")
        scan = replace(scan, weight_milli=grams, variable_measure=True)
    price = strings.get(ai="392") or strings.get(ai="393")
    if price is not None and price.decimal is not None:
        if price.ai.ai.startswith("393") and price.money is not None:
            currency = str(price.money.currency)
            if currency != config.currency:
                return InvalidScan(text, f"price in {currency}, this store takes {config.currency}")
        minor = _to_minor(price.decimal, config.currency)
        if minor is None:
            return InvalidScan(text, f"price {price.decimal} has more decimals than {config.currency}")
        scan = replace(scan, price=minor, variable_measure=True)
    count = strings.get(ai="30")
    if count is not None and count.ai.ai == "30":
        if not count.value.isdigit() or int(count.value) <= 0:
            return InvalidScan(text, f"count {count.value!r} in {_shown(text)} is not usable")
        scan = replace(scan, count=int(count.value))
    return scan


def route_scan(text: str, config: ScanConfig) -> Scan:
    """What ``text`` (a scan, or what the cashier typed) is. Never raises; see the module table."""
    raw = text if isinstance(text, str) else ""
    cleaned = raw.strip()
    if not cleaned:
        return InvalidScan(raw, "nothing was scanned")
    if len(cleaned) > 512:
        return InvalidScan(raw, "not a barcode we know: far too long")
    try:
        return _route(raw, cleaned, config)
    except Exception as exc:
        from biip import ParseError

        if not isinstance(exc, (ParseError, ValueError)):
            raise
        # biip's own refusals of odd input
        return InvalidScan(raw, f"not a barcode we know: {_shown(cleaned)} ({exc})")


def _gs1() -> type[GS1Message]:
    from biip.gs1_messages import GS1Message

    return GS1Message


def _route(raw: str, cleaned: str, config: ScanConfig) -> Scan:
    if cleaned.isascii() and cleaned.isdigit():
        if looks_like_member_code(cleaned):
            return MemberScan(raw, cleaned)
        if looks_like_short_member_code(cleaned):
            return MemberShortScan(raw, cleaned)
        if len(cleaned) == SHORT_CODE_DIGITS:
            return InvalidScan(raw, f"not a member short code: a digit is wrong in {cleaned}, check it")
        if len(cleaned) <= config.plu_max_digits:
            return LookupScan(raw, cleaned)
        if len(cleaned) in GTIN_LENGTHS:
            return _from_gtin(raw, cleaned, config)
        if len(cleaned) > 14 and cleaned.startswith(("01", "02")):
            return _from_gs1_message(raw, _gs1().parse(cleaned), config)
        return InvalidScan(raw, f"not a barcode we know: {len(cleaned)} digits ({_shown(cleaned)})")
    if cleaned.startswith("("):
        return _from_gs1_message(raw, _gs1().parse_hri(cleaned), config)
    if cleaned.startswith(("]C1", "]e0", "]d2", "]Q3", "]J1")):
        return _from_gs1_message(raw, _gs1().parse(cleaned[3:]), config)
    if cleaned.startswith(("]E0", "]E4", "]E3", "]X0")) and cleaned[3:].isdigit():
        return _route(raw, cleaned[3:], config)
    if _GS in cleaned and cleaned.lstrip(_GS)[:2] in ("01", "02"):
        return _from_gs1_message(raw, _gs1().parse(cleaned.lstrip(_GS)), config)
    claim = claim_code_from_scan(cleaned)
    if claim is not None:
        return ClaimScan(raw, claim)
    if cleaned.lower().startswith(("http://", "https://")) and ("/01/" in cleaned or "/02/" in cleaned):
        # A GS1 Digital Link QR on the pack (the successor of the EAN-13 at the till).
        from biip.gs1_digital_link_uris import GS1DigitalLinkURI

        return _from_gs1_message(raw, GS1DigitalLinkURI.parse(cleaned).as_gs1_message(), config)
    return InvalidScan(raw, f"not a barcode we know: {_shown(cleaned)}")


def line_for_scan(product: Product, scan: ProductScan) -> tuple[Product, int]:
    """The product (possibly with the embedded price as its price) and quantity to ring up.

    An embedded price is what the label says the item costs: one piece at that price. An embedded
    weight is the quantity of a kg item; an embedded count the number of pieces. Raises ValueError
    when the code and the catalog disagree (e.g. a weight on a piece item).
    """
    if scan.price is not None:
        return replace(product, unit_price=scan.price, unit=Unit.PIECE), 1000
    if scan.weight_milli is not None:
        if product.unit is not Unit.KG:
            raise ValueError(f"{product.name} is sold by the piece but the label has a weight")
        return product, scan.weight_milli
    if scan.count is not None:
        if product.unit is not Unit.PIECE:
            raise ValueError(f"{product.name} is sold by weight but the label has a count")
        return product, scan.count * 1000
    return product, 1000

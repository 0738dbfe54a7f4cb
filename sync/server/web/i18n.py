"""Page text in English, German and Simplified Chinese, picked by the browser's Accept-Language.

Messages are keyed by their English text, so a template reads as English and a missing
translation falls back to English rather than to a key. Dates and money are formatted with babel
in the same locale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision

LANGUAGES = ("en", "de", "zh")
DEFAULT_LANGUAGE = "en"
_BABEL_LOCALE = {"en": "en_GB", "de": "de_DE", "zh": "zh_Hans_CN"}
_HTML_LANG = {"en": "en", "de": "de", "zh": "zh-Hans"}

# English text -> (German, Simplified Chinese)
_MESSAGES: dict[str, tuple[str, str]] = {
    # claim page
    "Add this purchase to your account": (
        "Diesen Einkauf Ihrem Konto hinzufügen",
        "将此购物添加到您的账户",
    ),
    "Your purchase": ("Ihr Einkauf", "您的购物"),
    "Receipt": ("Beleg", "收据"),
    "Store": ("Filiale", "门店"),
    "Date": ("Datum", "日期"),
    "Total": ("Summe", "合计"),
    "Points": ("Punkte", "积分"),
    "This purchase earns {points} points.": (
        "Dieser Einkauf bringt {points} Punkte.",
        "此次购物可获得 {points} 积分。",
    ),
    "Received. Your purchase will appear when the store syncs.": (
        "Erhalten. Ihr Einkauf erscheint, sobald die Filiale synchronisiert.",
        "已收到。门店同步后，您的购物将显示出来。",
    ),
    "We have your code. The store has not sent this sale yet; add it to your account now and it will appear with its points when the store syncs.": (
        "Wir haben Ihren Code. Die Filiale hat diesen Einkauf noch nicht gesendet; fügen Sie ihn jetzt Ihrem Konto hinzu, dann erscheint er mit seinen Punkten, sobald die Filiale synchronisiert.",
        "我们已收到您的代码。门店尚未发送此笔交易；现在将其添加到您的账户，门店同步后它将连同积分一起显示。",
    ),
    "Add to my account": ("Zu meinem Konto hinzufügen", "添加到我的账户"),
    "Signed in as {email}": ("Angemeldet als {email}", "已登录：{email}"),
    "Not you?": ("Nicht Sie?", "不是您？"),
    "This code is not valid": ("Dieser Code ist ungültig", "此代码无效"),
    "This code was not issued by our stores. Please scan the QR code on your receipt again.": (
        "Dieser Code stammt nicht aus unseren Filialen. Bitte scannen Sie den QR-Code auf Ihrem Beleg erneut.",
        "此代码并非我们门店签发。请重新扫描收据上的二维码。",
    ),
    "This is not a receipt code. Please scan the QR code on your receipt again.": (
        "Das ist kein Beleg-Code. Bitte scannen Sie den QR-Code auf Ihrem Beleg erneut.",
        "这不是收据代码。请重新扫描收据上的二维码。",
    ),
    "This code has expired": ("Dieser Code ist abgelaufen", "此代码已过期"),
    "Receipt codes can be added for 30 days. This one expired on {day}.": (
        "Beleg-Codes können 30 Tage lang hinzugefügt werden. Dieser ist am {day} abgelaufen.",
        "收据代码可在 30 天内添加。此代码已于 {day} 过期。",
    ),
    "This purchase has already been added": (
        "Dieser Einkauf wurde bereits hinzugefügt",
        "此购物已被添加",
    ),
    "Each receipt can be added to one account once.": (
        "Jeder Beleg kann einmal einem Konto hinzugefügt werden.",
        "每张收据只能添加到一个账户一次。",
    ),
    "It is in your account.": ("Er ist in Ihrem Konto.", "它已在您的账户中。"),
    "Added to your account": ("Ihrem Konto hinzugefügt", "已添加到您的账户"),
    "Added. It will appear with its points when the store syncs.": (
        "Hinzugefügt. Der Einkauf erscheint mit seinen Punkten, sobald die Filiale synchronisiert.",
        "已添加。门店同步后将连同积分一起显示。",
    ),
    # account forms
    "Create an account": ("Konto erstellen", "创建账户"),
    "Sign in": ("Anmelden", "登录"),
    "Sign out": ("Abmelden", "退出登录"),
    "Email": ("E-Mail", "电子邮箱"),
    "Password": ("Passwort", "密码"),
    "Your name (optional)": ("Ihr Name (optional)", "您的姓名（可选）"),
    "At least {n} characters.": ("Mindestens {n} Zeichen.", "至少 {n} 个字符。"),
    "Create account and add purchase": (
        "Konto erstellen und Einkauf hinzufügen",
        "创建账户并添加购物",
    ),
    "Sign in and add purchase": ("Anmelden und Einkauf hinzufügen", "登录并添加购物"),
    "Already have an account?": ("Schon ein Konto?", "已有账户？"),
    "New here?": ("Neu hier?", "新用户？"),
    "Email or password is wrong.": ("E-Mail oder Passwort ist falsch.", "电子邮箱或密码错误。"),
    "Please enter a valid email address.": (
        "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
        "请输入有效的电子邮箱地址。",
    ),
    "The password must have at least {n} characters.": (
        "Das Passwort muss mindestens {n} Zeichen haben.",
        "密码至少需要 {n} 个字符。",
    ),
    "An account with this email already exists. Please sign in.": (
        "Es gibt bereits ein Konto mit dieser E-Mail. Bitte melden Sie sich an.",
        "该电子邮箱已有账户。请登录。",
    ),
    "Too many attempts. Please wait {minutes} minutes and try again.": (
        "Zu viele Versuche. Bitte warten Sie {minutes} Minuten und versuchen Sie es erneut.",
        "尝试次数过多。请等待 {minutes} 分钟后重试。",
    ),
    "This form has expired. Please try again.": (
        "Dieses Formular ist abgelaufen. Bitte versuchen Sie es erneut.",
        "此表单已过期。请重试。",
    ),
    # account page
    "Your account": ("Ihr Konto", "您的账户"),
    "Your member code": ("Ihr Mitgliedscode", "您的会员码"),
    "Show this code at the till to collect points. It changes every minute.": (
        "Zeigen Sie diesen Code an der Kasse, um Punkte zu sammeln. Er ändert sich jede Minute.",
        "在收银台出示此码即可积分。它每分钟更新一次。",
    ),
    "Points balance": ("Punktestand", "积分余额"),
    "Your purchases": ("Ihre Einkäufe", "您的购物记录"),
    "No purchases yet. Scan the QR code on a receipt to add one.": (
        "Noch keine Einkäufe. Scannen Sie den QR-Code auf einem Beleg, um einen hinzuzufügen.",
        "暂无购物记录。扫描收据上的二维码即可添加。",
    ),
    "Waiting for the store to sync": ("Wartet auf die Filiale", "等待门店同步"),
    "added from receipt": ("vom Beleg hinzugefügt", "通过收据添加"),
    "member code scanned": ("Mitgliedscode gescannt", "已扫描会员码"),
    "points": ("Punkte", "积分"),
    "Items": ("Artikel", "商品"),
    "No connection: this code stays valid for two minutes.": (
        "Keine Verbindung: dieser Code bleibt zwei Minuten gültig.",
        "无网络连接：此码在两分钟内有效。",
    ),
    "Page not found": ("Seite nicht gefunden", "页面未找到"),
    "Sign in to see your account.": (
        "Melden Sie sich an, um Ihr Konto zu sehen.",
        "请登录以查看您的账户。",
    ),
}


@dataclass(frozen=True)
class Translator:
    """Page text, dates and money in one language."""

    language: str

    @property
    def html_lang(self) -> str:
        return _HTML_LANG[self.language]

    @property
    def locale(self) -> str:
        return _BABEL_LOCALE[self.language]

    def gettext(self, message: str, **values: object) -> str:
        """``message`` in this language (English if untranslated), with ``{name}`` filled in."""
        text = message
        if self.language != "en":
            pair = _MESSAGES.get(message)
            if pair is not None:
                text = pair[LANGUAGES.index(self.language) - 1]
        return text.format(**values) if values else text

    def money(self, minor_units: int, currency: str) -> str:
        """``minor_units`` of ``currency`` as a person in this locale writes it."""
        digits = get_currency_precision(currency)
        return format_currency(minor_units / 10**digits, currency, locale=self.locale)

    def day(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)

    def moment(self, value: datetime, timezone: str = "UTC") -> str:
        """``value`` as a date and time on the wall clock of ``timezone`` (a store's zone)."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return format_datetime(value, format="medium", tzinfo=zone, locale=self.locale)


def parse_accept_language(header: str) -> list[str]:
    """The languages in an Accept-Language header, most preferred first."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*":
            continue
        weight = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            ranked.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(accept_language: str | None) -> str:
    """The first of our languages the browser accepts, else English.

    Every Chinese tag maps to Simplified Chinese, the only Chinese we write.
    """
    for tag in parse_accept_language(accept_language or "")[:20]:
        language = tag.replace("_", "-").split("-")[0].lower()
        if language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def translator_for(accept_language: str | None) -> Translator:
    return Translator(choose_language(accept_language))

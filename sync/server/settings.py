"""How one ``pos-central`` process is configured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir


def default_database_url() -> str:
    """The SQLite file used when no ``--database`` is given."""
    return f"sqlite:///{Path(user_data_dir('pos-central', appauthor=False)) / 'central.sqlite3'}"


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server process. ``secret_key`` None means: use the one kept in the database."""

    database_url: str = ""
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: bytes | None = None
    #: Per-terminal token bucket: requests per second refilled, and the burst allowed.
    terminal_rate_per_second: float = 20.0
    terminal_burst: int = 40
    #: Pushes processed at once across all terminals; more get 429 with Retry-After.
    max_concurrent_pushes: int = 8
    #: Seconds a terminal is told to wait after a 429 ...
    retry_after_seconds: int = 1
    #: ... and the most it is told while far more pushes are turned away than served.
    max_busy_retry_after_seconds: int = 10
    #: Longest long-poll wait on /v1/changes, seconds.
    max_wait_seconds: float = 30.0
    #: A terminal's last contact is written at most this often (seconds), unless what it reports
    #: changed: a thousand long-polling tills do not write on every request (sync.server.fleet).
    seen_write_every_seconds: float = 60.0
    #: /hq Fleet shows a terminal offline when its last contact is older than this (seconds). Keep
    #: it above seen_write_every_seconds plus a till's sync interval plus max_wait_seconds.
    offline_after_seconds: float = 300.0
    #: /hq Fleet marks tills running an app version older than this (PEP 440, e.g. "1.4.0") as
    #: outdated, besides those older than the newest version seen in the fleet. None: no minimum.
    min_app_version: str | None = None
    #: Sign-in attempts allowed per client address (times 5, for shared NATs) in
    #: ``login_window_seconds``; an account itself is only slowed (sync.server.web.accounts).
    login_attempts_allowed: int = 10
    login_window_seconds: int = 900
    #: Proxies (addresses or networks, e.g. "10.0.0.0/8") whose X-Forwarded-For is believed for
    #: the client address; none by default: every other connection's header is ignored.
    trusted_proxies: tuple[str, ...] = ()
    #: Secure flag on session cookies; off only for plain-HTTP tests and local demos.
    secure_cookies: bool = True
    #: Database connections kept open (PostgreSQL).
    pool_size: int = 10
    #: Shopper sign-in mails go through this SMTP server (None: written to the server's log
    #: instead, for demos; see docs/shopper-and-hq.md). ``smtp_password`` comes from the
    #: environment (``POS_CENTRAL_SMTP_PASSWORD``), never the command line.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Storelink <no-reply@storelink.example>"
    #: The chain's own consent wording shown at sign-up ("" = the built-in, translated text), and
    #: the address of its privacy page (linked beside it; "" = no link).
    consent_text: str = ""
    privacy_url: str = ""
    #: What points are worth or unlock, shown beside every points figure (the chain's words;
    #: "" = nothing said), and the return policy printed under each receipt on the account.
    points_meaning: str = ""
    return_policy: str = ""

"""`pos enroll` and `pos sync`: the sync engine from the command line.

``pos/cli.py`` registers these on its group (``main.add_command(enroll)``, ``main.add_command(sync)``).
Both take ``--data-dir``; without it, the group's ``--data-dir`` (or ``ctx.obj["data_dir"]``)
applies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from pos.config import ConfigError
from pos.ledger.db import LedgerError
from pos.services import syncing
from pos.services.terminal import open_terminal
from sync.engine import status_line

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the ledger and configuration live (default: the platform's user data directory).",
)


def _data_dir(ctx: click.Context, given: Path | None) -> Path | None:
    if given is not None:
        return given
    root = ctx.find_root()
    if root is not ctx and root.params.get("data_dir") is not None:
        return Path(root.params["data_dir"])
    obj: Any = root.obj
    if isinstance(obj, dict) and obj.get("data_dir") is not None:
        return Path(obj["data_dir"])
    return None


def _open(ctx: click.Context, data_dir: Path | None) -> Any:
    try:
        return open_terminal(_data_dir(ctx, data_dir))
    except (ConfigError, LedgerError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option(
    "--server",
    "server_url",
    default=None,
    help="The central server, e.g. https://central.example.com (default: from branch.conf).",
)
@click.option(
    "--code",
    default=None,
    help="The enrollment code IT made with `pos-central enroll-code` (default: from branch.conf).",
)
@click.option("--name", "terminal_name", default="", help="A name for this till (default: the host name).")
@data_dir_option
@click.pass_context
def enroll(
    ctx: click.Context, server_url: str | None, code: str | None, terminal_name: str, data_dir: Path | None
) -> None:
    """Enroll this terminal with the central server using a one-time code from IT.

    Without --server and --code, uses the branch configuration ($POS_BRANCH_CONFIG, else
    /etc/storelink-pos/branch.conf) as the till does on start, and removes the used code from it."""
    if server_url is None and code is None:
        _enroll_from_branch(ctx, terminal_name, data_dir)
        return
    if server_url is None or code is None:
        raise click.UsageError("give both --server and --code, or neither (to use branch.conf)")
    try:
        # Checked before the data dir is touched or the server asked.
        syncing.check_enrollment_input(server_url, code, terminal_name)
    except syncing.EnrollmentError as exc:
        raise click.ClickException(str(exc)) from exc
    with _open(ctx, data_dir) as terminal:
        try:
            enrollment = syncing.enroll(terminal, server_url, code, terminal_name=terminal_name)
        except syncing.EnrollmentError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            f"Enrolled as terminal {enrollment.terminal_code} (id {enrollment.terminal_id}) of store "
            f"{enrollment.store.code} {enrollment.store.name}."
        )
        click.echo(f"Secrets kept in: {terminal.secrets.where}")
        click.echo("Run `pos sync` to fetch the catalog, staff and stock now.")


def _enroll_from_branch(ctx: click.Context, terminal_name: str, data_dir: Path | None) -> None:
    from pos import branch

    with _open(ctx, data_dir) as terminal:
        result = branch.enroll_from_branch(terminal, terminal_name=terminal_name)
        if result.outcome is branch.Outcome.ENROLLED:
            click.echo(f"Enrolled: {result.message}.")
            click.echo(f"Secrets kept in: {terminal.secrets.where}")
            click.echo("Run `pos sync` to fetch the catalog, staff and stock now.")
            return
        if result.outcome is branch.Outcome.ALREADY:
            click.echo(f"Nothing to do: {result.message}.")
            return
        advice = f" {result.advice}" if result.advice else ""
        raise click.ClickException(f"{result.message}.{advice}")


@click.command()
@click.option(
    "--wait",
    "wait_for_lock",
    default=30.0,
    show_default=True,
    help="Seconds to wait for a sync already running.",
)
@data_dir_option
@click.pass_context
def sync(ctx: click.Context, wait_for_lock: float, data_dir: Path | None) -> None:
    """Push queued sales and pull catalog, staff and stock changes now; print what was done.

    Exits 1 when the round could not finish (offline, refused, revoked); what was done stays done."""
    with _open(ctx, data_dir) as terminal:
        try:
            report = syncing.sync_once(terminal, wait_for_lock=wait_for_lock)
        except syncing.EnrollmentError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(report.summary())
        for flagged in report.flagged:
            click.echo(
                f"  entry {flagged.seq}: {flagged.status.value}: {flagged.reason or 'no reason given'}"
            )
        status = syncing.current_status(terminal)
        click.echo(f"Status: {status_line(status, datetime.now(UTC))}")
        if not report.ok:
            ctx.exit(1)


__all__ = ["enroll", "sync"]

"""Child process for tests/test_crash.py: completes sales in a loop until it is killed.

After ``complete_sale`` returns, the sale id is appended to a side file and fsync'd: every id in
that file is a sale the cashier saw as complete. The parent SIGKILLs this process at random moments
and then checks the ledger against the side file.

Usage: python tests/crash_child.py DATA_DIR ACKED_FILE
       python tests/crash_child.py --fork-server DATA_DIR ACKED_FILE

With ``--fork-server`` the process imports once and then, for each ``fork`` line on its stdin,
forks a child that runs the same selling loop: a fresh process for the ledger (its own SQLite
connection, writer thread and start-up with recovery and sign-in) without paying for a new
interpreter and its imports 200 times. It prints ``started PID`` (from the child, at once),
``ready`` (from the child, once selling) and, after reaping it, ``exit PID SIGNAL`` (0 when the
child ended without a signal).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["STORELINK_SECRETS"] = "file"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pos.services import sale, shift, staff
from pos.services.terminal import open_terminal

PIN = "4321"


def main() -> None:
    data_dir = Path(sys.argv[1])
    acked = Path(sys.argv[2])
    terminal = open_terminal(data_dir, secrets_backend="file", daily_backup=False)
    # The parent prepared staff, catalog and an open shift; a restart just signs in and sells.
    staff.sign_in(terminal, PIN)
    if shift.current_shift(terminal) is None:
        shift.open_shift(terminal, 0)
    outcome = sale.last_sale_outcome(terminal)
    if outcome is not None and not outcome.completed:
        sale.acknowledge_interrupted_sale(terminal)
    fd = os.open(acked, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _say("ready")
    codes = ["4006381333931", "5012345678900", "4000417025005"]
    n = 0
    while True:
        s = sale.start_sale(terminal)
        for i in range(1 + n % 3):
            sale.scan(terminal, s, codes[(n + i) % 3])
        sale.tender_cash(terminal, s, s.totals().total + 100)
        done = sale.complete_sale(terminal, s)
        os.write(fd, f"{done.sale_id}\n".encode())
        os.fsync(fd)
        n += 1


def _say(text: str) -> None:
    os.write(1, f"{text}\n".encode())


def fork_server() -> None:
    for line in sys.stdin:
        if line.strip() != "fork":
            continue
        pid = os.fork()
        if pid == 0:
            try:
                _say(f"started {os.getpid()}")
                main()
            finally:
                os._exit(3)  # never back into the server's loop
        _, status = os.waitpid(pid, 0)
        _say(f"exit {pid} {os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0}")


if __name__ == "__main__":
    if sys.argv[1] == "--fork-server":
        del sys.argv[1]
        fork_server()
    else:
        main()

"""Child process for tests/test_crash.py: completes sales in a loop until it is killed.

After ``complete_sale`` returns, the sale id is appended to a side file and fsync'd: every id in
that file is a sale the cashier saw as complete. The parent SIGKILLs this process at random moments
and then checks the ledger against the side file.

Usage: python tests/crash_child.py DATA_DIR ACKED_FILE
Imports are kept to what selling needs so each restart is quick.
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
    sys.stdout.write("ready\n")
    sys.stdout.flush()
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


if __name__ == "__main__":
    main()

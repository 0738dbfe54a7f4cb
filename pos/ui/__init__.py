"""The cashier app's screens (PySide6). The only package, with pos/app.py, that imports Qt."""

from __future__ import annotations

import ctypes
import sys

if sys.version_info < (3, 12):
    # PySide6 6.12 returns None (and sometimes True/False) from void and bool methods without
    # taking a reference; on Python 3.12+ these objects are immortal so that is harmless, but on
    # 3.11 every call such as QLabel.setText() drops one reference and the till aborts with
    # "none_dealloc" after enough calls. Give the three singletons references they never lose,
    # which is what 3.12 does (PEP 683). tests/test_ui.py::test_void_qt_calls_do_not_wear_out_none.
    for _singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(_singleton)).value += 1 << 40

"""Test configuration shared by every test module."""

import os

# Qt runs without a display in tests and CI; a developer can still override it (e.g. xcb under Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

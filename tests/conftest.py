"""Test configuration shared by every test module."""

import os

# Qt runs without a display in tests and CI; a developer can still override it (e.g. xcb under Xvfb).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The machine's /etc/storelink-pos/branch.conf (an installed till, or tests/test_deb.py running) must
# not reach the other tests' tills: they see none unless a test points POS_BRANCH_CONFIG at its own.
os.environ.setdefault("POS_BRANCH_CONFIG", "/nonexistent/storelink-pos-tests/branch.conf")


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    """In CI nothing may be skipped: a missing PostgreSQL or chromium must fail the run, not hide
    the tests that need it (they skip, with that reason, on a developer's machine without them)."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; every test must run in CI", red=True)
        session.exitstatus = 1


# `make mutation` (tools/mutation.py) runs the tests once per mutant under mutmut's tracing: no
# deadline (tracing is slow, not the code), and the same examples every run.
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "mutation", deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass

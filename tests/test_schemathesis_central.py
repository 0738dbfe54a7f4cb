"""schemathesis against /openapi.json of a running pos-central: no 5xx, every response in the schema.

Runs on SQLite and on PostgreSQL (which refuses more values, e.g. NUL characters), with an
enrolled terminal's token, a store and a product, so the generated requests reach the real logic.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from central_fixtures import (
    add_product,
    add_store,
    enroll,
    fresh_postgres_url,
    live_server,
    postgres_available,
)
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from sync.server.db import Database

EXAMPLES = 200
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def running_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = str(Path(tmp_path_factory.mktemp("fuzz")) / "central.sqlite3")
        else:
            if not postgres_available():
                pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
            url = stack.enter_context(fresh_postgres_url())
        db = Database.from_url(url)
        stack.callback(db.dispose)
        db.migrate()
        server = stack.enter_context(
            live_server(db, terminal_rate_per_second=10_000.0, terminal_burst=10_000, max_wait_seconds=0.5)
        )
        add_store(db)
        add_product(db, "SKU-1")
        till = enroll(server.client, db)
        yield {"url": server.url, "token": till.token}


def test_the_api_answers_every_request_within_its_schema(running_api: dict[str, str]) -> None:
    loaded = schemathesis.openapi.from_url(f"{running_api['url']}/openapi.json")
    # The terminal API; the HTML pages have their own browser tests.
    api = loaded.include(path_regex=r"^/(v1/|healthz)")
    headers = {"Authorization": f"Bearer {running_api['token']}"}
    failures: list[str] = []
    tested = []
    calls: list[int] = []
    for result in api.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=running_api["url"], headers=headers, checks=CHECKS)
                calls.append(1)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid request exists for an operation without parameters
            except Exception as exc:  # every operation is tried; all failures are reported together
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert len(tested) >= 6, tested
    assert len(calls) >= 6 * EXAMPLES, len(calls)
    assert failures == [], "\n\n".join(failures)

"""Services and optional packages that some tests need: a skip here, a failure in CI.

On a developer's machine a test whose service (a PostgreSQL server, a Dask
cluster's package, an installed data set) is absent skips with the reason. CI
(``CI=true``, as CI services set it) installs and starts every one of them, so there
an absent service means a broken CI set-up: the test fails with the reason instead
of passing silently as a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set to ``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def service_missing(reason: str) -> None:
    """Skip the calling test with ``reason``, or fail it under ``CI=true``."""
    if in_ci():
        pytest.fail(
            f"{reason}. CI (CI=true) must provide it: fix .ci/run instead of "
            "letting the test skip.",
            pytrace=False,
        )
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """Import ``name``, or :func:`service_missing` with ``reason``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        service_missing(f"{reason} ({exc})")
        raise  # unreachable: service_missing raises


def postgres_url() -> str:
    """``SKNN_TEST_POSTGRES_URL``, checked to reach a server, or a skip (a failure
    in CI)."""
    url = os.environ.get("SKNN_TEST_POSTGRES_URL")
    if not url:
        service_missing(
            "PostgreSQL tests need SKNN_TEST_POSTGRES_URL; start a server with "
            '`eval "$(.ci/start-postgres.sh)"`'
        )
    require_module("psycopg2", "psycopg2 is needed for PostgreSQL")
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:
        service_missing(f"PostgreSQL at SKNN_TEST_POSTGRES_URL is unreachable: {exc}")
    finally:
        engine.dispose()
    return url

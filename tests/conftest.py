"""Shared fixtures. PostgreSQL tests run when TRIALBOT_TEST_POSTGRES_URL is set (CI sets it
and TRIALBOT_REQUIRE_POSTGRES=1, which turns a missing server into a failure, not a skip)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def postgres_url() -> str | None:
    return os.environ.get("TRIALBOT_TEST_POSTGRES_URL")


def require_postgres() -> bool:
    return os.environ.get("TRIALBOT_REQUIRE_POSTGRES") == "1"

"""The app's tests read the session's shared scored warehouse (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.scored import NIGHT


@pytest.fixture(scope="session")
def night() -> dt.date:
    return NIGHT


@pytest.fixture(scope="session")
def app_home(scored_home):
    return scored_home

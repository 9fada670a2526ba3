"""Pure tests of the rule language: no database, no Redis (they can run alongside anything)."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _db_access() -> None:  # overrides the suite's database set-up for this folder
    return

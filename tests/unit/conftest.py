"""Unit tests never touch the network: from each test's setup on, creating any socket but a Unix one
(asyncio's event loop wakes itself through a socketpair) or resolving a name raises pytest-socket's
`SocketBlockedError`. Integration and e2e tests, which need loopback servers, keep their sockets."""

from __future__ import annotations

import pytest
from pytest_socket import disable_socket


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture is set up; pytest-socket's own teardown hook gives the sockets back after each test.
    disable_socket(allow_unix_socket=True)

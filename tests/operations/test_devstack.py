"""The embedded broker the tests and ``xiaoer run`` start (cli/devstack.py)."""

from __future__ import annotations

import pytest

from cli.devstack import EmbeddedBroker, free_port, listens_on


def test_a_broker_whose_port_another_broker_holds_refuses_to_start(tmp_path):
    """Two test runs side by side can be handed the same free port. The second broker then cannot
    listen and exits; it must say so, not lend its caller the first one (whose topics and consumer
    groups another test is using)."""
    port = free_port()
    first = EmbeddedBroker(port=port, log_path=tmp_path / "first.log")
    second = EmbeddedBroker(port=port, log_path=tmp_path / "second.log")
    first.start()
    try:
        assert listens_on(first.process.pid, port)
        with pytest.raises(RuntimeError, match="another process's"):
            second.start()
        assert second.process is None  # stopped, not left to take the port once the first is gone
    finally:
        second.stop()
        first.stop()

"""Transitional, until every caller imports ``cli.devstack`` (issue 24): delete this file then."""

from cli.devstack import EmbeddedBroker, free_port, port_in_use, run

__all__ = ["EmbeddedBroker", "free_port", "port_in_use", "run"]

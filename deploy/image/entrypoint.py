#!/opt/xiaoer/bin/python
"""The image's entrypoint: the ``xiaoer`` command, and for ``xiaoer worker`` a Prometheus endpoint.

A worker (outbox relay, consumers, the notifier's scheduler) serves no HTTP, yet it is where
consumer lag, dead letters, the relay's lease and the SLA gauges are counted. So for ``worker``
this serves the process's metrics on ``WORKER_METRICS_PORT`` (default 9464; 0 turns it off) at
``/metrics`` before handing over to ``xiaoer``. Every other command is ``xiaoer`` unchanged."""

import os
import sys

from prometheus_client import start_http_server

from cli.main import main

if __name__ == "__main__":
    port = int(os.environ.get("WORKER_METRICS_PORT", "9464"))
    if sys.argv[1:2] == ["worker"] and port:
        start_http_server(port, addr=os.environ.get("XIAOER_HOST", "0.0.0.0"))
    sys.exit(main())

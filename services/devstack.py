"""``xiaoer run``: the whole system on one laptop with no Docker. Starts the embedded broker,
migrates and seeds, runs each service in its own process, and stops everything on Ctrl-C or
SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from shared.broker import EmbeddedBroker, port_in_use
from shared.settings import SERVICES, Settings


def run(settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.signing_key  # noqa: B018 — create the development key once, before the services race for it
    for service in SERVICES:
        if port_in_use(settings.host, settings.port(service)):
            sys.exit(
                f"port {settings.port(service)} for {service} is taken: "
                f"stop what uses it or set XIAOER_{service.upper()}_PORT"
            )

    host, _, port = settings.kafka_bootstrap_servers.partition(",")[0].rpartition(":")
    broker = None
    if port_in_use(host, int(port)):
        print(f"using the Kafka broker already listening on {host}:{port}")
    else:
        broker = EmbeddedBroker(host, int(port), log_path=settings.var_dir / "broker.log")
        broker.start()
        print(f"embedded broker (Tansu) on {broker.bootstrap}")

    children: list[subprocess.Popen] = []

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if broker:
            broker.stop()
        print("xiaoer stopped")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        xiaoer = [sys.executable, "-m", "services.cli"]
        subprocess.run([*xiaoer, "migrate"], check=True)
        subprocess.run([*xiaoer, "seed"], check=True)
        env = dict(os.environ)
        for service in SERVICES:
            children.append(subprocess.Popen([*xiaoer, "serve", service], env=env))
        print("\nxiaoer is starting:")
        for service in SERVICES:
            url = settings.public_url(service)
            print(f"  {service:<9} {url}   (Swagger UI: {url}/docs)")
        print("  mint a token:  .venv/bin/xiaoer token --role enterprise --uscc 91440112MA59C5XK03")
        print("Ctrl-C stops everything.\n")
        while True:
            for child in children:
                if child.poll() is not None:
                    print(f"a service exited with {child.returncode}; stopping", file=sys.stderr)
                    stop()
            time.sleep(0.5)
    except Exception:
        stop()
        raise

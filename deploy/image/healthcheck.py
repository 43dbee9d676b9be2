#!/opt/xiaoer/bin/python
"""The image's HEALTHCHECK, one for every role the command gives the container (PID 1's
arguments): ``api``/``serve`` SERVICE answer 200 on ``/readyz`` (database, broker and, for
``serve``, its workers); a ``worker`` serves its metrics and its last checks of the database and
the broker answered (``xiaoer_dependency_up``, which the worker refreshes every few seconds; with
no metrics port, or before its first check, ``xiaoer check SERVICE`` asks them itself, at the cost
of a Python start); one-shot commands (``migrate``, ``seed``, …) are healthy while they run.
Cheap on purpose: Docker runs it every 10 s in every container."""

import os
import subprocess
import sys
import urllib.request

DEFAULT_PORTS = {"intake": 8000, "router": 8001, "notifier": 8002, "web": 8003}


def role() -> tuple[str, str]:
    with open("/proc/1/cmdline", "rb") as f:
        args = [a.decode() for a in f.read().split(b"\0") if a]
    for command in ("api", "serve", "worker"):
        if command in args and args.index(command) + 1 < len(args):
            return command, args[args.index(command) + 1]
    return "", ""


def main() -> int:
    command, service = role()
    if command in ("api", "serve"):
        port = os.environ.get(f"XIAOER_{service.upper()}_PORT", DEFAULT_PORTS.get(service, 8000))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=4) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:  # 503 (HTTPError), refused, timed out
            print(f"/readyz: {exc}", file=sys.stderr)
            return 1
    if command == "worker":
        return worker_health(service)
    return 0


def worker_health(service: str) -> int:
    port = int(os.environ.get("WORKER_METRICS_PORT", "9464"))
    checks = {}
    if port:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=4) as response:
                text = response.read().decode()
        except OSError as exc:
            print(f"metrics: {exc}", file=sys.stderr)
            return 1
        for line in text.splitlines():
            if line.startswith("xiaoer_dependency_up{"):
                labels, _, value = line.rpartition(" ")
                checks[labels] = float(value)
    if not checks:
        return subprocess.run(["xiaoer", "check", service], check=False).returncode
    down = [labels for labels, value in checks.items() if value != 1]
    for labels in down:
        print(f"down: {labels}", file=sys.stderr)
    return 1 if down else 0


if __name__ == "__main__":
    sys.exit(main())

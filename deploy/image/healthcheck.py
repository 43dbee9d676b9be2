#!/opt/xiaoer/bin/python
"""The image's HEALTHCHECK, one for every role the command gives the container (PID 1's
arguments): ``api``/``serve`` SERVICE answer 200 on ``/readyz`` (database, broker and, for
``serve``, its workers); ``worker`` SERVICE reaches its database and broker (``xiaoer check``);
one-shot commands (``migrate``, ``seed``, …) are healthy while they run."""

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
        return subprocess.run(["xiaoer", "check", service], check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

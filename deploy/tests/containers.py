"""The Docker CLI for the deployment tests (`make image-test`, `make compose-test`): they drive
the daemon in ``DOCKER_HOST`` and use host networking only."""

from __future__ import annotations

import json
import os
import subprocess
import time

IMAGE = os.environ.get("IMAGE", "xiaoer:latest")


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def health(name: str) -> str:
    state = inspect(name)["State"]
    return state.get("Health", {}).get("Status", state["Status"])


def wait_healthy(names: list[str], timeout: float) -> float:
    """Seconds until every container reports healthy; fails naming the ones that did not."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        states = {name: health(name) for name in names}
        if all(state == "healthy" for state in states.values()):
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"not healthy within {timeout} s: { {n: s for n, s in states.items() if s != 'healthy'} }")


def logs(name: str, tail: int = 40) -> str:
    result = docker("logs", "--tail", str(tail), name, check=False)
    return result.stdout + result.stderr


def daemon_answers() -> None:
    result = docker("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
    assert result.returncode == 0, (
        "these tests need a Docker daemon (DOCKER_HOST) and the image (`make image`): " + result.stderr
    )

"""The Docker CLI for the deployment tests (`make image-test`, `make compose-test`): they drive
the daemon in ``DOCKER_HOST`` and use host networking only."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from services.router.documents.signing import IssuingCA

IMAGE = os.environ.get("IMAGE", "xiaoer:latest")
# Where the containers find the operator's signing CA (XIAOER_SIGNING_CA=file): production refuses
# the development CA, so every container that reads the router's settings (migrate too) needs it.
SIGNING_CA_IN_CONTAINER = "/etc/xiaoer/signing/ca.p12"


def docker(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """The Docker CLI; the generous timeout because Docker's vfs storage copies the whole image for
    each container it creates (over two minutes a `docker run` on this machine under load)."""
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


def signing_ca(directory: Path) -> str:
    """A CA standing in for the operator's, as ``ca.p12`` in ``directory`` (readable by the
    image's unprivileged user through a read-only mount); returns its password."""
    made = IssuingCA.development(directory / "made")
    password = secrets.token_hex(16)
    p12 = directory / "ca.p12"
    encryption = BestAvailableEncryption(password.encode())
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"ca", made.ca_key, made.ca_cert, None, encryption))
    directory.chmod(0o755)
    p12.chmod(0o644)
    return password

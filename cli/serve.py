"""One service: ``xiaoer serve`` (HTTP and workers), ``api`` (HTTP only), ``worker`` (the relay
and consumers only); ``serve web`` runs the pages."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading

from cli.common import service_main, service_settings
from shared.settings import SERVICES, WEB, Settings

SERVED_SERVICE = "XIAOER_SERVED_SERVICE"  # tells ``http_app`` in uvicorn's worker processes which service
# uvicorn's httptools protocol with nginx's head and body timeouts (a 408 to slow clients); a string,
# because uvicorn's worker processes import it themselves.
HTTP_PROTOCOL = "shared.slow_clients:GuardedHttpProtocol"


def cmd_serve(args, settings: Settings) -> None:
    """``serve``: HTTP and workers; ``api``: HTTP only; ``worker``: the relay and consumers only.

    With one HTTP worker (``XIAOER_HTTP_WORKERS``, ``XIAOER_<SERVICE>_HTTP_WORKERS`` or
    ``--workers``) ``serve`` is one process. With several, uvicorn runs that many HTTP worker
    processes on the port, and ``serve`` starts the relay and consumers in one process of their
    own beside them (``xiaoer worker``): request handling does not wait behind relaying or
    consuming, and the service uses more than one core."""
    import uvicorn

    from shared.logging import configure_logging

    settings = service_settings(args.service)
    configure_logging(settings.log_level, settings.log_json)
    module = service_main(args.service)
    if args.command == "worker":
        import uvloop  # with uvicorn[standard]: the event loop the HTTP workers run on too

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_run_workers(module.build_runtime(settings)))
        return
    host, port = settings.host, settings.port(args.service)
    workers = args.workers or settings.http_worker_count(args.service)
    if workers == 1:
        app = module.build_app(module.build_runtime(settings), workers=args.command == "serve")
        uvicorn.run(app, host=host, port=port, http=HTTP_PROTOCOL, log_config=None, access_log=False)
        return
    os.environ[SERVED_SERVICE] = args.service
    background = None
    if args.command == "serve" and args.service in SERVICES:
        background = _start_worker_process(args.service)
    try:
        app = "cli.serve:http_app"
        uvicorn.run(
            app,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            http=HTTP_PROTOCOL,
            log_config=None,
            access_log=False,
        )
    finally:
        if background is not None and background.poll() is None:
            background.terminate()
            try:
                background.wait(timeout=20)
            except subprocess.TimeoutExpired:
                background.kill()


def http_app():
    """The HTTP app of one of uvicorn's worker processes (``cmd_serve`` with several workers)."""
    from shared.logging import configure_logging

    service = os.environ[SERVED_SERVICE]
    settings = service_settings(service)
    configure_logging(settings.log_level, settings.log_json)
    module = service_main(service)
    return module.build_app(module.build_runtime(settings), workers=False)


def _start_worker_process(service: str) -> subprocess.Popen:
    """``xiaoer worker SERVICE`` beside the HTTP workers. Should it ever exit, the whole ``serve``
    stops (SIGTERM to itself), as a one-process ``serve`` would with its relay gone: whatever
    supervises it sees that and restarts it."""
    process = subprocess.Popen([sys.executable, "-m", "cli", "worker", service])

    def watch() -> None:
        process.wait()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name=f"{service}-worker-watch", daemon=True).start()
    return process


async def _run_workers(runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start_workers()
    await stop.wait()
    await runtime.stop()


def register(sub) -> None:
    for command in ("serve", "api", "worker"):
        c = sub.add_parser(command, help=f"run one service ({command})")
        c.add_argument("service", choices=SERVICES if command == "worker" else (*SERVICES, WEB))
        if command != "worker":
            c.add_argument("--workers", type=int, help="HTTP worker processes (default: XIAOER_HTTP_WORKERS)")
        c.set_defaults(func=cmd_serve)

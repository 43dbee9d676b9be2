"""``xiaoer``: the operators' command line. It only dispatches to each service's own modules.

xiaoer run                      the whole system on embedded defaults (what `make run` calls)
xiaoer migrate [SERVICE ...]    apply each service's database migrations
xiaoer seed [--file FILE]       load department units and routing rules (demo data by default)
xiaoer serve|api|worker SERVICE one service: HTTP and workers, HTTP only, or workers only
xiaoer serve web                the pages (enterprise H5, clerk workbench, supervisor board)
xiaoer user add --role ROLE ... a staff account for the pages (clerk, coordinator, supervisor, admin)
xiaoer user demo                development only: the pages' demo staff accounts
xiaoer token --role ROLE ...    mint a JWT with the configured signing key
xiaoer sla due --from T ...     a deadline, computed by the notifier's own code
xiaoer units credentials UNIT   a department system's signing key and onboarding sheet
xiaoer calendar load FILE       load a year's official holidays and make-up days
xiaoer schemas [--check]        write (or check) docs/schemas/*.json and docs/asyncapi.yaml
xiaoer dlq list|show|replay     dead letters: list them, show one, send chosen ones back
xiaoer outbox republish ...     have a service's relay publish a time range of its outbox again
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from shared.settings import SERVICES, WEB, Settings

SCHEMAS_DIR = Path("docs/schemas")
ASYNCAPI = Path("docs/asyncapi.yaml")
SERVICE_ACLS = Path("deploy/kafka/service-acls.sh")


def service_main(name: str):
    return importlib.import_module(f"services.{name}.main")


def service_settings(name: str) -> Settings:
    """One service's settings: those every service shares plus its own."""
    return service_main(name).load_settings()


# --- commands ---------------------------------------------------------------------------------
def cmd_migrate(args, settings: Settings) -> None:
    from shared import db

    with_database = (*SERVICES, WEB)
    unknown = set(args.services) - set(with_database)
    if unknown:
        sys.exit(f"unknown service(s): {', '.join(sorted(unknown))}")
    for name in args.services or with_database:
        url = service_settings(name).database_url
        db.upgrade(service_main(name).MIGRATIONS, url)
        print(f"{name}: migrated {url}")


async def _in_transaction(url: str, work):
    from shared import db

    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def cmd_seed(args, settings: Settings) -> None:
    """The demo registry, into an empty registry only: a restart never reactivates a unit an
    admin deactivated or undoes any other change. With ``--file``, as ``units import``. The
    信用代证 coverage seed (validated whole first) goes into an empty coverage table on its own
    terms, so a deployment with units of its own gets it too."""
    from services.router import credit, registry

    if args.file:
        return cmd_units_import(args, settings)

    async def seed(session):
        await credit.seed(session)
        return await registry.seed_demo(session)

    counts = asyncio.run(_in_transaction(service_settings("router").database_url, seed))
    if counts is None:
        print("the registry has units already: demo seed skipped")
    else:
        print(f"seeded the demo registry: {counts['units']} units, {counts['rules']} rule versions")


def cmd_user_demo(args, settings: Settings) -> None:
    """Development only: the pages' demo staff accounts for the demo registry's units and offices
    (a clerk per unit, a supervisor per office, an admin), into an empty account table; the demo
    sign-in page lists them. ``xiaoer run`` calls it after ``xiaoer seed``."""
    from services.router import registry
    from services.web import accounts, demo

    web = service_settings(WEB)
    if web.env != "development":
        print("demo staff accounts are for XIAOER_ENV=development only: none created")
        return
    staff = demo.demo_accounts(registry.demo_registry())
    count = asyncio.run(_in_transaction(web.database_url, lambda s: accounts.seed_demo(s, staff, demo.DEMO_PASSWORD)))
    if count:
        print(f"seeded {count} demo staff accounts for the pages (password: {demo.DEMO_PASSWORD})")
    else:
        print("the pages have staff accounts already: demo accounts skipped")


def cmd_user_add(args, settings: Settings) -> None:
    """A staff account for the pages; the password from stdin, or generated and printed once."""
    import secrets

    from services.web import accounts

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = secrets.token_urlsafe(12)
    fields = dict(
        role=args.role,
        display_name=args.name,
        password=password,
        username=args.username,
        unit_code=args.unit,
        region_code=args.region,
    )
    try:
        account = asyncio.run(
            _in_transaction(service_settings(WEB).database_url, lambda s: accounts.create(s, **fields))
        )
    except accounts.AccountError as refused:
        sys.exit(f"未创建 / not created: {refused}")
    print(f"created {account.role} {account.display_name}: username {account.username}")
    if not args.password_stdin:
        print(f"password (shown once): {password}")


def cmd_units_import(args, settings: Settings) -> None:
    """A city's registry file (YAML, JSON or CSV), validated whole before anything is written.
    Each unit and supervising office is announced on registry.events: the notifier makes their
    contacts its recipients."""
    from services.router import registry, registry_file

    try:
        data = registry_file.parse(Path(args.file))
    except registry_file.RegistryFileError as refused:
        print("注册表文件有误，未导入任何内容 / the file was refused, nothing was imported:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    counts = asyncio.run(
        _in_transaction(service_settings("router").database_url, lambda s: registry.load_registry(s, data))
    )
    print(
        f"imported: {counts['units']} units, {counts['coverage']} coverage entries, "
        f"{counts['rules']} new rule versions, {counts['supervisors']} supervising offices"
    )


def cmd_units_credentials(args, settings: Settings) -> None:
    """Issues (or rotates, or revokes) a department system's key and prints its onboarding sheet."""
    from services.router import credentials

    router = service_settings("router")
    try:
        sheet = asyncio.run(
            _in_transaction(
                router.database_url,
                lambda s: credentials.credentials_command(
                    s, router, args.unit, rotate=args.rotate, revoke_key=args.revoke
                ),
            )
        )
    except credentials.CredentialError as refused:
        sys.exit(f"未处理 / not done: {refused}")
    print(sheet)


def cmd_calendar_load(args, settings: Settings) -> None:
    """Loads an official schedule: JSON or YAML with year, holidays and workdays (make-up days)."""
    import yaml

    from services.notifier.calendar import ScheduleIn, store_schedule

    raw = yaml.safe_load(Path(args.file).read_text())
    year = int(raw.pop("year"))
    schedule = ScheduleIn.model_validate(raw)
    try:
        asyncio.run(
            _in_transaction(
                service_settings("notifier").database_url, lambda s: store_schedule(s, year, schedule, "cli")
            )
        )
    except ValueError as exc:
        sys.exit(f"not loaded: {exc}")
    print(f"{year}: {len(schedule.holidays)} holidays, {len(schedule.workdays)} make-up working days loaded")


def cmd_token(args, settings: Settings) -> None:
    from shared.auth import mint_token

    print(
        mint_token(
            settings,
            role=args.role,
            sub=args.sub,
            name=args.name,
            usccs=args.uscc,
            unit=args.unit,
            region=args.region,
            ttl_seconds=args.ttl,
        )
    )


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
        app = "services.cli:http_app"
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
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "worker", service])

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


def cmd_check(args, settings: Settings) -> None:
    """Exit 0 when the service's database and broker answer (health check for workers)."""
    runtime = service_main(args.service).build_runtime(service_settings(args.service))

    async def check() -> list[str]:
        failures = []
        for name, probe in runtime.readiness().items():
            try:
                await probe()
            except Exception as exc:
                failures.append(f"{name}: {exc}")
        await runtime.engine.dispose()
        return failures

    failures = asyncio.run(check())
    for failure in failures:
        print(failure, file=sys.stderr)
    sys.exit(1 if failures else 0)


def cmd_run(args, settings: Settings) -> None:
    from services import devstack

    devstack.run(settings)


def cmd_sla_due(args, settings: Settings) -> None:
    """A deadline computed as the notifier computes it: its business hours and the schedules
    operators loaded into its database (when that database answers)."""
    from services.notifier import calendar as work_calendar
    from shared.clock import SHANGHAI

    start = datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        sys.exit("--from needs a time zone offset, e.g. 2025-09-30T16:00:00+08:00")
    notifier_settings = service_settings("notifier")
    calendar = work_calendar.new_calendar(notifier_settings)
    try:
        asyncio.run(_in_transaction(notifier_settings.database_url, lambda s: work_calendar.refresh(s, calendar)))
    except Exception as exc:  # no database yet (never migrated): chinese-calendar alone, said aloud
        print(f"warning: loaded schedules not read ({type(exc).__name__}); chinese-calendar only", file=sys.stderr)
    if args.working_days is not None:
        due = calendar.add_working_days(start, args.working_days)
    elif args.working_hours is not None:
        due = calendar.add_working_hours(start, args.working_hours)
    else:
        due = calendar.add_minutes(start, args.minutes)
    print(due.astimezone(SHANGHAI).isoformat())
    for year in sorted(calendar.fallback_years):
        print(f"warning: no official schedule for {year}; weekends and fixed-date holidays only", file=sys.stderr)


def cmd_schemas(args, settings: Settings) -> None:
    """JSON Schemas of every event, the AsyncAPI document built from them, and the services'
    Kafka ACLs built from the same topic table."""
    import yaml

    from services.kafka_acls import acl_script, service_grants
    from shared.asyncapi import document
    from shared.events import json_schemas

    stale = []
    outputs = {
        SCHEMAS_DIR / f"{t}.json": json.dumps(s, indent=2, ensure_ascii=False) + "\n" for t, s in json_schemas().items()
    }
    outputs[ASYNCAPI] = yaml.safe_dump(document(), allow_unicode=True, sort_keys=False, width=100)
    outputs[SERVICE_ACLS] = acl_script(service_grants(settings.kafka_group_prefix))
    for path, text in outputs.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        sys.exit("out of date (run `xiaoer schemas`): " + ", ".join(stale))


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone offset, e.g. 2026-11-23T09:00:00+08:00")
    return value


def _dead_letter_filter(args):
    from shared.messaging.dead_letters import DeadLetterFilter

    return DeadLetterFilter(
        topic=args.topic, ce_type=args.ce_type, since=args.since, refs=tuple(getattr(args, "refs", None) or ())
    )


def cmd_dlq_list(args, settings: Settings) -> None:
    from shared.messaging.broker import BrokerAccess
    from shared.messaging.dead_letters import dead_letters

    letters = asyncio.run(dead_letters(BrokerAccess.from_settings(settings), _dead_letter_filter(args)))
    for letter in letters:
        if args.json:
            print(json.dumps(letter.summary(), ensure_ascii=False))
        else:
            error = (letter.error or "").replace("\n", " ")
            print(
                f"{letter.ref}  {letter.timestamp:%Y-%m-%dT%H:%M:%SZ}  {letter.ce_type}  {letter.ce_id}  {error[:100]}"
            )
    print(f"{len(letters)} dead letter(s)", file=sys.stderr)


def cmd_dlq_show(args, settings: Settings) -> None:
    from shared.messaging.broker import BrokerAccess
    from shared.messaging.dead_letters import dead_letters

    letters = asyncio.run(dead_letters(BrokerAccess.from_settings(settings), _dead_letter_filter(args)))
    if not letters:
        sys.exit(f"no dead letter {' '.join(args.refs)}")
    for letter in letters:
        print(json.dumps(letter.details(), ensure_ascii=False, indent=2))


def cmd_dlq_replay(args, settings: Settings) -> None:
    from shared.messaging.broker import BrokerAccess
    from shared.messaging.dead_letters import dead_letters, replay

    selection = _dead_letter_filter(args)
    if not (args.refs or args.topic or args.ce_type or args.since or args.all):
        sys.exit("say which dead letters: REF or ce_id arguments, --topic, --type, --since, or --all")
    broker = BrokerAccess.from_settings(settings)
    letters = asyncio.run(dead_letters(broker, selection))
    for letter in letters:
        print(f"{'would replay' if args.dry_run else 'replay'} {letter.ref} → {letter.original_topic} ({letter.ce_id})")
    if not args.dry_run:
        sent = asyncio.run(replay(broker, letters, settings.kafka_topic_partitions, settings.kafka_replication_factor))
        print(f"{sent} dead letter(s) sent back to their topics", file=sys.stderr)


def cmd_outbox_republish(args, settings: Settings) -> None:
    from shared.messaging.outbox import republish

    url = service_settings(args.service).database_url
    count = asyncio.run(republish(url, args.since, args.until, args.topic))
    print(f"{args.service}: {count} outbox row(s) marked for publishing again; its running relay sends them")


# --- parser -----------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xiaoer", description="店小二 operators' command line")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("run", help="start broker and all services on embedded defaults").set_defaults(func=cmd_run)

    m = sub.add_parser("migrate", help="apply database migrations")
    m.add_argument("services", nargs="*", help="intake, router and/or notifier; all if omitted")
    m.set_defaults(func=cmd_migrate)

    units = sub.add_parser("units", help="the department registry").add_subparsers(dest="units_command", required=True)
    ui = units.add_parser("import", help="load a registry file (YAML, JSON or CSV), validated whole first")
    ui.add_argument("file")
    ui.set_defaults(func=cmd_units_import)
    uc = units.add_parser("credentials", help="a department system's Kafka key and onboarding sheet")
    uc.add_argument("unit", help="unit code, e.g. 440112.tax")
    what = uc.add_mutually_exclusive_group()
    what.add_argument("--rotate", action="store_true", help="issue a new key; earlier ones stay valid until revoked")
    what.add_argument("--revoke", metavar="KEY_ID", help="revoke one key: its messages are refused from now on")
    uc.set_defaults(func=cmd_units_credentials)

    s = sub.add_parser("seed", help="load the demo registry into an empty one (or --file, as units import)")
    s.add_argument("--file", help="a registry JSON file (units, coverage, rules); demo data if omitted")
    s.set_defaults(func=cmd_seed)

    for command in ("serve", "api", "worker"):
        c = sub.add_parser(command, help=f"run one service ({command})")
        c.add_argument("service", choices=SERVICES if command == "worker" else (*SERVICES, WEB))
        if command != "worker":
            c.add_argument("--workers", type=int, help="HTTP worker processes (default: XIAOER_HTTP_WORKERS)")
        c.set_defaults(func=cmd_serve)

    users = sub.add_parser("user", help="staff accounts of the pages")
    users = users.add_subparsers(dest="user_command", required=True)
    ua = users.add_parser("add", help="create a staff account (clerk, coordinator, supervisor or admin)")
    ua.add_argument("--role", required=True, choices=["department", "coordinator", "supervisor", "admin"])
    ua.add_argument("--name", required=True, help="the person's name as pages show it, e.g. 李四")
    ua.add_argument("--unit", help="department or coordinator: the unit code, e.g. 440112.tax")
    ua.add_argument("--region", help="supervisor (required) or admin: the region code, e.g. 440112")
    ua.add_argument("--username", help="default: the unit code (dudao.<region>, admin), -2, -3 … if taken")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else generated)")
    ua.set_defaults(func=cmd_user_add)
    users.add_parser("demo", help="development only: the demo staff accounts (into an empty table)").set_defaults(
        func=cmd_user_demo
    )

    ck = sub.add_parser("check", help="exit 0 when a service's database and broker answer")
    ck.add_argument("service", choices=SERVICES)
    ck.set_defaults(func=cmd_check)

    t = sub.add_parser("token", help="mint a JWT")
    t.add_argument("--role", required=True, choices=["enterprise", "liaison", "department", "supervisor", "admin"])
    t.add_argument("--uscc", action="append", help="enterprise: one; liaison: one or more")
    t.add_argument("--unit", help="department unit code, e.g. 440112.tax")
    t.add_argument("--region", help="supervisor or admin region code, e.g. 440112")
    t.add_argument("--sub", help="subject (user id); generated if omitted")
    t.add_argument("--name")
    t.add_argument("--ttl", type=int, help="seconds")
    t.set_defaults(func=cmd_token)

    sla = sub.add_parser("sla", help="SLA arithmetic").add_subparsers(dest="sla_command", required=True)
    d = sla.add_parser("due", help="print a deadline in ISO 8601 (+08:00)")
    d.add_argument("--from", dest="start", required=True, help="an ISO 8601 instant with offset")
    amount = d.add_mutually_exclusive_group(required=True)
    amount.add_argument("--working-days", type=int)
    amount.add_argument("--working-hours", type=float)
    amount.add_argument("--minutes", type=float)
    d.set_defaults(func=cmd_sla_due)

    cal = sub.add_parser("calendar", help="working calendar").add_subparsers(dest="calendar_command", required=True)
    cl = cal.add_parser("load", help="load a year's official holiday schedule (JSON or YAML)")
    cl.add_argument("file")
    cl.set_defaults(func=cmd_calendar_load)

    _dlq_parser(sub)
    ob = sub.add_parser("outbox", help="a service's outbox").add_subparsers(dest="outbox_command", required=True)
    rp = ob.add_parser("republish", help="publish the outbox rows created in a time range again")
    rp.add_argument("--service", required=True, choices=SERVICES)
    rp.add_argument("--since", required=True, type=_instant, help="ISO 8601 with offset")
    rp.add_argument("--until", type=_instant, help="ISO 8601 with offset; now if omitted")
    rp.add_argument("--topic", help="only rows for this topic")
    rp.set_defaults(func=cmd_outbox_republish)

    sc = sub.add_parser("schemas", help="write the events' JSON Schemas, AsyncAPI and the services' Kafka ACLs")
    sc.add_argument("--check", action="store_true", help="fail if the files are out of date")
    sc.set_defaults(func=cmd_schemas)
    return p


def _dlq_parser(sub) -> None:
    dlq = sub.add_parser("dlq", help="dead-letter topics").add_subparsers(dest="dlq_command", required=True)
    for name, func, helptext in (
        ("list", cmd_dlq_list, "list dead letters (all <topic>.dlq topics unless filtered)"),
        ("show", cmd_dlq_show, "show dead letters in full: headers, key, body"),
        ("replay", cmd_dlq_replay, "send dead letters back to their original topic (consumers dedupe by ce_id)"),
    ):
        c = dlq.add_parser(name, help=helptext)
        if name == "show":
            c.add_argument("refs", nargs="+", metavar="REF", help="<dlq topic>:<partition>:<offset>, or a ce_id")
        elif name == "replay":
            c.add_argument("refs", nargs="*", metavar="REF", help="<dlq topic>:<partition>:<offset>, or a ce_id")
            c.add_argument("--all", action="store_true", help="every dead letter the other filters let through")
            c.add_argument("--dry-run", action="store_true", help="print what would be replayed")
        c.add_argument("--topic", help="an original topic (or its .dlq)")
        c.add_argument("--type", dest="ce_type", help="a ce_type, e.g. cn.xiaoer.department.action")
        c.add_argument("--since", type=_instant, help="dead-lettered at or after (ISO 8601 with offset)")
        if name == "list":
            c.add_argument("--json", action="store_true", help="one JSON object per line")
        c.set_defaults(func=func)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args, Settings())


if __name__ == "__main__":
    main()

"""``xiaoer dlq list|show|replay``: dead letters (``shared.messaging.dead_letters``) read from every
``<topic>.dlq`` as the operators' broker user, shown, and sent back to their topics after a fix."""

from __future__ import annotations

import asyncio
import json
import sys

from cli.common import instant
from shared.settings import Settings


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


def register(sub) -> None:
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
        c.add_argument("--since", type=instant, help="dead-lettered at or after (ISO 8601 with offset)")
        if name == "list":
            c.add_argument("--json", action="store_true", help="one JSON object per line")
        c.set_defaults(func=func)

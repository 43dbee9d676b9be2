"""The enterprise-group registry: ``xiaoer relations import FILE`` (which parent may ask about
which subsidiary or branch without a 授权委托书), validated whole before anything is written."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from cli.common import in_transaction, service_settings
from shared.settings import Settings


def cmd_relations_import(args, settings: Settings) -> None:
    from services.intake import relations, relations_file
    from services.intake.schemas import RelationIn

    try:
        entries = relations_file.parse(Path(args.file))
    except relations_file.RelationFileError as refused:
        print("集团关系文件有误，未导入任何内容 / the file was refused, nothing was imported:", file=sys.stderr)
        for problem in refused.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(1)
    by = f"file:{Path(args.file).name}"
    rows = [
        relations.row(
            e.parent_uscc, e.subject_uscc, RelationIn(**e.model_dump(include=set(RelationIn.model_fields))), "file", by
        )
        for e in entries
    ]

    async def load(session) -> bool:
        if args.if_empty and await relations.any_kept(session):
            return False
        await relations.put(session, rows)
        return True

    if asyncio.run(in_transaction(service_settings("intake").database_url, load)):
        print(f"imported: {len(rows)} relations / 已导入 {len(rows)} 条集团关系")
    else:
        print("the group registry has relations already: nothing imported / 集团关系已有内容，未导入")


def register(sub) -> None:
    group = sub.add_parser("relations", help="the enterprise-group registry (who may ask about whom)")
    commands = group.add_subparsers(dest="relations_command", required=True)
    imported = commands.add_parser("import", help="load a relations file (CSV, YAML or JSON), validated whole first")
    imported.add_argument("file")
    imported.add_argument(
        "--if-empty", action="store_true", help="only into an empty registry (the demo: a restart undoes no change)"
    )
    imported.set_defaults(func=cmd_relations_import)

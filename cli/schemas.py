"""``xiaoer schemas``: the events' JSON Schemas, the AsyncAPI document built from them, and the
services' Kafka ACLs built from the same topic table (``cli.kafka_acls``); ``--check`` fails
while any of them is out of date."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.settings import Settings

SCHEMAS_DIR = Path("docs/schemas")
ASYNCAPI = Path("docs/asyncapi.yaml")
SERVICE_ACLS = Path("deploy/kafka/service-acls.sh")


def cmd_schemas(args, settings: Settings) -> None:
    """JSON Schemas of every event, the AsyncAPI document built from them, and the services'
    Kafka ACLs built from the same topic table."""
    import yaml

    from cli.kafka_acls import acl_script, service_grants
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


def register(sub) -> None:
    sc = sub.add_parser("schemas", help="write the events' JSON Schemas, AsyncAPI and the services' Kafka ACLs")
    sc.add_argument("--check", action="store_true", help="fail if the files are out of date")
    sc.set_defaults(func=cmd_schemas)

"""``xiaoer token``: a JWT minted with the configured signing key, for trying the APIs."""

from __future__ import annotations

from typing import get_args

from shared.auth import Role, mint_token
from shared.settings import Settings


def cmd_token(args, settings: Settings) -> None:
    print(
        mint_token(
            settings,
            role=args.role,
            sub=args.sub,
            name=args.name,
            usccs=args.uscc,
            unit=args.unit,
            region=args.region,
            lead=args.lead,
            ttl_seconds=args.ttl,
        )
    )


def register(sub) -> None:
    t = sub.add_parser("token", help="mint a JWT")
    t.add_argument("--role", required=True, choices=get_args(Role))
    t.add_argument("--uscc", action="append", help="enterprise: one; liaison: one or more")
    t.add_argument("--unit", help="department unit code, e.g. 440112.tax")
    t.add_argument("--region", help="supervisor or admin region code, e.g. 440112")
    t.add_argument("--lead", action="store_true", help="department: the unit's lead (科长), who assigns its items")
    t.add_argument("--sub", help="subject (user id); generated if omitted")
    t.add_argument("--name")
    t.add_argument("--ttl", type=int, help="seconds")
    t.set_defaults(func=cmd_token)

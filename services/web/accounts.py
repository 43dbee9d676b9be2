"""Staff accounts: Argon2id password hashes (argon2-cffi), sign-in with a lockout after repeated
failures, and the JWT claims each role's token carries. The APIs decide what a token may do;
this module only decides who may get one."""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import regions
from shared.clock import utcnow

from .models import STAFF_ROLES, StaffAccount
from .settings import WebSettings

_hasher = PasswordHasher()  # RFC 9106's low-memory profile: Argon2id, 64 MiB, 3 passes
# Verified when the username is unknown, so that a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """A refused account change; the message is for the operator (Chinese / English)."""


@dataclass(frozen=True)
class SignInRefused:
    """Why a sign-in failed: ``wrong`` (username or password), ``locked`` (until when) or
    ``inactive``. Returned, not raised: the failed attempt it counted must still be committed."""

    reason: str
    locked_until: datetime | None = None


async def hash_password(password: str) -> str:
    # Argon2 is deliberately slow (tens of ms): off the event loop so other pages keep answering.
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def check_fields(role: str, unit_code: str | None, region_code: str | None) -> str | None:
    """Validates the role's bindings; returns the region code to store (a unit's from its code)."""
    if role not in STAFF_ROLES:
        raise AccountError(f"角色须为 {' / '.join(STAFF_ROLES)} 之一 / role must be one of {', '.join(STAFF_ROLES)}")
    if role in ("department", "coordinator"):
        if not unit_code:
            raise AccountError("部门账号须指定单位 --unit / a department account needs --unit")
        head = unit_code.split(".", 1)[0]
        region_code = region_code or (head if regions.exists(head) else None)
    elif unit_code:
        raise AccountError("只有部门账号属于单位 / only department accounts belong to a unit")
    if role == "supervisor" and not region_code:
        raise AccountError("督办账号须指定地区 --region / a supervisor account needs --region")
    if region_code and not regions.exists(region_code):
        raise AccountError(f"未知的行政区划代码 {region_code} / unknown region code {region_code}")
    return region_code


async def create(
    session: AsyncSession,
    *,
    role: str,
    display_name: str,
    password: str,
    username: str | None = None,
    unit_code: str | None = None,
    region_code: str | None = None,
    lead: bool = False,
) -> StaffAccount:
    """A new active account. Without a username: the unit code (a supervisor's ``dudao.<region>``,
    an admin's ``admin``), with ``-2``, ``-3`` … when that is taken. ``lead``: the unit's 科长."""
    region_code = check_fields(role, unit_code, region_code)
    if lead and role != "department":
        raise AccountError("只有部门办事员可以是科长 --lead / only a department account can be a unit's lead")
    check_password(password)
    if not display_name.strip():
        raise AccountError("须提供姓名 --name / --name is required")
    if username is None:
        default = unit_code or (f"dudao.{region_code}" if role == "supervisor" else "admin")
        username = await _free_username(session, default)
    elif not _USERNAME.match(username):
        raise AccountError("用户名只能包含字母、数字和 . _ - / a username has letters, digits and . _ - only")
    elif await session.get(StaffAccount, username) is not None:
        raise AccountError(f"用户名 {username} 已存在 / username {username} is taken")
    account = StaffAccount(
        username=username,
        display_name=display_name.strip(),
        role=role,
        unit_code=unit_code,
        region_code=region_code,
        password_hash=await hash_password(password),
        failed_attempts=0,
        active=True,
        demo=False,
        lead=lead,
    )
    session.add(account)
    await session.flush()
    return account


async def _free_username(session: AsyncSession, base: str) -> str:
    taken = set(await session.scalars(select(StaffAccount.username).where(StaffAccount.username.startswith(base))))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


async def authenticate(
    session: AsyncSession, settings: WebSettings, username: str, password: str
) -> StaffAccount | SignInRefused:
    """The account whose password this is, or why not. Each wrong password counts;
    ``web_max_failed_sign_ins`` in a row lock the account for ``web_lockout_minutes``. The row
    is locked while counting, so parallel guesses cannot slip past the limit."""
    account = await session.scalar(
        select(StaffAccount).where(StaffAccount.username == username.strip()).with_for_update()
    )
    if account is None:
        await _verify(_DUMMY_HASH, password)
        return SignInRefused("wrong")
    now = utcnow()
    if account.locked_until is not None:
        if account.locked_until > now:
            return SignInRefused("locked", account.locked_until)
        account.locked_until, account.failed_attempts = None, 0  # the lock has run out: a fresh count
    if not await _verify(account.password_hash, password):
        account.failed_attempts += 1
        if account.failed_attempts >= settings.web_max_failed_sign_ins:
            account.locked_until = now + timedelta(minutes=settings.web_lockout_minutes)
            return SignInRefused("locked", account.locked_until)
        return SignInRefused("wrong")
    if not account.active:
        return SignInRefused("inactive")
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password)
    account.failed_attempts, account.last_sign_in_at = 0, now
    return account


async def _existing(session: AsyncSession, username: str) -> StaffAccount:
    account = await session.scalar(select(StaffAccount).where(StaffAccount.username == username).with_for_update())
    if account is None:
        raise AccountError(f"没有用户名为 {username} 的账号 / no account named {username}")
    return account


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 个字符 / a password has {MIN_PASSWORD_LENGTH}+ characters")


async def unlock(session: AsyncSession, username: str) -> StaffAccount:
    """Lifts a lockout after wrong passwords (and forgets the count)."""
    account = await _existing(session, username)
    account.locked_until, account.failed_attempts = None, 0
    return account


async def set_password(session: AsyncSession, username: str, password: str) -> StaffAccount:
    """A new password; the account's sessions begun before now end (whoever knew the old one is
    signed out), and a lockout is lifted."""
    check_password(password)
    account = await _existing(session, username)
    account.password_hash = await hash_password(password)
    account.locked_until, account.failed_attempts = None, 0
    account.sessions_revoked_at = utcnow()
    return account


async def deactivate(session: AsyncSession, username: str) -> StaffAccount:
    """A leaver: no sign-in any more, and every session of the account ends at its next request."""
    account = await _existing(session, username)
    account.active = False
    account.sessions_revoked_at = utcnow()
    return account


async def reactivate(session: AsyncSession, username: str) -> StaffAccount:
    account = await _existing(session, username)
    account.active = True
    account.locked_until, account.failed_attempts = None, 0
    return account


async def seed_demo(session: AsyncSession, accounts: list[StaffAccount], password: str) -> int:
    """The development personas, into an empty account table only (never beside real accounts).
    They share one hash of the demo password: hashing each would cost seconds for no gain."""
    if await session.scalar(select(StaffAccount.username).limit(1)) is not None:
        return 0
    shared_hash = await hash_password(password)
    for account in accounts:
        account.password_hash, account.demo, account.active, account.failed_attempts = shared_hash, True, True, 0
        session.add(account)
    await session.flush()
    return len(accounts)

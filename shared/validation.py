"""Field types for identifiers that every service receives: 统一社会信用代码 (USCC), mainland
mobile numbers and GB/T 2260 region codes. Their errors carry Chinese and English messages in
the error context, which ``shared.problems`` shows to the caller."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as stdnum_uscc

from shared import catalogue, regions

# What an e-mail address must look like (recipients, registry contacts).
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def bilingual_error(code: str, zh: str, en: str) -> PydanticCustomError:
    return PydanticCustomError(code, en, {"zh": zh, "en": en})


def _check_uscc(value: str) -> str:
    try:
        return stdnum_uscc.validate(value)
    except stdnum_errors.InvalidChecksum:
        raise bilingual_error(
            "uscc_checksum", "统一社会信用代码校验位错误", "The USCC check character is wrong"
        ) from None
    except stdnum_errors.InvalidLength:
        raise bilingual_error("uscc_length", "统一社会信用代码应为 18 位", "A USCC has 18 characters") from None
    except stdnum_errors.ValidationError:
        raise bilingual_error("uscc_format", "统一社会信用代码格式错误", "The USCC has an invalid format") from None


_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _check_mobile(value: str) -> str:
    compact = value.replace(" ", "").replace("-", "").removeprefix("+86")
    if not _MOBILE.match(compact):
        raise bilingual_error(
            "mobile_invalid", "请填写有效的 11 位手机号码", "Give a valid 11-digit mainland mobile number"
        )
    return compact


def _check_region(value: str) -> str:
    if not regions.exists(value):
        raise bilingual_error("region_unknown", "行政区划代码不存在（GB/T 2260）", "Unknown region code (GB/T 2260)")
    return value


def _check_request_type(value: str) -> str:
    if value not in catalogue.REQUEST_TYPES:
        raise bilingual_error("type_unknown", f"诉求类型不存在：{value}", f"Unknown request type: {value}")
    return value


USCC = Annotated[str, AfterValidator(_check_uscc)]
RequestTypeCode = Annotated[str, AfterValidator(_check_request_type)]
MobileNumber = Annotated[str, AfterValidator(_check_mobile)]
RegionCode = Annotated[str, AfterValidator(_check_region)]


def make_uscc(first17: str) -> str:
    """Completes 17 characters with their check character (demo data and tests)."""
    return first17 + stdnum_uscc.calc_check_digit(first17)


def _instant_in_range(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise bilingual_error("instant_out_of_range", "时间须在 2000 至 2100 年之间", "Must lie between 2000 and 2100")
    return value


def _day_in_range(value: date) -> date:
    if not 2000 <= value.year <= 2100:
        raise bilingual_error("date_out_of_range", "日期须在 2000 至 2100 年之间", "Must lie between 2000 and 2100")
    return value


# Query parameters: an instant must say its time zone (2025-11-03T09:00:00+08:00), and both kinds
# stay within years the calendar and the databases handle.
Instant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
Day = Annotated[date, AfterValidator(_day_in_range)]

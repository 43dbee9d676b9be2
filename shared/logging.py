"""Structured JSON logs (structlog) with request and trace ids, and masking of personal data."""

from __future__ import annotations

import logging
import re
import sys

import structlog

_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_mobile(mobile: str | None) -> str | None:
    """13800138000 → 138****8000."""
    if not mobile:
        return mobile
    return _MOBILE.sub(r"\1****\2", mobile) if _MOBILE.search(mobile) else "****"


def mask_name(name: str | None) -> str | None:
    """张三 → 张*, 欧阳娜娜 → 欧***, Alice → A****."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def _mask_personal_data(_logger, _method, event_dict):
    # Last line of defence: whatever a log line carries, a mainland mobile number is masked.
    for key, value in event_dict.items():
        if isinstance(value, str) and _MOBILE.search(value):
            event_dict[key] = _MOBILE.sub(r"\1****\2", value)
    return event_dict


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False) if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_personal_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

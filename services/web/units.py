"""Units by name: pages say 广州市黄埔区税务局, never ``440112.tax``. The names come from the
router's registry (``GET /v1/units``, any staff token), kept for a few minutes: a unit is renamed
a few times a decade."""

from __future__ import annotations

import time

from fastapi import Request

from .apis import ServiceClient

TTL_SECONDS = 300


class UnitNames:
    """``names(code)`` → the unit's name (the code itself only for a unit the registry lacks)."""

    def __init__(self, names: dict[str, str]) -> None:
        self._names = names

    def __call__(self, code: str | None) -> str:
        if not code:
            return ""
        return self._names.get(code, code)

    def many(self, codes) -> list[str]:
        return [self(code) for code in codes or ()]


async def unit_names(request: Request, api: ServiceClient) -> UnitNames:
    kept = getattr(request.app.state, "unit_names", None)
    if kept is None or kept[0] < time.monotonic() - TTL_SECONDS:
        units = await api.get("router", "/v1/units")
        kept = (time.monotonic(), {u["unit_code"]: u["name"] for u in units})
        request.app.state.unit_names = kept
    return UnitNames(kept[1])

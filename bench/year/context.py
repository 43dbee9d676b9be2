"""What every day of the year is generated from: the world (places, units, enterprises), the
calendar, the router's registry and 信用代证 coverage as loaded into the router's database (so
routing decisions are the router's own, by ``services.router.routing.plan``), the SLA limits
(``services.notifier.policies``), and who acts for each unit."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from services.notifier import policies
from services.router.models import DepartmentUnit, RoutingRule, UnitCoverage
from services.router.routing import COORDINATOR, Registry, coordinator_for
from shared import catalogue, regions
from shared.vocabulary import rating_name

from .clock import BusinessTime
from .world import World


@dataclass
class Context:
    world: World
    bt: BusinessTime
    start: float  # the year: [start, end), epoch seconds
    end: float
    rules: list[dict]  # routing_rules rows as loaded: id, request_type, item, department_kind, version
    coverage_rows: list  # credit_coverage rows as loaded (CreditCoverage objects, detached)
    history_since: float  # the moves of items dispatched from here on are kept (log, timeline, notifications)
    seed: int = 2026
    paces: dict[str, float] = field(default_factory=dict)

    # --- routing --------------------------------------------------------------------------------
    @cached_property
    def registry(self) -> Registry:
        data = self.world.registry
        units = [
            DepartmentUnit(
                unit_code=u["unit_code"], name=u["name"], kind=u["kind"], region_code=u["region_code"], active=True
            )
            for u in data["units"]
        ]
        coverage = [UnitCoverage(**c) for c in data["coverage"]]
        rules = [RoutingRule(**r, active=True) for r in self.rules]
        return Registry(units, coverage, rules)

    @cached_property
    def book(self):
        from services.router.credit import CoverageBook

        return CoverageBook(self.coverage_rows)

    def unit_name(self, code: str) -> str:
        return self.world.unit_names[code]

    def unit_region(self, code: str) -> str:
        return self.world.unit_regions[code]

    def unit_kind(self, code: str) -> str:
        return self.registry.units[code].kind

    @cached_property
    def _by_kind_and_city(self) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for unit in self.registry.units.values():
            found.setdefault((unit.kind, self.city_of(unit.region_code)), []).append(unit.unit_code)
        for codes in found.values():
            codes.sort()
        return found

    @staticmethod
    def city_of(region: str) -> str:
        r = regions.get(region)
        return region if r.level in ("city", "province") else r.parent

    def alternative(self, unit: str, kind: str, rng: random.Random) -> str | None:
        """Where a returned or transferred item ends: the city's unit of the kind for a district's,
        another district's of the city for a city's (None: the kind has no second unit there)."""
        region = self.unit_region(unit)
        city = self.city_of(region)
        candidates = [u for u in self._by_kind_and_city.get((kind, city), []) if u != unit]
        if not candidates:
            return None
        city_unit = f"{city}.{kind}"
        if region != city and city_unit in candidates:
            return city_unit
        return rng.choice(candidates)

    def handler_for(self, coordinator: str, rng: random.Random) -> str | None:
        """The unit a coordinating office dispatches an unmatched item (category 其他) to."""
        region = self.unit_region(coordinator)
        for kind in ("government_services", "industry_it", "development_reform"):
            found = self.registry.unit_for(kind, region)
            if found is not None:
                return found[0].unit_code
        return None

    def coordinator_of(self, subject_region: str, home_region: str) -> str:
        return coordinator_for(self.registry, subject_region, home_region).unit_code

    def pace(self, unit: str) -> float:
        """Each unit's own pace: a factor on its working times, drawn once per unit."""
        if unit not in self.paces:
            rng = random.Random(f"{self.seed}:pace:{unit}")
            self.paces[unit] = pow(2.718281828, rng.gauss(0.0, 0.35))
        return self.paces[unit]

    # --- people -----------------------------------------------------------------------------------
    @cached_property
    def _clerks(self) -> dict[str, list[tuple[str, str, str]]]:
        return {}

    def clerk(self, unit: str, rng: random.Random) -> tuple[str, str, str]:
        people = self._clerks.get(unit)
        if people is None:
            people = self._clerks[unit] = [("department", p.sub, p.name) for p in self.world.clerks(unit)]
        return people[0] if rng.random() < 0.6 else rng.choice(people)

    def supervisor(self, region: str) -> tuple[str, str, str]:
        person = self.world.supervisor(region)
        return ("supervisor", person.sub, person.name)

    # --- words --------------------------------------------------------------------------------------
    @staticmethod
    def rating_name(score: int) -> str:
        return rating_name(score)

    @staticmethod
    def uuid(rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def document_no(self, kind: str, t: float, rng: random.Random) -> str:
        short = catalogue.DEPARTMENT_KINDS.zh(kind)[:2]
        return f"粤{short}证〔{datetime.fromtimestamp(t, UTC).year}〕{rng.randrange(1, 99999):05d}号"

    @staticmethod
    def limits(request_type: str) -> dict:
        return policies.as_dict(policies.DEFAULT_LIMITS.get(request_type, policies.FALLBACK_LIMITS))


COORDINATOR_KIND = COORDINATOR

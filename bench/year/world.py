"""The province the year happens in: Guangdong's 21 prefecture-level cities and their 122
districts and counties (GB/T 2260 through ``shared.regions``), the department units that serve
them, the enterprises that ask, and the people who act. Everything here is derived from one seed,
so every worker process of the generator builds the same world.

Skew (a few units get most of the work): cities are weighted by a Zipf law over their economic
rank (深圳, 广州, 东莞, 佛山 … 云浮), districts by a Zipf law within their city, department kinds
by how often enterprises ask for them, and enterprises by a power law (a few groups submit
hundreds of requests a year, most one or two). The busiest units are the big cities' district tax
and market-regulation bureaus and the customs districts that serve several cities."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from shared import catalogue, regions
from shared.validation import make_uscc

PROVINCE = "440000"
# Cities by economic rank: the weight of the n-th is 1 / n^CITY_ZIPF.
CITY_RANK = (
    "440300", "440100", "441900", "440600", "441300", "442000", "440400", "440700", "440500", "440800", "441200",
    "440900", "445200", "441800", "440200", "441700", "441400", "445100", "441500", "441600", "445300",
)  # fmt: skip
CITY_ZIPF = 1.1
DISTRICT_ZIPF = 1.0

# Kinds a district (or county) has its own bureau for; the others only the city has.
DISTRICT_KINDS = (
    "tax", "market_regulation", "human_resources", "housing_construction", "natural_resources",
    "ecology_environment", "emergency_management", "public_security", "urban_management", "medical_security",
    "development_reform", "commerce", "statistics", "health", "water_affairs", "coordinator",
)  # fmt: skip
# Customs districts (海关) do not follow the administrative map: each serves several cities.
CUSTOMS = {
    "440100": ("广州海关", ("440200", "440600", "441200", "441600", "441800", "445300")),
    "440112": ("黄埔海关", ("440118", "441900", "441300")),
    "440300": ("深圳海关", ()),
    "440400": ("拱北海关", ("442000",)),
    "440500": ("汕头海关", ("441400", "441500", "445100", "445200")),
    "440700": ("江门海关", ("441700",)),
    "440800": ("湛江海关", ("440900",)),
}
FOREIGN_EXCHANGE = {"440000": "国家外汇管理局广东省分局", "440300": "国家外汇管理局深圳市分局"}

# How often a certificate bundle names each kind (a bundle for an IPO names many).
KIND_SHARE = {
    "tax": 0.93, "market_regulation": 0.9, "human_resources": 0.9, "housing_fund": 0.85,
    "ecology_environment": 0.65, "emergency_management": 0.6, "customs": 0.5, "natural_resources": 0.5,
    "housing_construction": 0.42, "fire_rescue": 0.45, "medical_security": 0.45, "development_reform": 0.3,
    "commerce": 0.3, "foreign_exchange": 0.28, "statistics": 0.25, "public_security": 0.3,
    "urban_management": 0.25, "transport": 0.18, "health": 0.16, "water_affairs": 0.16,
}  # fmt: skip
# Categories of the other request types, by how often they are asked.
CATEGORY_SHARE = {
    "financing": 14, "hiring": 12, "talent": 8, "approvals": 16, "utilities": 7, "land_planning": 6, "policy": 12,
    "legal": 5, "tax_relief": 10, "customs_clearance": 4, "infrastructure": 3, "other": 3,
}  # fmt: skip
TYPE_SHARE = {"compliance_certificate": 0.6, "consultation": 0.15, "problem": 0.22, "emergency": 0.03}
# A group's certificate bundle names this many subjects, the enterprise first (capped by its subsidiaries).
SUBJECTS_SHARE = {1: 0.4, 2: 0.3, 3: 0.2, 4: 0.1}
GROUPS = 40_000  # the most active enterprises are groups with 1–4 subsidiaries (the enterprise-group registry)
SUBSIDIARIES_SHARE = {1: 0.45, 2: 0.3, 3: 0.15, 4: 0.1}
ENTERPRISES = 150_000
ENTERPRISE_SKEW = 1.6  # the enterprise of a request: index N * u^1.6 (the top one ≈ 600 requests a year)
CLERKS_PER_UNIT = 3

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任"
    "卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱严莫孔"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲红建国志文斌宇浩凯鹏晨婷雪琳佳欣瑶思源嘉俊峰海波辉"
BRANDS = (
    "华信",
    "明珞",
    "鹏程",
    "汇智",
    "粤海",
    "南方",
    "东江",
    "珠江",
    "中科",
    "安捷",
    "天瑞",
    "恒通",
    "金旭",
    "博远",
    "创维",
    "正弘",
    "宏达",
    "新纪元",
    "立讯",
    "盈峰",
    "嘉荣",
    "美锐",
    "海纳",
    "星河",
    "卓越",
    "广晟",
    "华南",
    "佳禾",
    "德赛",
    "欧菲",
    "瑞丰",
    "弘业",
    "锦程",
    "信达",
    "鼎盛",
    "同方",
    "远景",
    "润泽",
    "晶科",
    "海川",
)
TRADES = (
    "电子科技",
    "智能装备",
    "新材料",
    "生物医药",
    "精密制造",
    "信息技术",
    "环保科技",
    "物流",
    "食品",
    "纺织",
    "化工",
    "光电",
    "汽车零部件",
    "建材",
    "家居",
    "半导体",
    "通信设备",
    "新能源",
    "医疗器械",
    "供应链管理",
)
FORMS = ("有限公司", "股份有限公司", "集团有限公司", "科技有限公司")
# The characters a USCC's organisation part may use (GB 32100-2015: no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def zipf_weights(n: int, s: float) -> list[float]:
    return [1 / (rank + 1) ** s for rank in range(n)]


@dataclass(frozen=True)
class Enterprise:
    uscc: str
    name: str
    region_code: str


@dataclass(frozen=True)
class Person:
    sub: str
    name: str


@dataclass
class World:
    seed: int = 2026
    enterprises: list[Enterprise] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        places, weights = self.places
        chosen = rng.choices(places, weights, k=ENTERPRISES)
        used: set[str] = set()
        for region in chosen:
            while True:
                org = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
                uscc = make_uscc(f"91{region}{org}")
                if uscc not in used:
                    used.add(uscc)
                    break
            city = regions.get(region if regions.get(region).level == "city" else regions.get(region).parent)
            name = f"{city.name.removesuffix('市')}{rng.choice(BRANDS)}{rng.choice(TRADES)}{rng.choice(FORMS)}"
            self.enterprises.append(Enterprise(uscc, name, region))
        rng.shuffle(self.enterprises)  # activity (the index) independent of place

    # --- places -----------------------------------------------------------------------------------
    @cached_property
    def cities(self) -> list[str]:
        return list(CITY_RANK)

    groups = GROUPS

    def subsidiaries(self, index: int) -> list[Enterprise]:
        """The subsidiaries of the ``index``-th enterprise (by activity), the same in every process."""
        if index >= GROUPS:
            return []
        rng = random.Random(f"{self.seed}:group:{index}")
        count = rng.choices(list(SUBSIDIARIES_SHARE), list(SUBSIDIARIES_SHARE.values()))[0]
        found: list[Enterprise] = []
        while len(found) < count:
            other = self.enterprises[rng.randrange(GROUPS, len(self.enterprises))]
            if other not in found:
                found.append(other)
        return found

    def districts_of(self, city: str) -> list[str]:
        return [r.code for r in regions.all_regions() if r.parent == city and r.level == "district"]

    @cached_property
    def places(self) -> tuple[list[str], list[float]]:
        """Every place an enterprise can be (a district, or a city without districts) and its weight."""
        places, weights = [], []
        for city, city_weight in zip(self.cities, zipf_weights(len(self.cities), CITY_ZIPF), strict=True):
            districts = self.districts_of(city) or [city]
            inner = zipf_weights(len(districts), DISTRICT_ZIPF)
            total = sum(inner)
            places += districts
            weights += [city_weight * w / total for w in inner]
        return places, weights

    # --- the registry ------------------------------------------------------------------------------
    @cached_property
    def registry(self) -> dict:
        """The department registry in the shape ``services.router.registry.load_registry`` reads."""
        units = []
        for city in self.cities:
            units += [
                self._unit(city, kind.code) for kind in catalogue.DEPARTMENT_KINDS.values() if self._at_city(kind.code)
            ]
            for district in self.districts_of(city):
                units += [self._unit(district, kind) for kind in DISTRICT_KINDS]
        for region, name in FOREIGN_EXCHANGE.items():
            units.append(self._unit(region, "foreign_exchange", name))
        for region, (name, _covers) in CUSTOMS.items():
            units.append(self._unit(region, "customs", name))
        coverage = [
            {"kind": "customs", "region_code": covered, "unit_code": f"{region}.customs"}
            for region, (_name, covers) in CUSTOMS.items()
            for covered in covers
        ]
        rules = [
            {"request_type": t.code, "item": item.code, "department_kind": catalogue.kind_for_item(t.code, item.code)}
            for t in catalogue.REQUEST_TYPES.values()
            for item in t.items
        ]
        offices = [PROVINCE, *self.cities, *(d for c in self.cities for d in self.districts_of(c))]
        supervisors = [
            {
                "region_code": code,
                "name": f"{regions.full_name(code)}人民政府督查室",
                "contacts": [{"role": "clerk", "email": f"dudao.{code}@gd.example.gov.cn"}],
            }
            for code in offices
        ]
        return {"units": units, "coverage": coverage, "rules": rules, "supervisors": supervisors}

    @staticmethod
    def _at_city(kind: str) -> bool:
        return kind not in ("customs", "foreign_exchange")

    @staticmethod
    def _unit(region: str, kind: str, name: str | None = None) -> dict:
        place = regions.full_name(region)
        if name is None:
            name = f"国家税务总局{place}税务局" if kind == "tax" else f"{place}{catalogue.DEPARTMENT_KINDS.zh(kind)}"
        code = f"{region}.{kind}"
        return {
            "unit_code": code,
            "name": name,
            "kind": kind,
            "region_code": region,
            "contacts": [
                {"role": "clerk", "email": f"{code}@gd.example.gov.cn"},
                {"role": "leadership", "email": f"{code}.leader@gd.example.gov.cn"},
            ],
            "supervising_office": f"{place}人民政府督查室",
        }

    @cached_property
    def unit_names(self) -> dict[str, str]:
        return {u["unit_code"]: u["name"] for u in self.registry["units"]}

    @cached_property
    def unit_regions(self) -> dict[str, str]:
        return {u["unit_code"]: u["region_code"] for u in self.registry["units"]}

    # --- people ----------------------------------------------------------------------------------------
    def clerks(self, unit_code: str) -> list[Person]:
        """The unit's clerks (their staff accounts are ``<unit>``, ``<unit>-2`` …), named by a
        hash of the unit so every process names them alike."""
        rng = random.Random(f"{self.seed}:{unit_code}")
        people = []
        for n in range(CLERKS_PER_UNIT):
            username = unit_code if n == 0 else f"{unit_code}-{n + 1}"
            people.append(
                Person(f"staff:{username}", rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))))
            )
        return people

    def supervisor(self, region: str) -> Person:
        return Person(f"staff:dudao.{region}", f"{regions.full_name(region)}人民政府督查室")

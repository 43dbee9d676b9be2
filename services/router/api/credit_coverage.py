"""信用代证 over HTTP: what each province's (and city's) 专项信用报告 covers, version by version;
admins add versions, everyone may read them."""

from __future__ import annotations

from fastapi import APIRouter

from shared import regions
from shared.auth import Admin, Anyone
from shared.clock import utcnow
from shared.problems import Problem, invalid_field
from shared.web import DbSession

from .. import credit
from ..models import CreditCoverage
from ..schemas import CreditCoverageIn, CreditCoverageOut, CreditCoverageRegionOut

router = APIRouter(prefix="/v1", tags=["credit report"])


def coverage_region(region_code: str) -> str:
    """The province or prefecture-level city a path names (422 for any other level)."""
    try:
        return credit.coverage_region(region_code)
    except ValueError as error:
        raise invalid_field(
            "region_code",
            "region_level",
            f"须为省级或地市级行政区划代码：{region_code}",
            f"Must be a province or prefecture-level city code: {region_code}",
        ) from error


@router.get(
    "/credit-coverage",
    response_model=list[CreditCoverageOut],
    summary="信用代证: the coverage version in force today for each province and city that has data",
)
async def list_credit_coverage(session: DbSession, _principal: Anyone) -> list[CreditCoverageOut]:
    book, now = await credit.CoverageBook.load(session), utcnow()
    in_force = (book.version_in_force(region_code, now) for region_code in book.by_region)
    return [coverage_out(version) for version in in_force if version is not None]


@router.get(
    "/credit-coverage/{region_code}",
    response_model=CreditCoverageRegionOut,
    summary="Every coverage version of a province or city, and the one in force today",
)
async def get_credit_coverage(region_code: str, session: DbSession, _principal: Anyone) -> CreditCoverageRegionOut:
    region_code = coverage_region(region_code)
    book = await credit.CoverageBook.load(session)
    in_force = book.version_in_force(region_code, utcnow())
    return CreditCoverageRegionOut(
        region_code=region_code,
        region_name=regions.full_name(region_code),
        in_force=coverage_out(in_force) if in_force else None,
        versions=[coverage_out(v) for v in book.by_region.get(region_code, [])],
    )


@router.put(
    "/credit-coverage/{region_code}",
    status_code=201,
    response_model=CreditCoverageOut,
    summary="A new coverage version (admin of that region, or national); in force from now for new requests",
)
async def put_credit_coverage(
    region_code: str, body: CreditCoverageIn, session: DbSession, principal: Admin
) -> CreditCoverageOut:
    region_code = coverage_region(region_code)
    if not principal.covers_region(region_code):
        raise Problem(403, "region_forbidden", "只能修改本地区的覆盖数据", "You may change your own region's data only")
    now = utcnow()
    if body.effective_from is not None and body.effective_from < now:
        raise invalid_field(
            "effective_from",
            "in_the_past",
            "生效时间不能早于现在（已提交的诉求按当时的版本办理）",
            "effective_from may not be in the past (requests already submitted keep their version)",
        )
    async with session.begin():
        row = await credit.add_version(
            session, region_code, body, body.site, principal.as_actor().ref, body.effective_from or now
        )
        return coverage_out(row)


def coverage_out(row: CreditCoverage) -> CreditCoverageOut:
    return CreditCoverageOut.model_validate(credit.coverage_out(row))

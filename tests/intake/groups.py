"""The enterprise-group registry in tests: ``related(system, subject)`` registers, as a national
admin, that MINGLUO (or ``parent``) may ask about ``subject`` without a 授权委托书."""

from __future__ import annotations

from tests.support import MINGLUO


async def related(system, subject: dict, parent: str = MINGLUO, parent_region: str = "440112") -> dict:
    response = await system.intake.put(
        f"/v1/relations/{parent}/{subject['uscc']}",
        json={
            "parent_name": "广州明珞装备股份有限公司",
            "parent_region": parent_region,
            "subject_name": subject["name"],
            "subject_region": subject["region_code"],
        },
        headers=system.auth("admin", sub="group-registry-admin"),
    )
    assert response.status_code == 200, response.text
    return response.json()

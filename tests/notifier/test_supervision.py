"""Issue 29 item 6 — a supervisor's 督办单 to a unit, on the running system: a supervisor of the
unit's region sends it with a note and a deadline, the unit is told on the notifier's channels,
only that unit's clerks read and answer it (once), and the supervisor reads the answer and whether
it came in time. Another region's supervisor cannot 督办 the unit; bad input changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from services.notifier.models import Notification
from shared.clock import SHANGHAI, fix_reading_now, utcnow
from tests.support import eventually

UNIT = "440112.tax"  # 广州市黄埔区税务局, in 黄埔区 440112


def today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


async def supervise(system, note: str, due_on: date, region: str = "440112"):
    async def sent():
        response = await system.notifier.post(
            "/v1/supervisions",
            json={"unit_code": UNIT, "note": note, "due_on": due_on.isoformat()},
            headers=system.supervisor(region).headers,
        )
        return response if response.status_code != 404 or region != "440112" else None

    return await eventually(sent)  # the registry reaches the notifier shortly after start


async def test_a_supervisor_supervises_a_unit_and_reads_its_timely_answer(system):
    created = await supervise(system, "请说明本月超期工单的原因及整改措施", today() + timedelta(days=3))
    assert created.status_code == 201, created.text
    order = created.json()
    assert (order["unit_code"], order["state"], order["timeliness"]) == (UNIT, "open", "pending")
    assert order["unit_name"] == "广州市黄埔区税务局"
    assert (
        order["state_name"] == "待答复" and order["notified"] >= 2
    )  # the unit and its leadership, at least on the topic

    async with system.runtimes["notifier"].sessions() as session:
        told = list(await session.scalars(select(Notification).where(Notification.kind == "unit_supervision")))
    addressed = {(n.recipient_kind, n.address) for n in told if order["note"] in n.body}
    assert ("unit", f"unit:{UNIT}") in addressed and ("leadership", f"leadership:{UNIT}") in addressed

    clerk = system.clerk(UNIT)
    mine = await system.notifier.get("/v1/supervisions", params={"state": "open"}, headers=clerk.headers)
    assert order["id"] in [o["id"] for o in mine.json()]
    other_clerk = system.clerk("440112.commerce")
    theirs = await system.notifier.get("/v1/supervisions", headers=other_clerk.headers)
    assert order["id"] not in [o["id"] for o in theirs.json()]
    assert (
        await system.notifier.get(f"/v1/supervisions/{order['id']}", headers=other_clerk.headers)
    ).status_code == 404
    refused = await system.notifier.post(
        f"/v1/supervisions/{order['id']}/answer", json={"answer": "不是我们的"}, headers=other_clerk.headers
    )
    assert refused.status_code == 404

    blank = await system.notifier.post(
        f"/v1/supervisions/{order['id']}/answer", json={"answer": "   "}, headers=clerk.headers
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "answer"
    answered = await system.notifier.post(
        f"/v1/supervisions/{order['id']}/answer", json={"answer": "已逐件说明，本周内全部办结"}, headers=clerk.headers
    )
    assert answered.status_code == 200, answered.text
    assert (answered.json()["state"], answered.json()["timeliness"]) == ("answered", "on_time")
    again = await system.notifier.post(
        f"/v1/supervisions/{order['id']}/answer", json={"answer": "再答一次"}, headers=clerk.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "supervision_answered"

    seen = await system.notifier.get(f"/v1/supervisions/{order['id']}", headers=system.supervisor("440100").headers)
    assert seen.status_code == 200  # the city's supervisor covers 黄埔区
    assert (seen.json()["answer"], seen.json()["timeliness_name"]) == ("已逐件说明，本周内全部办结", "按时答复")
    async with system.runtimes["notifier"].sessions() as session:
        kinds = {
            (n.recipient_kind, n.address)
            for n in await session.scalars(select(Notification).where(Notification.kind == "supervision_answered"))
            if "已逐件说明" in n.body
        }
    assert ("supervisor", "supervisor:440112") in kinds


async def test_an_answer_after_the_deadline_is_late(system):
    due = today()
    created = await supervise(system, "请当日答复积压原因", due)
    assert created.status_code == 201, created.text
    order = created.json()
    after = datetime.combine(due + timedelta(days=1), time(9), SHANGHAI)
    fix_reading_now(after)
    try:
        listed = await system.notifier.get(
            "/v1/supervisions", params={"unit": UNIT}, headers=system.supervisor("440112").headers
        )
        [shown] = [o for o in listed.json() if o["id"] == order["id"]]
        assert shown["timeliness"] == "overdue"
        answered = await system.notifier.post(
            f"/v1/supervisions/{order['id']}/answer", json={"answer": "迟到的答复"}, headers=system.clerk(UNIT).headers
        )
    finally:
        fix_reading_now(None)
    assert answered.json()["timeliness"] == "late" and answered.json()["timeliness_name"] == "逾期答复"


async def test_only_supervisors_of_the_units_region_supervise_it_and_bad_input_changes_nothing(system):
    await supervise(system, "准备", today() + timedelta(days=1))  # the registry has arrived
    neighbour = system.supervisor("440113")  # 番禺区
    body = {"unit_code": UNIT, "note": "越权督办", "due_on": str(today() + timedelta(days=2))}
    refused = await system.notifier.post("/v1/supervisions", json=body, headers=neighbour.headers)
    assert refused.status_code == 404 and "越权督办" not in refused.text
    clerk = await system.notifier.post("/v1/supervisions", json=body, headers=system.clerk(UNIT).headers)
    assert clerk.status_code == 403
    unknown = await system.notifier.post(
        "/v1/supervisions", json={**body, "unit_code": "440112.nothing"}, headers=system.supervisor("440112").headers
    )
    assert unknown.status_code == 404
    past = await system.notifier.post(
        "/v1/supervisions",
        json={**body, "due_on": str(today() - timedelta(days=1))},
        headers=system.supervisor("440112").headers,
    )
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "due_on"
    assert "今天" in past.json()["errors"][0]["message"]
    blank = await system.notifier.post(
        "/v1/supervisions", json={**body, "note": " "}, headers=system.supervisor("440112").headers
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "note"
    listed = await system.notifier.get("/v1/supervisions", headers=system.supervisor("440100").headers)
    assert "越权督办" not in listed.text
    theirs = await system.notifier.get("/v1/supervisions", headers=neighbour.headers)
    assert all(o["region_code"].startswith("440113") for o in theirs.json())

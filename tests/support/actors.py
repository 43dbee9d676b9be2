"""The people a test acts as, each calling the APIs with their own token: the enterprise (or its
liaison officer) submits and follows its requests, a unit's clerk works its queue, a supervisor
and an admin oversee a region."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.support.data import CERTIFICATE, PDF_BYTES, certificate_request
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from tests.support.system import System


class Person:
    role: str

    def __init__(self, system: System, **claims: Any) -> None:
        self.system, self.claims = system, claims

    @property
    def headers(self) -> dict[str, str]:
        return self.system.auth(self.role, **self.claims)


class Enterprise(Person):
    role = "enterprise"

    def __init__(self, system: System, uscc: str) -> None:
        super().__init__(system, usccs=[uscc], sub=f"enterprise-{uscc}")
        self.uscc = uscc

    async def submit(self, body: dict | None = None, **request_fields: Any) -> dict:
        """Submits ``body`` (or a certificate request made of ``request_fields``); 201 expected."""
        response = await self.post_request(body if body is not None else certificate_request(**request_fields))
        assert response.status_code == 201, response.text
        return response.json()

    async def upload(self, content: bytes = PDF_BYTES, name: str = "营业执照.pdf") -> dict:
        """An attachment for a request or a 补正 answer (``POST /v1/attachments``); 201 expected."""
        response = await self.system.intake.post(
            "/v1/attachments", files={"file": (name, content, "application/pdf")}, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def post_request(self, body: dict, **headers: str) -> httpx.Response:
        return await self.system.intake.post("/v1/requests", json=body, headers={**self.headers, **headers})

    async def request(self, request_id: str) -> dict:
        response = await self.system.intake.get(f"/v1/requests/{request_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_items(self, request_id: str, count: int, timeout: float = 15.0) -> list[dict]:
        """The request's work items as the enterprise sees them, once there are ``count``."""

        async def shown():
            items = (await self.request(request_id))["work_items"]
            return items if len(items) >= count else None

        return await eventually(shown, timeout=timeout)

    async def wait_for_item(
        self, request_id: str, item_id: str, status: str, unit_code: str | None = None, timeout: float = 15.0
    ) -> dict:
        """The whole request, once the enterprise sees ``item_id`` in ``status`` (at ``unit_code``)."""

        async def shown():
            seen = await self.request(request_id)
            item = next((i for i in seen["work_items"] if i["id"] == item_id), None)
            if item is None or item["status"] != status or (unit_code and item["unit_code"] != unit_code):
                return None
            return seen

        return await eventually(shown, timeout=timeout)


class Clerk(Person):
    """A clerk of a department unit (or of a coordinating office, ``<region>.coordinator``)."""

    role = "department"

    def __init__(self, system: System, unit: str) -> None:
        super().__init__(system, unit=unit, sub=f"clerk-{unit}")
        self.unit = unit

    async def act(self, item_id: str, action: str, **body: Any) -> httpx.Response:
        return await self.system.router.post(f"/v1/workitems/{item_id}/{action}", json=body, headers=self.headers)

    async def upload(self, item_id: str, content: bytes = CERTIFICATE, name: str = "守法证明.pdf") -> httpx.Response:
        """A file the unit issues or sends with its item (``POST /v1/workitems/{id}/files``)."""
        return await self.system.router.post(
            f"/v1/workitems/{item_id}/files", files={"file": (name, content, "application/pdf")}, headers=self.headers
        )

    async def item(self, item_id: str) -> httpx.Response:
        return await self.system.router.get(f"/v1/workitems/{item_id}", headers=self.headers)


class Supervisor(Person):
    role = "supervisor"

    def __init__(self, system: System, region: str) -> None:
        super().__init__(system, region=region, sub=f"supervisor-{region}")


class Admin(Person):
    role = "admin"

    def __init__(self, system: System, region: str | None) -> None:
        super().__init__(system, **({"region": region} if region else {}), sub=f"admin-{region or 'national'}")

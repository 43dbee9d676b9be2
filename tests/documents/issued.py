"""What the tests of issued documents share: a certificate item resolved with 出具证明 (the unit's
own PDF, or a certificate xiaoer writes), its registered documents read from the router, the
stored files read back, and a public client with an address of its own (the rate limit counts
per client, and the session's services are shared by every test)."""

from __future__ import annotations

import itertools
import json
import uuid

import httpx
from sqlalchemy import select

from services.router.document_models import IssuedDocumentRow
from services.router.models import ItemFile
from shared.validation import make_uscc
from tests.support import CERTIFICATE, certificate_request

# Whom the documents are issued to unless a test names another: an enterprise of these tests only,
# as the session's services are shared: 广州明珞's lists (requests 待评价 sort first) stay as the
# other tests expect them.
HOLDER = make_uscc("91440112MA5D8P3K4")
OTHER_HOLDER = make_uscc("91440112MA5D8P3K7")  # a second one, where a test needs two

_addresses = itertools.count(1)


def public_client(system) -> httpx.AsyncClient:
    """Someone without an account, at an address no other test uses."""
    n = next(_addresses)
    app = system.router._transport.app
    address = f"198.51.{100 + n // 250}.{n % 250 + 1}"
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://router")


def own_pdf() -> bytes:
    """A unit's own PDF, different every time (the store keeps files by content)."""
    return CERTIFICATE + f"% {uuid.uuid4()}\n".encode()


async def acknowledged(system, kind: str = "tax", enterprise=None) -> tuple[dict, str, str]:
    enterprise = enterprise or system.enterprise(HOLDER)
    created = await enterprise.submit(certificate_request(enterprise=enterprise.uscc, items=(kind,)))
    code = f"440112.{kind}"
    item = await system.routed_item(created["id"], code)
    assert (await system.clerk(code).act(item["id"], "acknowledge")).status_code == 200
    return created, item["id"], code


async def issue_with_own_pdf(system, kind: str = "tax", enterprise=None) -> tuple[IssuedDocumentRow, bytes]:
    """A unit resolves with its own PDF: (the registered document, the PDF)."""
    _, item_id, unit = await acknowledged(system, kind, enterprise)
    clerk = system.clerk(unit)
    pdf = own_pdf()
    uploaded = (await clerk.upload(item_id, pdf)).json()
    resolved = await clerk.act(
        item_id, "resolve", outcome="issued", document_no="穗埔税证〔2026〕7号", attachments=[uploaded["id"]]
    )
    assert resolved.status_code == 200, resolved.text
    [doc] = await documents_of(system, item_id)
    return doc, pdf


async def issue_written(system, kind: str = "tax", enterprise=None) -> IssuedDocumentRow:
    """A unit asks xiaoer to write and sign the certificate: the registered document."""
    _, item_id, unit = await acknowledged(system, kind, enterprise)
    resolved = await system.clerk(unit).act(
        item_id, "resolve", outcome="issued", document_no="穗埔税证〔2026〕8号", write_certificate=True
    )
    assert resolved.status_code == 200, resolved.text
    [doc] = await documents_of(system, item_id)
    return doc


async def documents_of(system, item_id: str) -> list[IssuedDocumentRow]:
    async with system.runtimes["router"].sessions() as session:
        return list(await session.scalars(select(IssuedDocumentRow).where(IssuedDocumentRow.item_id == item_id)))


async def slip_of(system, doc: IssuedDocumentRow) -> ItemFile:
    async with system.runtimes["router"].sessions() as session:
        return await session.get(ItemFile, doc.slip_file_id)


async def stored(system, sha256: str) -> bytes:
    """A file's bytes from the shared file store, as a download would give them."""
    store = system.router._transport.app.state.files
    return b"".join([chunk async for chunk in store.chunks(sha256)])


def body_without_ids(response: httpx.Response) -> str:
    """A problem's body without what differs per request (its request id and instance)."""
    body = response.json()
    for key in ("request_id", "instance", "trace_id"):
        body.pop(key, None)
    return json.dumps(body, sort_keys=True, ensure_ascii=False)

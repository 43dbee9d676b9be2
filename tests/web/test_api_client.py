"""The pages' API client against a server that drops a kept-alive connection as it is reused (an
API's idle timeout meeting the next request): a read is asked again on a fresh connection and the
page is served; a write is not repeated blindly, the page says the service is unavailable."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.web.apis import ApiError, ServiceClient


@pytest.fixture
async def dropping_server():
    """A real HTTP/1.1 server on 127.0.0.1 whose first connection is closed unanswered."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b" ", 1)[0].decode())
        if len(seen) > 1:
            body = b'{"ok": true}'
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
            writer.write(body)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    server.close()
    await server.wait_closed()


async def test_a_read_is_asked_again_and_a_write_is_not(dropping_server):
    url, seen = dropping_server
    async with httpx.AsyncClient() as http:
        client = ServiceClient(http, {"router": url}, token=None)
        assert await client.get("router", "/v1/workitems/counts") == {"ok": True}
        assert seen == ["GET", "GET"]
        seen.clear()
        with pytest.raises(ApiError) as refused:
            await client.post("router", "/v1/workitems/x/acknowledge", json={})
        assert refused.value.status == 503 and seen == ["POST"]

"""Outside services faked at the network edge by real local servers: WeChat, webhooks, SMTP."""

from __future__ import annotations

import json


class _FakeServer:
    """A real HTTP server on loopback, in a thread, answering with ``self.answer``."""

    def __init__(self) -> None:
        import http.server
        import threading

        outer = self
        self.calls: list[tuple[str, str, dict, dict, bytes]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self):
                from urllib.parse import parse_qs, urlparse

                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.calls.append((self.command, url.path, query, dict(self.headers), body))
                status, payload = outer.answer(self.command, url.path, query, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, method, path, query, body):
        raise NotImplementedError

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeWechat(_FakeServer):
    """WeChat's jscode2session (codes starting ``good-`` map to an openid), cgi-bin/token and
    subscribe-message send. ``expire_next_send`` makes the next send answer 42001 (token expired)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens_issued = 0
        self.expire_next_send = False
        self.sent: list[dict] = []

    def answer(self, method, path, query, body):
        if path == "/sns/jscode2session":
            if query.get("appid") != "wx-test-app":
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("js_code", "").startswith("good-"):
                return 200, {"openid": "openid-" + query["js_code"][5:], "session_key": "sk"}
            return 200, {"errcode": 40029, "errmsg": "invalid code"}
        if path == "/cgi-bin/token":
            self.tokens_issued += 1
            return 200, {"access_token": f"token-{self.tokens_issued}", "expires_in": 7200}
        if path == "/cgi-bin/message/subscribe/send":
            if query.get("access_token") != f"token-{self.tokens_issued}" or self.expire_next_send:
                self.expire_next_send = False
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            self.sent.append(json.loads(body))
            return 200, {"errcode": 0, "errmsg": "ok"}
        return 404, {"errcode": -1}


class FakeWebhook(_FakeServer):
    """A department system's webhook endpoint; ``failures`` answers 500 that many times first."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def answer(self, method, path, query, body):
        if self.failures > 0:
            self.failures -= 1
            return 500, {"error": "busy"}
        return 200, {"ok": True}


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                import email.policy

                sink.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        from cli.devstack import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

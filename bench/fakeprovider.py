"""A fake mail provider that answers like Mailgun's and Postmark's send APIs.

anymail's real backends talk to it when their API URL points here
(ANYMAIL_API_URL=http://127.0.0.1:<port>/v3 for Mailgun, http://127.0.0.1:<port>/
for Postmark). It keeps no message bodies: it counts requests, accepted
messages and recipients, and remembers one key per accepted recipient
(send id + address) to count duplicates.

Control API (JSON):
- GET  /_stats     counters, duplicates, first/last acceptance times
- GET  /_accepted  the accepted addresses (lower-cased), sorted
- POST /_reset     forget everything, back to answering 200
- POST /_mode      set a failure mode, e.g.
  {"status": 503, "requests": 5}            the next 5 send requests get 503
  {"status": 429, "seconds": 2.5}           every send request gets 429 for 2.5 s
  {"reject_address": "x@example.org"}       a 400 for any batch containing it (until reset)
  {"slow_seconds": 3, "requests": 1}        accept the next request, then answer after 3 s

Run on its own: ``python -m bench.fakeprovider --port 8025``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

MAILGUN_OK = "Queued. Thank you."
MAX_DUPLICATES_LISTED = 100


@dataclass
class Mode:
    """A failure the provider plays back; status 0 means none."""

    status: int = 0
    until: float = 0.0  # monotonic deadline, 0 = not time-bound
    requests_left: int = 0  # 0 = not count-bound
    reject_address: str = ""
    reject_message: str = "'to' parameter is not a valid address. please check documentation"
    slow_seconds: float = 0.0
    slow_left: int = 0

    def take_failure(self) -> int:
        """The status this request should fail with, consuming the mode; 0 if none."""
        if not self.status:
            return 0
        if self.until and time.monotonic() >= self.until:
            self.status = 0
            return 0
        if self.requests_left:
            self.requests_left -= 1
            if self.requests_left == 0 and not self.until:
                status, self.status = self.status, 0
                return status
        return self.status

    def take_slow(self) -> float:
        if self.slow_left > 0:
            self.slow_left -= 1
            return self.slow_seconds
        return 0.0


@dataclass
class Stats:
    requests: int = 0
    failed_requests: dict[int, int] = field(default_factory=dict)
    messages: int = 0
    recipients: int = 0
    duplicates: int = 0
    duplicate_addresses: list[str] = field(default_factory=list)
    first_accept_at: float | None = None
    last_accept_at: float | None = None
    last_request: dict[str, Any] = field(default_factory=dict)


class FakeProviderState:
    """Counters shared by the request threads, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.mode = Mode()
            self.stats = Stats()
            self.seen: dict[str, int] = {}  # send-id|address -> times accepted

    def set_mode(self, spec: dict[str, Any]) -> None:
        with self.lock:
            mode = Mode()
            if spec.get("status"):
                mode.status = int(spec["status"])
                if spec.get("seconds"):
                    mode.until = time.monotonic() + float(spec["seconds"])
                mode.requests_left = int(spec.get("requests", 0))
            if spec.get("reject_address"):
                mode.reject_address = str(spec["reject_address"]).lower()
                mode.reject_message = str(spec.get("message", mode.reject_message))
            if spec.get("slow_seconds"):
                mode.slow_seconds = float(spec["slow_seconds"])
                mode.slow_left = int(spec.get("requests", 1))
            self.mode = mode

    def decide(self, addresses: list[str]) -> tuple[int, str, float]:
        """(status, error message, delay) for a send request to these addresses."""
        with self.lock:
            self.stats.requests += 1
            status = self.mode.take_failure()
            if status:
                self.stats.failed_requests[status] = self.stats.failed_requests.get(status, 0) + 1
                return status, f"Fake provider: simulated {status}", 0.0
            if self.mode.reject_address and self.mode.reject_address in addresses:
                self.stats.failed_requests[400] = self.stats.failed_requests.get(400, 0) + 1
                return 400, self.mode.reject_message, 0.0
            return 200, "", self.mode.take_slow()

    def accept(self, keys: list[tuple[str, str]], summary: dict[str, Any]) -> int:
        """Record accepted (send id, address) pairs; returns a message number."""
        now = time.time()
        with self.lock:
            s = self.stats
            s.messages += 1
            s.recipients += len(keys)
            for send_id, address in keys:
                key = f"{send_id}|{address}"
                times = self.seen.get(key, 0)
                if times:
                    s.duplicates += 1
                    if len(s.duplicate_addresses) < MAX_DUPLICATES_LISTED:
                        s.duplicate_addresses.append(address)
                self.seen[key] = times + 1
            s.first_accept_at = s.first_accept_at or now
            s.last_accept_at = now
            s.last_request = summary
            return next(self.ids)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            s = self.stats
            return {
                "requests": s.requests,
                "failed_requests": {str(k): v for k, v in s.failed_requests.items()},
                "messages": s.messages,
                "recipients": s.recipients,
                "unique_recipients": len(self.seen),
                "duplicates": s.duplicates,
                "duplicate_addresses": list(s.duplicate_addresses),
                "first_accept_at": s.first_accept_at,
                "last_accept_at": s.last_accept_at,
                "last_request": s.last_request,
            }

    def accepted(self) -> list[str]:
        with self.lock:
            return sorted({key.split("|", 1)[1] for key in self.seen})


def _form_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Mailgun's request body: urlencoded (no attachments) or multipart/form-data."""
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None or not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            text = payload.decode("utf-8") if isinstance(payload, bytes) else str(payload)
            fields.setdefault(name, []).append(text)
        return fields
    return parse_qs(body.decode("utf-8"), keep_blank_values=True)


def _mailgun_keys(fields: dict[str, list[str]]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(send id, address) for every `to` of a Mailgun request, and a small summary."""
    to = [addr.lower() for _, addr in getaddresses(fields.get("to", []))]
    variables = json.loads(fields.get("recipient-variables", ["{}"])[0] or "{}")
    variables = {k.lower(): v for k, v in variables.items()}
    global_send_id = fields.get("v:send_id", [""])[0]
    keys = []
    for addr in to:
        send_id = str(variables.get(addr, {}).get("v:send_id", global_send_id))
        if send_id.startswith("%recipient"):
            send_id = ""
        keys.append((send_id, addr))
    first = variables.get(to[0], {}) if to else {}
    summary = {
        "api": "mailgun",
        "fields": sorted(fields),
        "to_count": len(to),
        "subject": fields.get("subject", [""])[0],
        "first_recipient": to[0] if to else "",
        "first_recipient_variables": first,
        "html_bytes": len(fields.get("html", [""])[0]),
        "text_bytes": len(fields.get("text", [""])[0]),
    }
    return keys, summary


def _postmark_messages(path: str, body: bytes) -> list[dict[str, Any]]:
    data = json.loads(body or b"{}")
    if path.endswith("/email/batchwithtemplates"):
        return list(data.get("Messages", []))
    if isinstance(data, list):
        return data
    return [data]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm and the
    # client's delayed ACK every answer would wait ~40 ms.
    disable_nagle_algorithm = True
    server: FakeProviderServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: a benchmark makes thousands of requests

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path == "/_stats":
            self._answer(200, state.snapshot())
        elif path == "/_accepted":
            self._answer(200, state.accepted())
        else:
            self._answer(200, {"message": "Mailgun Magnificent API"} if path.startswith("/v3") else {})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.lower()
        body = self._read_body()
        state = self.server.state
        if path == "/_reset":
            state.reset()
            self._answer(200, {"ok": True})
        elif path == "/_mode":
            state.set_mode(json.loads(body or b"{}"))
            self._answer(200, {"ok": True})
        elif path.startswith("/v3/") and path.endswith("/messages"):
            self._mailgun(body)
        elif path.endswith(("/email", "/email/batch", "/email/batchwithtemplates")):
            self._postmark(path, body)
        else:
            self._answer(404, {"message": f"Fake provider: no API at {self.path}"})

    def _mailgun(self, body: bytes) -> None:
        if not self.headers.get("Authorization", "").startswith("Basic "):
            self._answer(401, {"message": "Invalid private key"})
            return
        fields = _form_fields(self.headers.get("Content-Type", ""), body)
        keys, summary = _mailgun_keys(fields)
        if not keys:
            self._answer(400, {"message": "'to' parameter is missing"})
            return
        status, error, delay = self.server.state.decide([addr for _, addr in keys])
        if status != 200:
            self._answer(status, {"message": error})
            return
        number = self.server.state.accept(keys, summary)
        if delay:
            time.sleep(delay)
        self._answer(200, {"id": f"<{int(time.time())}.{number}@fake.mailgun.test>", "message": MAILGUN_OK})

    def _postmark(self, path: str, body: bytes) -> None:
        if not self.headers.get("X-Postmark-Server-Token"):
            self._answer(401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied."})
            return
        messages = _postmark_messages(path, body)
        keys: list[tuple[str, str]] = []
        for msg in messages:
            send_id = str((msg.get("Metadata") or {}).get("send_id", ""))
            keys.extend((send_id, addr.lower()) for _, addr in getaddresses([msg.get("To", "")]))
        status, error, delay = self.server.state.decide([addr for _, addr in keys])
        if status != 200:
            self._answer(status, {"ErrorCode": 300 if status == 400 else status, "Message": error})
            return
        summary = {"api": "postmark", "to_count": len(keys), "first_recipient": keys[0][1] if keys else ""}
        self.server.state.accept(keys, summary)
        if delay:
            time.sleep(delay)
        answers = [
            {
                "ErrorCode": 0,
                "Message": "OK",
                "MessageID": str(uuid.uuid4()),
                "To": msg.get("To", ""),
                "SubmittedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            for msg in messages
        ]
        self._answer(200, answers[0] if path.endswith("/email") else answers)


class FakeProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.state = FakeProviderState()


class FakeProvider:
    """The fake provider in a background thread of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = FakeProviderServer(host, port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-provider", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class FakeProviderClient:
    """Talks to the control API of a fake provider in any process."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    @property
    def mailgun_api_url(self) -> str:
        return f"{self.url}/v3"

    def stats(self) -> dict[str, Any]:
        return dict(self.session.get(f"{self.url}/_stats", timeout=10).json())

    def accepted(self) -> list[str]:
        return list(self.session.get(f"{self.url}/_accepted", timeout=30).json())

    def reset(self) -> None:
        self.session.post(f"{self.url}/_reset", timeout=10).raise_for_status()

    def set_mode(self, **spec: Any) -> None:
        self.session.post(f"{self.url}/_mode", json=spec, timeout=10).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    server = FakeProviderServer(args.host, args.port)
    print(f"fake provider on http://{args.host}:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()

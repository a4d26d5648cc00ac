"""A small SMTP server that accepts mail and counts connections, for tests of plain SMTP sending.

It speaks just enough of RFC 5321 for Django's SMTP backend (EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT), keeps each accepted message, and can refuse
chosen recipients with a 550 (``refuse``) or a 450 (``defer``), or answer the
MAIL after ``hang_up_after`` accepted messages with a 421 and close, once, or
drop the line without answering the body of the message after ``drop_after``
accepted ones (that message is kept: the client cannot know), once.

It lists PIPELINING (RFC 2920) in its EHLO answer unless ``pipelining`` is off,
and answers pipelined commands in order. It sends its answers only when it has
read every complete line the client sent so far, and counts each such turn in
``round_trips``: a client that waits for each answer makes one a command, one
that pipelines MAIL, RCPT and DATA makes two a message (the group, the body).
"""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from typing import Any


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class SMTPState:
    connections: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    hang_up_after: int | None = None
    drop_after: int | None = None
    pipelining: bool = True
    round_trips: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _address(argument: str) -> str:
    value = argument.split(":", 1)[1].strip()
    return value.split(">", 1)[0].lstrip("<").strip().lower()


class _Handler(socketserver.BaseRequestHandler):
    server: FakeSMTPServer

    def setup(self) -> None:
        self.pending: list[bytes] = []
        self.buffer = b""

    def reply(self, line: str) -> None:
        self.pending.append(line.encode() + b"\r\n")

    def flush(self) -> None:
        if self.pending:
            self.request.sendall(b"".join(self.pending))
            self.pending = []

    def readline(self) -> bytes:
        """The client's next line; the answers so far go out first if it sent no more yet."""
        while b"\n" not in self.buffer:
            if self.pending:
                with self.server.state.lock:
                    self.server.state.round_trips += 1
                self.flush()
            chunk = self.request.recv(65536)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def handle(self) -> None:
        state = self.server.state
        with state.lock:
            state.connections += 1
        self.reply("220 fake.smtp.test ESMTP")
        sender, in_mail = "", False
        recipients: list[str] = []
        while line := self.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    self.reply("250 fake.smtp.test")
                else:
                    self.reply("250-fake.smtp.test")
                    if state.pipelining:
                        self.reply("250-PIPELINING")
                    self.reply("250 8BITMIME")
            elif verb == "MAIL":
                with state.lock:
                    hang_up = state.hang_up_after is not None and len(state.messages) >= state.hang_up_after
                    if hang_up:
                        state.hang_up_after = None
                if hang_up:
                    self.reply("421 4.3.2 fake.smtp.test shutting down")
                    self.flush()
                    return
                sender, recipients, in_mail = _address(command), [], True
                self.reply("250 OK")
            elif verb == "RCPT":
                address = _address(command)
                if not in_mail:
                    self.reply("503 5.5.1 MAIL first")
                elif address in state.refuse:
                    self.reply(f"550 5.1.1 <{address}>: mailbox unavailable")
                elif address in state.defer:
                    self.reply(f"450 4.2.1 <{address}>: mailbox busy, try again later")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                if not recipients:
                    self.reply("554 5.5.1 No valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self._receive(sender, recipients)
                sender, recipients, in_mail = "", [], False
                with state.lock:
                    drop = state.drop_after is not None and len(state.messages) > state.drop_after
                    if drop:
                        state.drop_after = None
                if drop:
                    self.pending = []
                    return
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                if verb == "RSET":
                    sender, recipients, in_mail = "", [], False
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                self.flush()
                return
            else:
                self.reply("502 Command not implemented")
        self.flush()

    def finish(self) -> None:
        self.request.close()

    def _receive(self, sender: str, recipients: list[str]) -> None:
        lines = []
        while (line := self.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        with self.server.state.lock:
            self.server.state.messages.append(
                Received(sender, list(recipients), message_from_bytes(b"".join(lines), policy=policy.default))
            )


class FakeSMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.state = SMTPState()
        self.thread = threading.Thread(target=self.serve_forever, name="fake-smtp", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> FakeSMTPServer:
        self.thread.start()
        return self

    def stop(self, *args: Any) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)

"""A small SMTP server that accepts mail and counts connections, for tests of plain SMTP sending.

It speaks just enough of RFC 5321 for Django's SMTP backend (EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT), keeps each accepted message, and can refuse
chosen recipients with a 550.
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
    lock: threading.Lock = field(default_factory=threading.Lock)


def _address(argument: str) -> str:
    value = argument.split(":", 1)[1].strip()
    return value.split(">", 1)[0].lstrip("<").strip().lower()


class _Handler(socketserver.StreamRequestHandler):
    server: FakeSMTPServer

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        state = self.server.state
        with state.lock:
            state.connections += 1
        self.reply("220 fake.smtp.test ESMTP")
        sender = ""
        recipients: list[str] = []
        while line := self.rfile.readline():
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-fake.smtp.test" if verb == "EHLO" else "250 fake.smtp.test")
                if verb == "EHLO":
                    self.reply("250 8BITMIME")
            elif verb == "MAIL":
                sender, recipients = _address(command), []
                self.reply("250 OK")
            elif verb == "RCPT":
                address = _address(command)
                if address in state.refuse:
                    self.reply(f"550 5.1.1 <{address}>: mailbox unavailable")
                else:
                    recipients.append(address)
                    self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self._receive(sender, recipients)
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                sender, recipients = ("", []) if verb == "RSET" else (sender, recipients)
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def _receive(self, sender: str, recipients: list[str]) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
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

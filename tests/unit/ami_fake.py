"""A fake Asterisk at the wire: a loopback TCP server that speaks enough AMI.

It answers Login (accepting one secret), Ping, CoreShowChannels, QueueStatus, QueueAdd,
Command, Originate (async: ack, then an OriginateResponse) and errors for the rest;
actions named in `silent` are never answered. `push()` writes raw bytes to every client
(a recording, garbage), `drop()` aborts every connection (a crash).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from config.settings import AmiSettings

EOL = "\r\n"


def message(*pairs: tuple[str, str]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in pairs) + EOL + EOL).encode()


@dataclass
class FakeAmi:
    secret: str = "s3cret"
    channels: list[dict[str, str]] = field(default_factory=list)
    queue_members: list[dict[str, str]] = field(default_factory=list)
    silent: set[str] = field(default_factory=lambda: {"Slow"})
    answer_login: bool = True
    booted: bool = True  # send FullyBooted right after the login reply
    originate_ok: bool = True
    port: int = 0
    actions: list[dict[str, list[str]]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> FakeAmi:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        await asyncio.gather(*self.handlers, return_exceptions=True)
        self.handlers.clear()

    def settings(self, **overrides: object) -> AmiSettings:
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "username": "hotline",
            "secret": self.secret,
            "login_timeout": 2.0,
            "action_timeout": 1.0,
            "reconnect_min": 0.01,
            "reconnect_max": 0.05,
        }
        values.update(overrides)
        return AmiSettings.model_validate(values)

    def push(self, data: bytes) -> None:
        for w in self.writers:
            w.write(data)

    def drop(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    def named(self, name: str) -> list[dict[str, list[str]]]:
        return [a for a in self.actions if a["Action"] == [name]]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        self.handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        buf = b""
        try:
            while data := await reader.read(65536):
                buf += data
                while b"\r\n\r\n" in buf:
                    raw, buf = buf.split(b"\r\n\r\n", 1)
                    action: dict[str, list[str]] = {}
                    for line in raw.decode().split(EOL):
                        key, _, value = line.partition(": ")
                        action.setdefault(key, []).append(value)
                    self.actions.append(action)
                    self._answer(action, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, action: dict[str, list[str]], w: asyncio.StreamWriter) -> None:
        name = action["Action"][0]
        aid = ("ActionID", action["ActionID"][0])
        if name in self.silent or (name == "Login" and not self.answer_login):
            return
        if name == "Login":
            if action.get("Secret") == [self.secret]:
                w.write(message(("Response", "Success"), aid,
                                ("Message", "Authentication accepted")))  # fmt: skip
                if self.booted:
                    w.write(message(("Event", "FullyBooted"), ("Privilege", "system,all"),
                                    ("Uptime", "1"), ("LastReload", "1"),
                                    ("Status", "Fully Booted")))  # fmt: skip
            else:
                w.write(message(("Response", "Error"), aid, ("Message", "Authentication failed")))
                w.close()
        elif name == "Ping":
            w.write(message(("Response", "Success"), aid, ("Ping", "Pong")))
        elif name == "CoreShowChannels":
            self._list(w, aid, "CoreShowChannel", self.channels)
        elif name == "QueueStatus":
            self._list(w, aid, "QueueMember", self.queue_members)
        elif name == "QueueAdd":
            w.write(message(("Response", "Success"), aid, ("Message", "Added interface to queue")))
        elif name == "Command":
            lines = [("Output", f"line {n}") for n in range(int(action["Command"][0]))]
            w.write(message(("Response", "Success"), aid,
                            ("Message", "Command output follows"), *lines))  # fmt: skip
        elif name == "Originate":
            w.write(message(("Response", "Success"), aid,
                            ("Message", "Originate successfully queued")))  # fmt: skip
            ok = self.originate_ok
            w.write(message(
                ("Event", "OriginateResponse"), aid,
                ("Response", "Success" if ok else "Failure"),
                ("Channel", action["Channel"][0]), ("Context", action["Context"][0]),
                ("Exten", action["Exten"][0]), ("Reason", "4" if ok else "0"),
                ("Uniqueid", action.get("ChannelId", ["1.1"])[0] if ok else "<unknown>"),
                ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
            ))  # fmt: skip
        else:
            w.write(message(("Response", "Error"), aid, ("Message", "Invalid/unknown command")))

    def _list(
        self, w: asyncio.StreamWriter, aid: tuple[str, str], item: str, rows: list[dict[str, str]]
    ) -> None:
        w.write(message(("Response", "Success"), aid, ("EventList", "start"),
                        ("Message", "will follow")))  # fmt: skip
        for row in rows:
            w.write(message(("Event", item), aid, *row.items()))
        w.write(message(("Event", f"{item}sComplete"), aid, ("EventList", "Complete"),
                        ("ListItems", str(len(rows)))))  # fmt: skip

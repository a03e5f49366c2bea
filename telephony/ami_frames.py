"""AMI wire framing: bytes in, one header mapping per message out. Pure, no I/O.

Theory of operation
-------------------
An AMI message is a run of CRLF-terminated ``Key: value`` lines closed by an empty line;
the session starts with one banner line (``Asterisk Call Manager/9.0.0``). We cut the
byte stream at the blank line *before* decoding and decode each whole message on its
own. The separator is ASCII, so it never falls inside a multi-byte UTF-8 sequence: a
character split across two TCP reads is whole again by the time it is decoded. This is
the job a codecs incremental decoder would do (panoramisk decodes every read on its own
with errors ignored and so drops such characters); working on bytes also lets us cap the
size of one message cheaply and keeps one broken message from spoiling the next.

What is not AMI is reported as `MalformedAmiMessage` and skipped; the stream goes on:

- a message longer than `MAX_MESSAGE_BYTES` (e.g. a 1 MB header line) is discarded up
  to the next blank line, without ever being held in memory whole;
- a line without a colon, a key that is not a printable token, or a message with
  neither ``Event`` nor ``Response`` (binary garbage, a truncated message);
- bytes that are not UTF-8 are replaced by U+FFFD rather than dropped, so a damaged
  name stays visibly damaged instead of silently shorter.

A repeated key (``Output`` of a Command, ``ChanVariable``) keeps every value, joined with
a newline: values themselves never contain one.
"""

from __future__ import annotations

import re

MAX_MESSAGE_BYTES = 256 * 1024
BANNER_PREFIX = b"Asterisk Call Manager/"
_SEP = b"\r\n\r\n"
_KEY = re.compile(r"[!-9;-~]+\Z")  # printable ASCII without space or colon
_LINE = re.compile(r"^([!-9;-~]+): ?([^\r\n]*)\r?$", re.MULTILINE)
# Old-style Command replies carry a free-text body after this first line.
_FOLLOWS = "Response: Follows"

Headers = dict[str, str]


class MalformedAmiMessage(ValueError):
    """Bytes that are not a well-formed AMI message; they were skipped."""


class FrameSplitter:
    """Cut a byte stream into raw AMI messages, whatever the read sizes."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buf = bytearray()
        self._scan = 0  # where the next search for the separator starts
        self._max = max_bytes
        self._discarding = False
        self._banner_done = False
        self.version: str | None = None

    @property
    def pending_bytes(self) -> int:
        """Bytes of an unfinished message (lost if the connection ends now)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | MalformedAmiMessage]:
        """Add one read; return the complete messages (and errors) it finished, in order."""
        buf = self._buf
        buf += data
        out: list[bytes | MalformedAmiMessage] = []
        if not self._banner_done and not self._take_banner():
            return out
        start = 0
        while True:
            idx = buf.find(_SEP, max(start, self._scan))
            if idx < 0:
                break
            if self._discarding:
                self._discarding = False
            elif idx - start > self._max:
                out.append(_too_long(self._max, buf[start:]))
            elif idx > start:
                out.append(bytes(buf[start:idx]))
            start = idx + len(_SEP)
            self._scan = start
        if start:
            del buf[:start]
            self._scan = 0
        # Keep three bytes: the separator may be split across reads.
        self._scan = max(0, len(buf) - (len(_SEP) - 1))
        if len(buf) > self._max and not self._discarding:
            out.append(_too_long(self._max, buf))
            self._discarding = True
        if self._discarding and len(buf) >= len(_SEP):
            del buf[: len(buf) - (len(_SEP) - 1)]
            self._scan = 0
        return out

    def _take_banner(self) -> bool:
        """Strip the banner line if there is one; False while we cannot tell yet."""
        buf = self._buf
        n = min(len(buf), len(BANNER_PREFIX))
        if buf[:n] != BANNER_PREFIX[:n]:
            self._banner_done = True  # no banner (a recording, a test server)
            return True
        end = buf.find(b"\r\n")
        if n < len(BANNER_PREFIX) or end < 0:
            return False
        self.version = bytes(buf[len(BANNER_PREFIX) : end]).decode("ascii", "replace")
        del buf[: end + 2]
        self._banner_done = True
        return True


def _too_long(limit: int, buf: bytearray | bytes) -> MalformedAmiMessage:
    return MalformedAmiMessage(
        f"message longer than {limit} bytes: discarded up to the next blank line "
        f"(starts {bytes(buf[:60])!r})"
    )


def parse_frame(raw: bytes) -> Headers:
    """One raw message (without its blank line) -> its headers; raise if not AMI."""
    text = raw.decode("utf-8", "replace")
    # Fast path, one regex call: every line a header, no key repeated.
    pairs = _LINE.findall(text)
    if len(pairs) == text.count("\n") + 1:
        headers = dict(pairs)
        if len(headers) == len(pairs) and ("Event" in headers or "Response" in headers):
            return headers
    return _parse_lines(text)


def _parse_lines(text: str) -> Headers:
    lines = text.split("\r\n")
    headers: Headers = {}
    body: list[str] = []
    follows = lines[0] == _FOLLOWS
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep or not _KEY.match(key):
            if not line.strip():
                continue
            if follows:
                body.append(line)
                continue
            raise MalformedAmiMessage(f"line without a 'Key: value' header: {line[:80]!r}")
        if value.startswith(" "):
            value = value[1:]
        if key in headers:
            headers[key] = f"{headers[key]}\n{value}"
        else:
            headers[key] = value
    if "Event" not in headers and "Response" not in headers:
        raise MalformedAmiMessage(f"neither Event nor Response in message: {text[:80]!r}")
    if body:
        headers["Output"] = "\n".join(line for line in body if line != "--END COMMAND--")
    return headers

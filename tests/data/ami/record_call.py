"""Record the raw AMI bytes of one queued citizen call (how citizen_call.ami was made).

A lab Asterisk (lab/pbx.py), operator 1001 on baresip (auto-answer), a sipp citizen
"张伟" <13800138000> calling 12345, pressing 1 and 2 while queued and hanging up after
a few seconds of talk. A plain socket logs in and keeps every byte after the login
reply until both channels are gone: exactly what Asterisk wrote, minus banner and login.

    .venv/bin/python tests/data/ami/record_call.py [OUT]
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from pathlib import Path

from lab.baresip import Softphone
from lab.pbx import Pbx, PbxConfig
from lab.sipp import Citizen

OUT = Path(__file__).resolve().parent / "citizen_call.ami"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pbx = Pbx(PbxConfig.allocate(f"rec{int(time.time())}", operators=1))
        pbx.start()
        phone = None
        try:
            ep = pbx.endpoints
            phone = Softphone(ep, ep.operators[0], work_dir=Path(tmp) / "op")
            phone.start()
            phone.wait_registered(pbx)
            sock = socket.create_connection((ep.ami_host, ep.ami_port), timeout=5)
            sock.sendall(
                f"Action: Login\r\nActionID: rec\r\nUsername: {ep.ami_username}\r\n"
                f"Secret: {ep.ami_secret}\r\nEvents: on\r\n\r\n".encode()
            )
            buf = b""
            while b"Message: Authentication accepted\r\n\r\n" not in buf:
                buf += sock.recv(4096)
            data = bytearray(buf.split(b"Message: Authentication accepted\r\n\r\n", 1)[1])
            citizen = Citizen(
                ep, display_name="张伟", dtmf="12", hangup_after=3, work_dir=Path(tmp) / "c"
            )
            citizen.start()
            sock.settimeout(0.5)
            deadline = time.monotonic() + 30
            hangups = 0
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if hangups >= 2 and not citizen.running:
                        break
                    continue
                if not chunk:
                    break
                data += chunk
                hangups = data.count(b"Event: Hangup\r\n")
            citizen.wait(10)
            sock.close()
        finally:
            if phone is not None:
                phone.stop()
            pbx.cleanup()
    # Keep whole messages only.
    end = data.rfind(b"\r\n\r\n")
    out.write_bytes(bytes(data[: end + 4]))
    print(f"{out}: {len(data)} bytes, {data.count(b'Event: ')} events")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)

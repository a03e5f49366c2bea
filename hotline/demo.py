"""`hotline demo-call`: a citizen (张伟, 13800138000) calls the hotline started by `hotline up`.

It reads STATE_DIR/endpoints.json, so it works whatever ports `hotline up` chose, and
plays a real Mandarin clip from ../shared/audio/zh when it is there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lab.pbx import Operator, PbxEndpoints
from lab.sipp import Citizen


def main(state_dir: Path, *, number: str, caller: str, seconds: float) -> int:
    path = state_dir / "endpoints.json"
    try:
        e = json.loads(path.read_text())
    except FileNotFoundError:
        print(f"hotline: {path} not found: is `hotline up --state-dir {state_dir}` running?",
              file=sys.stderr)
        return 2
    pbx = PbxEndpoints(
        ami_host=e["ami"]["host"],
        ami_port=e["ami"]["port"],
        ami_username=e["ami"]["username"],
        ami_secret=e["ami"]["secret"],
        sip_host=e["sip"]["host"],
        sip_port=e["sip"]["port"],
        operators=tuple(Operator(a["extension"], a["password"]) for a in e["sip"]["accounts"]),
        default_queue="hotline-default",
    )
    here = Path(__file__).resolve().parent.parent
    clips = sorted((here.parent / "shared" / "audio" / "zh").glob("*.wav"))
    citizen = Citizen(
        pbx,
        number=number,
        caller=caller,
        display_name="张伟",
        wav=clips[0] if clips else None,
        hangup_after=seconds,
        work_dir=state_dir / "demo-call",
    )
    print(f"calling {number} as 张伟 <{caller}> for {seconds:.0f} s ...", flush=True)
    citizen.start()
    result = citizen.wait(timeout=seconds + 60)
    print("call ended" + ("" if result.successful else f" with a problem:\n{result.log_tail}"))
    return 0 if result.successful else 1

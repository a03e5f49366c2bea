"""The features the server runs, in start order. Each line is one package's `build`.

Add your feature's builder here (one line); see `hotline.feature` for the contract.
"""

from __future__ import annotations

from hotline.feature import FeatureBuilder
from hotline.pbx_watch import build as pbx_connection
from telephony.operator_service import build as operators
from workorders.feature import build as workorders

BUILDERS: tuple[FeatureBuilder, ...] = (
    pbx_connection,  # the PBX connection state on the bus
    # calls and routing (issue 3): telephony
    operators,  # operators, screen pop, WebSocket hub (issue 3): telephony / agent_desktop
    # live transcription (issue 4): asr
    workorders,  # work orders, SLA clock (issue 5): workorders
)

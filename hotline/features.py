"""The features the server runs, in start order. Each line is one package's `build`.

Add your feature's builder here (one line); see `hotline.feature` for the contract.
"""

from __future__ import annotations

from agent_desktop.wallboard import build as wallboard
from asr.service import build as transcription
from hotline.feature import FeatureBuilder
from hotline.pbx_watch import build as pbx_connection
from knowledge.feature import build as knowledge
from reports.feature import build as reports
from telephony.call_service import build as calls
from telephony.callback_dialer import build as callback_dialer
from telephony.operator_service import build as operators
from workorders.draft import build as order_drafts
from workorders.feature import build as workorders
from workorders.portal import build as unit_portal
from workorders.survey_sink import survey_callbacks as callbacks

BUILDERS: tuple[FeatureBuilder, ...] = (
    pbx_connection,  # the PBX connection state on the bus
    calls,  # calls, routing, call records, callback tasks (issue 3): telephony
    operators,  # operators, screen pop, WebSocket hub (issue 3): telephony / agent_desktop
    transcription,  # live transcription (issue 4): asr
    workorders,  # work orders, SLA clock (issue 5): workorders
    order_drafts,  # the draft order for a call, with suggestions (issue 5): workorders
    unit_portal,  # the handling units' portal (issue 5): workorders
    knowledge,  # knowledge base 知识库 (issue 5): knowledge
    callbacks,  # survey and supervision callbacks (issue 6): ivr_flows, results to workorders
    reports,  # 日报、周分析、月通报: page, print, CSV, JSON (issue 7): reports
    wallboard,  # supervisor wallboard 班长监控, pushed over /ws (issue 7): agent_desktop
    callback_dialer,  # missed-call callbacks dialled when calls.callback_mode = auto (issue 6)
)

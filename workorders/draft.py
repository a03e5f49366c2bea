"""The draft order for a call: prefilled from the call, its transcript and the suggestions.

Theory of operation
-------------------
While a call is on (and after it ends) the operator's desktop asks
`GET /api/calls/{linkedid}/draft` and gets a `Draft`: a `WorkOrderCreate` already filled
with the caller's number and name, the line dialled, the call id, the transcript as the
order's content, and the suggested kind, category, time-limit class and address; next
to it, the suggestions themselves with their reasons (the operator corrects what is
wrong, then takes the order in one action: `workorders.service.OrderService.take`), the
suggested unit(s) and dispatch mode, and the knowledge articles that may answer the
call on the spot (即办).

Suggestions are read from what the *caller* said: the operator's own words (您好，请问
有什么可以帮您) would make every call look like an inquiry. The desk asks again as the
transcript grows; each request reads the store afresh, so nothing here keeps state.

`POST /api/drafts/suggest` does the same for text the desk sends (a typed note, or a
channel without a call). `build_draft` is pure; `DraftSource` does the reading.

Exceptions: `CallNotFound` (no call and no transcript under that id → 404).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accounts.roles import Role
from agent_desktop.errors import NotFound, read_json
from agent_desktop.keys import SESSIONMAKER
from agent_desktop.routes import Route, RouteTable, only
from asr import repo as transcripts
from hotline.feature import Core, Feature
from knowledge import repo as knowledge
from knowledge.models import ArticleHit
from telephony.call_models import CallRecord
from workorders import repo
from workorders.feature import city_policy
from workorders.models import Channel, OrderKind, WorkOrderCreate
from workorders.sla import SlaPolicy
from workorders.suggest import Suggested, Suggestion, suggest

TITLE_CHARS = 40
ARTICLES = 3
# An article must share this many terms with the call to be offered (one bigram is noise).
ARTICLE_MIN_TERMS = 2


class CallNotFound(LookupError):
    pass


# ------------------------------------------------------------------------ API shapes
class SuggestedValue(BaseModel):
    value: str
    label: str
    reason: str


class UnitRef(BaseModel):
    id: str
    name: str


class SuggestedUnits(BaseModel):
    units: list[UnitRef]
    reason: str


class Alternative(BaseModel):
    category: str
    unit: UnitRef
    keywords: list[str]


class DraftSuggestions(BaseModel):
    kind: SuggestedValue
    category: SuggestedValue | None
    units: SuggestedUnits | None = Field(description="lead unit first")
    assisting: SuggestedUnits | None = Field(description="属地 units for a joint dispatch")
    mode: SuggestedValue = Field(description="direct / joint / on_call (即办)")
    time_limit: SuggestedValue | None
    address: SuggestedValue | None
    urgent: bool
    alternatives: list[Alternative]


class TranscriptLine(BaseModel):
    speaker: Literal["caller", "operator"]
    text: str
    start_seconds: float | None = None


class Draft(BaseModel):
    linkedid: str | None
    order: WorkOrderCreate = Field(description="the order as prefilled; correct and take it")
    suggestions: DraftSuggestions
    articles: list[ArticleHit] = Field(description="knowledge that may answer the call (即办)")
    transcript: list[TranscriptLine]


class SuggestRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="what the citizen said")
    caller_number: str = Field(default="", max_length=64)
    caller_name: str = Field(default="", max_length=128)
    line: str = Field(default="", max_length=64)
    channel: Channel = Channel.phone


# ------------------------------------------------------------------------------ pure
@dataclass(frozen=True, slots=True)
class CallFacts:
    linkedid: str | None
    caller_number: str = ""
    caller_name: str = ""
    line: str = ""
    ended_at: datetime | None = None
    channel: Channel = Channel.phone


def caller_text(lines: Sequence[TranscriptLine]) -> str:
    """What the caller said; everything said when only the operator's side was heard
    (e.g. the caller's tap failed: the operator usually repeats the request)."""
    said = [line.text for line in lines if line.speaker == "caller" and line.text]
    return "，".join(said or [line.text for line in lines if line.text])


def transcript_text(lines: Sequence[TranscriptLine]) -> str:
    who = {"caller": "市民", "operator": "话务员"}
    return "\n".join(f"{who[line.speaker]}：{line.text}" for line in lines if line.text)


def _title(kind: OrderKind, category: str | None, said: str) -> str:
    first = re.split(r"[，。,.!?！？]", said, maxsplit=1)[0].strip()
    head = category.split("/")[-1] if category else kind.label
    text = f"{head}：{first}" if first else head
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def _units(s: Suggested[tuple[str, ...]] | None, names: Mapping[str, str]) -> SuggestedUnits | None:
    if s is None:
        return None
    return SuggestedUnits(
        units=[UnitRef(id=u, name=names.get(u, u)) for u in s.value], reason=s.reason
    )


def _mode(s: Suggestion, articles: Sequence[ArticleHit]) -> SuggestedValue:
    if s.kind.value is OrderKind.inquiry and articles:
        return SuggestedValue(
            value="on_call", label="即办", reason=f"咨询类，知识库“{articles[0].title}”可当场答复"
        )
    if s.units is not None and s.assisting is not None:
        return SuggestedValue(value="joint", label="双派", reason=s.assisting.reason)
    if s.units is not None:
        return SuggestedValue(value="direct", label="直派", reason=s.units.reason)
    return SuggestedValue(
        value="direct", label="直派", reason="职责清单中没有对应的单位，请选择承办单位或即办"
    )


def build_draft(
    facts: CallFacts,
    lines: Sequence[TranscriptLine],
    s: Suggestion,
    *,
    articles: Sequence[ArticleHit] = (),
    unit_names: Mapping[str, str] | None = None,
    policy: SlaPolicy | None = None,
    said: str | None = None,
) -> Draft:
    """The draft for one call (pure): the order prefilled, the suggestions beside it."""
    names = unit_names or {}
    said = caller_text(lines) if said is None else said
    kind = s.kind.value
    category = s.category.value if s.category else None
    limit = None
    if s.time_limit is not None:
        label = policy.limit(s.time_limit.value).label if policy else s.time_limit.value
        limit = SuggestedValue(value=s.time_limit.value, label=label, reason=s.time_limit.reason)
    order = WorkOrderCreate(
        kind=kind,
        category=category or "",
        title=_title(kind, category, said),
        content=transcript_text(lines) or said,
        address=s.address.value if s.address else "",
        caller_number=facts.caller_number,
        caller_name=facts.caller_name,
        channel=facts.channel,
        call_linkedid=facts.linkedid,
        line=facts.line,
        time_limit_class=s.time_limit.value if s.time_limit else "",
        call_ended_at=facts.ended_at,
    )
    suggestions = DraftSuggestions(
        kind=SuggestedValue(value=kind.value, label=kind.label, reason=s.kind.reason),
        category=(
            SuggestedValue(value=s.category.value, label=s.category.value, reason=s.category.reason)
            if s.category
            else None
        ),
        units=_units(s.units, names),
        assisting=_units(s.assisting, names),
        mode=_mode(s, articles),
        time_limit=limit,
        address=(
            SuggestedValue(value=s.address.value, label=s.address.value, reason=s.address.reason)
            if s.address
            else None
        ),
        urgent=s.urgent,
        alternatives=[
            Alternative(
                category=m.category,
                unit=UnitRef(id=m.unit_id, name=names.get(m.unit_id, m.unit_id)),
                keywords=list(m.keywords),
            )
            for m in s.alternatives
        ],
    )
    return Draft(
        linkedid=facts.linkedid,
        order=order,
        suggestions=suggestions,
        articles=list(articles),
        transcript=list(lines),
    )


# -------------------------------------------------------------------------- I/O shell
@dataclass(frozen=True, slots=True)
class DraftSource:
    """Reads what a draft is made of: the call, its transcript, the catalogue, knowledge."""

    policy: SlaPolicy | None = None

    async def call_facts(self, session: AsyncSession, linkedid: str) -> CallFacts | None:
        # The citizen's leg entered first; later legs (transfers) share its linkedid.
        rows = await session.execute(
            select(CallRecord)
            .where(col(CallRecord.linkedid) == linkedid)
            .order_by(col(CallRecord.entered_at))
            .limit(1)
        )
        record = rows.scalars().first()
        if record is None:
            return None
        return CallFacts(
            linkedid=linkedid,
            caller_number=record.caller_number or "",
            caller_name=record.caller_name or "",
            line=record.line or record.dnis or "",
            ended_at=record.ended_at,
        )

    async def transcript(self, session: AsyncSession, linkedid: str) -> list[TranscriptLine]:
        segments = await transcripts.segments_for_call(linkedid, session=session)
        return [
            TranscriptLine(
                speaker="caller" if seg.channel == "caller" else "operator",
                text=seg.text,
                start_seconds=seg.start_seconds,
            )
            for seg in segments
        ]

    async def draft_for(
        self, session: AsyncSession, facts: CallFacts, lines: Sequence[TranscriptLine], said: str
    ) -> Draft:
        entries = await repo.list_responsibilities(session=session)
        units = await repo.list_units(session=session, active_only=True)
        names = {u.id: u.name for u in units}
        territorial = frozenset(u.id for u in units if u.kind == "district")
        active = [e for e in entries if e.unit_id in names]
        s = suggest(
            said, active, policy=self.policy, territorial_units=territorial, unit_names=names
        )
        articles = (
            await knowledge.search(
                session=session, query=said, limit=ARTICLES, min_terms=ARTICLE_MIN_TERMS
            )
            if said
            else []
        )
        return build_draft(
            facts, lines, s, articles=articles, unit_names=names, policy=self.policy, said=said
        )

    async def for_call(self, session: AsyncSession, linkedid: str) -> Draft:
        facts = await self.call_facts(session, linkedid)
        lines = await self.transcript(session, linkedid)
        if facts is None and not lines:
            raise CallNotFound(f"no call and no transcript with id {linkedid!r}")
        facts = facts or CallFacts(linkedid=linkedid)
        return await self.draft_for(session, facts, lines, caller_text(lines))


# ------------------------------------------------------------------------------ views
_SOURCE: web.AppKey[DraftSource] = web.AppKey("draft_source", DraftSource)


async def call_draft(request: web.Request) -> web.StreamResponse:
    linkedid = request.match_info["linkedid"]
    async with request.app[SESSIONMAKER]() as session:
        try:
            draft = await request.app[_SOURCE].for_call(session, linkedid)
        except CallNotFound as err:
            raise NotFound(str(err)) from err
    return web.json_response(text=draft.model_dump_json())


async def suggest_draft(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, SuggestRequest)
    facts = CallFacts(
        linkedid=None,
        caller_number=body.caller_number,
        caller_name=body.caller_name,
        line=body.line,
        channel=body.channel,
    )
    async with request.app[SESSIONMAKER]() as session:
        draft = await request.app[_SOURCE].draft_for(session, facts, [], body.text)
    return web.json_response(text=draft.model_dump_json())


def routes(policy: SlaPolicy | None = None) -> RouteTable:
    """The draft endpoints; `policy` is the city's SLA preset (for time-limit classes)."""
    source = DraftSource(policy=policy)

    async def provide(app: web.Application) -> AsyncIterator[None]:
        app[_SOURCE] = source
        yield

    desk = only(Role.operator, Role.supervisor)
    return RouteTable(
        (
            Route(
                method="GET",
                path="/api/calls/{linkedid}/draft",
                handler=call_draft,
                roles=desk,
                summary="The draft order for a call, prefilled and suggested",
                name="call_draft",
                tags=("orders",),
                response=Draft,
            ),
            Route(
                method="POST",
                path="/api/drafts/suggest",
                handler=suggest_draft,
                roles=desk,
                summary="A draft order suggested from text the desk sends",
                name="draft_suggest",
                tags=("orders",),
                body=SuggestRequest,
                response=Draft,
            ),
        ),
        cleanup_ctx=(provide,),
    )


def build(core: Core) -> Feature:
    """The draft endpoints as a server feature, with the city's time-limit classes."""
    return Feature(name="order-drafts", routes=routes(city_policy(core)))

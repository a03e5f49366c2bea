"""Report routes: the page, the printable page, CSV and JSON (supervisors and admins).

    GET /reports          日报/周分析/月通报 with the period picker and charts
    GET /reports/print    the same report laid out for A4 paper (print CSS)
    GET /reports.csv      the same values as CSV (UTF-8 with BOM, for Excel)
    GET /api/reports      the same values as JSON

Every route takes the period the same way: `from` and `to` (YYYY-MM-DD, both days
included, Asia/Shanghai), or `preset` (today, yesterday, this_week, last_week,
this_month, last_month); nothing means this week. A bad period is a 400 with the reason
(JSON on the API, a page elsewhere).

`ReportService.report(period)` reads the store (`reports.repo`) and builds the report
(`reports.build`, pure) in a worker thread: a month of a big city is tens of thousands
of rows, and the event loop also carries calls and screen pops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from accounts.roles import Role
from agent_desktop.errors import BadRequest
from agent_desktop.render import Markup, page
from agent_desktop.routes import Route, RouteTable, only
from hotline.feature import Clock, utc_now
from reports import export, html
from reports.build import build_report
from reports.model import MonthInputs, Report
from reports.periods import PRESETS, Period, PeriodError, local_day, parse_period, preset
from reports.repo import load_inputs

log = structlog.get_logger(__name__)
DEFAULT_PRESET = "this_week"


@dataclass(frozen=True)
class ReportService:
    """Reads and builds reports, one at a time, keeping each for `cache_seconds`.

    Reading a page, then its CSV, then its print version asks for the same report
    three times within a minute; a month of a big city takes seconds to read and build
    (bench/reports.py), so the report is kept (per period, `cache_seconds`, the last
    `cache_size` periods) and builds are serialised (a second request for the same
    period waits for the first and takes its result; the two cores also carry calls).
    The red-zone months' figures (three past months, read for every report) are kept
    `month_seconds`: a monthly judgement, late replies may take minutes to show in it.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock = utc_now
    line_names: Mapping[str, str] = field(default_factory=dict)
    answered_within_seconds: int = 15
    key_caller_threshold: int = 5
    cache_seconds: float = 60.0
    cache_size: int = 8
    month_seconds: float = 600.0
    _cache: dict[Period, tuple[float, Report]] = field(default_factory=dict, repr=False)
    _months: dict[Period, tuple[float, MonthInputs]] = field(default_factory=dict, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def today(self) -> date:
        return local_day(self.clock())

    def period(self, query: Mapping[str, str]) -> Period:
        """The period a request asks for (raises PeriodError)."""
        first, last = query.get("from", ""), query.get("to", "")
        if first or last:
            if not (first and last):
                raise PeriodError("请同时填写开始和结束日期")
            return parse_period(first, last)
        return preset(query.get("preset") or DEFAULT_PRESET, self.today())

    async def report(self, period: Period) -> Report:
        async with self._lock:
            kept = self._cache.get(period)
            if kept is not None and time.monotonic() - kept[0] < self.cache_seconds:
                return kept[1]
            report = await self._build(period)
            self._cache.pop(period, None)
            self._cache[period] = (time.monotonic(), report)
            while len(self._cache) > self.cache_size:
                self._cache.pop(next(iter(self._cache)))
            return report

    async def _build(self, period: Period) -> Report:
        started = time.perf_counter()
        now = time.monotonic()
        kept = {m: e for m, e in self._months.items() if now - e[0] < self.month_seconds}
        known = {m: month for m, (_, month) in kept.items()}
        inputs = await load_inputs(
            self.sessionmaker,
            period,
            now=self.clock(),
            line_names=self.line_names,
            answered_within_seconds=self.answered_within_seconds,
            key_caller_threshold=self.key_caller_threshold,
            known_months=known,
        )
        loaded = time.perf_counter()
        for month in inputs.months:  # the red-zone months: kept longer than reports
            kept.setdefault(month.period, (now, month))
        self._months.clear()
        self._months.update(kept)
        report = await asyncio.to_thread(build_report, inputs)
        log.info(
            "reports.built", first=str(period.first), last=str(period.last),
            orders=len(inputs.orders), calls=len(inputs.calls),
            load_ms=round((loaded - started) * 1000), build_ms=round(
                (time.perf_counter() - loaded) * 1000),
        )  # fmt: skip
        return report


_SERVICE: web.AppKey[ReportService] = web.AppKey("reports_service", ReportService)


def _service(request: web.Request) -> ReportService:
    return request.app[_SERVICE]


async def _report(
    request: web.Request, *, api: bool = False
) -> tuple[ReportService, Period, Report]:
    """The period the query asks for and its report; a bad period is a 400 (an error page
    in Chinese on the pages, the JSON error envelope on the API)."""
    service = _service(request)
    try:
        period = service.period(request.query)
    except PeriodError as err:
        message = str(err) if api else f"报表时段有误：{err}"
        raise BadRequest(message, code="bad_period") from err
    return service, period, await service.report(period)


def _preset_links(service: ReportService, period: Period) -> Markup:
    today = service.today()
    return html.preset_links(period, {key: preset(key, today) for key in PRESETS})


async def reports_page(request: web.Request) -> web.StreamResponse:
    service, period, report = await _report(request)
    return page(
        request,
        "reports.html",
        title=period.title,
        heading=period.title,
        kind=period.kind.value,
        query=period.query(),
        body=html.report_body(report),
        presets=_preset_links(service, period),
        from_value=period.first.isoformat(),
        to_value=period.last.isoformat(),
    )


async def print_page(request: web.Request) -> web.StreamResponse:
    _, period, report = await _report(request)
    return page(
        request,
        "reports_print.html",
        title=f"{period.title}（打印版）",
        heading=period.title,
        query=period.query(),
        body=html.report_body(report),
    )


async def reports_csv(request: web.Request) -> web.StreamResponse:
    _, _, report = await _report(request)
    name = export.filename(report, "csv")
    return web.Response(
        body=export.to_csv(report).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def reports_json(request: web.Request) -> web.StreamResponse:
    _, _, report = await _report(request, api=True)
    return web.json_response(export.to_json(report), headers={"Cache-Control": "no-store"})


def routes(service: ReportService) -> RouteTable:
    async def provide(app: web.Application) -> AsyncIterator[None]:
        app[_SERVICE] = service
        yield

    readers = only(Role.supervisor, Role.admin)
    return RouteTable(
        (
            Route(method="GET", path="/reports", handler=reports_page, roles=readers,
                  summary="Reports (日报、周分析、月通报) for a period, with charts",
                  name="reports", tags=("reports",)),
            Route(method="GET", path="/reports/print", handler=print_page, roles=readers,
                  summary="The report laid out for printing on A4", name="reports_print",
                  tags=("reports",)),
            Route(method="GET", path="/reports.csv", handler=reports_csv, roles=readers,
                  summary="The report as CSV (UTF-8 with BOM)", name="reports_csv",
                  tags=("reports",)),
            Route(method="GET", path="/api/reports", handler=reports_json, roles=readers,
                  summary="The report's values as JSON (?from=&to= or ?preset=)",
                  name="reports_api", tags=("reports",)),
        ),
        cleanup_ctx=(provide,),
    )  # fmt: skip

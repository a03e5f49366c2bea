"""Unit ranking (单位排名), 红黑榜 and the red-zone rule (红区). Pure.

Theory of operation
-------------------
Each unit that had orders dispatched to it in the period gets a score out of 100, a
weighted mean of the rates a city judges it by, minus points for returns:

    score = 100 × Σ wᵢ·rateᵢ / Σ wᵢ  −  RETURN_PENALTY × returns        (never below 0)

with weights 签收率 0.2, 按期办结率 0.3, 满意率 0.3, 解决率 0.2. A rate with nothing to
count (no surveys for the unit this month) is left out of both sums rather than counted
as 0, so a unit is judged on what happened. Returns (退单) cost points directly: the
seeds' cities list a unit that returns orders without reason among the worst. The
per-unit rates come from `workorders.rates` (签收率, returns) and its survey part
(满意率, 解决率); only the per-unit on-time rate (按期办结率 of the orders the unit led) is
counted here, with the same definition `workorders.rates` uses for the whole centre.

Ranks: higher score first; ties by fewer returns, then more orders, then unit id. 红榜
is the top three, 黑榜 the bottom three (never overlapping: with fewer than six ranked
units each board takes at most half).

The red zone (红区, the Xining rule in the seeds): a unit in the bottom three of the
monthly ranking in each of the last three months. "Bottom three" is never more than
half of the units ranked that month, so a small city does not put most of its units in
the red zone; a unit not ranked in one of the months is not in the red zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from reports.model import ExtensionRow, OrderRow, RedZoneUnit, UnitFigures
from workorders.rates import Rates, ratio

WEIGHTS = {"acknowledgement": 0.2, "on_time": 0.3, "satisfaction": 0.3, "resolution": 0.2}
RETURN_PENALTY = 2.0
BOARD_SIZE = 3
RED_ZONE_SIZE = 3
RED_ZONE_MONTHS = 3


def unit_on_time(orders: Sequence[OrderRow]) -> dict[str, float | None]:
    """按期办结率 per lead unit: replied orders whose reply came by their deadline."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for o in orders:
        if o.lead_unit_id and o.replied_at is not None and o.deadline is not None:
            c = counts[o.lead_unit_id]
            c[0] += o.replied_at <= o.deadline
            c[1] += 1
    return {unit: ratio(on, total) for unit, (on, total) in counts.items()}


def score(
    *,
    acknowledgement: float | None,
    on_time: float | None,
    satisfaction: float | None,
    resolution: float | None,
    returns: int,
) -> float | None:
    rates = {
        "acknowledgement": acknowledgement,
        "on_time": on_time,
        "satisfaction": satisfaction,
        "resolution": resolution,
    }
    known = {k: v for k, v in rates.items() if v is not None}
    if not known:
        return None
    weight = sum(WEIGHTS[k] for k in known)
    mean = sum(WEIGHTS[k] * v for k, v in known.items()) / weight
    return round(max(0.0, 100 * mean - RETURN_PENALTY * returns), 2)


@dataclass(frozen=True, slots=True)
class _Draft:
    figures: UnitFigures

    def key(self) -> tuple[float, int, int, str]:
        f = self.figures
        return (-(f.score or 0.0), f.returns, -f.dispatched, f.unit_id)


def unit_figures(
    rates: Rates,
    orders: Sequence[OrderRow],
    extensions: Sequence[ExtensionRow] = (),
    names: Mapping[str, str] | None = None,
) -> list[UnitFigures]:
    """Every unit seen in the period, ranked ones first (best first), then the rest."""
    names = names or {}
    on_time = unit_on_time(orders)
    surveys = {u.unit_id: u for u in rates.survey.units if u.unit_id}
    asked: dict[str, int] = defaultdict(int)
    granted: dict[str, int] = defaultdict(int)
    for e in extensions:
        asked[e.unit_id] += 1
        granted[e.unit_id] += e.status == "granted"
    dispatch = {u.unit_id: u for u in rates.units}
    unit_ids = sorted(set(dispatch) | set(surveys) | set(on_time) | set(asked))
    drafts: list[_Draft] = []
    for unit_id in unit_ids:
        d = dispatch.get(unit_id)
        s = surveys.get(unit_id)
        dispatched = d.dispatched if d else 0
        returns = d.returns if d else 0
        ack = d.acknowledgement_rate if d else None
        sat = s.satisfaction_rate if s else None
        res = s.resolution_rate if s else None
        ot = on_time.get(unit_id)
        ranked = dispatched > 0
        drafts.append(
            _Draft(
                UnitFigures(
                    unit_id=unit_id,
                    name=names.get(unit_id, unit_id),
                    dispatched=dispatched,
                    acknowledged=d.acknowledged if d else 0,
                    replied=d.replied if d else 0,
                    returns=returns,
                    extensions_asked=asked.get(unit_id, 0),
                    extensions_granted=granted.get(unit_id, 0),
                    acknowledgement_rate=ack,
                    on_time_rate=ot,
                    satisfaction_rate=sat,
                    resolution_rate=res,
                    score=score(
                        acknowledgement=ack,
                        on_time=ot,
                        satisfaction=sat,
                        resolution=res,
                        returns=returns,
                    )
                    if ranked
                    else None,
                    rank=None,
                )
            )
        )
    ranked_drafts = sorted((d for d in drafts if d.figures.score is not None), key=_Draft.key)
    rest = [d.figures for d in drafts if d.figures.score is None]
    out = [_with_rank(d.figures, i + 1) for i, d in enumerate(ranked_drafts)]
    return out + rest


def _with_rank(f: UnitFigures, rank: int) -> UnitFigures:
    return replace(f, rank=rank)


def boards(
    units: Sequence[UnitFigures], size: int = BOARD_SIZE
) -> tuple[tuple[UnitFigures, ...], tuple[UnitFigures, ...]]:
    """(红榜, 黑榜): the best and the worst `size` ranked units, never overlapping."""
    ranked = [u for u in units if u.rank is not None]
    take = min(size, len(ranked) // 2)
    if take == 0:
        return (), ()
    return tuple(ranked[:take]), tuple(reversed(ranked[-take:]))


def bottom(ranking: Sequence[str], size: int = RED_ZONE_SIZE) -> list[str]:
    """The bottom `size` of a best-first ranking, never more than half of it."""
    take = min(size, len(ranking) // 2)
    return list(ranking[len(ranking) - take :]) if take else []


def red_zone(
    rankings: Sequence[Sequence[str]],
    names: Mapping[str, str] | None = None,
    months: int = RED_ZONE_MONTHS,
    size: int = RED_ZONE_SIZE,
) -> list[RedZoneUnit]:
    """Units in the bottom `size` of every one of the last `months` rankings (best first).

    `rankings` are oldest first; fewer than `months` of them decide nothing (a new
    centre has no red zone until it has three months of history).
    """
    names = names or {}
    if len(rankings) < months:
        return []
    recent = [list(r) for r in rankings[-months:]]
    always = set(bottom(recent[0], size))
    for ranking in recent[1:]:
        always &= set(bottom(ranking, size))
    found = [
        RedZoneUnit(
            unit_id=u,
            name=names.get(u, u),
            ranks=tuple(r.index(u) + 1 for r in recent),
            ranked=tuple(len(r) for r in recent),
        )
        for u in always
    ]
    return sorted(found, key=lambda z: (-sum(z.ranks), z.unit_id))

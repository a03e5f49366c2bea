"""The work-order lifecycle, driven by steps alone (no store, no loop)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from workorders.lifecycle import (
    ORDER_TABLE,
    Acknowledge,
    Archive,
    AskExtension,
    Assignment,
    Dispatch,
    GrantExtension,
    IllegalStep,
    InvalidStep,
    Merge,
    Mode,
    OrderState,
    Redispatch,
    RefuseExtension,
    Reopen,
    Reply,
    ResolveOnCall,
    Return,
    Review,
    SendBack,
    Status,
    Step,
    Survey,
    UnitStatus,
    advance,
    plan_mode,
)
from workorders.models import DispatchRole

LEAD, ASSIST, PAR = DispatchRole.lead, DispatchRole.assisting, DispatchRole.parallel


def run(steps: Iterable[Step], state: OrderState | None = None) -> OrderState:
    state = state or OrderState("12345-20261122-0001")
    for step in steps:
        state = advance(state, step)
    return state


def direct(unit: str = "water") -> Dispatch:
    return Dispatch((Assignment(unit, LEAD),))


def test_the_happy_path() -> None:
    state = run(
        [
            direct(),
            Acknowledge("water"),
            Reply("water", "修好了"),
            Review(),
            Survey(satisfied=True),
            Archive(),
        ]
    )
    assert state.status is Status.archived
    assert state.units[0].status is UnitStatus.replied


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        ([direct()], Status.dispatched),
        ([direct(), Acknowledge("water")], Status.acknowledged),
        ([direct(), Acknowledge("water"), Reply("water", "ok")], Status.replied),
        ([direct(), Return("water", "不属于本单位")], Status.returned),
        ([ResolveOnCall()], Status.archived),
        ([Merge(into="12345-20261122-0009")], Status.merged),
    ],
)
def test_each_step_lands_where_the_table_says(steps: list[Step], status: Status) -> None:
    assert run(steps).status is status


def test_plan_modes() -> None:
    assert plan_mode([Assignment("a", LEAD)]) is Mode.direct
    assert plan_mode([Assignment("a", LEAD), Assignment("b", ASSIST)]) is Mode.joint
    assert plan_mode([Assignment("a", PAR, "x"), Assignment("b", PAR, "y")]) is Mode.parallel
    bad = [
        ([], "at least one"),
        ([Assignment("a", ASSIST)], "exactly one lead"),
        ([Assignment("a", LEAD), Assignment("b", LEAD)], "exactly one lead"),
        ([Assignment("a", LEAD), Assignment("a", ASSIST)], "twice"),
        ([Assignment("a", PAR, "x")], "two or more"),
        ([Assignment("a", PAR, "x"), Assignment("b", LEAD)], "all parallel"),
        ([Assignment("a", PAR, "x"), Assignment("b", PAR, " ")], "its part"),
    ]
    for plan, message in bad:
        with pytest.raises(InvalidStep, match=message):
            plan_mode(plan)


def test_joint_assisting_unit_never_holds_the_order_back() -> None:
    plan = Dispatch((Assignment("housing", LEAD), Assignment("urban", ASSIST)))
    state = run([plan, Acknowledge("housing"), Reply("housing", "done")])
    assert state.status is Status.replied
    state = run([Acknowledge("urban"), Return("urban", "不涉及")], state)
    assert state.status is Status.replied


def test_parallel_needs_every_part_replied() -> None:
    plan = Dispatch((Assignment("a", PAR, "one"), Assignment("b", PAR, "two")))
    state = run([plan, Acknowledge("a"), Reply("a", "part one done")])
    assert state.status is Status.dispatched
    state = run([Acknowledge("b")], state)
    assert state.status is Status.acknowledged
    assert run([Reply("b", "part two done")], state).status is Status.replied


def test_every_illegal_step_is_refused_with_a_named_error_and_nothing_changes() -> None:
    dispatched = run([direct()])
    for state in (OrderState("n"), dispatched, run([ResolveOnCall()])):
        for step_type in ORDER_TABLE:
            if state.status in ORDER_TABLE[step_type]:
                continue
            step = _example(step_type)
            with pytest.raises(IllegalStep, match=f"cannot {step.name} while it is"):
                advance(state, step)
    # unit-level refusals
    for step, message in [
        (Reply("water", "x"), "cannot reply while its part is dispatched"),
        (Acknowledge("power"), "not dispatched to unit power"),
        (GrantExtension(), "no extension request is pending"),
        (Reopen("x"), "cannot reopen"),
    ]:
        with pytest.raises(IllegalStep, match=message):
            advance(dispatched, step)
    assert dispatched == run([direct()])  # frozen: a refusal cannot have changed it


def test_reasons_are_required() -> None:
    state = run([direct()])
    for step in (Return("water", " "), AskExtension("water", ""), Acknowledge("water")):
        if isinstance(step, Acknowledge):
            state = advance(state, step)
            continue
        with pytest.raises(InvalidStep, match="needs a reason"):
            advance(state, step)
    with pytest.raises(InvalidStep, match="needs its text"):
        advance(state, Reply("water", ""))


def test_return_and_redispatch() -> None:
    state = run([direct("housing"), Return("housing", "非本单位职责")])
    assert state.status is Status.returned
    with pytest.raises(IllegalStep, match="cannot acknowledge"):
        advance(state, Acknowledge("housing"))
    state = advance(state, Redispatch((Assignment("water", LEAD),)))
    assert state.status is Status.dispatched
    assert [(u.unit_id, u.status) for u in state.units] == [
        ("housing", UnitStatus.withdrawn),
        ("water", UnitStatus.dispatched),
    ]
    # 改派 while working: withdraw the lead and name a new one
    state = advance(state, Redispatch((Assignment("power", LEAD),), withdraw=("water",)))
    assert [u.unit_id for u in state.units if u.live] == ["power"]
    with pytest.raises(InvalidStep, match="exactly one lead"):
        advance(state, Redispatch((Assignment("gas", LEAD),)))
    with pytest.raises(InvalidStep, match="already dispatched"):
        advance(state, Redispatch((Assignment("power", ASSIST),)))


def test_extension_one_pending_at_a_time() -> None:
    state = run([direct(), AskExtension("water", "需要更换主管道")])
    assert state.extension_pending
    with pytest.raises(IllegalStep, match="already pending"):
        advance(state, AskExtension("water", "again"))
    assert not advance(state, GrantExtension()).extension_pending
    assert not advance(state, RefuseExtension()).extension_pending


def test_send_back_then_reopen_only_after_dissatisfied() -> None:
    replied = run([direct(), Acknowledge("water"), Reply("water", "ok")])
    back = advance(replied, SendBack("太简单"))
    assert back.status is Status.acknowledged
    assert back.units[0].status is UnitStatus.acknowledged
    happy = run([Review(), Survey(satisfied=True)], replied)
    with pytest.raises(IllegalStep, match="dissatisfied"):
        advance(happy, Reopen("x"))
    unhappy = run([Review(), Survey(satisfied=False)], replied)
    again = advance(unhappy, Reopen("仍未解决"))
    assert again.status is Status.dispatched and again.units[0].status is UnitStatus.dispatched
    archived = advance(unhappy, Archive())
    assert advance(archived, Reopen("市民再次来电")).status is Status.dispatched


def test_merge_guards() -> None:
    state = run([direct()])
    with pytest.raises(InvalidStep, match="cannot be merged"):
        advance(state, Merge(into=state.number))
    with pytest.raises(IllegalStep, match="cannot merge"):
        advance(run([ResolveOnCall()]), Merge(into="x"))


def _example(step_type: type[Step]) -> Step:
    examples: dict[type[Step], Step] = {
        Dispatch: direct(),
        ResolveOnCall: ResolveOnCall(),
        Acknowledge: Acknowledge("water"),
        Reply: Reply("water", "x"),
        Return: Return("water", "x"),
        AskExtension: AskExtension("water", "x"),
        Redispatch: Redispatch((Assignment("power", LEAD),)),
        GrantExtension: GrantExtension(),
        RefuseExtension: RefuseExtension(),
        Review: Review(),
        SendBack: SendBack("x"),
        Survey: Survey(satisfied=True),
        Reopen: Reopen("x"),
        Archive: Archive(),
        Merge: Merge(into="other"),
    }
    return examples[step_type]

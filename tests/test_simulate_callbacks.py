"""`acd simulate --day` with callbacks and the comparison mode: the driver's callback model on
hand-made callers, the KPIs it yields on the store day, and the command line."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from acd.cli import main
from acd.sim.arrivals import Caller, read_day
from acd.sim.callbacks import CallbackPolicy, callback_id, draw
from acd.sim.day import DayParams, changed, run_compare, run_day
from acd.sim.driver import Login, SimResult, simulate
from acd.sim.kpi import compute_kpis
from acd.sim.scenario import single_queue
from test_simulate import BUNDLED_DAY

ALWAYS = CallbackPolicy(offer_after_ms=0, reach_rate=1.0, ring_ms=10_000, retry_gap_ms=60_000)


def _one_agent(callers: list[Caller], policy: CallbackPolicy | None) -> SimResult:
    scenario = single_queue(1, 20_000, seed=1)
    return simulate(
        scenario.config, "calls", callers, [Login("agent-001", 0)], callbacks=policy, seed=1
    )


def test_a_missed_caller_is_called_back_and_no_longer_lost() -> None:
    # c1 talks 100 s; c2 arrives at 1 s and hangs up after 30 s; the callback of c2 joins the
    # line at once and reaches c2 when the agent is free again, at 100 s.
    callers = [Caller("c1", 0, 100_000, None), Caller("c2", 1_000, 50_000, 30_000)]
    result = _one_agent(callers, ALWAYS)
    _, c2 = result.records
    assert (c2.outcome, c2.left_ms, c2.callback_ms) == ("abandoned", 31_000, 31_000)
    assert (c2.attempts, c2.recovered_ms) == (1, 100_000)
    assert c2.answered_ms is None  # the inbound call itself was not answered
    # The agent worked the callback for c2's handle time after c1.
    assert result.busy["agent-001"] == [(0, 100_000), (100_000, 150_000)]
    k = compute_kpis(result.records, 20_000, 5_000)
    assert (k.abandoned, k.callbacks, k.recovered, k.lost) == (1, 1, 1, 0)
    assert k.time_to_callback == pytest.approx(69.0)
    without = compute_kpis(_one_agent(callers, None).records, 20_000, 5_000)
    assert (without.abandoned, without.callbacks, without.lost) == (1, 0, 1)


def test_an_unreachable_caller_is_tried_max_attempts_times_then_lost() -> None:
    callers = [Caller("c1", 0, 100_000, None), Caller("c2", 1_000, 50_000, 30_000)]
    never = replace(ALWAYS, reach_rate=0.0, max_attempts=3)
    result = _one_agent(callers, never)
    c2 = result.records[1]
    assert (c2.attempts, c2.recovered_ms) == (3, None)
    # Each attempt rings 10 s; the next joins the line 60 s after the last one ended.
    assert result.busy["agent-001"] == [
        (0, 100_000),
        (100_000, 110_000),
        (170_000, 180_000),
        (240_000, 250_000),
    ]
    k = compute_kpis(result.records, 20_000, 5_000)
    assert (k.callbacks, k.callback_attempts, k.recovered, k.lost) == (1, 3, 0, 1)


def test_callers_taking_a_callback_keep_their_place_in_line() -> None:
    # c2 waits from 1 s and takes the callback offered at 21 s; c3 arrives at 30 s and takes
    # its own at 50 s. Both calls stay in line where they were: when the agent frees up at
    # 100 s, c2's comes first, then c3's after c2's 40 s conversation.
    callers = [
        Caller("c1", 0, 100_000, None),
        Caller("c2", 1_000, 40_000, None),
        Caller("c3", 30_000, 10_000, None),
    ]
    keep = replace(ALWAYS, offer_after_ms=20_000, take_rate=1.0)
    result = _one_agent(callers, keep)
    _, c2, c3 = result.records
    assert (c2.outcome, c2.left_ms, c2.callback_ms, c2.attempts) == ("callback", 21_000, 21_000, 1)
    assert (c3.outcome, c3.left_ms, c3.callback_ms, c3.attempts) == ("callback", 50_000, 50_000, 1)
    assert (c2.recovered_ms, c3.recovered_ms) == (100_000, 140_000)
    assert c2.answered_ms is None and c3.answered_ms is None
    k = compute_kpis(result.records, 20_000, 5_000)
    assert (k.answered, k.abandoned, k.expired, k.callbacks, k.recovered, k.lost) == (
        1,
        0,
        0,
        2,
        2,
        0,
    )
    assert k.awt == pytest.approx((0 + 20 + 20) / 3)  # time on the line, not until called back
    assert k.time_to_callback == pytest.approx((79 + 90) / 2)


def test_nobody_takes_an_offer_at_take_rate_zero() -> None:
    callers = [Caller("c1", 0, 100_000, None), Caller("c2", 1_000, 40_000, None)]
    result = _one_agent(callers, replace(ALWAYS, offer_after_ms=20_000, take_rate=0.0))
    assert result.records[1].outcome == "completed"
    assert result.records[1].answered_ms == 100_000


def test_draws_are_uniform_and_fixed_by_their_arguments() -> None:
    values = [draw(1, "reach", f"c{i}", 1) for i in range(2_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.45 < sum(values) / len(values) < 0.55
    assert draw(1, "reach", "c1", 1) == values[1]
    assert draw(2, "reach", "c1", 1) != values[1]
    assert callback_id("c7", 2) == "c7~cb2"


@pytest.mark.parametrize(
    ("field", "value"),
    [("take_rate", 1.5), ("reach_rate", -0.1), ("max_attempts", 0), ("retry_gap_ms", -1)],
)
def test_policy_rejects_out_of_range_values(field: str, value: float) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match="callback"):
        replace(CallbackPolicy(), **changes)


# ---- the store day ---------------------------------------------------------------------------


def _check(k: dict[str, Any]) -> None:
    converted = k["offered"] - k["answered"] - k["abandoned"] - k["expired"] - k["waiting"]
    assert converted >= 0  # callers who left the line for a callback
    assert k["lost"] == k["abandoned"] + k["expired"] + converted - k["recovered"]
    assert k["recovered"] <= k["callbacks"] <= k["abandoned"] + converted
    assert k["callbacks"] <= k["callback_attempts"] <= 3 * k["callbacks"]


@pytest.mark.parametrize("seed", [1, 2])
def test_callbacks_on_the_store_day_lose_fewer_calls(seed: int) -> None:
    rates = read_day(BUNDLED_DAY)
    tier1 = DayParams(overflow=False, seed=seed)
    with_callbacks = replace(tier1, callbacks=CallbackPolicy())
    result = run_compare(rates, tier1, with_callbacks)
    a, b = result["a"], result["b"]
    assert a == run_day(rates, tier1)  # the comparison's runs are the plain runs
    for run in (a, b):
        _check(run["day"])
        for interval in run["intervals"]:
            _check(interval)
    assert [i["offered"] for i in a["intervals"]] == [i["offered"] for i in b["intervals"]]
    assert a["day"]["callbacks"] == 0 and b["day"]["callbacks"] > 0
    assert b["day"]["lost"] < a["day"]["lost"] / 2
    assert b["callbacks"]["take_rate"] == 0.5 and a["callbacks"] is None


def test_changed_applies_each_change_in_turn() -> None:
    policy = CallbackPolicy(take_rate=0.3)
    base = DayParams(overflow=True)
    assert changed(base, ["no-overflow", "callbacks"], policy) == replace(
        base, overflow=False, callbacks=policy
    )
    assert changed(replace(base, callbacks=policy), ["no-callbacks"], policy).callbacks is None
    with pytest.raises(ValueError, match="unknown change 'faster'"):
        changed(base, ["faster"], policy)
    with pytest.raises(ValueError, match="same callers"):
        run_compare(read_day(BUNDLED_DAY), base, replace(base, seed=9))


# ---- the command line ------------------------------------------------------------------------


def test_cli_compare_prints_both_runs(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--day", "--no-overflow", "--compare", "overflow,callbacks"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "compare"
    assert (out["a"]["overflow"], out["a"]["callbacks"]) == (False, None)
    assert out["b"]["overflow"] is True and out["b"]["callbacks"]["max_attempts"] == 3
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "a: overflow off, callbacks off" in text
    assert "b: overflow on, callbacks on" in text
    assert f"lost calls: a {out['a']['day']['lost']}, b {out['b']['day']['lost']}" in text
    assert "lost:a" in text and "lost:b" in text


def test_cli_day_with_callbacks_shows_their_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--day", "--no-overflow", "--callbacks"]) == 0
    text = capsys.readouterr().out
    assert "callbacks on (offered after 30 s, taken by 50%" in text
    assert "recovered" in text and "time_to_callback" in text


@pytest.mark.parametrize(
    "args",
    [
        ["simulate", "--day", "--compare", "faster"],
        ["simulate", "--day", "--callbacks", "--callback-take-rate", "2"],
        ["simulate", "--arrivals-per-hour", "200", "--agents", "14", "--callbacks"],
        ["simulate", "--arrivals-per-hour", "200", "--agents", "14", "--compare", "overflow"],
    ],
)
def test_cli_rejects_bad_callback_arguments(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2

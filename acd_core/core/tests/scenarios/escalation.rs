//! Escalation steps (lower the levels, widen the tiers) and tiers ("tier 1 while any tier-1
//! agent is free, otherwise tier 2 at once", the Protoria case of shared/workloads/README.md).

use serde_json::json;

use crate::common::{agent, config, queue, Queue, Sim};

#[test]
fn a_step_lowers_the_required_levels_after_its_time() {
    let mut s = config()
        .queue(queue("q").skill("sales", 5).set(
            "escalation",
            json!([{"after_ms": 30_000, "lower_levels_by": 2}]),
        ))
        .agent(agent("a1").skill("sales", 3))
        .agent(agent("a2").skill("sales", 2))
        .sim();
    s.staff(&["a1", "a2"], 0);
    s.enqueue("c1", "q", 0);
    s.timeout(29_999);
    assert_eq!(s.call_state("c1"), "waiting");
    s.timeout(40_000);
    assert_eq!(
        s.only(&["offer", "escalated"]),
        [
            "30000 escalated c1 [1]",
            "30000 offer c1 @a1 longest-idle [step=1 tier=1 level=3]",
        ]
    );
    assert_eq!(s.r.call_info("c1").unwrap().step, 1);
}

#[test]
fn lowered_levels_never_go_below_one() {
    let mut s = config()
        .queue(queue("q").skill("sales", 2).set(
            "escalation",
            json!([{"after_ms": 10_000, "lower_levels_by": 5}]),
        ))
        .agent(agent("a1").skill("sales", 1))
        .agent(agent("a2").skill("support", 9))
        .sim();
    s.staff(&["a1", "a2"], 0);
    s.enqueue("c1", "q", 0);
    s.timeout(10_000);
    assert_eq!(
        s.only(&["offer"]),
        ["10000 offer c1 @a1 longest-idle [step=1 tier=1 level=1]"]
    );
}

#[test]
fn a_step_adds_tier_2_after_its_time() {
    let mut s = config()
        .queue(
            queue("q")
                .set("max_tier", json!(1))
                .set("escalation", json!([{"after_ms": 20_000, "max_tier": 2}])),
        )
        .agent(agent("t1").tier(1))
        .agent(agent("t2").tier(2))
        .sim();
    s.login("t1", 0);
    s.staff(&["t2"], 0);
    s.enqueue("c1", "q", 0);
    s.timeout(19_999);
    assert_eq!(s.call_state("c1"), "waiting");
    s.timeout(25_000);
    assert_eq!(
        s.only(&["offer", "escalated"]),
        [
            "20000 escalated c1 [1]",
            "20000 offer c1 @t2 longest-idle [step=1 tier=2 level=0]",
        ]
    );
}

#[test]
fn steps_apply_in_order_and_count_from_the_queue_entry() {
    // Step 2 repeats the lowering: each step gives the whole requirement of its moment.
    let steps = json!([
        {"after_ms": 10_000, "lower_levels_by": 1},
        {"after_ms": 20_000, "lower_levels_by": 1, "max_tier": 0},
    ]);
    let mut s = config()
        .queue(
            queue("q")
                .skill("sales", 3)
                .set("max_tier", json!(1))
                .set("escalation", steps),
        )
        .agent(agent("x").skill("sales", 2).tier(1))
        .agent(agent("y").skill("sales", 2).tier(3))
        .sim();
    s.login("x", 0);
    s.staff(&["y"], 0);
    s.enqueue("c1", "q", 5000);
    s.timeout(30_000);
    assert_eq!(
        s.only(&["offer", "escalated"]),
        [
            "15000 escalated c1 [1]",
            "25000 escalated c1 [2]",
            "25000 offer c1 @y longest-idle [step=2 tier=3 level=2]",
        ]
    );
}

#[test]
fn a_step_reached_while_offered_keeps_the_offer_and_applies_on_return() {
    let mut s = config()
        .queue(
            queue("q")
                .skill("sales", 5)
                .set("offer_timeout_ms", json!(60_000))
                .set(
                    "escalation",
                    json!([{"after_ms": 30_000, "lower_levels_by": 2}]),
                ),
        )
        .agent(agent("a1").skill("sales", 5))
        .agent(agent("a2").skill("sales", 3))
        .sim();
    s.staff(&["a2", "a1"], 0);
    s.enqueue("c1", "q", 0);
    s.timeout(30_000);
    assert_eq!(
        (s.call_state("c1"), s.call_agents("c1")),
        ("offered", vec!["a1".into()])
    );
    s.reject("a1", "c1", 31_000);
    assert_eq!(
        s.only(&["offer", "escalated", "missed"]),
        [
            "0 offer c1 @a1 longest-idle [step=0 tier=1 level=5]",
            "30000 escalated c1 [1]",
            "31000 missed c1 @a1 rejected",
            "31000 offer c1 @a2 longest-idle [step=1 tier=1 level=3]",
        ]
    );
}

/// Tier 1: t1a (Ready at 100), t1b (200); tier 2: t2a, t2b (Ready at 0, idle longer).
fn tiers(q: Queue) -> Sim {
    let mut s = config()
        .queue(q)
        .agent(agent("t1a").tier(1))
        .agent(agent("t1b").tier(1))
        .agent(agent("t2a").tier(2))
        .agent(agent("t2b").tier(2))
        .sim();
    for a in ["t1a", "t1b", "t2a", "t2b"] {
        s.login(a, 0);
    }
    for (a, t) in [("t2a", 0), ("t2b", 0), ("t1a", 100), ("t1b", 200)] {
        s.ready(a, t);
    }
    for c in ["c1", "c2", "c3"] {
        s.enqueue(c, "q", 1000);
    }
    s
}

#[test]
fn tier_1_while_any_tier_1_agent_is_free_otherwise_tier_2_at_once() {
    let mut s = tiers(queue("q")); // max_tier 0 (every tier), prefer_lower_tier true
    assert_eq!(
        s.only(&["offer"]),
        [
            "1000 offer c1 @t1a longest-idle [step=0 tier=1 level=0]",
            "1000 offer c2 @t1b longest-idle [step=0 tier=1 level=0]",
            "1000 offer c3 @t2a longest-idle [step=0 tier=2 level=0]",
        ]
    );
}

#[test]
fn tier_1_only_leaves_calls_waiting_while_tier_2_is_free() {
    let mut s = tiers(queue("q").set("max_tier", json!(1)));
    assert_eq!(s.offers(), ["1000 c1>t1a", "1000 c2>t1b"]);
    assert_eq!(s.call_state("c3"), "waiting");
    // A tier-1 agent coming free takes it.
    s.abandon("c1", 2000);
    assert_eq!(s.offers(), ["2000 c3>t1a"]);
}

#[test]
fn without_prefer_lower_tier_the_longest_idle_of_any_tier_goes_first() {
    let mut s = tiers(queue("q").set("prefer_lower_tier", json!(false)));
    assert_eq!(s.offers(), ["1000 c1>t2a", "1000 c2>t2b", "1000 c3>t1a"]);
}

#[test]
fn ring_all_rings_only_inside_the_lowest_tier_with_a_ready_agent() {
    let mut s = tiers(
        queue("q")
            .strategy("ring-all")
            .set("ring_all_max", json!(3)),
    );
    // c1 rings t1a and t1b (tier 1), not the longer idle tier-2 agents too; with no tier-1
    // agent left, c2 rings the tier-2 agents; c3 waits.
    assert_eq!(
        s.offers(),
        ["1000 c1>t1a", "1000 c1>t1b", "1000 c2>t2a", "1000 c2>t2b"]
    );
}

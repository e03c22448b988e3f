//! Order of waiting calls (priority, FIFO, aging, across queues) and eligibility by skills.

use acd_core::EnqueueRequest;
use serde_json::json;

use crate::common::{agent, call, config, queue, skills, Sim};

/// Lets `a` (Ready) serve every call offered to it, 10 ms each, starting at `t`; returns the
/// calls in the order it got them.
fn serve_all(s: &mut Sim, a: &str, mut t: u64) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(c) = s.agent(a).calls.first().cloned() {
        s.serve(a, &c, t, t + 10);
        got.push(c.to_string());
        t += 10;
    }
    got
}

#[test]
fn priority_first_then_arrival_order_within_a_priority() {
    let mut s = config()
        .queue(queue("q").set("wrapup_ms", json!(0)))
        .agents(&["a1"], &[])
        .sim();
    s.login("a1", 0);
    for (c, p, t) in [
        ("c1", 0, 0),
        ("c2", 5, 10),
        ("c3", 0, 20),
        ("c4", 5, 30),
        ("c5", -1, 40),
    ] {
        s.enqueue_p(c, "q", p, t);
    }
    s.ready("a1", 100);
    assert_eq!(serve_all(&mut s, "a1", 100), ["c2", "c4", "c1", "c3", "c5"]);
    assert_eq!(
        s.offers(),
        [
            "100 c2>a1",
            "110 c4>a1",
            "120 c1>a1",
            "130 c3>a1",
            "140 c5>a1"
        ]
    );
}

#[test]
fn aging_lets_an_old_low_priority_call_pass_a_newer_high_priority_one() {
    // 60 s of waiting are worth one priority level.
    let mut s = config()
        .queue(
            queue("q")
                .set("wrapup_ms", json!(0))
                .set("aging_ms", json!(60_000)),
        )
        .agents(&["a1"], &[])
        .sim();
    s.login("a1", 0);
    s.enqueue_p("old", "q", 0, 0); // score 0
    s.enqueue_p("mid", "q", 1, 50_000); // score 60 000 - 50 000 = 10 000
    s.enqueue_p("late", "q", 1, 70_000); // score 60 000 - 70 000 = -10 000
    s.ready("a1", 100_000);
    assert_eq!(serve_all(&mut s, "a1", 100_000), ["mid", "old", "late"]);
}

#[test]
fn an_agent_in_several_queues_takes_the_most_urgent_call_across_them() {
    let mut s = config()
        .queue(queue("sales").skill("sales", 1).set("wrapup_ms", json!(0)))
        .queue(
            queue("support")
                .skill("support", 1)
                .set("wrapup_ms", json!(0)),
        )
        .agent(agent("a1").skill("sales", 1).skill("support", 1))
        .sim();
    s.login("a1", 0);
    s.enqueue_p("c1", "sales", 0, 0);
    s.enqueue_p("c2", "support", 0, 10);
    s.enqueue_p("c3", "support", 2, 20);
    s.enqueue_p("c4", "sales", 1, 30);
    s.ready("a1", 100);
    assert_eq!(serve_all(&mut s, "a1", 100), ["c3", "c4", "c1", "c2"]);
}

#[test]
fn skills_need_the_minimum_level() {
    let mut s = config()
        .queue(queue("q").skill("sales", 5))
        .agent(agent("a1").skill("sales", 4))
        .agent(agent("a2").skill("sales", 5))
        .agent(agent("a3").skill("support", 9))
        .sim();
    s.staff(&["a1", "a3"], 0);
    s.staff(&["a2"], 10);
    s.enqueue("c1", "q", 100);
    s.enqueue("c2", "q", 200);
    assert_eq!(
        s.only(&["offer"]),
        ["100 offer c1 @a2 longest-idle [step=0 tier=1 level=5]"]
    );
    assert_eq!(s.call_state("c2"), "waiting");
    // Only agents meeting the queue's base requirement count as its team.
    let snap = s.r.queue_snapshot("q", 200).unwrap();
    assert_eq!(snap.agents, [0, 0, 0, 1, 0, 0]); // a2, reserved
}

#[test]
fn a_call_can_override_the_queues_skills() {
    let mut s = config()
        .queue(queue("q").skill("sales", 3))
        .agent(agent("a1").skill("sales", 4))
        .agent(agent("a2").skill("sales", 2).skill("french", 3))
        .agent(agent("a3").skill("sales", 1))
        .sim();
    s.staff(&["a1"], 0);
    s.staff(&["a2"], 10);
    s.staff(&["a3"], 20);
    let with = |id: &str, list: &[(&str, u8)]| EnqueueRequest {
        skills: Some(skills(list)),
        ..call(id, "q")
    };
    s.enqueue_req(with("c1", &[("sales", 2), ("french", 3)]), 100);
    s.enqueue("c2", "q", 100);
    s.enqueue_req(with("c3", &[("sales", 1)]), 100);
    s.enqueue_req(with("c4", &[("sales", 9)]), 100);
    assert_eq!(
        s.only(&["offer"]),
        [
            "100 offer c1 @a2 longest-idle [step=0 tier=1 level=5]",
            "100 offer c2 @a1 longest-idle [step=0 tier=1 level=4]",
            "100 offer c3 @a3 longest-idle [step=0 tier=1 level=1]",
        ]
    );
    // Nobody has sales 9: c4 waits even when everybody is free again.
    for c in ["c1", "c2", "c3"] {
        s.abandon(c, 200);
    }
    assert_eq!(s.call_state("c4"), "waiting");
    assert_eq!(s.only(&["offer"]), Vec::<String>::new());
}

//! Call-level rules: preferred agent with a wait limit, pick, and enqueue deduplication.

use acd_core::{AcdError, EnqueueRequest};
use serde_json::json;

use crate::common::{agent, call, config, queue, Sim};

fn preferring(call_id: &str, agent_id: &str, wait_ms: u64) -> EnqueueRequest {
    EnqueueRequest {
        preferred_agent: Some(agent_id.into()),
        preferred_wait_ms: wait_ms,
        ..call(call_id, "q")
    }
}

/// a2 talks with c0 since 0 (call ends at 5000 unless told otherwise); a1 Ready since 100.
fn a2_busy(reject_delay_ms: u64) -> Sim {
    let mut s = config()
        .queue(queue("q").set("no_answer", json!({"reject_delay_ms": reject_delay_ms})))
        .agents(&["a1", "a2"], &[])
        .sim();
    s.staff(&["a2"], 0);
    s.enqueue("c0", "q", 0);
    s.accept("a2", "c0", 0);
    s.staff(&["a1"], 100);
    s.raw();
    s
}

#[test]
fn a_ready_preferred_agent_gets_the_call_at_once() {
    let mut s = config().queue(queue("q")).agents(&["a1", "a2"], &[]).sim();
    s.staff(&["a1"], 0);
    s.staff(&["a2"], 100);
    s.enqueue_req(preferring("c1", "a2", 30_000), 1000);
    assert_eq!(
        s.only(&["offer"]),
        ["1000 offer c1 @a2 preferred-agent [step=0 tier=1 level=0]"]
    );
    // Without a wait the preference is ignored: longest idle.
    s.enqueue_req(preferring("c2", "a2", 0), 1000);
    assert_eq!(s.offers(), ["1000 c2>a1"]);
}

#[test]
fn a_call_is_held_for_its_busy_preferred_agent() {
    let mut s = a2_busy(0);
    s.enqueue_req(preferring("c1", "a2", 30_000), 1000);
    assert_eq!(s.call_state("c1"), "held");
    let snap = s.r.queue_snapshot("q", 1000).unwrap();
    assert_eq!((snap.waiting, snap.agents[2]), (1, 1)); // held, while a1 is Ready
    s.end("c0", 5000); // a2 in wrap-up until 10 000
    s.timeout(12_000);
    assert_eq!(
        s.only(&["offer"]),
        ["10000 offer c1 @a2 preferred-agent [step=0 tier=1 level=0]"]
    );
}

#[test]
fn a_held_call_falls_back_to_the_line_at_the_wait_limit() {
    let mut s = a2_busy(0);
    s.enqueue_req(preferring("c1", "a2", 30_000), 1000);
    s.timeout(30_999);
    assert_eq!(s.call_state("c1"), "held");
    s.timeout(40_000);
    assert_eq!(
        s.only(&["offer"]),
        ["31000 offer c1 @a1 longest-idle [step=0 tier=1 level=0]"]
    );
}

#[test]
fn a_call_rejected_by_its_preferred_agent_is_held_for_it_again() {
    let mut s = a2_busy(2000);
    s.end("c0", 1000);
    s.ready("a2", 1500); // wrap-up cut short
    s.enqueue_req(preferring("c1", "a2", 30_000), 2000);
    s.reject("a2", "c1", 3000);
    assert_eq!(s.call_state("c1"), "held");
    s.timeout(10_000);
    assert_eq!(
        s.only(&["offer"]),
        [
            "2000 offer c1 @a2 preferred-agent [step=0 tier=1 level=0]",
            "5000 offer c1 @a2 preferred-agent [step=0 tier=1 level=0]",
        ]
    );
}

#[test]
fn pick_offers_a_waiting_call_to_the_agent_who_asks() {
    let mut s = config()
        .queue(queue("q").skill("sales", 5))
        .agent(agent("a1").skill("sales", 5))
        .agent(agent("a2"))
        .agent(agent("a3"))
        .sim();
    s.enqueue("c0", "q", 0);
    s.enqueue("c1", "q", 10);
    s.staff(&["a2"], 100);
    s.login("a3", 100);
    // a2 lacks the skill, so nothing was offered to it; it picks c1, skipping c0.
    s.pick("a2", "c1", 1000);
    assert_eq!(
        s.only(&["offer"]),
        ["1000 offer c1 @a2 pick [step=0 tier=1 level=0]"]
    );
    s.accept("a2", "c1", 1100);
    assert_eq!(s.call_state("c1"), "connected");
    assert!(matches!(
        s.refused(1200, |r| r.pick("a3", "c0", 1200)), // a3 is not ready
        AcdError::IllegalTransition(_)
    ));
    s.ready("a3", 1300);
    s.pick("a3", "c0", 1400);
    assert!(matches!(
        s.refused(1500, |r| r.pick("a2", "c0", 1500)), // already offered
        AcdError::IllegalTransition(_)
    ));
}

#[test]
fn the_same_call_id_is_enqueued_once_and_refused_again_within_the_dedup_window() {
    let mut s = config()
        .set("dedup_window_ms", json!(60_000))
        .queue(queue("q").set("wrapup_ms", json!(0)))
        .queue(queue("other"))
        .agents(&["a1"], &[])
        .sim();
    s.staff(&["a1"], 0);
    assert!(s.enqueue("c1", "q", 0));
    s.raw();
    assert!(!s.enqueue("c1", "q", 10));
    assert!(!s.enqueue("c1", "other", 20));
    assert_eq!(s.events(), Vec::<String>::new());
    assert_eq!(s.r.live_calls(), 1);
    s.serve("a1", "c1", 100, 10_000);
    assert!(!s.enqueue("c1", "q", 69_999));
    assert_eq!(s.r.live_calls(), 0);
    assert!(s.enqueue("c1", "q", 70_000));
    assert_eq!(
        s.only(&["offer"]),
        ["70000 offer c1 @a1 longest-idle [step=0 tier=1 level=0]"]
    );
}

#[test]
fn a_held_call_escalates_and_can_be_abandoned_overflow_or_expire() {
    let mut s = config()
        .queue(
            queue("q")
                .set(
                    "escalation",
                    json!([{"after_ms": 15_000, "lower_levels_by": 1}]),
                )
                .set("overflow", json!({"after_ms": 40_000, "queue": "other"})),
        )
        .queue(queue("other").set("ttl_ms", json!(70_000)))
        .agents(&["a1", "a2"], &[])
        .sim();
    s.login("a1", 0);
    s.login("a2", 0);
    for (c, t) in [("c1", 0), ("c2", 10_000), ("c3", 20_000)] {
        s.enqueue_req(preferring(c, "a1", 60_000), t);
    }
    s.abandon("c1", 30_000);
    assert_eq!(
        (s.call_state("c2"), s.r.call_info("c2").unwrap().step),
        ("held", 1)
    );
    s.ready("a2", 45_000); // held calls are not in line: nothing for a2
    assert_eq!(s.call_state("c2"), "held");
    s.timeout(50_000); // c2 overflows without its preference
    s.accept("a2", "c2", 51_000);
    s.timeout(100_000);
    assert_eq!(
        s.only(&["offer", "overflow", "escalated", "terminal"]),
        [
            "15000 escalated c1 [1]",
            "25000 escalated c2 [1]",
            "30000 terminal c1 q=q [abandoned]",
            "35000 escalated c3 [1]",
            "50000 overflow c2 q=other [q]",
            "50000 offer c2 @a2 longest-idle [step=0 tier=1 level=0]",
            "60000 overflow c3 q=other [q]",
            "90000 terminal c3 q=other [expired]", // 20 000 + other's ttl
        ]
    );
}

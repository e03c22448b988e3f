//! Offers: expiry at the deadline whatever the polling, the original place in line after a
//! miss, and the miss policy (delays, max misses, reset on accept).

use acd_core::{AcdError, AgentState};
use serde_json::json;

use crate::common::{config, queue, Sim};

fn sim(no_answer: serde_json::Value, offer_timeout_ms: u64, ids: &[&str]) -> Sim {
    config()
        .queue(
            queue("q")
                .set("wrapup_ms", json!(0))
                .set("offer_timeout_ms", json!(offer_timeout_ms))
                .set("no_answer", no_answer),
        )
        .agents(ids, &[])
        .sim()
}

#[test]
fn an_offer_times_out_at_its_deadline_even_when_timers_are_polled_late() {
    let mut s = sim(json!({}), 10_000, &["a1", "a2"]);
    s.staff(&["a1"], 0);
    s.staff(&["a2"], 5);
    s.enqueue("c1", "q", 100);
    let events = s.raw();
    let offer = events.iter().find(|e| e.kind.name() == "offer").unwrap();
    assert_eq!((&*offer.queue_id, offer.expires_at_ms), ("q", 10_100));
    assert_eq!(s.r.poll_timeout(), Some(10_100));
    // Polled only at 25 000: both expiries fire at their own deadlines.
    s.timeout(25_000);
    let events = s.raw();
    assert!(events.iter().all(|e| e.at_ms <= 20_100), "{events:?}");
    let shown: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.kind.name(), "offer" | "missed"))
        .map(|e| format!("{} exp={}", crate::common::show(e), e.expires_at_ms))
        .collect();
    assert_eq!(
        shown,
        [
            "10100 missed c1 @a1 timed-out exp=0",
            "10100 offer c1 @a2 longest-idle [step=0 tier=1 level=0] exp=20100",
            "20100 missed c1 @a2 timed-out exp=0",
            "20100 offer c1 @a1 longest-idle [step=0 tier=1 level=0] exp=30100",
        ]
    );
    assert_eq!(s.r.poll_timeout(), Some(30_100));
    assert!(matches!(
        s.refused(25_000, |r| r.accept("a2", "c1", 25_000)),
        AcdError::IllegalTransition(_)
    ));
    s.accept("a1", "c1", 25_000);
    assert_eq!((s.agent("a1").misses, s.agent("a2").misses), (0, 1));
}

#[test]
fn a_late_accept_is_refused_because_the_expiry_fires_first() {
    let mut s = sim(json!({}), 15_000, &["a1", "a2"]);
    s.staff(&["a1", "a2"], 0);
    s.enqueue("c1", "q", 100);
    let err = s
        .try_cmd("late accept", |r| r.accept("a1", "c1", 15_100))
        .unwrap_err();
    assert_eq!(
        err,
        AcdError::IllegalTransition("agent 'a1' has no open offer for call 'c1'".into())
    );
    assert_eq!(
        s.only(&["offer", "missed"])[1..],
        [
            "15100 missed c1 @a1 timed-out",
            "15100 offer c1 @a2 longest-idle [step=0 tier=1 level=0]"
        ]
    );
}

#[test]
fn a_rejected_call_goes_back_to_its_original_place_in_line() {
    let mut s = sim(json!({"reject_delay_ms": 1000}), 15_000, &["a1", "a2"]);
    s.login("a1", 0);
    s.login("a2", 0);
    s.enqueue("c1", "q", 0);
    s.enqueue("c2", "q", 10);
    s.enqueue("c3", "q", 20);
    s.ready("a1", 100);
    s.reject("a1", "c1", 200);
    assert_eq!(s.call_state("c1"), "waiting");
    s.ready("a2", 500);
    s.timeout(2000);
    assert_eq!(
        s.only(&["offer", "missed"]),
        [
            "100 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "200 missed c1 @a1 rejected",
            "500 offer c1 @a2 longest-idle [step=0 tier=1 level=0]",
            "1200 offer c2 @a1 longest-idle [step=0 tier=1 level=0]",
        ]
    );
}

#[test]
fn max_misses_pauses_the_agent_as_not_ready_missed() {
    let mut s = sim(json!({"max_misses": 2}), 15_000, &["a1"]);
    s.staff(&["a1"], 0);
    s.raw();
    s.enqueue("c1", "q", 0);
    s.reject("a1", "c1", 100);
    assert_eq!(s.agent("a1").misses, 1);
    s.timeout(20_000);
    assert_eq!(
        s.events(),
        [
            "0 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "0 agent-state @a1 [reserved]",
            "100 missed c1 @a1 rejected",
            "100 agent-state @a1 [ready]",
            "100 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "100 agent-state @a1 [reserved]",
            "15100 missed c1 @a1 timed-out",
            "15100 agent-state @a1 missed [not-ready]",
        ]
    );
    let a1 = s.agent("a1");
    assert_eq!(
        (a1.state, &*a1.reason, a1.misses),
        (AgentState::NotReady, "missed", 0)
    );
    assert_eq!(s.call_state("c1"), "waiting");
}

#[test]
fn an_accept_resets_the_miss_counter() {
    let mut s = sim(json!({"max_misses": 2}), 15_000, &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.reject("a1", "c1", 100);
    assert_eq!(s.agent("a1").misses, 1);
    s.serve("a1", "c1", 200, 300);
    assert_eq!(s.agent("a1").misses, 0);
    s.enqueue("c2", "q", 400);
    s.reject("a1", "c2", 500); // one miss since the accept: not paused
    assert_eq!(s.agent("a1").misses, 1);
    assert_eq!(s.state("a1"), AgentState::Reserved);
    assert_eq!(s.offers().last().unwrap(), "500 c2>a1");
}

#[test]
fn miss_delays_keep_the_agent_from_offers_for_a_while() {
    let policy = json!({"reject_delay_ms": 3000, "timeout_delay_ms": 7000, "max_misses": 0});
    let mut s = sim(policy, 10_000, &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.reject("a1", "c1", 1000);
    assert_eq!(s.call_state("c1"), "waiting");
    assert_eq!(s.r.poll_timeout(), Some(4000));
    s.timeout(3999);
    assert_eq!(s.call_state("c1"), "waiting");
    s.timeout(30_000); // rejected at 1000 + 3 s; timed out at 14 000 + 7 s
    assert_eq!(
        s.only(&["offer", "missed"]),
        [
            "0 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "1000 missed c1 @a1 rejected",
            "4000 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "14000 missed c1 @a1 timed-out",
            "21000 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
        ]
    );
    let a1 = s.agent("a1");
    assert_eq!((a1.misses, a1.ready_since), (2, 21_000)); // max_misses 0: never paused
}

#[test]
fn at_one_deadline_offer_expiries_fire_before_wrap_up_ends() {
    // b (index 0) ends its wrap-up at 20 000, when a's offer expires. Offer expiries come
    // first (kind 0 before kind 1): c1 goes back while b is still in wrap-up, so a gets it
    // again; had b's wrap-up ended first, b would win the tie on ready_since by index.
    let mut s = config()
        .queue(queue("q").set("wrapup_ms", json!(5000)))
        .agents(&["b", "a"], &[])
        .sim();
    s.staff(&["b"], 0);
    s.enqueue("c0", "q", 0);
    s.accept("b", "c0", 0);
    s.staff(&["a"], 1000);
    s.enqueue("c1", "q", 5000); // offered to a until 20 000
    s.end("c0", 15_000); // b's wrap-up ends at 20 000
    s.raw();
    assert_eq!(s.r.poll_timeout(), Some(20_000));
    s.timeout(20_000);
    assert_eq!(
        s.events(),
        [
            "20000 missed c1 @a timed-out",
            "20000 agent-state @a [ready]",
            "20000 offer c1 @a longest-idle [step=0 tier=1 level=0]",
            "20000 agent-state @a [reserved]",
            "20000 agent-state @b [ready]",
        ]
    );
}

#[test]
fn a_withdrawn_offer_returns_the_call_to_its_place_and_pauses_the_agent_without_a_miss() {
    let mut s = sim(json!({"max_misses": 1}), 15_000, &["a1", "a2"]);
    s.login("a1", 0);
    s.login("a2", 0);
    s.enqueue("c1", "q", 0);
    s.enqueue("c2", "q", 10);
    s.ready("a1", 100);
    s.raw();
    // The service lost a1's desktop while c1 was offered to it.
    s.ok("withdraw(a1, c1)", |r| {
        r.withdraw("a1", "c1", "disconnected", 200)
    });
    assert_eq!(
        s.events(),
        [
            "200 revoke c1 @a1 [withdrawn]",
            "200 agent-state @a1 disconnected [not-ready]",
        ]
    );
    let a1 = s.agent("a1");
    assert_eq!(
        (a1.state, &*a1.reason, a1.misses),
        (AgentState::NotReady, "disconnected", 0)
    );
    // c1 kept its place ahead of c2: the next Ready agent gets it.
    s.ready("a2", 300);
    assert_eq!(
        s.only(&["offer"]),
        ["300 offer c1 @a2 longest-idle [step=0 tier=1 level=0]"]
    );
}

#[test]
fn withdraw_needs_an_open_offer_and_a_valid_reason() {
    let mut s = sim(json!({}), 15_000, &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    let err = s.refused(10, |r| r.withdraw("a1", "c1", "bad\nreason", 10));
    assert_eq!(err.kind(), "invalid-argument");
    let err = s.refused(10, |r| r.withdraw("a1", "nope", "restart", 10));
    assert_eq!(err.kind(), "not-found");
    s.accept("a1", "c1", 20);
    let err = s.refused(30, |r| r.withdraw("a1", "c1", "restart", 30));
    assert_eq!(err.kind(), "illegal-transition");
}

//! The agent state machine around calls: wrap-up (timed, until done, cut short by set_ready),
//! pending not-ready and pending logout, logout while reserved, login is not Ready.

use acd_core::{AcdError, AgentState};
use serde_json::json;

use crate::common::{config, queue, Queue, Sim};

fn sim(q: Queue, ids: &[&str]) -> Sim {
    config().queue(q).agents(ids, &[]).sim()
}

/// a1 Ready at 0 took c1 at 0 and talks; c1 ends at `end`.
fn a1_talks_until(q: Queue, end: u64) -> Sim {
    let mut s = sim(q, &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 0);
    s.end("c1", end);
    s
}

#[test]
fn login_is_not_ready_and_set_ready_starts_the_idle_time() {
    let mut s = sim(queue("q"), &["a1"]);
    s.login("a1", 100);
    s.enqueue("c1", "q", 200);
    assert_eq!(s.call_state("c1"), "waiting");
    assert_eq!(
        (s.state("a1"), &*s.agent("a1").reason),
        (AgentState::NotReady, "login")
    );
    s.ready("a1", 300);
    assert_eq!(s.agent("a1").ready_since, 300);
    assert_eq!(
        s.events(),
        [
            "100 agent-state @a1 login [not-ready]",
            "300 agent-state @a1 [ready]",
            "300 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "300 agent-state @a1 [reserved]",
        ]
    );
}

#[test]
fn wrap_up_ends_by_its_timer() {
    let mut s = sim(queue("q"), &["a1"]); // wrapup_ms 5000 by default
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 1000);
    s.raw();
    s.end("c1", 31_000);
    s.enqueue("c2", "q", 32_000);
    s.timeout(35_999);
    assert_eq!(s.state("a1"), AgentState::WrapUp);
    s.timeout(40_000);
    assert_eq!(
        s.events(),
        [
            "31000 ended c1 @a1",
            "31000 terminal c1 q=q [completed]",
            "31000 agent-state @a1 [wrap-up]",
            "36000 agent-state @a1 [ready]",
            "36000 offer c2 @a1 longest-idle [step=0 tier=1 level=0]",
            "36000 agent-state @a1 [reserved]",
        ]
    );
}

#[test]
fn wrap_up_until_done_waits_for_the_agent() {
    let mut s = a1_talks_until(queue("q").set("wrapup_until_done", json!(true)), 10_000);
    s.enqueue("c2", "q", 11_000);
    s.timeout(1_000_000);
    assert_eq!(s.state("a1"), AgentState::WrapUp);
    assert!(matches!(
        s.refused(1_000_000, |r| r.wrapup_done("a1", "c2", 1_000_000)),
        AcdError::IllegalTransition(_)
    ));
    s.raw();
    s.wrapup_done("a1", "c1", 1_000_000);
    assert_eq!(s.offers(), ["1000000 c2>a1"]);
    assert_eq!(s.r.interval_counters("q").unwrap()[0].1.wrapup_ms, 990_000);
}

#[test]
fn set_ready_during_wrap_up_ends_it() {
    let mut s = a1_talks_until(queue("q").set("wrapup_ms", json!(60_000)), 10_000);
    s.enqueue("c2", "q", 11_000);
    s.raw();
    s.ready("a1", 12_000);
    assert_eq!(
        s.events(),
        [
            "12000 agent-state @a1 [ready]",
            "12000 offer c2 @a1 longest-idle [step=0 tier=1 level=0]",
            "12000 agent-state @a1 [reserved]",
        ]
    );
    // The wrap-up timer is gone: the next deadline is the offer's.
    assert_eq!(s.r.poll_timeout(), Some(27_000));
    assert_eq!(s.r.interval_counters("q").unwrap()[0].1.wrapup_ms, 2000);
}

#[test]
fn not_ready_during_a_call_applies_after_wrap_up() {
    let mut s = sim(queue("q"), &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 0);
    s.not_ready("a1", "lunch", 5000);
    let a1 = s.agent("a1");
    assert_eq!((a1.state, a1.pending_not_ready), (AgentState::Busy, true));
    s.end("c1", 10_000);
    s.enqueue("c2", "q", 11_000);
    s.raw();
    s.timeout(20_000);
    assert_eq!(s.events(), ["15000 agent-state @a1 lunch [not-ready]"]);
    assert_eq!(s.call_state("c2"), "waiting");
    assert!(!s.agent("a1").pending_not_ready);
}

#[test]
fn logout_during_a_call_applies_after_wrap_up() {
    let mut s = sim(queue("q"), &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 0);
    s.logout("a1", 5000);
    let a1 = s.agent("a1");
    assert_eq!((a1.state, a1.pending_logout), (AgentState::Busy, true));
    s.end("c1", 10_000);
    assert_eq!(s.state("a1"), AgentState::WrapUp);
    s.enqueue("c2", "q", 11_000);
    s.raw();
    s.timeout(20_000);
    assert_eq!(s.events(), ["15000 agent-state @a1 logout [logged-out]"]);
    assert_eq!(s.call_state("c2"), "waiting");
}

#[test]
fn set_ready_during_wrap_up_with_a_pending_logout_logs_out() {
    let mut s = sim(queue("q"), &["a1"]);
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 0);
    s.logout("a1", 5000);
    s.end("c1", 10_000);
    s.enqueue("c2", "q", 11_000);
    s.ready("a1", 12_000);
    assert_eq!(s.state("a1"), AgentState::LoggedOut);
    assert_eq!(s.call_state("c2"), "waiting");
}

#[test]
fn logout_while_reserved_gives_the_call_back_to_the_line() {
    let mut s = sim(queue("q"), &["a1", "a2"]);
    s.staff(&["a1"], 0);
    s.login("a2", 0);
    s.enqueue("c1", "q", 100);
    s.ready("a2", 200);
    s.raw();
    s.logout("a1", 500);
    // No transient "ready" between the revoke and the logout (ROUTING.md's table: "offer
    // revoked, logged-out"; the reference router says the same).
    assert_eq!(
        s.events(),
        [
            "500 revoke c1 @a1 [logout]",
            "500 agent-state @a1 logout [logged-out]",
            "500 offer c1 @a2 longest-idle [step=0 tier=1 level=0]",
            "500 agent-state @a2 [reserved]",
        ]
    );
    assert_eq!(s.state("a1"), AgentState::LoggedOut);
}

#[test]
fn not_ready_reasons_are_reported_and_can_change() {
    let mut s = sim(queue("q"), &["a1"]);
    s.staff(&["a1"], 0);
    s.raw();
    s.not_ready("a1", "break", 100);
    s.not_ready("a1", "training", 200);
    s.ready("a1", 300);
    assert_eq!(
        s.events(),
        [
            "100 agent-state @a1 break [not-ready]",
            "200 agent-state @a1 training [not-ready]",
            "300 agent-state @a1 [ready]",
        ]
    );
}

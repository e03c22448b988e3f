//! Reconfigurations the router refuses: each leaves it byte for byte as it was (`Sim::refused`
//! compares the snapshots), with the error kind and a message that names what is in the way.

use acd_core::{Channel, EnqueueRequest};
use serde_json::json;

use crate::common::{agent, call, config, queue, Config, Sim};

fn refuse(s: &mut Sim, next: &Config, now: u64) -> (String, String) {
    let json = next.json();
    let e = s.refused(now, |r| r.reconfigure_json(&json, now));
    (e.kind().to_owned(), e.to_string())
}

fn two_queues() -> Config {
    config()
        .queue(queue("q"))
        .queue(queue("other"))
        .agent(agent("a1"))
}

fn only_q() -> Config {
    config().queue(queue("q")).agent(agent("a1"))
}

#[test]
fn an_invalid_config_is_refused_as_at_construction() {
    let mut s = two_queues().sim();
    s.enqueue("c1", "q", 0);
    let bad = config().queue(queue("q").skill("sales", 11));
    assert_eq!(
        refuse(&mut s, &bad, 10),
        (
            "config".into(),
            "queues[0].skills.sales: level 11 out of range 1..10".into()
        )
    );
    let dangling =
        config().queue(queue("q").set("overflow", json!({"after_ms": 5, "queue": "other"})));
    assert_eq!(
        refuse(&mut s, &dangling, 10).1,
        "queues[0].overflow.queue: unknown queue 'other'"
    );
    let json = "{\"queues\": [{\"id\": \"q\", \"colour\": 1}]}";
    let e = s.refused(10, |r| r.reconfigure_json(json, 10));
    assert_eq!(e.kind(), "config");
}

#[test]
fn a_new_seed_is_refused_naming_the_key() {
    let mut s = only_q().sim();
    let (kind, message) = refuse(&mut s, &only_q().seed(7), 0);
    assert_eq!(kind, "invalid-argument");
    assert_eq!(message, "seed: a running router keeps its seed (0), got 7");
}

#[test]
fn a_queue_with_calls_in_any_state_cannot_go() {
    let mut s = two_queues().sim();
    let expected = (
        "illegal-transition".to_string(),
        "queue 'other' still has calls (waiting, offered, connected or in wrap-up): \
         cannot remove it"
            .to_string(),
    );
    s.enqueue("c1", "other", 0); // waiting
    assert_eq!(refuse(&mut s, &only_q(), 100), expected);
    s.staff(&["a1"], 200); // offered
    assert_eq!(s.call_state("c1"), "offered");
    assert_eq!(refuse(&mut s, &only_q(), 300), expected);
    s.accept("a1", "c1", 400); // connected
    assert_eq!(refuse(&mut s, &only_q(), 500), expected);
    s.end("c1", 600); // the agent is in wrap-up for it
    assert_eq!(refuse(&mut s, &only_q(), 700), expected);
    s.wrapup_done("a1", "c1", 800);
    s.reconfigure(&only_q(), 900);
}

#[test]
fn an_agent_that_is_logged_in_cannot_go() {
    let mut s = config().queue(queue("q")).agents(&["a1", "a2"], &[]).sim();
    let without_a2 = config().queue(queue("q")).agent(agent("a1"));
    s.login("a2", 0);
    assert_eq!(
        refuse(&mut s, &without_a2, 10),
        (
            "illegal-transition".into(),
            "agent 'a2' is not-ready: cannot remove it (log it out first)".into()
        )
    );
    s.ready("a2", 20);
    s.enqueue("c1", "q", 30);
    assert_eq!(
        refuse(&mut s, &without_a2, 40).1,
        "agent 'a2' is reserved: cannot remove it (log it out first)"
    );
    s.accept("a2", "c1", 50);
    s.logout("a2", 60); // pending until the call and its wrap-up end
    assert_eq!(
        refuse(&mut s, &without_a2, 70).1,
        "agent 'a2' is busy: cannot remove it (log it out first)"
    );
    s.end("c1", 80);
    s.timeout(10_000);
    s.reconfigure(&without_a2, 10_000);
}

#[test]
fn an_agent_that_calls_wait_for_cannot_go() {
    let mut s = config().queue(queue("q")).agents(&["a1", "a2"], &[]).sim();
    let req = EnqueueRequest {
        preferred_agent: Some("a2".into()),
        preferred_wait_ms: 30_000,
        ..call("c1", "q")
    };
    s.enqueue_req(req, 0);
    assert_eq!(s.call_state("c1"), "held");
    let without_a2 = config().queue(queue("q")).agent(agent("a1"));
    assert_eq!(
        refuse(&mut s, &without_a2, 10),
        (
            "illegal-transition".into(),
            "agent 'a2' is the preferred agent of call 'c1': cannot remove it".into()
        )
    );
    s.timeout(30_000); // the preference ran out
    s.reconfigure(&without_a2, 30_000);
}

#[test]
fn a_capacity_below_the_work_an_agent_holds_is_refused() {
    let chats = |n: u8| {
        config()
            .queue(queue("q"))
            .agent(agent("a1").capacity(json!({"chat": n})))
    };
    let mut s = chats(3).sim();
    s.staff(&["a1"], 0);
    for c in ["c1", "c2"] {
        s.enqueue_ch(c, "q", Channel::Chat, 10);
    }
    s.accept("a1", "c1", 20); // one connected, one offered: two chat items
    assert_eq!(
        refuse(&mut s, &chats(1), 30),
        (
            "illegal-transition".into(),
            "agent 'a1' holds 2 chat work item(s): cannot lower its chat capacity to 1".into()
        )
    );
    s.reconfigure(&chats(2), 40);
    s.enqueue_ch("c3", "q", Channel::Chat, 50);
    assert_eq!(s.call_state("c3"), "waiting", "two chats held, capacity 2");
}

#[test]
fn time_going_backwards_is_refused() {
    let mut s = only_q().sim();
    s.timeout(1000);
    let json = only_q().json();
    let e = s.refused(1000, |r| r.reconfigure_json(&json, 999));
    assert_eq!(e.kind(), "invalid-argument");
}

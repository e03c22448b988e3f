//! Transfers of connected calls: to a queue, to a named agent (held for it for a while), out to
//! a destination.

use acd_core::{AcdError, TransferTarget};
use serde_json::json;

use crate::common::{agent, config, queue, Sim};

fn queue_target(q: &str) -> TransferTarget {
    TransferTarget::Queue(q.into())
}

#[test]
fn transfer_to_a_queue_requeues_the_call_with_its_original_score() {
    let mut s = config()
        .queue(queue("sales").skill("sales", 1))
        .queue(queue("support").skill("support", 1))
        .agent(agent("s1").skill("sales", 1))
        .agent(agent("p1").skill("support", 1))
        .sim();
    s.staff(&["s1"], 0);
    s.login("p1", 0);
    s.enqueue("c1", "sales", 0);
    s.accept("s1", "c1", 0);
    s.enqueue("c2", "support", 30_000);
    s.raw();
    s.transfer("c1", queue_target("support"), 60_000);
    assert_eq!(
        s.events(),
        [
            "60000 ended c1 @s1 [transfer]",
            "60000 transferred c1 q=support [sales]",
            "60000 agent-state @s1 [wrap-up]",
        ]
    );
    assert_eq!(s.call_state("c1"), "waiting");
    // c1 first entered at 0, c2 at 30 000: c1 is served first in support.
    s.ready("p1", 70_000);
    assert_eq!(s.offers(), ["70000 c1>p1"]);
    let sales = s.r.interval_counters("sales").unwrap()[0].1;
    assert_eq!(
        (
            sales.answered,
            sales.transferred_out,
            sales.completed,
            sales.talk_ms
        ),
        (1, 1, 0, 60_000)
    );
    assert_eq!(s.r.interval_counters("support").unwrap()[0].1.offered, 2);
    assert_eq!(s.agent("s1").ready_since, 65_000); // sales wrap-up: 5 s
}

/// a1 talks with c1 and a2 with c2 (both since 0); a3 is Ready since 1000.
fn three_agents() -> Sim {
    let mut s = config()
        .queue(
            queue("q")
                .set("wrapup_ms", json!(0))
                .set("transfer_agent_wait_ms", json!(20_000)),
        )
        .agents(&["a1", "a2", "a3"], &[])
        .sim();
    s.staff(&["a1", "a2"], 0);
    s.enqueue("c1", "q", 0);
    s.enqueue("c2", "q", 0);
    s.accept("a1", "c1", 0);
    s.accept("a2", "c2", 0);
    s.staff(&["a3"], 1000);
    s.raw();
    s
}

#[test]
fn transfer_to_a_busy_agent_holds_the_call_for_that_agent() {
    let mut s = three_agents();
    s.transfer("c1", TransferTarget::Agent("a2".into()), 10_000);
    assert_eq!(s.call_state("c1"), "held");
    assert_eq!(
        s.only(&["transferred", "offer"]),
        ["10000 transferred c1 @a2 q=q [q]"]
    );
    s.end("c2", 15_000);
    assert_eq!(
        s.only(&["offer"]),
        ["15000 offer c1 @a2 preferred-agent [step=0 tier=1 level=0]"]
    );
}

#[test]
fn a_call_held_for_an_agent_goes_to_the_line_after_the_wait() {
    let mut s = three_agents();
    s.transfer("c1", TransferTarget::Agent("a2".into()), 10_000);
    s.timeout(29_999);
    assert_eq!(s.call_state("c1"), "held");
    s.timeout(40_000);
    // a3 has been idle since 1000, a1 only since the transfer.
    assert_eq!(
        s.only(&["offer"]),
        ["30000 offer c1 @a3 longest-idle [step=0 tier=1 level=0]"]
    );
}

#[test]
fn transfer_to_a_ready_agent_offers_at_once() {
    let mut s = three_agents();
    s.transfer("c1", TransferTarget::Agent("a3".into()), 10_000);
    assert_eq!(
        s.only(&["offer"]),
        ["10000 offer c1 @a3 preferred-agent [step=0 tier=1 level=0]"]
    );
}

#[test]
fn transfer_to_a_destination_ends_the_call_transferred_out() {
    let mut s = three_agents();
    s.transfer(
        "c1",
        TransferTarget::Destination("+3225551234".into()),
        10_000,
    );
    assert_eq!(
        s.only(&["ended", "terminal"]),
        [
            "10000 ended c1 @a1 [transfer]",
            "10000 terminal c1 q=q [transferred-out]",
        ]
    );
    let c = s.r.interval_counters("q").unwrap()[0].1;
    assert_eq!((c.transferred_out, c.completed), (1, 0));
}

#[test]
fn only_connected_calls_can_be_transferred_and_not_to_their_own_agent() {
    let mut s = three_agents();
    s.enqueue("c3", "q", 2000); // offered to a3
    assert!(matches!(
        s.refused(2000, |r| r.transfer("c3", &queue_target("q"), 2000)),
        AcdError::IllegalTransition(_)
    ));
    assert_eq!(
        s.refused(2000, |r| r.transfer(
            "c1",
            &TransferTarget::Agent("a1".into()),
            2000
        )),
        AcdError::InvalidArgument {
            field: "agent",
            message: "cannot transfer a call to the agent who has it".into()
        }
    );
}

#[test]
fn the_time_to_live_of_a_transferred_call_counts_from_the_transfer() {
    // Talked longer than the time-to-live: the transfer must not expire the call at once with
    // a terminal event stamped before the transfer (its first enqueue + ttl_ms).
    let mut s = config()
        .queue(queue("q").set("ttl_ms", json!(60_000)))
        .queue(queue("other").set("ttl_ms", json!(60_000)))
        .agents(&["a1"], &[])
        .sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.accept("a1", "c1", 0);
    s.raw();
    s.transfer("c1", queue_target("other"), 100_000);
    s.timeout(159_999);
    assert_eq!(s.call_state("c1"), "waiting");
    s.timeout(200_000);
    assert_eq!(
        s.only(&["transferred", "terminal"]),
        [
            "100000 transferred c1 q=other [q]",
            "160000 terminal c1 q=other [expired]",
        ]
    );
}

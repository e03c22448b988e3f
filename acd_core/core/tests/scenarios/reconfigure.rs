//! Reconfiguration of a running router (ROUTING.md, Reconfiguration): what changes take
//! effect and when. Refusals are in `reconfigure_refusals.rs`.

use acd_core::{Channel, Command, EnqueueRequest, Router};
use serde_json::json;

use crate::common::{agent, call, config, queue, Config, Sim};

/// Snapshot, restore, snapshot again: the same bytes.
fn assert_restores(s: &mut Sim) {
    let bytes = s.r.snapshot();
    let mut restored = Router::restore(&bytes).expect("restore");
    assert!(restored.snapshot() == bytes, "restored router differs");
    restored
        .check_invariants()
        .expect("restored router is consistent");
}

fn sales(level: u8) -> Config {
    config()
        .queue(queue("q").skill("sales", level))
        .agent(agent("a1").skill("sales", 3))
        .agent(agent("a2").skill("sales", 5))
}

#[test]
fn a_ready_agent_that_becomes_eligible_is_offered_the_waiting_calls_in_their_order() {
    let mut s = sales(9).sim();
    s.staff(&["a1", "a2"], 0);
    s.enqueue("c1", "q", 1000);
    s.enqueue_p("c2", "q", 1, 2000);
    s.enqueue("c3", "q", 3000);
    assert!(s.offers().is_empty());
    // Levels lowered: both agents qualify; the most urgent calls go first, c2 (priority) and
    // then c1, each to the agent its strategy picks (a1 has been idle as long, lower index).
    s.reconfigure(&sales(3), 10_000);
    assert_eq!(s.offers(), ["10000 c2>a1", "10000 c1>a2"]);
    assert_eq!(s.call_state("c3"), "waiting");
    assert_eq!(s.r.call_info("c3").unwrap().seq, 2);
    assert_restores(&mut s);
}

#[test]
fn an_agent_no_longer_eligible_leaves_the_ready_sets() {
    let mut s = sales(3).sim();
    s.staff(&["a1"], 0);
    s.reconfigure(&sales(4), 1000);
    s.enqueue("c1", "q", 2000);
    assert!(s.offers().is_empty(), "a1 (sales 3) no longer qualifies");
    assert_eq!(s.state("a1"), acd_core::AgentState::Ready);
}

#[test]
fn added_queues_and_agents_join_and_kept_agents_keep_their_state_and_statistics() {
    let mut s = config().queue(queue("q")).agent(agent("a1")).sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 100);
    s.serve("a1", "c1", 200, 5000);
    let before = s.agent("a1");
    let bigger = config()
        .queue(queue("q"))
        .queue(queue("new").skill("fr", 2))
        .agent(agent("b0").skill("fr", 2))
        .agent(agent("a1").tier(2).group("tier2"))
        .set("seed", json!(0));
    s.reconfigure(&bigger, 6000);
    assert_eq!(
        s.r.queue_ids().iter().map(|q| &**q).collect::<Vec<_>>(),
        ["q", "new"]
    );
    assert_eq!(
        s.r.agent_ids().iter().map(|a| &**a).collect::<Vec<_>>(),
        ["b0", "a1"]
    );
    let after = s.agent("a1");
    assert_eq!(
        (
            after.state,
            after.calls_answered,
            after.talk_ms,
            after.state_since
        ),
        (before.state, 1, 4800, before.state_since)
    );
    assert_eq!((after.tier, &*after.group), (2, "tier2"));
    let b0 = s.agent("b0");
    assert_eq!(
        (b0.state, b0.state_since),
        (acd_core::AgentState::LoggedOut, 6000)
    );
    s.staff(&["b0"], 7000);
    s.r.drain();
    s.enqueue("c2", "new", 8000);
    assert_eq!(s.offers(), ["8000 c2>b0"]);
    assert_restores(&mut s);
}

#[test]
fn a_new_strategy_orders_the_ready_agents_at_once() {
    let with = |strategy: &str| {
        config()
            .queue(queue("q").strategy(strategy))
            .agents(&["a1", "a2", "a3"], &[])
    };
    let mut s = with("longest-idle").sim();
    s.staff(&["a3"], 0);
    s.staff(&["a2"], 10);
    s.staff(&["a1"], 20);
    // Longest-idle would pick a3; linear picks the lowest agent index.
    s.reconfigure(&with("linear"), 50);
    s.enqueue("c1", "q", 100);
    assert_eq!(s.offers(), ["100 c1>a1"]);
}

#[test]
fn agent_order_follows_the_new_config() {
    let linear = |order: &[&str]| {
        let mut c = config().queue(queue("q").strategy("linear"));
        for id in order {
            c = c.agent(agent(id));
        }
        c
    };
    let mut s = linear(&["a1", "a2"]).sim();
    s.staff(&["a1", "a2"], 0);
    s.reconfigure(&linear(&["a2", "a1"]), 100);
    s.enqueue("c1", "q", 200);
    assert_eq!(s.offers(), ["200 c1>a2"]);
    assert_restores(&mut s);
}

#[test]
fn waiting_calls_deadlines_follow_the_new_settings_from_their_enqueue() {
    let ttl = |ms: u64| config().queue(queue("q").set("ttl_ms", json!(ms)));
    let mut s = ttl(60_000).sim();
    s.enqueue("c1", "q", 0);
    s.enqueue("c2", "q", 20_000);
    // Longer: c1 no longer expires at 60 s but at 120 s.
    s.reconfigure(&ttl(120_000), 30_000);
    s.timeout(100_000);
    assert_eq!(s.call_state("c1"), "waiting");
    // Shorter than c1 has waited: c1 expires at once (stamped now), c2 at 20 s + 90 s.
    s.reconfigure(&ttl(90_000), 105_000);
    assert_eq!(s.only(&["terminal"]), ["105000 terminal c1 q=q [expired]"]);
    assert_eq!(s.r.poll_timeout(), Some(110_000));
    s.timeout(110_000);
    assert_eq!(s.only(&["terminal"]), ["110000 terminal c2 q=q [expired]"]);
}

#[test]
fn a_new_maximum_wait_overflows_calls_that_waited_longer_at_once() {
    let base = config().queue(queue("q")).queue(queue("backup"));
    let with_overflow = config()
        .queue(queue("q").set("overflow", json!({"after_ms": 10_000, "queue": "backup"})))
        .queue(queue("backup"))
        .agent(agent("b1"));
    let mut s = base.sim();
    s.enqueue("c1", "q", 0);
    s.enqueue("c2", "q", 25_000);
    s.reconfigure(&with_overflow, 30_000);
    assert_eq!(s.only(&["overflow"]), ["30000 overflow c1 q=backup [q]"]);
    s.timeout(35_000);
    assert_eq!(s.only(&["overflow"]), ["35000 overflow c2 q=backup [q]"]);
    assert_eq!(s.r.call_info("c1").unwrap().enqueued_at, 0);
}

#[test]
fn escalation_steps_follow_the_new_times() {
    let steps = |after: u64| {
        config()
            .queue(queue("q").skill("sales", 5).set(
                "escalation",
                json!([{"after_ms": after, "lower_levels_by": 2}]),
            ))
            .agent(agent("a1").skill("sales", 3))
    };
    let mut s = steps(10_000).sim();
    s.enqueue("c1", "q", 0);
    s.timeout(10_000);
    assert_eq!(s.r.call_info("c1").unwrap().step, 1);
    // The step now comes at 50 s: not reached yet, the call is back at step 0.
    s.reconfigure(&steps(50_000), 30_000);
    assert_eq!(s.r.call_info("c1").unwrap().step, 0);
    s.staff(&["a1"], 31_000);
    assert!(s.offers().is_empty(), "a1 (sales 3) waits for the step");
    s.timeout(50_000);
    assert_eq!(
        s.only(&["escalated", "offer"]),
        [
            "50000 escalated c1 [1]",
            "50000 offer c1 @a1 longest-idle [step=1 tier=1 level=3]"
        ]
    );
}

#[test]
fn a_step_the_new_times_put_in_the_past_is_reached_at_once() {
    let mut s = config()
        .queue(queue("q").skill("sales", 5))
        .agent(agent("a1").skill("sales", 3))
        .sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    let stepped = config()
        .queue(queue("q").skill("sales", 5).set(
            "escalation",
            json!([{"after_ms": 20_000, "lower_levels_by": 2}]),
        ))
        .agent(agent("a1").skill("sales", 3));
    s.reconfigure(&stepped, 30_000);
    assert_eq!(
        s.only(&["escalated", "offer"]),
        [
            "30000 escalated c1 [1]",
            "30000 offer c1 @a1 longest-idle [step=1 tier=1 level=3]"
        ]
    );
}

#[test]
fn an_offer_already_made_keeps_its_timeout_and_the_next_uses_the_new_one() {
    let timeout = |ms: u64| {
        config()
            .queue(
                queue("q")
                    .set("offer_timeout_ms", json!(ms))
                    .set("no_answer", json!({"max_misses": 0})),
            )
            .agent(agent("a1"))
    };
    let mut s = timeout(15_000).sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    s.reconfigure(&timeout(1_000), 5_000);
    s.timeout(14_999);
    assert_eq!(s.call_state("c1"), "offered");
    s.timeout(15_000);
    let offers: Vec<_> = s
        .raw()
        .into_iter()
        .filter(|e| e.kind.name() == "offer")
        .map(|e| (e.at_ms, e.expires_at_ms))
        .collect();
    assert_eq!(offers, [(0, 15_000), (15_000, 16_000)]);
}

#[test]
fn an_empty_queue_and_a_logged_out_agent_can_go() {
    let mut s = config()
        .queue(queue("q"))
        .queue(queue("old"))
        .agent(agent("a1"))
        .agent(agent("gone"))
        .sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "old", 100);
    s.serve("a1", "c1", 200, 300);
    s.timeout(10_000); // wrap-up over
    s.reconfigure(&config().queue(queue("q")).agent(agent("a1")), 10_000);
    assert_eq!(s.r.queue_ids().len(), 1);
    let e =
        s.r.enqueue(&call("c2", "old"), 11_000)
            .expect_err("the queue is gone");
    assert_eq!(e.kind(), "not-found");
    assert!(s.r.agent_info("gone").is_err());
    assert_restores(&mut s);
}

#[test]
fn a_call_held_for_its_preferred_agent_is_offered_once_the_agent_can_take_it() {
    let chat = |n: u8| {
        config()
            .queue(queue("q"))
            .agent(agent("a1").capacity(json!({"voice": 1, "chat": n})))
    };
    let mut s = chat(0).sim();
    s.staff(&["a1"], 0);
    let req = EnqueueRequest {
        channel: Some(Channel::Chat),
        preferred_agent: Some("a1".into()),
        preferred_wait_ms: 60_000,
        ..call("c1", "q")
    };
    s.enqueue_req(req, 100);
    assert_eq!(s.call_state("c1"), "held");
    s.reconfigure(&chat(2), 1000);
    assert_eq!(
        s.only(&["offer"]),
        ["1000 offer c1 @a1 preferred-agent [step=0 tier=1 level=0]"]
    );
}

#[test]
fn the_batch_form_applies_a_configuration_or_reports_why_not() {
    let mut r = config().queue(queue("q")).router();
    let next = config().queue(queue("q")).queue(queue("r")).json();
    r.apply_batch(&[
        Command::Configure("{\"queues\": 3}".into(), 10),
        Command::Configure(next, 20),
    ]);
    let events = r.drain();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].rule_text(), "config");
    assert!(events[0].detail.to_string().starts_with("command 0: "));
    assert_eq!(r.queue_ids().len(), 2);
    assert_eq!(r.now(), 20);
}

#[test]
fn call_ids_lists_every_live_call_in_arrival_order() {
    let mut s = config().queue(queue("q")).agents(&["a1", "a2"], &[]).sim();
    s.staff(&["a1", "a2"], 0);
    for (i, c) in ["c3", "c1", "c2", "c4"].iter().enumerate() {
        s.enqueue(c, "q", 100 + i as u64);
    }
    s.accept("a1", "c3", 200); // connected; c1 offered to a2; c2, c4 waiting
    s.abandon("c2", 300);
    let ids: Vec<String> = s.r.call_ids().iter().map(|c| c.to_string()).collect();
    assert_eq!(ids, ["c3", "c1", "c4"]);
    s.end("c3", 400);
    assert_eq!(s.r.call_ids().len(), 2);
}

#[test]
fn a_new_dedup_window_applies_to_finished_ids() {
    let window = |ms: u64| config().queue(queue("q")).set("dedup_window_ms", json!(ms));
    let mut s = window(3_600_000).sim();
    s.enqueue("c1", "q", 0);
    s.abandon("c1", 10);
    s.reconfigure(&window(1_000), 2_000);
    assert!(
        s.enqueue("c1", "q", 2_000),
        "forgotten after the new, shorter window"
    );
}

#[test]
fn reordered_queues_keep_their_calls_and_statistics() {
    let order = |ids: &[&str]| {
        let mut c = config();
        for id in ids {
            c = c.queue(queue(id).set("wrapup_ms", json!(1000)));
        }
        c.agents(&["a1", "a2"], &[])
    };
    let mut s = order(&["q1", "q2"]).sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q1", 100);
    s.accept("a1", "c1", 200);
    s.enqueue("c2", "q2", 300);
    let counters = |s: &Sim| ["q1", "q2"].map(|q| s.r.interval_counters(q).expect("known queue"));
    let before = counters(&s);
    s.r.drain();
    s.reconfigure(&order(&["q3", "q2", "q1"]), 400);
    assert_eq!(counters(&s), before);
    assert_eq!(&*s.r.call_info("c1").unwrap().queue_id, "q1");
    assert_eq!(&*s.r.call_info("c2").unwrap().queue_id, "q2");
    assert_eq!(s.r.queue_snapshot("q2", 400).unwrap().waiting, 1);
    s.end("c1", 500);
    s.staff(&["a2"], 600);
    s.timeout(1500);
    assert_eq!(
        s.only(&["terminal", "offer"]),
        [
            "500 terminal c1 q=q1 [completed]",
            "600 offer c2 @a2 longest-idle [step=0 tier=1 level=0]",
        ]
    );
    let q1 = s.r.interval_counters("q1").unwrap()[0].1;
    assert_eq!((q1.completed, q1.talk_ms, q1.wrapup_ms), (1, 300, 1000));
    assert_restores(&mut s);
}

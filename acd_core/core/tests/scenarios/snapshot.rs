//! Snapshot and restore: a router restored from a snapshot taken at any point of a busy run
//! continues exactly like the original (same events, same final state, byte for byte).

use acd_core::{AcdError, Channel, EnqueueRequest, Router, TransferTarget};
use serde_json::json;

use crate::common::{agent, call, config, queue, Sim};

fn router() -> Router {
    config()
        .seed(42)
        .set("dedup_window_ms", json!(100_000))
        .queue(
            queue("sales")
                .strategy("random")
                .skill("sales", 2)
                .set(
                    "escalation",
                    json!([{"after_ms": 20_000, "lower_levels_by": 1}]),
                )
                .set("overflow", json!({"after_ms": 90_000, "queue": "backup"}))
                .set("wrapup_ms", json!(3000))
                .set("no_answer", json!({"reject_delay_ms": 2000})),
        )
        .queue(
            queue("backup")
                .strategy("round-robin")
                .set("wrapup_ms", json!(0)),
        )
        .queue(
            queue("chat")
                .strategy("ring-all")
                .set("ring_all_max", json!(2))
                .set("wrapup_until_done", json!(true)),
        )
        .agent(agent("a1").skill("sales", 2))
        .agent(agent("a2").skill("sales", 3))
        .agent(
            agent("a3")
                .skill("sales", 1)
                .capacity(json!({"voice": 1, "chat": 2})),
        )
        .agent(agent("a4").capacity(json!({"chat": 2})))
        .router()
}

/// Accepts `c` by the first agent it is offered to, if it is offered.
fn accept_offered(s: &mut Sim, c: &str, t: u64) {
    if s.call_state(c) == "offered" {
        let a = s.call_agents(c)[0].clone();
        s.accept(&a, c, t);
    }
}

fn connected_agent(s: &Sim, c: &str) -> Option<String> {
    (s.call_state(c) == "connected").then(|| s.call_agents(c)[0].clone())
}

type Step = fn(&mut Sim);

/// A run touching most of the router's state: random draws, held calls, escalation, ring-all,
/// chats, misses with delays, wrap-up until done, transfer, overflow, dedup memory.
const STEPS: &[Step] = &[
    |s| ["a1", "a2", "a3", "a4"].iter().for_each(|a| s.login(a, 0)),
    |s| {
        s.ready("a1", 0);
        s.ready("a2", 100);
    },
    |s| {
        s.enqueue("s1", "sales", 1000);
        s.enqueue_p("s2", "sales", 1, 1500);
    },
    |s| {
        let req = EnqueueRequest {
            preferred_agent: Some("a3".into()),
            preferred_wait_ms: 20_000,
            ..call("s3", "sales")
        };
        s.enqueue_req(req, 2000);
    },
    |s| accept_offered(s, "s1", 3000),
    |s| {
        if s.call_state("s2") == "offered" {
            let a = s.call_agents("s2")[0].clone();
            s.reject(&a, "s2", 4000);
        }
    },
    |s| {
        s.enqueue_ch("ch1", "chat", Channel::Chat, 5000);
        s.enqueue_ch("ch2", "chat", Channel::Chat, 5100);
        s.ready("a4", 5500);
    },
    |s| {
        s.enqueue("s4", "sales", 6000);
        s.ready("a3", 10_000); // s3 is held for a3
    },
    |s| s.timeout(25_000),
    |s| accept_offered(s, "ch1", 26_000),
    |s| {
        if let Some(a) = connected_agent(s, "s1") {
            s.end("s1", 30_000);
            s.ready(&a, 31_000);
        }
    },
    |s| accept_offered(s, "s4", 32_000),
    |s| accept_offered(s, "s3", 33_000),
    |s| accept_offered(s, "s2", 34_000),
    |s| {
        if connected_agent(s, "s3").is_some() {
            s.transfer("s3", TransferTarget::Queue("backup".into()), 40_000);
        }
    },
    |s| {
        if connected_agent(s, "ch1").is_some() {
            s.end("ch1", 41_000);
        }
        s.enqueue("s5", "sales", 42_000);
    },
    |s| s.timeout(60_000),
    |s| match s.call_state("s4") {
        "connected" => s.end("s4", 61_000),
        _ => s.abandon("s4", 61_000),
    },
    |s| {
        assert!(!s.enqueue("s4", "sales", 62_000)); // remembered for the dedup window
        s.timeout(150_000);
    },
    |s| {
        let a4 = s.agent("a4");
        for c in a4.calls.iter().map(|c| c.to_string()).collect::<Vec<_>>() {
            if s.r.call_info(&c).is_none() {
                s.wrapup_done("a4", &c, 151_000);
            }
        }
        s.not_ready("a2", "lunch", 152_000);
        s.logout("a1", 153_000);
    },
    |s| s.timeout(400_000),
];

fn run(s: &mut Sim, steps: &[Step]) -> Vec<String> {
    for step in steps {
        step(s);
    }
    s.events()
}

#[test]
fn a_restored_router_continues_exactly_like_the_original_from_any_point() {
    let mut whole = Sim::new(router());
    let all_events = run(&mut whole, STEPS);
    let end_state = whole.r.snapshot();
    // The run does what it is meant to exercise.
    for needle in [
        " random [",
        " preferred-agent [",
        " ring-all [",
        "escalated s",
        "missed s2",
        "transferred s3",
        "overflow s",
    ] {
        assert!(
            all_events.iter().any(|e| e.contains(needle)),
            "{needle}: {all_events:#?}"
        );
    }
    for k in 0..=STEPS.len() {
        let mut original = Sim::new(router());
        let mut before = run(&mut original, &STEPS[..k]);
        let bytes = original.r.snapshot();
        let mut restored = Sim::new(Router::restore(&bytes).expect("restore"));
        assert!(
            restored.r.snapshot() == bytes,
            "split {k}: restore is not exact"
        );
        let after = run(&mut restored, &STEPS[k..]);
        assert_eq!(after, run(&mut original, &STEPS[k..]), "split {k}");
        before.extend(after);
        assert_eq!(before, all_events, "split {k}");
        assert!(restored.r.snapshot() == end_state, "split {k}: end state");
    }
}

#[test]
fn restore_refuses_what_is_not_a_snapshot() {
    for bytes in [
        &b""[..],
        b"\x01\x00",
        b"\x02\x00\x00\x00rest",
        b"\x01\x00\x00\x00junk",
    ] {
        match Router::restore(bytes) {
            Err(AcdError::InvalidArgument { field, .. }) => assert_eq!(field, "snapshot"),
            other => panic!("{bytes:?}: {:?}", other.map(|_| ())),
        }
    }
}

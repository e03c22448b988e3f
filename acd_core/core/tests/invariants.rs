//! Seeded randomized simulation of the router, checking DESIGN.md's invariants I1-I7 after
//! every step (see `sim/`), with faults and adversarial timings injected: crashes and restarts
//! from the journal's snapshot plus entries, lost unsynced journal tails, answers at the
//! instant an offer times out, hangups, logouts and breaks during offers, duplicate and
//! reordered messages, transfers racing hangups, simultaneous ring-all accepts. Plus a few
//! small scenarios with concrete outcomes.
//!
//! Default: 200 seeds, each run until its events reach 10,000 in release builds (about 4,000
//! steps) and 2,500 in debug builds, where a step costs ~17 times more; then every call is
//! driven to its end. Every 25th seed runs twice and must give the same event-log hash.
//! Environment:
//! - `ACD_SIM_SEEDS=N`: seeds 0..N (`make soak SEEDS=10000` runs this in release mode);
//! - `ACD_SIM_EVENTS=N`: events per seed (the random part stops at the first step that
//!   reaches N);
//! - `ACD_SIM_STEPS=N`: N random steps per seed instead; a seed's first N steps are the same
//!   in any build profile and for any `ACD_SIM_STEPS` >= N;
//! - `ACD_SIM_SEED=S`: only seed S, run twice, to replay a failure;
//! - `ACD_SIM_LABEL=L`: the summary line starts with `L:` (`make soak`: `soak`);
//! - `ACD_SIM_STATS=1`: print the summed stats in detail (also done on a failure).
//!
//! A failure panics with `seed S step N: what`, the commands and events of that step, the
//! configuration, and the command that replays it; the summary line before it counts the
//! failing seeds as violations.

mod sim;

use acd_core::{
    AgentState, Command, Detail, EnqueueRequest, Event, EventKind, Outcome, RevokeReason, Router,
    Rule, Strategy,
};

use sim::driver::run_seeds;
use sim::gen::STRATEGIES;
use sim::run::Length;
use sim::stats::{Stats, FAULTS};

const DEFAULT_SEEDS: u64 = 200;
const DEFAULT_EVENTS: u64 = if cfg!(debug_assertions) {
    2_500
} else {
    10_000
};
/// Seeds that are multiples of this run twice (event-log hash compared).
const RERUN_EVERY: u64 = 25;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

#[test]
fn random_simulations_keep_every_invariant() {
    let length = match env_u64("ACD_SIM_STEPS") {
        Some(steps) => Length::Steps(steps as usize),
        None => Length::Events(env_u64("ACD_SIM_EVENTS").unwrap_or(DEFAULT_EVENTS)),
    };
    let single = env_u64("ACD_SIM_SEED");
    let seeds: Vec<u64> = match single {
        Some(seed) => vec![seed],
        None => (0..env_u64("ACD_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS)).collect(),
    };
    let label = std::env::var("ACD_SIM_LABEL").unwrap_or_else(|_| "simulation".into());
    let run = run_seeds(&seeds, length, |seed| {
        single.is_some() || seed % RERUN_EVERY == 0
    });
    let total = &run.stats;
    if run.failures.is_empty() && std::env::var_os("ACD_SIM_STATS").is_none() {
        println!("(ACD_SIM_STATS=1 prints what the runs did in detail)");
    } else {
        println!("{total:#?}");
    }
    println!(
        "{} seeds ({length:?} each, {} steps, fewest events in a seed {}) in {:.1} s on {} threads; {} seeds run twice, same event-log hash; sum of the seeds' event-log hashes {:016x}",
        total.seeds,
        total.steps,
        total.min_events,
        run.seconds,
        run.threads,
        run.reruns,
        total.log_hash
    );
    println!("{}", total.summary(&label, run.seeds, run.failures.len()));
    if let Some((_, message)) = run.failures.first() {
        let seeds: Vec<String> = run.failures.iter().map(|f| f.0.to_string()).collect();
        panic!(
            "{message}\n({} failing seed(s): {}; replay each with ACD_SIM_SEED=<seed> {} cargo test --release -p acd-core --test invariants -- --nocapture)",
            run.failures.len(),
            seeds.join(", "),
            length.env()
        );
    }
    if let Length::Events(n) = length {
        assert!(
            total.min_events >= n,
            "a seed made only {} events: {total:#?}",
            total.min_events
        );
    }
    if single.is_none() && seeds.len() >= 100 && total.steps >= 100 * 1_000 {
        assert_drives_real_traffic(total);
    }
}

/// The harness is only as good as the traffic it makes: every rule, outcome and path must
/// actually have been exercised, and the order checks must have had something to check.
fn assert_drives_real_traffic(s: &Stats) {
    for strategy in STRATEGIES {
        assert!(
            s.offers_by_rule.get(strategy).copied().unwrap_or(0) > 0,
            "no offer by strategy {strategy}: {s:#?}"
        );
    }
    for rule in ["preferred-agent", "pick"] {
        assert!(
            s.offers_by_rule.get(rule).copied().unwrap_or(0) > 0,
            "no {rule} offer"
        );
    }
    for outcome in OUTCOMES {
        assert!(
            s.outcomes.get(outcome).copied().unwrap_or(0) > 0,
            "no call ended {outcome}: {s:#?}"
        );
    }
    for why in [
        "abandoned",
        "answered-elsewhere",
        "logout",
        "expired",
        "overflow",
        "paused",
    ] {
        assert!(
            s.revokes.get(why).copied().unwrap_or(0) > 0,
            "no offer revoked ({why}): {s:#?}"
        );
    }
    let offers: u64 = s.offers_by_rule.values().sum();
    assert!(s.enqueued > 100 * s.seeds, "too few calls: {s:#?}");
    assert!(offers > s.enqueued / 2, "too few offers: {s:#?}");
    assert!(s.connected > s.enqueued / 4, "too few answers: {s:#?}");
    for kind in FAULTS {
        assert!(
            s.faults.get(kind).copied().unwrap_or(0) > 0,
            "no {kind}: {s:#?}"
        );
    }
    for (what, n) in [
        ("rejections", s.missed_rejected),
        ("offer timeouts", s.missed_timed_out),
        ("escalations", s.escalations),
        ("overflows", s.overflows),
        ("transfers", s.transfers),
        ("chat offers", s.chat_offers),
        ("refused commands", s.refused),
        ("no-op commands", s.no_ops),
        ("commands that fired timers themselves", s.fused),
        ("I6 order checks", s.i6_checked),
        ("I6 choice checks", s.choice_checked),
    ] {
        assert!(n > 0, "no {what}: {s:#?}");
    }
}

const OUTCOMES: [&str; 5] = [
    "completed",
    "abandoned",
    "overflowed-out",
    "expired",
    "transferred-out",
];

// --- small scenarios with concrete outcomes ---------------------------------------------------

fn enqueue(r: &mut Router, call: &str, queue: &str, priority: i32, now: u64) {
    let req = EnqueueRequest {
        call_id: call.into(),
        queue_id: queue.into(),
        priority,
        ..Default::default()
    };
    assert!(r.enqueue(&req, now).expect("enqueue"), "enqueue {call}");
}

fn ready(r: &mut Router, agent: &str, now: u64) {
    r.login(agent, now).expect("login");
    r.set_ready(agent, now).expect("ready");
}

/// (kind, call, agent, at) of the events, without agent-state noise.
fn calls_of(events: &[Event]) -> Vec<(&'static str, String, String, u64)> {
    events
        .iter()
        .filter(|e| e.kind != EventKind::AgentState)
        .map(|e| {
            (
                e.kind.name(),
                e.call_id.to_string(),
                e.agent_id.to_string(),
                e.at_ms,
            )
        })
        .collect()
}

fn ev(kind: &'static str, call: &str, agent: &str, at: u64) -> (&'static str, String, String, u64) {
    (kind, call.into(), agent.into(), at)
}

#[test]
fn scenario_arrival_order_longest_idle_and_a_returned_call_keeps_its_place() {
    let mut r = Router::from_json(
        r#"{"queues":[{"id":"q","offer_timeout_ms":10000,"wrapup_ms":0}],
            "agents":[{"id":"a1"},{"id":"a2"}]}"#,
    )
    .unwrap();
    ready(&mut r, "a2", 0);
    ready(&mut r, "a1", 10);
    for (i, call) in ["c1", "c2", "c3"].iter().enumerate() {
        enqueue(&mut r, call, "q", 0, 100 + i as u64);
    }
    r.reject("a1", "c2", 200).unwrap();
    r.check_invariants().unwrap();
    // a2 idled longest; c2 goes back ahead of c3, and a1 (ready at once) gets it again.
    assert_eq!(
        calls_of(&r.drain()),
        vec![
            ev("offer", "c1", "a2", 100),
            ev("offer", "c2", "a1", 101),
            ev("missed", "c2", "a1", 200),
            ev("offer", "c2", "a1", 200),
        ]
    );
    let waiting = r.call_info("c3").unwrap();
    assert_eq!(waiting.state, "waiting");
}

#[test]
fn scenario_priority_and_strategies_name_their_rule() {
    for strategy in STRATEGIES {
        let config = format!(
            r#"{{"queues":[{{"id":"q","strategy":"{strategy}","skills":{{"de":2}}}}],
                "agents":[{{"id":"a1","skills":{{"de":3}}}},{{"id":"a2","skills":{{"de":9}}}}]}}"#
        );
        let mut r = Router::from_json(&config).unwrap();
        enqueue(&mut r, "low", "q", 0, 0);
        enqueue(&mut r, "high", "q", 5, 1);
        ready(&mut r, "a2", 2);
        let events = r.drain();
        let offer = events.iter().find(|e| e.kind == EventKind::Offer).unwrap();
        assert_eq!(&*offer.call_id, "high", "{strategy}: priority first");
        assert_eq!(offer.rule.name(), strategy);
        assert_eq!(offer.detail.to_string(), "step=0 tier=1 level=9");
        r.check_invariants().unwrap();
    }
}

#[test]
fn scenario_timeout_miss_policy_and_a_late_accept_is_refused_without_effect() {
    let mut r = Router::from_json(
        r#"{"queues":[{"id":"q","offer_timeout_ms":5000,"no_answer":{"max_misses":1}}],
            "agents":[{"id":"a1"}]}"#,
    )
    .unwrap();
    ready(&mut r, "a1", 0);
    enqueue(&mut r, "c1", "q", 0, 1_000);
    assert_eq!(r.poll_timeout(), Some(6_000));
    r.handle_timeout(6_000).unwrap();
    let missed = r.drain();
    assert!(missed
        .iter()
        .any(|e| e.kind == EventKind::Missed && e.rule == Rule::TimedOut && e.at_ms == 6_000));
    let before = r.snapshot();
    let err = r.accept("a1", "c1", 6_000).unwrap_err();
    assert!(err.to_string().contains("no open offer"), "{err}");
    assert!(r.drain().is_empty());
    assert_eq!(r.snapshot(), before, "a refused accept changes nothing");
    let a1 = r.agent_info("a1").unwrap();
    assert_eq!((a1.state, &*a1.reason), (AgentState::NotReady, "missed"));
    assert_eq!(r.call_info("c1").unwrap().state, "waiting");
    r.check_invariants().unwrap();
}

#[test]
fn scenario_escalation_overflow_and_ttl_fire_at_their_deadlines() {
    let mut r = Router::from_json(
        r#"{"queues":[
              {"id":"q1","skills":{"fr":6},"escalation":[{"after_ms":10000,"lower_levels_by":3}],
               "overflow":{"after_ms":30000,"queue":"q2"}},
              {"id":"q2","skills":{"de":1},"ttl_ms":40000}],
            "agents":[{"id":"a1","skills":{"fr":3}}]}"#,
    )
    .unwrap();
    ready(&mut r, "a1", 0);
    enqueue(&mut r, "c1", "q1", 0, 1_000);
    enqueue(&mut r, "c2", "q1", 0, 2_000);
    r.drain();
    // Step 1 (fr >= 3) at 11 000: a1 qualifies now and takes c1; c2 follows at 12 000 but
    // a1 is busy, so c2 overflows at 32 000 into q2, where nobody has "de": expired at 42 000.
    r.handle_timeout(11_000).unwrap();
    r.accept("a1", "c1", 11_500).unwrap();
    r.handle_timeout(100_000).unwrap();
    let events = r.drain();
    let pick = |kind: EventKind, call: &str| {
        events
            .iter()
            .find(|e| e.kind == kind && &*e.call_id == call)
            .map(|e| (e.at_ms, e.detail.clone()))
    };
    assert_eq!(
        pick(EventKind::Escalated, "c1"),
        Some((11_000, Detail::Step(1)))
    );
    let offer = events.iter().find(|e| e.kind == EventKind::Offer).unwrap();
    assert_eq!((&*offer.call_id, offer.at_ms), ("c1", 11_000));
    assert_eq!(offer.detail.to_string(), "step=1 tier=1 level=3");
    assert_eq!(
        pick(EventKind::Escalated, "c2"),
        Some((12_000, Detail::Step(1)))
    );
    assert_eq!(
        pick(EventKind::Overflow, "c2"),
        Some((32_000, Detail::From("q1".into())))
    );
    assert_eq!(
        pick(EventKind::Terminal, "c2"),
        Some((42_000, Detail::Outcome(Outcome::Expired))),
        "time-to-live counts from the first enqueue: 2 000 + q2's 40 000"
    );
    r.check_invariants().unwrap();
}

#[test]
fn scenario_ring_all_first_accept_wins_and_the_others_are_revoked() {
    let mut r = Router::from_json(
        r#"{"queues":[{"id":"q","strategy":"ring-all","ring_all_max":2}],
            "agents":[{"id":"a1"},{"id":"a2"},{"id":"a3"}]}"#,
    )
    .unwrap();
    ready(&mut r, "a3", 0);
    ready(&mut r, "a1", 1);
    ready(&mut r, "a2", 2);
    enqueue(&mut r, "c1", "q", 0, 10);
    r.accept("a1", "c1", 20).unwrap();
    let events = r.drain();
    assert_eq!(
        calls_of(&events),
        vec![
            ev("offer", "c1", "a3", 10),
            ev("offer", "c1", "a1", 10),
            ev("revoke", "c1", "a3", 20),
            ev("connected", "c1", "a1", 20),
        ]
    );
    let revoke = events.iter().find(|e| e.kind == EventKind::Revoke).unwrap();
    assert_eq!(
        revoke.detail,
        Detail::Revoke(RevokeReason::AnsweredElsewhere)
    );
    assert!(events
        .iter()
        .all(|e| e.kind != EventKind::Offer || e.rule == Rule::Strategy(Strategy::RingAll)));
    r.check_invariants().unwrap();
}

#[test]
fn scenario_replay_and_snapshot_restore_give_the_same_events() {
    let config = r#"{"queues":[{"id":"q","wrapup_ms":2000}],"agents":[{"id":"a1"},{"id":"a2"}]}"#;
    let req = |id: &str| EnqueueRequest {
        call_id: id.into(),
        queue_id: "q".into(),
        ..Default::default()
    };
    let commands = vec![
        Command::Login("a1".into(), 0),
        Command::Ready("a1".into(), 0),
        Command::Enqueue(req("c1"), 10),
        Command::Enqueue(req("c2"), 20),
        Command::Accept("a1".into(), "c1".into(), 30),
        Command::End("c1".into(), 40),
        Command::Timeout(5_000),
        Command::Accept("a1".into(), "c2".into(), 5_100),
        Command::End("c2".into(), 9_000),
        Command::Timeout(20_000),
    ];
    let run = |r: &mut Router, cmds: &[Command]| -> Vec<Event> {
        cmds.iter()
            .flat_map(|c| {
                r.apply(c).unwrap();
                r.drain()
            })
            .collect()
    };
    let mut a = Router::from_json(config).unwrap();
    let all = run(&mut a, &commands);
    let mut b = Router::from_json(config).unwrap();
    let head = run(&mut b, &commands[..5]);
    let mut c = Router::restore(&b.snapshot()).unwrap();
    let tail = run(&mut c, &commands[5..]);
    assert_eq!([head, tail].concat(), all);
    assert_eq!(c.snapshot(), a.snapshot());
    let completed = all
        .iter()
        .filter(|e| e.detail == Detail::Outcome(Outcome::Completed))
        .count();
    assert_eq!(completed, 2);
}

#[test]
fn scenario_an_offer_expiring_as_the_wrapup_ends_fires_first() {
    // ROUTING.md: timers due at one instant fire offer expiries before wrap-up ends, so the
    // agent misses the offer while still in wrap-up, then its wrap-up ends, at that instant.
    let mut r = Router::from_json(
        r#"{"queues":[{"id":"q","offer_timeout_ms":5000,"wrapup_ms":5000}],
            "agents":[{"id":"a1","capacity":{"chat":2}}]}"#,
    )
    .unwrap();
    ready(&mut r, "a1", 0);
    let chat = |call: &str| EnqueueRequest {
        call_id: call.into(),
        queue_id: "q".into(),
        channel: Some(acd_core::Channel::Chat),
        ..Default::default()
    };
    assert!(r.enqueue(&chat("c1"), 0).unwrap());
    r.accept("a1", "c1", 0).unwrap();
    r.end_call("c1", 1_000).unwrap();
    assert!(r.enqueue(&chat("c2"), 1_000).unwrap());
    r.drain();
    r.handle_timeout(6_000).unwrap();
    // Chat capacity 2: the returned call is offered again at once, beside the wrap-up that
    // has not ended yet; the wrap-up's own end follows without a state change.
    let events = r.drain();
    assert_eq!(
        calls_of(&events),
        vec![
            ev("missed", "c2", "a1", 6_000),
            ev("offer", "c2", "a1", 6_000)
        ]
    );
    let states: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::AgentState)
        .map(|e| e.detail.to_string())
        .collect();
    assert_eq!(states, ["wrap-up", "reserved"]);
    assert_eq!(events[0].rule, Rule::TimedOut);
    let a1 = r.agent_info("a1").unwrap();
    assert_eq!((a1.state, a1.calls.len()), (AgentState::Reserved, 1));
    r.check_invariants().unwrap();
}

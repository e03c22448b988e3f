//! Refused commands: unknown ids, illegal transitions (ROUTING.md's tables), time going
//! backwards, bad arguments. Every refusal is checked to change nothing (`Sim::refused`).

use acd_core::{AcdError, EnqueueRequest, Router, TransferTarget};

use crate::common::{call, config, queue, skills, Sim};

fn sim() -> Sim {
    config().queue(queue("q")).agents(&["a1", "a2"], &[]).sim()
}

fn not_found(field: &'static str, id: &str) -> AcdError {
    AcdError::NotFound {
        field,
        id: id.into(),
    }
}

#[test]
fn unknown_ids_are_not_found_and_name_the_field() {
    let mut s = sim();
    s.staff(&["a1"], 0);
    s.enqueue("c1", "q", 0);
    let t = 100;
    let err = s.refused(t, |r| r.login("zz", t));
    assert_eq!(err, not_found("agent_id", "zz"));
    assert_eq!(err.to_string(), "agent_id 'zz': unknown agent");
    let err = s.refused(t, |r| r.enqueue(&call("c2", "nope"), t));
    assert_eq!(err.to_string(), "queue_id 'nope': unknown queue");
    assert_eq!(
        s.refused(t, |r| r.accept("a1", "zz", t)),
        not_found("call_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.accept("zz", "c1", t)),
        not_found("agent_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.reject("zz", "c1", t)),
        not_found("agent_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.abandon("zz", t)),
        not_found("call_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.end_call("zz", t)),
        not_found("call_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.pick("a1", "zz", t)),
        not_found("call_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.wrapup_done("zz", "c1", t)),
        not_found("agent_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.set_not_ready("zz", "x", t)),
        not_found("agent_id", "zz")
    );
    assert_eq!(
        s.refused(t, |r| r.transfer(
            "c1",
            &TransferTarget::Queue("nope".into()),
            t
        )),
        not_found("queue", "nope")
    );
    let req = EnqueueRequest {
        preferred_agent: Some("zz".into()),
        preferred_wait_ms: 1000,
        ..call("c2", "q")
    };
    assert!(matches!(
        s.refused(t, |r| r.enqueue(&req, t)),
        AcdError::NotFound { id, .. } if id == "zz"
    ));
    assert_eq!(
        s.r.queue_snapshot("nope", t).unwrap_err(),
        not_found("queue_id", "nope")
    );
    assert_eq!(
        s.r.interval_counters("nope").unwrap_err(),
        not_found("queue_id", "nope")
    );
    assert_eq!(
        s.r.agent_info("zz").unwrap_err(),
        not_found("agent_id", "zz")
    );
    assert!(s.r.call_info("zz").is_none());
}

/// Puts a1 in `state` by 1000 (c1 is its call where there is one); the command comes at 2000.
fn agent_in(state: &str) -> Sim {
    let mut s = sim();
    match state {
        "logged-out" => {}
        "not-ready" => s.login("a1", 0),
        "ready" => s.staff(&["a1"], 0),
        _ => {
            s.staff(&["a1"], 0);
            s.enqueue("c1", "q", 0);
            if state != "reserved" {
                s.accept("a1", "c1", 500);
            }
            if state == "wrap-up" {
                s.end("c1", 1000); // wrap-up until 6000
            }
        }
    }
    assert_eq!(s.state("a1").name(), state);
    s
}

fn observed(s: &Sim) -> String {
    let a = s.agent("a1");
    let mut out = a.state.name().to_owned();
    if a.pending_logout {
        out += "+logout";
    }
    if a.pending_not_ready {
        out += "+not-ready";
    }
    out
}

#[test]
fn agent_commands_follow_the_state_table() {
    type Command = fn(&mut Router) -> Result<(), AcdError>;
    let states = [
        "logged-out",
        "not-ready",
        "ready",
        "reserved",
        "busy",
        "wrap-up",
    ];
    let table: [(&str, Command, [&str; 6]); 4] = [
        (
            "login",
            |r| r.login("a1", 2000),
            ["not-ready", "error", "error", "error", "error", "error"],
        ),
        (
            "logout",
            |r| r.logout("a1", 2000),
            [
                "error",
                "logged-out",
                "logged-out",
                "logged-out",
                "busy+logout",
                "wrap-up+logout",
            ],
        ),
        (
            "set_ready",
            |r| r.set_ready("a1", 2000),
            ["error", "ready", "ready", "error", "error", "ready"],
        ),
        (
            "set_not_ready",
            |r| r.set_not_ready("a1", "x", 2000),
            [
                "error",
                "not-ready",
                "not-ready",
                "error",
                "busy+not-ready",
                "wrap-up+not-ready",
            ],
        ),
    ];
    for (name, command, expected) in table {
        for (state, want) in states.iter().zip(expected) {
            let mut s = agent_in(state);
            let got = if want == "error" {
                match s.refused(2000, command) {
                    AcdError::IllegalTransition(_) => "error".to_owned(),
                    other => format!("{other:?}"),
                }
            } else {
                s.ok(name, command);
                observed(&s)
            };
            assert_eq!(got, want, "{name} in {state}");
            if *state == "reserved" && want != "error" {
                assert_eq!(
                    s.call_state("c1"),
                    "waiting",
                    "{name}: the offer is revoked"
                );
            }
        }
    }
}

#[test]
fn set_ready_when_ready_is_a_no_op() {
    let mut s = agent_in("ready");
    s.raw();
    s.ready("a1", 2000);
    assert_eq!(s.events(), Vec::<String>::new());
    assert_eq!(s.agent("a1").ready_since, 0);
}

#[test]
fn call_commands_follow_the_call_table() {
    let mut s = sim();
    s.staff(&["a1"], 0);
    s.login("a2", 0);
    s.enqueue("c1", "q", 0); // offered to a1
    s.enqueue("c2", "q", 0); // waiting
    let illegal = |s: &mut Sim, t: u64, f: &dyn Fn(&mut Router, u64) -> Result<(), AcdError>| {
        assert!(matches!(
            s.refused(t, |r| f(r, t)),
            AcdError::IllegalTransition(_)
        ));
    };
    illegal(&mut s, 100, &|r, t| r.accept("a1", "c2", t)); // waiting: no offer
    illegal(&mut s, 100, &|r, t| r.accept("a2", "c1", t)); // offered to someone else
    illegal(&mut s, 100, &|r, t| r.reject("a2", "c1", t));
    illegal(&mut s, 100, &|r, t| r.end_call("c1", t)); // offered
    illegal(&mut s, 100, &|r, t| r.end_call("c2", t)); // waiting
    illegal(&mut s, 100, &|r, t| r.wrapup_done("a1", "c1", t));
    s.accept("a1", "c1", 200);
    illegal(&mut s, 300, &|r, t| r.abandon("c1", t)); // connected: end it instead
    illegal(&mut s, 300, &|r, t| r.accept("a1", "c1", t)); // already connected
    s.end("c1", 400);
    // A finished call is gone: commands on it do not find it.
    assert_eq!(
        s.refused(500, |r| r.abandon("c1", 500)),
        not_found("call_id", "c1")
    );
}

#[test]
fn time_never_goes_backwards() {
    let mut s = sim();
    s.timeout(1000);
    let backwards = AcdError::InvalidArgument {
        field: "now_ms",
        message: "time went backwards (999 < 1000)".into(),
    };
    assert_eq!(s.refused(1000, |r| r.login("a1", 999)), backwards);
    assert_eq!(s.refused(1000, |r| r.handle_timeout(999)), backwards);
    assert_eq!(
        s.refused(1000, |r| r.enqueue(&call("c1", "q"), 999)),
        backwards
    );
    s.login("a1", 1000); // the same time is fine
}

#[test]
fn out_of_range_arguments_are_refused() {
    let mut s = sim();
    let field_of = |e: AcdError| match e {
        AcdError::InvalidArgument { field, .. } => field,
        other => panic!("{other:?}"),
    };
    for priority in [1_000_001, -1_000_001] {
        let req = EnqueueRequest {
            priority,
            ..call("c1", "q")
        };
        assert_eq!(field_of(s.refused(0, |r| r.enqueue(&req, 0))), "priority");
    }
    for level in [0, 11] {
        let req = EnqueueRequest {
            skills: Some(skills(&[("sales", level)])),
            ..call("c1", "q")
        };
        let err = s.refused(0, |r| r.enqueue(&req, 0));
        assert_eq!(
            err.to_string(),
            format!("skills: sales: level {level} out of range 1..10")
        );
    }
    let long = "x".repeat(257);
    for id in ["", "a\nb", long.as_str()] {
        let err = s.refused(0, |r| r.enqueue(&call(id, "q"), 0));
        assert_eq!(field_of(err), "call_id");
    }
    s.login("a1", 0);
    let err = s.refused(0, |r| r.set_not_ready("a1", "tab\there", 0));
    assert_eq!(field_of(err), "reason");
    // The extremes of the ranges are fine.
    for (id, priority) in [("hi", 1_000_000), ("lo", -1_000_000)] {
        let req = EnqueueRequest {
            priority,
            ..call(id, "q")
        };
        assert!(s.enqueue_req(req, 0));
    }
}

#[test]
fn bad_configs_name_the_field() {
    let err = |q: crate::common::Queue| {
        Router::from_json(&config().queue(q).json())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(queue("q").set("ring_all_max", serde_json::json!(0))),
        "queues[0].ring_all_max: must be at least 1"
    );
    assert_eq!(
        err(queue("q").set(
            "escalation",
            serde_json::json!([{"after_ms": 20}, {"after_ms": 10}])
        )),
        "queues[0].escalation[1].after_ms: steps must come in increasing order of after_ms, above 0"
    );
    assert_eq!(
        err(queue("q").set(
            "overflow",
            serde_json::json!({"after_ms": 10, "queue": "q"})
        )),
        "queues[0].overflow.queue: a queue cannot overflow to itself"
    );
}

#[test]
fn a_refused_batch_command_says_the_kind_of_error_as_its_rule() {
    use acd_core::Command;
    let mut r = crate::common::config()
        .queue(crate::common::queue("q"))
        .agents(&["a1"], &[])
        .router();
    r.apply_batch(&[
        Command::Login("a1".into(), 0),
        Command::Accept("a1".into(), "ghost".into(), 1),
        Command::NotReady("a1".into(), "x\u{7}".into(), 2),
        Command::Pick("a1".into(), "ghost".into(), 3),
        Command::Transfer("ghost".into(), TransferTarget::Queue("q".into()), 4),
        Command::Withdraw("a1".into(), "ghost".into(), "restart".into(), 5),
        Command::Ready("a1".into(), 6),
        Command::Logout("a1".into(), 1),
    ]);
    let errors: Vec<(String, String)> = r
        .drain()
        .iter()
        .filter(|e| e.kind.name() == "error")
        .map(|e| (e.rule_text().to_owned(), e.detail.to_string()))
        .collect();
    let kinds: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "not-found",
            "invalid-argument",
            "not-found",
            "not-found",
            "not-found",
            "invalid-argument"
        ],
        "{errors:?}"
    );
    assert!(errors[1].1.starts_with("command 2: reason: "), "{errors:?}");
    assert!(errors[5].1.starts_with("command 7: now_ms: "), "{errors:?}");
}

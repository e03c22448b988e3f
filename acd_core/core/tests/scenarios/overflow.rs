//! Overflow after a maximum wait (to another queue, or out to a destination) and time-to-live.

use serde_json::json;

use crate::common::{agent, config, queue, Sim};

/// `main` (skill main) overflows to `backup` (skill backup) after 60 s; m1 serves main,
/// b1 serves backup; both logged in, not ready.
fn main_and_backup(backup_ttl_ms: u64) -> Sim {
    let mut s = config()
        .queue(
            queue("main")
                .skill("main", 1)
                .set("overflow", json!({"after_ms": 60_000, "queue": "backup"})),
        )
        .queue(
            queue("backup")
                .skill("backup", 1)
                .set("ttl_ms", json!(backup_ttl_ms))
                .set("wrapup_ms", json!(0)),
        )
        .agent(agent("m1").skill("main", 1))
        .agent(agent("b1").skill("backup", 1))
        .sim();
    s.login("m1", 0);
    s.login("b1", 0);
    s
}

#[test]
fn overflow_to_another_queue_keeps_the_calls_place_by_score() {
    let mut s = main_and_backup(4 * 3_600_000);
    s.enqueue("c1", "main", 0);
    s.enqueue("c0", "backup", 30_000);
    s.timeout(60_000);
    assert_eq!(s.only(&["overflow"]), ["60000 overflow c1 q=backup [main]"]);
    let backup = s.r.queue_snapshot("backup", 65_000).unwrap();
    assert_eq!((backup.waiting, backup.longest_wait_ms), (2, 35_000));
    assert_eq!(s.r.queue_snapshot("main", 65_000).unwrap().waiting, 0);
    // c1 entered main at 0, before c0 entered backup at 30 000: it goes first.
    s.ready("b1", 70_000);
    s.serve("b1", "c1", 70_000, 80_000);
    assert_eq!(s.offers(), ["70000 c1>b1", "80000 c0>b1"]);
    let main = s.r.interval_counters("main").unwrap()[0].1;
    assert_eq!(
        (main.offered, main.overflowed, main.left, main.wait_left_ms),
        (1, 1, 1, 60_000)
    );
    let backup = s.r.interval_counters("backup").unwrap()[0].1;
    assert_eq!((backup.offered, backup.answered), (2, 1));
    assert_eq!(backup.wait_answered_ms, 10_000); // waited in backup from 60 000 to 70 000
}

#[test]
fn overflow_of_an_offered_call_revokes_the_offer() {
    let mut s = main_and_backup(4 * 3_600_000);
    s.enqueue("c1", "main", 0);
    s.ready("m1", 50_000);
    s.ready("b1", 55_000);
    s.timeout(60_000);
    assert_eq!(
        s.only(&["offer", "revoke", "overflow"]),
        [
            "50000 offer c1 @m1 longest-idle [step=0 tier=1 level=1]",
            "60000 revoke c1 @m1 [overflow]",
            "60000 overflow c1 q=backup [main]",
            "60000 offer c1 @b1 longest-idle [step=0 tier=1 level=1]",
        ]
    );
    assert_eq!(s.agent("m1").ready_since, 50_000);
}

#[test]
fn overflow_to_a_destination_ends_the_call_overflowed_out() {
    let mut s = config()
        .queue(queue("main").set(
            "overflow",
            json!({"after_ms": 45_000, "destination": "voicemail"}),
        ))
        .agents(&["a1"], &[])
        .sim();
    s.enqueue("c1", "main", 0);
    s.timeout(50_000);
    assert_eq!(
        s.only(&["terminal", "overflow"]),
        ["45000 terminal c1 q=main [overflowed-out]"]
    );
    assert_eq!(s.call_state("c1"), "gone");
    let c = s.r.interval_counters("main").unwrap()[0].1;
    assert_eq!((c.offered, c.overflowed, c.left), (1, 1, 1));
}

#[test]
fn time_to_live_ends_a_waiting_call_expired() {
    let mut s = config()
        .queue(queue("q").set("ttl_ms", json!(120_000)))
        .agents(&["a1"], &[])
        .sim();
    s.enqueue("c1", "q", 0);
    assert_eq!(s.r.poll_timeout(), Some(120_000));
    s.timeout(119_999);
    assert_eq!(s.call_state("c1"), "waiting");
    s.timeout(200_000);
    assert_eq!(s.only(&["terminal"]), ["120000 terminal c1 q=q [expired]"]);
    let c = s.r.interval_counters("q").unwrap()[0].1;
    assert_eq!((c.expired, c.left, c.wait_left_ms), (1, 1, 120_000));
}

#[test]
fn time_to_live_of_an_offered_call_revokes_the_offer_as_expired() {
    let mut s = config()
        .queue(
            queue("q")
                .set("ttl_ms", json!(20_000))
                .set("offer_timeout_ms", json!(60_000)),
        )
        .agents(&["a1"], &[])
        .sim();
    s.staff(&["a1"], 5000);
    s.enqueue("c1", "q", 10_000);
    s.timeout(40_000);
    assert_eq!(
        s.only(&["offer", "revoke", "terminal"]),
        [
            "10000 offer c1 @a1 longest-idle [step=0 tier=1 level=0]",
            "30000 revoke c1 @a1 [expired]",
            "30000 terminal c1 q=q [expired]",
        ]
    );
    assert_eq!(s.agent("a1").ready_since, 5000);
}

#[test]
fn time_to_live_counts_from_the_first_enqueue_across_an_overflow() {
    let mut s = main_and_backup(100_000);
    s.enqueue("c1", "main", 0);
    s.timeout(200_000);
    assert_eq!(
        s.only(&["overflow", "terminal"]),
        [
            "60000 overflow c1 q=backup [main]",
            "100000 terminal c1 q=backup [expired]",
        ]
    );
}

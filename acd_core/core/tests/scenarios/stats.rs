//! Statistics: the live queue snapshot, interval counters of a small hand-computed day, and
//! agent time split at 15-minute interval borders.

use std::sync::Arc;

use acd_core::router::QueueSnapshot;
use acd_core::stats::{AgentTime, IntervalCounters};
use serde_json::json;

use crate::common::{agent, config, queue};

#[test]
fn queue_snapshot_and_interval_counters_of_a_small_day() {
    // SL threshold 20 s, short abandon 5 s, wrap-up 5 s (the defaults, spelled out).
    let mut s = config()
        .queue(
            queue("q")
                .skill("sales", 1)
                .set("sl_threshold_ms", json!(20_000))
                .set("short_abandon_ms", json!(5_000))
                .set("wrapup_ms", json!(5_000)),
        )
        .agent(agent("a1").skill("sales", 1))
        .agent(agent("a2").skill("sales", 1)) // stays logged out
        .agent(agent("a3").skill("support", 1)) // not in the queue's team
        .sim();
    s.staff(&["a1", "a3"], 0);
    s.enqueue("c1", "q", 0); // offered to a1 at once
    s.enqueue("c2", "q", 1_000);
    s.enqueue("c3", "q", 2_000);
    s.enqueue("c4", "q", 3_000);
    s.abandon("c2", 4_000); // waited 3 s: short, within SL
    s.accept("a1", "c1", 10_000); // waited 10 s: within SL
    assert_eq!(
        s.r.queue_snapshot("q", 20_000).unwrap(),
        QueueSnapshot {
            waiting: 2, // c3, c4
            offered: 0,
            connected: 1,
            longest_wait_ms: 18_000,    // c3, since 2000
            agents: [1, 0, 0, 0, 1, 0], // a2 logged out, a1 busy
        }
    );
    s.abandon("c3", 32_000); // waited 30 s: neither short nor within SL
    s.end("c1", 70_000); // talked 60 s; wrap-up until 75 000, then c4 is offered
    s.timeout(76_000);
    assert_eq!(
        s.r.queue_snapshot("q", 76_000).unwrap(),
        QueueSnapshot {
            waiting: 1, // c4, being offered
            offered: 1,
            connected: 0,
            longest_wait_ms: 73_000,
            agents: [1, 0, 0, 1, 0, 0],
        }
    );
    s.accept("a1", "c4", 80_000); // waited 77 s
    s.end("c4", 200_000); // talked 120 s; wrap-up until 205 000
                          // c5 enters at 890 000 (interval 0), is not answered in time once, and is answered at
                          // 910 000 (interval 1) after exactly the SL threshold: it counts in interval 0.
    s.enqueue("c5", "q", 890_000);
    s.timeout(905_000); // the first offer times out; offered again at once
    s.accept("a1", "c5", 910_000);
    s.end("c5", 940_000); // talked 30 s; wrap-up until 945 000
    s.enqueue("c6", "q", 950_000); // interval 1
    s.abandon("c6", 951_000);
    s.timeout(1_000_000);
    let counters = s.r.interval_counters("q").unwrap();
    assert_eq!(
        counters,
        [
            (
                0,
                IntervalCounters {
                    offered: 5,
                    answered: 3,
                    abandoned: 2,
                    short_abandoned: 1,
                    answered_within_sl: 2,  // c1 (10 s), c5 (20 s)
                    abandoned_within_sl: 1, // c2
                    wait_answered_ms: 10_000 + 77_000 + 20_000,
                    left: 5,
                    wait_left_ms: 10_000 + 77_000 + 20_000 + 3_000 + 30_000,
                    max_wait_ms: 77_000,
                    overflowed: 0,
                    expired: 0,
                    transferred_out: 0,
                    completed: 3,
                    talk_ms: 60_000 + 120_000 + 30_000,
                    wrapup_ms: 3 * 5_000,
                }
            ),
            (
                900_000,
                IntervalCounters {
                    offered: 1,
                    abandoned: 1,
                    short_abandoned: 1,
                    abandoned_within_sl: 1,
                    left: 1,
                    wait_left_ms: 1_000,
                    max_wait_ms: 1_000,
                    ..Default::default()
                }
            ),
        ]
    );
}

#[test]
fn agent_time_is_split_at_interval_borders_per_group() {
    let mut s = config()
        .queue(queue("q"))
        .agent(agent("a1").group("g"))
        .agent(agent("a2").group("h"))
        .sim();
    s.staff(&["a2"], 0);
    s.logout("a2", 100_000);
    s.login("a1", 800_000);
    s.ready("a1", 850_000);
    s.enqueue("c1", "q", 890_000); // reserved from here
    s.accept("a1", "c1", 895_000);
    s.end("c1", 960_000); // wrap-up until 965 000
    s.not_ready("a1", "lunch", 1_000_000);
    s.logout("a1", 1_100_000);
    let g: Arc<str> = Arc::from("g");
    let h: Arc<str> = Arc::from("h");
    assert_eq!(
        s.r.agent_time(),
        [
            (
                g.clone(),
                0,
                AgentTime {
                    ready_ms: 40_000,     // 850 000 .. 890 000
                    busy_ms: 10_000,      // 890 000 .. 900 000 (reserved, busy)
                    not_ready_ms: 50_000, // 800 000 .. 850 000
                }
            ),
            (
                g,
                900_000,
                AgentTime {
                    ready_ms: 35_000,      // 965 000 .. 1 000 000
                    busy_ms: 65_000,       // 900 000 .. 965 000 (busy, wrap-up)
                    not_ready_ms: 100_000, // 1 000 000 .. 1 100 000
                }
            ),
            (
                h,
                0,
                AgentTime {
                    ready_ms: 100_000,
                    busy_ms: 0,
                    not_ready_ms: 0,
                }
            ),
        ]
    );
}

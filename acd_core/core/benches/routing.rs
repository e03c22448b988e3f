//! `cargo bench -p acd-core`: the routing cycle at a given depth of waiting calls, measured
//! beside `std::collections::BinaryHeap` push+pop at the same depth, in the same run.
//!
//! One routing cycle = one call arrives (enqueue; no agent is free, so it waits) and one agent
//! finishes wrap-up, becomes Ready and is offered the most urgent waiting call, accepts it and
//! hangs up: four commands, one routing decision, depth unchanged. The heap baseline does the
//! same bookkeeping a bare priority queue can: push one (priority, seq) key, pop the best.
//! Self-timed (no bench framework dependency): median of several rounds.

use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Instant;

use acd_core::class::Line;
use acd_core::{EnqueueRequest, Router};

const OPS: usize = 20_000;
const ROUNDS: usize = 7;

fn router_at_depth(depth: usize) -> (Router, u64) {
    let cfg = r#"{"queues":[{"id":"q","skills":{"s":1},"wrapup_until_done":true,"ttl_ms":86400000000}],
                  "agents":[{"id":"a","skills":{"s":5}}]}"#;
    let mut r = Router::from_json(cfg).expect("bench config");
    r.login("a", 0).unwrap();
    r.set_ready("a", 0).unwrap();
    // The first call goes to the agent; the rest wait.
    for i in 0..=depth {
        let req = EnqueueRequest {
            call_id: format!("w{i}"),
            queue_id: "q".into(),
            priority: (i % 5) as i32,
            ..Default::default()
        };
        r.enqueue(&req, 1).unwrap();
    }
    r.accept("a", "w0", 1).unwrap();
    r.end_call("w0", 1).unwrap();
    r.drain();
    (r, 1)
}

/// Nanoseconds per routing cycle at `depth` waiting calls.
fn routing_cycle(depth: usize) -> f64 {
    let mut samples = Vec::new();
    for round in 0..ROUNDS {
        let (mut r, mut now) = router_at_depth(depth);
        let ids: Vec<EnqueueRequest> = (0..OPS)
            .map(|i| EnqueueRequest {
                call_id: format!("n{round}-{i}"),
                queue_id: "q".into(),
                priority: (i % 5) as i32,
                ..Default::default()
            })
            .collect();
        let mut last = acd_core::Id::from("w0");
        let start = Instant::now();
        for req in &ids {
            // 10 calls a second: a large centre's rate (finished ids stay in the dedup window).
            now += 100;
            r.enqueue(req, now).unwrap();
            r.wrapup_done("a", &last, now).unwrap();
            let offer = r
                .pending_events()
                .iter()
                .rev()
                .find(|e| e.kind == acd_core::EventKind::Offer)
                .expect("offer");
            last = offer.call_id.clone(); // the event's id, shared: no copy of the string
            r.accept("a", &last, now).unwrap();
            r.end_call(&last, now).unwrap();
            r.drain_iter(); // events dropped where they lie, as the binding takes them
        }
        samples.push(start.elapsed().as_nanos() as f64 / OPS as f64);
        black_box(&r);
    }
    median(samples)
}

/// Nanoseconds per push+pop on a BinaryHeap holding `depth` keys.
fn heap_push_pop(depth: usize) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let mut heap: BinaryHeap<(i64, std::cmp::Reverse<u64>)> = (0..depth as u64)
            .map(|i| ((i % 5) as i64, std::cmp::Reverse(i)))
            .collect();
        let start = Instant::now();
        for i in 0..OPS as u64 {
            heap.push(black_box((
                (i % 5) as i64,
                std::cmp::Reverse(depth as u64 + i),
            )));
            black_box(heap.pop());
        }
        samples.push(start.elapsed().as_nanos() as f64 / OPS as f64);
    }
    median(samples)
}

/// The router's own index operation alone: a call joins a class's line and the best call
/// leaves it, as the router does for each waiting call (`class::Line`, a heap of
/// (-score, seq, slot) with lazy removal).
fn index_insert_pop(depth: usize) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..ROUNDS {
        let mut line = Line::default();
        for i in 0..depth as u64 {
            line.push((-((i % 5) as i64), i, i as u32));
        }
        let start = Instant::now();
        for i in 0..OPS as u64 {
            line.push(black_box((-((i % 5) as i64), depth as u64 + i, i as u32)));
            let best = line.top(|_| true).expect("non-empty");
            line.left(black_box(best), |_| true);
        }
        samples.push(start.elapsed().as_nanos() as f64 / OPS as f64);
    }
    median(samples)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    println!(
        "{:>8} {:>14} {:>14} {:>14} {:>10} {:>10}",
        "depth", "cycle ns", "index ns", "heap ns", "cycle/heap", "index/heap"
    );
    let mut rows = Vec::new();
    for depth in [1_000, 10_000, 100_000] {
        let (cycle, index, heap) = (
            routing_cycle(depth),
            index_insert_pop(depth),
            heap_push_pop(depth),
        );
        println!(
            "{depth:>8} {cycle:>14.0} {index:>14.0} {heap:>14.0} {:>10.2} {:>10.2}",
            cycle / heap,
            index / heap
        );
        rows.push(format!(
            "{{\"depth\":{depth},\"cycle_ns\":{cycle:.0},\"index_ns\":{index:.0},\"heap_ns\":{heap:.0},\"cycle_over_heap\":{:.2},\"index_over_heap\":{:.2}}}",
            cycle / heap,
            index / heap
        ));
    }
    println!("[{}]", rows.join(","));
}

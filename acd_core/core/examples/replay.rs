//! Replays a recorded command stream through the router and prints the time per command:
//! a harness for profilers (`perf record cargo run --release --example replay -- ...`).
//!
//! `replay CONFIG.json SETUP.tsv STREAM.tsv [REPEAT]`: one command per line, fields separated
//! by tabs, in the batch tuple order of ROUTING.md (enqueue: id, queue, now, priority).
//! The setup is applied untimed; the stream is timed.

use std::time::Instant;

use acd_core::{Command, EnqueueRequest, Millis, Router};

fn parse(line: &str) -> Command {
    let f: Vec<&str> = line.split('\t').collect();
    let t = |i: usize| f[i].parse::<Millis>().expect("time");
    match f[0] {
        "enqueue" => Command::Enqueue(
            EnqueueRequest {
                call_id: f[1].into(),
                queue_id: f[2].into(),
                priority: f[4].parse().expect("priority"),
                ..Default::default()
            },
            t(3),
        ),
        "abandon" => Command::Abandon(f[1].into(), t(2)),
        "end" => Command::End(f[1].into(), t(2)),
        "login" => Command::Login(f[1].into(), t(2)),
        "logout" => Command::Logout(f[1].into(), t(2)),
        "ready" => Command::Ready(f[1].into(), t(2)),
        "not_ready" => Command::NotReady(f[1].into(), f[2].into(), t(3)),
        "accept" => Command::Accept(f[1].into(), f[2].into(), t(3)),
        "reject" => Command::Reject(f[1].into(), f[2].into(), t(3)),
        "wrapup_done" => Command::WrapupDone(f[1].into(), f[2].into(), t(3)),
        "timeout" => Command::Timeout(t(1)),
        other => panic!("unknown command {other}"),
    }
}

fn load(path: &str) -> Vec<Command> {
    std::fs::read_to_string(path)
        .expect("readable command file")
        .lines()
        .map(parse)
        .collect()
}

/// The timed part, kept out of line so a profiler can collect it alone
/// (`valgrind --tool=callgrind --toggle-collect='replay::run_stream' ...`).
#[inline(never)]
fn run_stream(router: &mut Router, stream: &[Command]) -> usize {
    let mut events = 0;
    for chunk in stream.chunks(1000) {
        router.apply_batch(chunk);
        events += router.drain().len();
    }
    events
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert!(
        args.len() >= 4,
        "usage: replay CONFIG.json SETUP.tsv STREAM.tsv [REPEAT]"
    );
    let config = std::fs::read_to_string(&args[1]).expect("readable config");
    let (setup, stream) = (load(&args[2]), load(&args[3]));
    let repeat: usize = args.get(4).map_or(1, |r| r.parse().expect("repeat"));
    for _ in 0..repeat {
        let mut router = Router::from_json(&config).expect("valid config");
        router.apply_batch(&setup);
        router.drain();
        let start = Instant::now();
        let events = run_stream(&mut router, &stream);
        let ns = start.elapsed().as_nanos() as f64 / stream.len() as f64;
        println!("{ns:.0} ns/command, {events} events");
    }
}

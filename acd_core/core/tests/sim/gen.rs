//! A random but valid router configuration for a seed (ROUTING.md, Configuration).

use serde_json::{json, Map, Value};

use super::rng::Rng;

pub const SKILLS: [&str; 5] = ["sales", "support", "billing", "de", "fr"];
pub const STRATEGIES: [&str; 8] = [
    "longest-idle",
    "round-robin",
    "fewest-calls",
    "least-talk-time",
    "linear",
    "random",
    "best-skill",
    "ring-all",
];

/// `n` in `lo..=hi` distinct skills with levels in `min..=max`.
pub fn skill_map(rng: &mut Rng, lo: u64, hi: u64, min: u64, max: u64) -> Map<String, Value> {
    let mut skills = Map::new();
    for _ in 0..rng.range(lo, hi) {
        skills.insert(rng.pick(&SKILLS).to_string(), json!(rng.range(min, max)));
    }
    skills
}

fn ms(rng: &mut Rng, zero_percent: u64, lo: u64, hi: u64) -> u64 {
    if rng.percent(zero_percent) {
        0
    } else {
        rng.range(lo, hi)
    }
}

/// 2-5 queues, 3-15 agents; every knob of ROUTING.md's configuration drawn at random.
pub fn config_json(rng: &mut Rng) -> String {
    let nq = rng.range(2, 5);
    let mut queues = Vec::new();
    for i in 0..nq {
        let mut q = Map::new();
        q.insert("id".into(), json!(format!("q{i}")));
        q.insert("skills".into(), Value::Object(skill_map(rng, 0, 2, 1, 6)));
        q.insert("strategy".into(), json!(rng.pick(&STRATEGIES)));
        q.insert("ring_all_max".into(), json!(rng.range(1, 3)));
        q.insert("offer_timeout_ms".into(), json!(rng.range(2_000, 20_000)));
        q.insert("wrapup_ms".into(), json!(ms(rng, 30, 1_000, 15_000)));
        q.insert("wrapup_until_done".into(), json!(rng.percent(20)));
        q.insert(
            "no_answer".into(),
            json!({
                "reject_delay_ms": ms(rng, 50, 1_000, 10_000),
                "timeout_delay_ms": ms(rng, 50, 1_000, 10_000),
                "max_misses": rng.range(0, 4),
            }),
        );
        q.insert("max_tier".into(), json!(ms(rng, 50, 1, 3)));
        q.insert("prefer_lower_tier".into(), json!(rng.percent(70)));
        let mut steps = Vec::new();
        let mut after = 0;
        for _ in 0..rng.range(0, 3) {
            // Equal after_ms values are allowed: both steps are reached at once.
            if after == 0 || !rng.percent(10) {
                after += rng.range(3_000, 40_000);
            }
            let mut step = Map::new();
            step.insert("after_ms".into(), json!(after));
            step.insert("lower_levels_by".into(), json!(rng.range(0, 3)));
            if rng.percent(50) {
                step.insert("max_tier".into(), json!(rng.range(0, 3)));
            }
            steps.push(Value::Object(step));
        }
        q.insert("escalation".into(), Value::Array(steps));
        match rng.below(100) {
            0..=29 => {
                let mut target = rng.below(nq - 1);
                if target >= i {
                    target += 1;
                }
                q.insert(
                    "overflow".into(),
                    json!({"after_ms": rng.range(20_000, 180_000), "queue": format!("q{target}")}),
                );
            }
            30..=44 => {
                q.insert(
                    "overflow".into(),
                    json!({"after_ms": rng.range(20_000, 180_000), "destination": format!("ext-{i}")}),
                );
            }
            _ => {}
        }
        q.insert("ttl_ms".into(), json!(rng.range(60_000, 900_000)));
        q.insert("aging_ms".into(), json!(ms(rng, 60, 5_000, 60_000)));
        q.insert(
            "transfer_agent_wait_ms".into(),
            json!(rng.range(5_000, 30_000)),
        );
        queues.push(Value::Object(q));
    }
    let mut agents = Vec::new();
    for j in 0..rng.range(3, 15) {
        let tier = [1, 1, 1, 2, 2, 3][rng.below(6) as usize];
        let mut a = Map::new();
        a.insert("id".into(), json!(format!("a{j}")));
        let mut skills = Map::new();
        for s in SKILLS {
            if rng.percent(55) {
                skills.insert(s.to_string(), json!(rng.range(1, 10)));
            }
        }
        a.insert("skills".into(), Value::Object(skills));
        a.insert("tier".into(), json!(tier));
        a.insert("group".into(), json!(format!("tier{tier}")));
        match rng.below(100) {
            0..=59 => {}
            60..=84 => {
                a.insert(
                    "capacity".into(),
                    json!({"voice": 1, "callback": 1, "chat": rng.range(2, 3)}),
                );
            }
            85..=94 => {
                a.insert(
                    "capacity".into(),
                    json!({"chat": rng.range(2, 3), "email": 1}),
                );
            }
            _ => {
                a.insert("capacity".into(), json!({"voice": 1, "email": 2}));
            }
        }
        agents.push(Value::Object(a));
    }
    let dedup = match rng.below(10) {
        0..=2 => 0,
        3..=6 => 60_000,
        _ => 3_600_000,
    };
    json!({
        "seed": rng.next_u64(),
        "dedup_window_ms": dedup,
        "queues": queues,
        "agents": agents,
    })
    .to_string()
}

//! Configurations for the reconfiguration simulation: a random starting config, and random
//! changes to the current one, the kinds an admin makes (ROUTING.md, Reconfiguration), plus
//! a few that must be refused.

use serde_json::{json, Map, Value};

use super::rng::Rng;

const SKILLS: [&str; 4] = ["sales", "support", "de", "fr"];
const STRATEGIES: [&str; 8] = [
    "longest-idle",
    "round-robin",
    "fewest-calls",
    "least-talk-time",
    "linear",
    "random",
    "best-skill",
    "ring-all",
];

fn skills(rng: &mut Rng, most: u64, lo: u64, hi: u64) -> Value {
    let mut m = Map::new();
    for _ in 0..rng.range(0, most) {
        m.insert(rng.pick(&SKILLS).to_string(), json!(rng.range(lo, hi)));
    }
    Value::Object(m)
}

fn escalation(rng: &mut Rng) -> Value {
    let mut after = 0;
    let steps: Vec<Value> = (0..rng.range(0, 2))
        .map(|_| {
            after += rng.range(2_000, 30_000);
            json!({"after_ms": after, "lower_levels_by": rng.range(0, 3)})
        })
        .collect();
    Value::Array(steps)
}

pub fn queue(rng: &mut Rng, id: &str) -> Value {
    json!({
        "id": id,
        "skills": skills(rng, 1, 1, 6),
        "strategy": rng.pick(&STRATEGIES),
        "ring_all_max": rng.range(1, 3),
        "offer_timeout_ms": rng.range(2_000, 15_000),
        "wrapup_ms": if rng.percent(30) { 0 } else { rng.range(500, 8_000) },
        "wrapup_until_done": rng.percent(10),
        "no_answer": {"max_misses": rng.range(0, 3), "reject_delay_ms": rng.range(0, 1) * 2_000},
        "max_tier": rng.range(0, 2),
        "escalation": escalation(rng),
        "ttl_ms": rng.range(20_000, 300_000),
        "aging_ms": if rng.percent(70) { 0 } else { rng.range(5_000, 60_000) },
    })
}

pub fn agent(rng: &mut Rng, id: &str) -> Value {
    let mut a = json!({
        "id": id,
        "skills": skills(rng, 3, 1, 10),
        "tier": rng.range(1, 2),
        "group": format!("g{}", rng.below(2)),
    });
    if rng.percent(30) {
        a["capacity"] = json!({"voice": 1, "chat": rng.range(1, 3)});
    }
    a
}

/// 2-3 queues (some overflowing into another), 3-6 agents.
pub fn base(rng: &mut Rng) -> Value {
    let nq = rng.range(2, 3);
    let mut queues: Vec<Value> = (0..nq).map(|i| queue(rng, &format!("q{i}"))).collect();
    if rng.percent(40) {
        queues[0]["overflow"] = json!({"after_ms": rng.range(10_000, 60_000), "queue": "q1"});
    }
    let agents: Vec<Value> = (0..rng.range(3, 6))
        .map(|i| agent(rng, &format!("a{i}")))
        .collect();
    json!({
        "seed": rng.below(1_000),
        "dedup_window_ms": *rng.pick(&[0, 60_000, 3_600_000]),
        "queues": queues,
        "agents": agents,
    })
}

fn list<'a>(config: &'a mut Value, key: &str) -> &'a mut Vec<Value> {
    config[key].as_array_mut().expect("a list")
}

/// A change to `current`, described; `next_id` names added queues and agents.
pub fn change(rng: &mut Rng, current: &Value, next_id: &mut u64) -> (Value, &'static str) {
    let mut c = current.clone();
    let nq = c["queues"].as_array().map_or(0, Vec::len);
    let na = c["agents"].as_array().map_or(0, Vec::len);
    *next_id += 1;
    let what = match rng.below(13) {
        0 => {
            let q = queue(rng, &format!("n{next_id}"));
            list(&mut c, "queues").push(q);
            "add a queue"
        }
        1 | 2 => {
            let i = rng.below(nq as u64) as usize;
            c["queues"][i]["skills"] = skills(rng, 2, 1, 6);
            "change a queue's skills"
        }
        3 => {
            let i = rng.below(nq as u64) as usize;
            c["queues"][i]["strategy"] = json!(rng.pick(&STRATEGIES));
            "change a queue's strategy"
        }
        4 | 5 => {
            let i = rng.below(nq as u64) as usize;
            let q = &mut c["queues"][i];
            q["ttl_ms"] = json!(rng.range(5_000, 200_000));
            q["offer_timeout_ms"] = json!(rng.range(1_000, 15_000));
            q["wrapup_ms"] = json!(rng.range(0, 5_000));
            q["escalation"] = escalation(rng);
            if q.get("overflow").is_some_and(|o| !o.is_null()) {
                q["overflow"]["after_ms"] = json!(rng.range(5_000, 60_000));
            } else if rng.percent(30) {
                q["overflow"] = json!({"after_ms": rng.range(5_000, 60_000), "destination": "ext"});
            }
            "change a queue's timeouts"
        }
        6 => {
            let a = agent(rng, &format!("n{next_id}"));
            let at = rng.below(na as u64 + 1) as usize;
            list(&mut c, "agents").insert(at, a);
            "add an agent"
        }
        7 | 8 => {
            let i = rng.below(na as u64) as usize;
            let id = c["agents"][i]["id"].clone();
            c["agents"][i] = agent(rng, "x");
            c["agents"][i]["id"] = id;
            "change an agent"
        }
        9 if na > 1 => {
            let i = rng.below(na as u64) as usize;
            list(&mut c, "agents").remove(i);
            "remove an agent"
        }
        10 if nq > 1 => {
            let i = rng.below(nq as u64) as usize;
            let gone = list(&mut c, "queues").remove(i)["id"].clone();
            for q in list(&mut c, "queues") {
                if q.get("overflow").is_some_and(|o| o["queue"] == gone) {
                    q["overflow"] = Value::Null;
                }
            }
            "remove a queue"
        }
        11 => {
            list(&mut c, "agents").reverse();
            list(&mut c, "queues").reverse();
            "reverse the order of queues and agents"
        }
        _ => {
            if rng.percent(50) {
                c["seed"] = json!(c["seed"].as_u64().unwrap_or(0) + 1);
                "a new seed (refused)"
            } else {
                c["queues"][0]["skills"] = json!({"sales": 11});
                "an invalid level (refused)"
            }
        }
    };
    (c, what)
}

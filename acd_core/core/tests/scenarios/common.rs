//! Shared helpers of the scenario tests: a builder for router configs, and `Sim`, a driver that
//! runs each command on a `Router`, checks `check_invariants()` after it, and renders events
//! as short strings so a test can assert a whole sequence at once.
//!
//! Event strings: `"<at> <kind> <call> @<agent> q=<queue> <rule> [<detail>]"`, each part left
//! out when empty; `q=` only for the kinds where the queue is news (terminal, overflow,
//! transferred). For example `"1000 offer c1 @a1 longest-idle [step=0 tier=1 level=5]"`,
//! `"16000 missed c1 @a1 timed-out"`, `"60000 terminal c1 q=sales [expired]"`,
//! `"7000 agent-state @a1 lunch [not-ready]"` (for agent states the rule is the reason code).

#![allow(dead_code)]

use std::collections::BTreeMap;

use acd_core::{
    AcdError, AgentInfo, AgentState, Channel, EnqueueRequest, Event, EventKind, Millis, Router,
    TransferTarget,
};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// Config builder

/// A router config under construction; fields not set keep ROUTING.md's defaults.
#[derive(Clone, Default)]
pub struct Config {
    top: Map<String, Value>,
    queues: Vec<Value>,
    agents: Vec<Value>,
}

pub fn config() -> Config {
    Config::default()
}

impl Config {
    pub fn seed(self, seed: u64) -> Config {
        self.set("seed", json!(seed))
    }
    /// Any top-level field (`dedup_window_ms`, ...).
    pub fn set(mut self, key: &str, value: Value) -> Config {
        self.top.insert(key.to_owned(), value);
        self
    }
    pub fn queue(mut self, q: Queue) -> Config {
        self.queues.push(Value::Object(q.0));
        self
    }
    pub fn agent(mut self, a: Agent) -> Config {
        self.agents.push(Value::Object(a.0));
        self
    }
    /// Several agents alike: the same skills, default tier and capacity.
    pub fn agents(mut self, ids: &[&str], skills: &[(&str, u8)]) -> Config {
        for id in ids {
            let mut a = agent(id);
            for &(s, l) in skills {
                a = a.skill(s, l);
            }
            self = self.agent(a);
        }
        self
    }
    pub fn json(&self) -> String {
        let mut top = self.top.clone();
        top.insert("queues".into(), Value::Array(self.queues.clone()));
        top.insert("agents".into(), Value::Array(self.agents.clone()));
        Value::Object(top).to_string()
    }
    pub fn router(&self) -> Router {
        Router::from_json(&self.json()).unwrap_or_else(|e| panic!("config refused: {e}"))
    }
    pub fn sim(&self) -> Sim {
        Sim::new(self.router())
    }
}

pub struct Queue(Map<String, Value>);

pub fn queue(id: &str) -> Queue {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    Queue(m)
}

impl Queue {
    pub fn skill(mut self, name: &str, level: u8) -> Queue {
        let skills = self.0.entry("skills").or_insert_with(|| json!({}));
        skills[name] = json!(level);
        self
    }
    pub fn strategy(self, s: &str) -> Queue {
        self.set("strategy", json!(s))
    }
    pub fn set(mut self, key: &str, value: Value) -> Queue {
        self.0.insert(key.to_owned(), value);
        self
    }
}

pub struct Agent(Map<String, Value>);

pub fn agent(id: &str) -> Agent {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    Agent(m)
}

impl Agent {
    pub fn skill(mut self, name: &str, level: u8) -> Agent {
        let skills = self.0.entry("skills").or_insert_with(|| json!({}));
        skills[name] = json!(level);
        self
    }
    pub fn tier(self, tier: u8) -> Agent {
        self.set("tier", json!(tier))
    }
    pub fn group(self, group: &str) -> Agent {
        self.set("group", json!(group))
    }
    pub fn capacity(self, capacity: Value) -> Agent {
        self.set("capacity", capacity)
    }
    pub fn set(mut self, key: &str, value: Value) -> Agent {
        self.0.insert(key.to_owned(), value);
        self
    }
}

/// An enqueue request with only the required fields.
pub fn call(call_id: &str, queue_id: &str) -> EnqueueRequest {
    EnqueueRequest {
        call_id: call_id.into(),
        queue_id: queue_id.into(),
        ..Default::default()
    }
}

pub fn skills(list: &[(&str, u8)]) -> BTreeMap<String, u8> {
    list.iter().map(|&(s, l)| (s.to_owned(), l)).collect()
}

// ---------------------------------------------------------------------------------------------
// Event rendering

pub fn show(e: &Event) -> String {
    let mut out = format!("{} {}", e.at_ms, e.kind.name());
    if !e.call_id.is_empty() {
        out += &format!(" {}", e.call_id);
    }
    if !e.agent_id.is_empty() {
        out += &format!(" @{}", e.agent_id);
    }
    if matches!(
        e.kind,
        EventKind::Terminal | EventKind::Overflow | EventKind::Transferred
    ) {
        out += &format!(" q={}", e.queue_id);
    }
    let rule = e.rule_text();
    if !rule.is_empty() {
        out += &format!(" {rule}");
    }
    let detail = e.detail.to_string();
    if !detail.is_empty() {
        out += &format!(" [{detail}]");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Driver

/// A router plus the checks every scenario wants after every command.
pub struct Sim {
    pub r: Router,
}

impl Sim {
    pub fn new(r: Router) -> Sim {
        let s = Sim { r };
        s.check("start");
        s
    }

    /// Panics with the command's description if any invariant is broken.
    pub fn check(&self, what: &str) {
        if let Err(e) = self.r.check_invariants() {
            panic!("after {what}: invariant broken: {e}");
        }
    }

    /// Runs a command that must succeed, then checks the invariants.
    pub fn ok<T>(&mut self, what: &str, f: impl FnOnce(&mut Router) -> Result<T, AcdError>) -> T {
        let res = f(&mut self.r);
        self.check(what);
        res.unwrap_or_else(|e| panic!("{what} refused: {e}"))
    }

    /// Runs a command that may fail, then checks the invariants.
    pub fn try_cmd<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Router) -> Result<T, AcdError>,
    ) -> Result<T, AcdError> {
        let res = f(&mut self.r);
        self.check(what);
        res
    }

    /// Runs a command that must be refused at `now` and checks that it changed nothing: due
    /// timers are fired first (`handle_timeout(now)`, as every command does), then the state's
    /// snapshot bytes (pending events included) must be the same after the refusal.
    pub fn refused<T: std::fmt::Debug>(
        &mut self,
        now: Millis,
        f: impl FnOnce(&mut Router) -> Result<T, AcdError>,
    ) -> AcdError {
        let now = now.max(self.r.now());
        self.ok(&format!("timeout({now})"), |r| r.handle_timeout(now));
        let before = self.r.snapshot();
        let res = f(&mut self.r);
        self.check("refused command");
        let err = match res {
            Ok(v) => panic!("command accepted ({v:?}), expected a refusal"),
            Err(e) => e,
        };
        assert!(
            self.r.snapshot() == before,
            "refused command ({err}) changed the router's state"
        );
        err
    }

    // -- commands that must succeed --

    pub fn enqueue(&mut self, call_id: &str, queue_id: &str, now: Millis) -> bool {
        self.enqueue_req(call(call_id, queue_id), now)
    }
    pub fn enqueue_p(&mut self, call_id: &str, queue_id: &str, priority: i32, now: Millis) -> bool {
        let req = EnqueueRequest {
            priority,
            ..call(call_id, queue_id)
        };
        self.enqueue_req(req, now)
    }
    pub fn enqueue_ch(&mut self, call_id: &str, queue_id: &str, ch: Channel, now: Millis) -> bool {
        let req = EnqueueRequest {
            channel: Some(ch),
            ..call(call_id, queue_id)
        };
        self.enqueue_req(req, now)
    }
    pub fn enqueue_req(&mut self, req: EnqueueRequest, now: Millis) -> bool {
        let what = format!("enqueue({}, {}, {now})", req.call_id, req.queue_id);
        self.ok(&what, |r| r.enqueue(&req, now))
    }
    pub fn login(&mut self, a: &str, now: Millis) {
        self.ok(&format!("login({a}, {now})"), |r| r.login(a, now))
    }
    pub fn ready(&mut self, a: &str, now: Millis) {
        self.ok(&format!("set_ready({a}, {now})"), |r| r.set_ready(a, now))
    }
    /// Logs each agent in and makes it Ready at `now`, in the order given.
    pub fn staff(&mut self, agents: &[&str], now: Millis) {
        for a in agents {
            self.login(a, now);
            self.ready(a, now);
        }
    }
    pub fn not_ready(&mut self, a: &str, reason: &str, now: Millis) {
        self.ok(&format!("set_not_ready({a}, {reason}, {now})"), |r| {
            r.set_not_ready(a, reason, now)
        })
    }
    pub fn logout(&mut self, a: &str, now: Millis) {
        self.ok(&format!("logout({a}, {now})"), |r| r.logout(a, now))
    }
    pub fn accept(&mut self, a: &str, c: &str, now: Millis) {
        self.ok(&format!("accept({a}, {c}, {now})"), |r| r.accept(a, c, now))
    }
    pub fn reject(&mut self, a: &str, c: &str, now: Millis) {
        self.ok(&format!("reject({a}, {c}, {now})"), |r| r.reject(a, c, now))
    }
    pub fn end(&mut self, c: &str, now: Millis) {
        self.ok(&format!("end_call({c}, {now})"), |r| r.end_call(c, now))
    }
    pub fn wrapup_done(&mut self, a: &str, c: &str, now: Millis) {
        self.ok(&format!("wrapup_done({a}, {c}, {now})"), |r| {
            r.wrapup_done(a, c, now)
        })
    }
    pub fn abandon(&mut self, c: &str, now: Millis) {
        self.ok(&format!("abandon({c}, {now})"), |r| r.abandon(c, now))
    }
    pub fn transfer(&mut self, c: &str, target: TransferTarget, now: Millis) {
        self.ok(&format!("transfer({c}, {target:?}, {now})"), |r| {
            r.transfer(c, &target, now)
        })
    }
    pub fn pick(&mut self, a: &str, c: &str, now: Millis) {
        self.ok(&format!("pick({a}, {c}, {now})"), |r| r.pick(a, c, now))
    }
    /// Replaces the router's configuration at `now` (must be accepted).
    pub fn reconfigure(&mut self, c: &Config, now: Millis) {
        let json = c.json();
        self.ok(&format!("reconfigure({now})"), |r| {
            r.reconfigure_json(&json, now)
        })
    }
    pub fn timeout(&mut self, now: Millis) {
        self.ok(&format!("handle_timeout({now})"), |r| r.handle_timeout(now))
    }
    /// accept, then end_call: the agent's whole part of a call.
    pub fn serve(&mut self, a: &str, c: &str, accept_at: Millis, end_at: Millis) {
        self.accept(a, c, accept_at);
        self.end(c, end_at);
    }

    // -- events --

    /// Every event since the last drain, rendered.
    pub fn events(&mut self) -> Vec<String> {
        self.r.drain().iter().map(show).collect()
    }
    /// The events of the given kinds since the last drain (the others are dropped).
    pub fn only(&mut self, kinds: &[&str]) -> Vec<String> {
        self.r
            .drain()
            .iter()
            .filter(|e| kinds.contains(&e.kind.name()))
            .map(show)
            .collect()
    }
    /// Offers since the last drain as `"<at> <call>><agent>"` (other events are dropped).
    pub fn offers(&mut self) -> Vec<String> {
        self.r
            .drain()
            .iter()
            .filter(|e| e.kind == EventKind::Offer)
            .map(|e| format!("{} {}>{}", e.at_ms, e.call_id, e.agent_id))
            .collect()
    }
    /// The raw events since the last drain.
    pub fn raw(&mut self) -> Vec<Event> {
        self.r.drain()
    }

    // -- views --

    pub fn agent(&self, a: &str) -> AgentInfo {
        self.r.agent_info(a).expect("known agent")
    }
    pub fn state(&self, a: &str) -> AgentState {
        self.agent(a).state
    }
    /// "waiting", "held", "offered", "connected", or "gone" once finished.
    pub fn call_state(&self, c: &str) -> &'static str {
        self.r.call_info(c).map_or("gone", |i| i.state)
    }
    /// The agents a call is offered to / connected with.
    pub fn call_agents(&self, c: &str) -> Vec<String> {
        self.r
            .call_info(c)
            .map(|i| i.agents.iter().map(|a| a.to_string()).collect())
            .unwrap_or_default()
    }
}

/// The same default-ish single queue used by many tests: `q`, no skills, the given strategy.
pub fn one_queue(strategy: &str) -> Queue {
    queue("q").strategy(strategy)
}

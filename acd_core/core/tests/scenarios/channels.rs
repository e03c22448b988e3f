//! Omnichannel capacity: several chats at once, "1 voice or 3 chats", wrap-up counts as work.

use acd_core::{AcdError, AgentState, Channel};
use serde_json::json;

use crate::common::{agent, config, queue, Sim};

/// Queues `voice` and `chat` (no wrap-up unless `chat_wrapup_ms`); a1 takes 1 voice or 3
/// chats; Ready at 0.
fn sim(chat_wrapup_ms: u64) -> Sim {
    let mut s = config()
        .queue(queue("voice").set("wrapup_ms", json!(0)))
        .queue(queue("chat").set("wrapup_ms", json!(chat_wrapup_ms)))
        .agent(agent("a1").capacity(json!({"voice": 1, "chat": 3})))
        .sim();
    s.staff(&["a1"], 0);
    s
}

fn chat(s: &mut Sim, id: &str, t: u64) {
    s.enqueue_ch(id, "chat", Channel::Chat, t);
}

#[test]
fn an_agent_with_chat_capacity_3_holds_3_chats_at_once() {
    let mut s = sim(0);
    s.not_ready("a1", "break", 0);
    for (i, c) in ["ch1", "ch2", "ch3", "ch4"].iter().enumerate() {
        chat(&mut s, c, i as u64);
    }
    s.ready("a1", 100);
    assert_eq!(s.offers(), ["100 ch1>a1", "100 ch2>a1", "100 ch3>a1"]);
    assert_eq!(s.state("a1"), AgentState::Reserved);
    assert_eq!(s.call_state("ch4"), "waiting");
    for c in ["ch1", "ch2", "ch3"] {
        s.accept("a1", c, 200);
    }
    assert_eq!(s.state("a1"), AgentState::Busy);
    assert_eq!(s.agent("a1").calls.len(), 3);
    s.end("ch2", 1000);
    assert_eq!(
        s.only(&["offer"]),
        ["1000 offer ch4 @a1 longest-idle [step=0 tier=1 level=0]"]
    );
}

#[test]
fn voice_and_chat_are_exclusive() {
    let mut s = sim(0);
    chat(&mut s, "ch1", 0);
    s.accept("a1", "ch1", 0);
    s.enqueue("v1", "voice", 10);
    assert_eq!(s.call_state("v1"), "waiting"); // a chat is in progress
    chat(&mut s, "ch2", 20);
    s.accept("a1", "ch2", 20); // a second chat is fine
    s.end("ch1", 100);
    assert_eq!(s.call_state("v1"), "waiting");
    s.end("ch2", 200);
    s.accept("a1", "v1", 200);
    chat(&mut s, "ch3", 300);
    assert_eq!(s.call_state("ch3"), "waiting"); // a voice call is in progress
    s.end("v1", 400);
    assert_eq!(
        s.offers(),
        ["0 ch1>a1", "20 ch2>a1", "200 v1>a1", "400 ch3>a1"]
    );
}

#[test]
fn chat_wrap_up_counts_as_chat_work() {
    let mut s = sim(5000);
    chat(&mut s, "ch1", 0);
    s.accept("a1", "ch1", 0);
    s.end("ch1", 1000); // wrap-up until 6000
    s.enqueue("v1", "voice", 1100);
    chat(&mut s, "ch2", 1200);
    assert_eq!(s.call_state("v1"), "waiting");
    assert_eq!(s.call_state("ch2"), "offered");
    s.abandon("ch2", 1300);
    s.timeout(10_000);
    assert_eq!(s.offers(), ["0 ch1>a1", "1200 ch2>a1", "6000 v1>a1"]);
}

#[test]
fn agents_only_get_the_channels_they_have_capacity_for() {
    let mut s = config()
        .queue(queue("voice"))
        .queue(queue("chat"))
        .agent(agent("chatter").capacity(json!({"chat": 2})))
        .agent(agent("talker")) // default: voice and callback
        .sim();
    s.staff(&["chatter", "talker"], 0);
    s.enqueue("v1", "voice", 10);
    s.enqueue("v2", "voice", 20);
    chat(&mut s, "ch1", 30);
    chat(&mut s, "ch2", 40);
    chat(&mut s, "ch3", 50);
    s.enqueue_ch("cb1", "voice", Channel::Callback, 60);
    assert_eq!(
        s.offers(),
        ["10 v1>talker", "30 ch1>chatter", "40 ch2>chatter"]
    );
    for c in ["v2", "ch3", "cb1"] {
        assert_eq!(s.call_state(c), "waiting", "{c}");
    }
    // A callback is voice-like: it waits for the talker like a voice call, in arrival order.
    s.abandon("v1", 100);
    assert_eq!(s.offers(), ["100 v2>talker"]);
}

#[test]
fn logout_while_reserved_with_a_chat_in_wrap_up_waits_for_the_wrap_up() {
    let mut s = sim(5000);
    chat(&mut s, "ch1", 0);
    s.accept("a1", "ch1", 0);
    s.end("ch1", 1000); // wrap-up until 6000
    chat(&mut s, "ch2", 2000);
    assert_eq!(s.state("a1"), AgentState::Reserved);
    s.raw();
    s.logout("a1", 3000);
    assert_eq!(s.call_state("ch2"), "waiting");
    let a1 = s.agent("a1");
    assert_eq!((a1.state, a1.pending_logout), (AgentState::WrapUp, true));
    s.timeout(10_000);
    assert_eq!(
        s.events(),
        [
            "3000 revoke ch2 @a1 [logout]",
            "3000 agent-state @a1 [wrap-up]",
            "6000 agent-state @a1 logout [logged-out]",
        ]
    );
}

#[test]
fn not_ready_is_refused_while_a_chat_offer_is_open_beside_a_busy_chat() {
    let mut s = sim(0);
    chat(&mut s, "ch1", 0);
    s.accept("a1", "ch1", 0);
    chat(&mut s, "ch2", 100); // offered: a1 is busy with ch1 and reserved for ch2
    assert_eq!(s.state("a1"), AgentState::Busy);
    // As in Reserved (ROUTING.md's table): the offer is answered first. Otherwise the agent
    // would hold an open offer while not available.
    assert_eq!(
        s.refused(200, |r| r.set_not_ready("a1", "break", 200)),
        AcdError::IllegalTransition(
            "agent 'a1' has an open offer: accept or reject it first".into()
        )
    );
    s.accept("a1", "ch2", 300);
    s.not_ready("a1", "break", 400);
    assert!(s.agent("a1").pending_not_ready);
}

#[test]
fn max_misses_pauses_an_agent_with_another_chat_offer_open() {
    let mut s = config()
        .queue(queue("chat").set("no_answer", json!({"max_misses": 1})))
        .agent(agent("a1").capacity(json!({"chat": 3})))
        .sim();
    s.login("a1", 0);
    chat(&mut s, "ch1", 0);
    chat(&mut s, "ch2", 0);
    s.ready("a1", 100); // both offered
    s.reject("a1", "ch1", 200); // the first miss pauses a1 and withdraws ch2's offer
    assert!(s
        .events()
        .contains(&"200 revoke ch2 @a1 [paused]".to_string()));
    assert_eq!(
        (s.state("a1"), &*s.agent("a1").reason),
        (AgentState::NotReady, "missed")
    );
    assert_eq!(
        (s.call_state("ch1"), s.call_state("ch2")),
        ("waiting", "waiting")
    );
}

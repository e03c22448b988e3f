//! Router configuration as it arrives (JSON, see ROUTING.md), with defaults and validation.
//! Errors name the field by its path, e.g. `queues[1].skills.sales: level 11 out of range 1..10`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{AcdError, Result};
use crate::model::{Channel, Millis, Strategy, MAX_LEVEL, MIN_LEVEL};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "defaults::dedup_window_ms")]
    pub dedup_window_ms: Millis,
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub id: String,
    /// Required skills and their minimum levels.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default = "defaults::ring_all_max")]
    pub ring_all_max: u32,
    #[serde(default = "defaults::sl_threshold_ms")]
    pub sl_threshold_ms: Millis,
    #[serde(default = "defaults::short_abandon_ms")]
    pub short_abandon_ms: Millis,
    #[serde(default = "defaults::offer_timeout_ms")]
    pub offer_timeout_ms: Millis,
    #[serde(default = "defaults::wrapup_ms")]
    pub wrapup_ms: Millis,
    #[serde(default)]
    pub wrapup_until_done: bool,
    #[serde(default)]
    pub no_answer: NoAnswerPolicy,
    /// Highest tier that may take the queue's calls; 0 = every tier.
    #[serde(default)]
    pub max_tier: u8,
    #[serde(default = "defaults::yes")]
    pub prefer_lower_tier: bool,
    #[serde(default)]
    pub escalation: Vec<EscalationStep>,
    #[serde(default)]
    pub overflow: Option<Overflow>,
    #[serde(default = "defaults::ttl_ms")]
    pub ttl_ms: Millis,
    /// Milliseconds of waiting worth one priority level; 0 = priority strictly first.
    #[serde(default)]
    pub aging_ms: Millis,
    /// How long a call transferred to a named agent waits for that agent alone.
    #[serde(default = "defaults::transfer_agent_wait_ms")]
    pub transfer_agent_wait_ms: Millis,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoAnswerPolicy {
    #[serde(default)]
    pub reject_delay_ms: Millis,
    #[serde(default)]
    pub timeout_delay_ms: Millis,
    /// Consecutive misses that pause the agent (NotReady "missed"); 0 = never.
    #[serde(default = "defaults::max_misses")]
    pub max_misses: u32,
}

impl Default for NoAnswerPolicy {
    fn default() -> Self {
        NoAnswerPolicy {
            reject_delay_ms: 0,
            timeout_delay_ms: 0,
            max_misses: defaults::max_misses(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// Time since the call entered the queue.
    pub after_ms: Millis,
    /// From this step on, subtracted from every required minimum level (never below 1);
    /// absent = as the previous step had it.
    #[serde(default)]
    pub lower_levels_by: Option<u8>,
    /// New tier ceiling from this step on (0 = every tier); absent = unchanged.
    #[serde(default)]
    pub max_tier: Option<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overflow {
    /// Maximum wait in the queue before the call overflows.
    pub after_ms: Millis,
    /// Another queue of this router, or
    #[serde(default)]
    pub queue: Option<String>,
    /// a destination outside the router (the call ends `overflowed-out`).
    #[serde(default)]
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub id: String,
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    #[serde(default = "defaults::tier")]
    pub tier: u8,
    #[serde(default)]
    pub group: String,
    #[serde(default = "defaults::capacity")]
    pub capacity: BTreeMap<Channel, u8>,
}

mod defaults {
    use super::*;
    pub fn dedup_window_ms() -> Millis {
        3_600_000
    }
    pub fn ring_all_max() -> u32 {
        3
    }
    pub fn sl_threshold_ms() -> Millis {
        20_000
    }
    pub fn short_abandon_ms() -> Millis {
        5_000
    }
    pub fn offer_timeout_ms() -> Millis {
        15_000
    }
    pub fn wrapup_ms() -> Millis {
        5_000
    }
    pub fn yes() -> bool {
        true
    }
    pub fn ttl_ms() -> Millis {
        4 * 3_600_000
    }
    pub fn transfer_agent_wait_ms() -> Millis {
        30_000
    }
    pub fn max_misses() -> u32 {
        3
    }
    pub fn tier() -> u8 {
        1
    }
    pub fn capacity() -> BTreeMap<Channel, u8> {
        BTreeMap::from([(Channel::Voice, 1), (Channel::Callback, 1)])
    }
}

impl RouterConfig {
    /// Parses JSON; a type error names the field path.
    pub fn from_json(text: &str) -> Result<RouterConfig> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| AcdError::config("", e.to_string()))?;
        check_shape(&value)?;
        let config: RouterConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." || path == "?" {
                String::new()
            } else {
                path
            };
            AcdError::config(path, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types cannot: ranges, unique ids, references between queues.
    pub fn validate(&self) -> Result<()> {
        let mut queue_ids = std::collections::BTreeSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let at = format!("queues[{i}]");
            check_id(&format!("{at}.id"), &q.id)?;
            if !queue_ids.insert(q.id.as_str()) {
                return Err(AcdError::config(
                    format!("{at}.id"),
                    format!("duplicate queue '{}'", q.id),
                ));
            }
            check_levels(&format!("{at}.skills"), &q.skills)?;
            if q.ring_all_max == 0 {
                return Err(AcdError::config(
                    format!("{at}.ring_all_max"),
                    "must be at least 1",
                ));
            }
            if q.offer_timeout_ms == 0 {
                return Err(AcdError::config(
                    format!("{at}.offer_timeout_ms"),
                    "must be above 0",
                ));
            }
            if q.ttl_ms == 0 {
                return Err(AcdError::config(format!("{at}.ttl_ms"), "must be above 0"));
            }
            let mut last = 0;
            for (k, step) in q.escalation.iter().enumerate() {
                if step.after_ms < last || step.after_ms == 0 {
                    return Err(AcdError::config(
                        format!("{at}.escalation[{k}].after_ms"),
                        "steps must come in increasing order of after_ms, above 0",
                    ));
                }
                last = step.after_ms;
            }
            if let Some(o) = &q.overflow {
                let path = format!("{at}.overflow");
                match (&o.queue, &o.destination) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(AcdError::config(
                            path,
                            "name exactly one of queue or destination",
                        ))
                    }
                    (Some(target), None) if target == &q.id => {
                        return Err(AcdError::config(
                            path + ".queue",
                            "a queue cannot overflow to itself",
                        ))
                    }
                    _ => {}
                }
                if o.after_ms == 0 {
                    return Err(AcdError::config(path + ".after_ms", "must be above 0"));
                }
            }
        }
        for (i, q) in self.queues.iter().enumerate() {
            if let Some(target) = q.overflow.as_ref().and_then(|o| o.queue.as_ref()) {
                if !queue_ids.contains(target.as_str()) {
                    return Err(AcdError::config(
                        format!("queues[{i}].overflow.queue"),
                        format!("unknown queue '{target}'"),
                    ));
                }
            }
        }
        let mut agent_ids = std::collections::BTreeSet::new();
        for (i, a) in self.agents.iter().enumerate() {
            let at = format!("agents[{i}]");
            check_id(&format!("{at}.id"), &a.id)?;
            if !agent_ids.insert(a.id.as_str()) {
                return Err(AcdError::config(
                    format!("{at}.id"),
                    format!("duplicate agent '{}'", a.id),
                ));
            }
            check_levels(&format!("{at}.skills"), &a.skills)?;
            if a.tier == 0 {
                return Err(AcdError::config(format!("{at}.tier"), "tiers start at 1"));
            }
        }
        Ok(())
    }
}

/// What serde would let through but a reader would not mean: objects given as arrays (serde
/// fills a struct from a sequence by position) and capacity keys that are no channel (serde
/// cannot name a map key it failed to parse).
fn check_shape(config: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    let object = |v: &Value, path: &str| -> Result<()> {
        if v.is_object() {
            Ok(())
        } else {
            Err(AcdError::config(path, "must be a JSON object"))
        }
    };
    object(config, "")?;
    for (list, nested) in [
        ("queues", &["no_answer", "overflow"][..]),
        ("agents", &["capacity"][..]),
    ] {
        let Some(Value::Array(items)) = config.get(list) else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{list}[{i}]");
            object(item, &at)?;
            for key in nested {
                if let Some(v) = item.get(*key).filter(|v| !v.is_null()) {
                    object(v, &format!("{at}.{key}"))?;
                }
            }
            if let Some(Value::Array(steps)) = item.get("escalation") {
                for (k, step) in steps.iter().enumerate() {
                    object(step, &format!("{at}.escalation[{k}]"))?;
                }
            }
            if let Some(Value::Object(capacity)) = item.get("capacity") {
                for channel in capacity.keys() {
                    if Channel::parse(channel).is_none() {
                        return Err(AcdError::config(
                            format!("{at}.capacity.{channel}"),
                            "unknown channel (voice, chat, email, messenger, callback)",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_id(path: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(AcdError::config(
            path,
            "must be 1..256 characters without control characters",
        ));
    }
    Ok(())
}

fn check_levels(path: &str, skills: &BTreeMap<String, u8>) -> Result<()> {
    for (name, &level) in skills {
        check_id(&format!("{path}.{name}"), name)?;
        if !(MIN_LEVEL..=MAX_LEVEL).contains(&level) {
            return Err(AcdError::config(
                format!("{path}.{name}"),
                format!("level {level} out of range {MIN_LEVEL}..{MAX_LEVEL}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        RouterConfig::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_everything_but_ids() {
        let c =
            RouterConfig::from_json(r#"{"queues":[{"id":"q"}],"agents":[{"id":"a"}]}"#).unwrap();
        assert_eq!(c.queues[0].offer_timeout_ms, 15_000);
        assert_eq!(c.queues[0].strategy, Strategy::LongestIdle);
        assert_eq!(c.agents[0].capacity[&Channel::Voice], 1);
        assert_eq!(c.agents[0].tier, 1);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err(r#"{"queues":[{"id":"q","skills":{"sales":11}}]}"#),
            "queues[0].skills.sales: level 11 out of range 1..10"
        );
        assert!(err(r#"{"queues":[{"id":"q","strategy":"fastest"}]}"#)
            .starts_with("queues[0].strategy: unknown variant `fastest`"));
        assert!(err(r#"{"queues":[{"id":"q","colour":1}]}"#).contains("unknown field `colour`"));
        assert_eq!(
            err(r#"{"queues":[{"id":"q"},{"id":"q"}]}"#),
            "queues[1].id: duplicate queue 'q'"
        );
        assert_eq!(
            err(r#"{"queues":[{"id":"q","overflow":{"after_ms":5,"queue":"x"}}]}"#),
            "queues[0].overflow.queue: unknown queue 'x'"
        );
        assert_eq!(
            err(r#"{"agents":[{"id":"a","tier":0}]}"#),
            "agents[0].tier: tiers start at 1"
        );
    }
}

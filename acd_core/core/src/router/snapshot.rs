//! Snapshot and restore of the whole router. The lookup maps are not saved: they are derived
//! from the arenas and rebuilt on restore, so a snapshot holds each fact once.

use crate::error::{AcdError, Result};

use super::{CallId, Indexes, Router};

/// Bumped whenever the snapshot layout changes; a snapshot of another version is refused.
const SNAPSHOT_VERSION: u32 = 1;

impl Router {
    /// The whole state as bytes. Takes `&mut self` to bring the timer heap to its canonical
    /// form first (live entries only), so equal states give equal bytes however often
    /// `poll_timeout` dropped stale entries along the way.
    pub fn snapshot(&mut self) -> Vec<u8> {
        let mut timers = std::mem::take(&mut self.timers);
        timers.compact(|key, target| self.timer_live(key, target));
        self.timers = timers;
        let mut out = SNAPSHOT_VERSION.to_le_bytes().to_vec();
        bincode::serialize_into(&mut out, self).expect("router state serializes");
        out
    }

    pub fn restore(bytes: &[u8]) -> Result<Router> {
        let bad = |m: String| AcdError::invalid("snapshot", m);
        if bytes.len() < 4 || bytes[..4] != SNAPSHOT_VERSION.to_le_bytes() {
            return Err(bad(format!(
                "not a version {SNAPSHOT_VERSION} router snapshot"
            )));
        }
        let mut r: Router = bincode::deserialize(&bytes[4..]).map_err(|e| bad(e.to_string()))?;
        r.rebuild_indexes();
        Ok(r)
    }

    fn rebuild_indexes(&mut self) {
        let mut ix = Indexes::default();
        for (i, name) in self.skill_names.iter().enumerate() {
            ix.skills.insert(name.clone(), i as u16);
        }
        for (i, q) in self.queues.iter().enumerate() {
            ix.queues.insert(q.id.clone(), i as u32);
        }
        for (i, a) in self.agents.iter().enumerate() {
            ix.agents.insert(a.id.clone(), i as u32);
        }
        for (t, id) in &self.finished {
            ix.calls.insert(id.clone(), CallId::Finished(*t));
        }
        for (i, c) in self.calls.iter().enumerate() {
            if let Some(c) = c {
                ix.calls.insert(c.id.clone(), CallId::Live(i as u32));
            }
        }
        for (i, c) in self.classes.iter().enumerate() {
            ix.classes.insert(c.key.clone(), i as u32);
        }
        self.ix = ix;
        self.rebuild_fronts();
    }
}

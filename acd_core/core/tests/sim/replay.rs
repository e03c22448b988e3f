//! I7: the mid-run snapshot (restored and compared at once), and at the end the whole run
//! replayed on a fresh router (through the batch API) and from the snapshot on.

use acd_core::{AcdError, Command, Detail, Event, EventKind, Router};

use super::command::{exec, Cmd};
use super::model::Check;
use super::run::Sim;

impl Sim {
    pub(super) fn take_snapshot(&mut self) -> Check {
        let bytes = self.router.snapshot();
        let mut restored = Router::restore(&bytes).map_err(|e| format!("I7: restore: {e}"))?;
        ensure!(
            restored.snapshot() == bytes,
            "I7: a restored snapshot does not snapshot to the same bytes"
        );
        restored
            .check_invariants()
            .map_err(|e| format!("I7: restored router: {e}"))?;
        self.snapshot = Some((self.cmds.len(), self.events.len(), bytes));
        Ok(())
    }

    /// I7: the same commands on a fresh router (through the batch API where they can), and
    /// from the mid-run snapshot on (one by one), give the same answers, the same events
    /// (every field) and the same final state (snapshot bytes).
    pub(super) fn replay(&mut self) -> Check {
        let final_state = self.router.snapshot();
        let mut fresh = Router::from_json(&self.config).map_err(|e| e.to_string())?;
        self.replay_batched(&mut fresh)?;
        ensure!(
            fresh.snapshot() == final_state,
            "I7: the replayed router's final state differs from the run's"
        );
        self.replay_whole_journal()?;
        if let Some((ci, ei, bytes)) = &self.snapshot {
            let mut restored = Router::restore(bytes).map_err(|e| format!("I7: restore: {e}"))?;
            replay_into(
                &mut restored,
                &self.cmds[*ci..],
                &self.results[*ci..],
                &self.events[*ei..],
                "restored snapshot",
            )?;
            ensure!(
                restored.snapshot() == final_state,
                "I7: the router restored from the snapshot ends in another state than the run"
            );
        }
        Ok(())
    }

    /// Replays the run through `apply_batch`, a batch per stretch of batchable commands
    /// (transfer and pick are not: one by one). A refused command must turn into an `error`
    /// event (`command <i>: <message>`) exactly where the command was in the stream, after
    /// the events of the timers it fired before refusing.
    fn replay_batched(&self, router: &mut Router) -> Check {
        let mut got = Vec::with_capacity(self.events.len());
        let mut i = 0;
        while i < self.cmds.len() {
            let end = (i..self.cmds.len())
                .find(|&k| !matches!(self.cmds[k], Cmd::Core(_)))
                .unwrap_or(self.cmds.len());
            if end == i {
                let res = exec(router, &self.cmds[i]);
                ensure!(
                    res == self.results[i],
                    "I7: replay: command {i} {:?} answered {res:?}, the run got {:?}",
                    self.cmds[i],
                    self.results[i]
                );
                got.extend(router.drain());
                i += 1;
                continue;
            }
            let batch: Vec<Command> = self.cmds[i..end]
                .iter()
                .map(|c| match c {
                    Cmd::Core(c) => c.clone(),
                    _ => unreachable!("a stretch of core commands"),
                })
                .collect();
            router.apply_batch(&batch);
            let mut errors = 0;
            for e in router.drain() {
                if e.kind != EventKind::CommandError {
                    got.push(e);
                    continue;
                }
                let Detail::Text(text) = &e.detail else {
                    return Err(format!("I7: batch error event with detail {:?}", e.detail));
                };
                let k: Option<usize> = text
                    .strip_prefix("command ")
                    .and_then(|rest| rest.split(':').next())
                    .and_then(|n| n.parse().ok());
                let m = i + k.ok_or_else(|| format!("I7: batch error event '{text}'"))?;
                let want = match self.results.get(m) {
                    Some(Err(err)) if m < end => format!("command {}: {err}", m - i),
                    other => {
                        return Err(format!(
                            "I7: batch error '{text}' for a command the run answered {other:?}"
                        ))
                    }
                };
                // After the events of the timers the command fired before refusing.
                ensure!(
                    *text == want && got.len() == self.offsets[m + 1],
                    "I7: batch error '{text}' after {} events; the run refused command {m} with '{want}' after {}",
                    got.len(),
                    self.offsets[m + 1]
                );
                errors += 1;
            }
            let refused = self.results[i..end].iter().filter(|r| r.is_err()).count();
            ensure!(
                errors == refused,
                "I7: the batch of commands {i}..{end} gave {errors} error events, the run refused {refused}"
            );
            i = end;
        }
        compare_events("replay (batched)", &got, &self.events)
    }
}

/// Applies `cmds` to `router` and compares answers and events with the run's.
fn replay_into(
    router: &mut Router,
    cmds: &[Cmd],
    results: &[Result<bool, AcdError>],
    events: &[Event],
    what: &str,
) -> Check {
    let mut got = Vec::with_capacity(events.len());
    for (i, (cmd, want)) in cmds.iter().zip(results).enumerate() {
        let res = exec(router, cmd);
        ensure!(
            &res == want,
            "I7: {what}: command {i} {cmd:?} answered {res:?}, the run got {want:?}"
        );
        got.extend(router.drain());
    }
    compare_events(what, &got, events)
}

fn compare_events(what: &str, got: &[Event], events: &[Event]) -> Check {
    if got != events {
        let i = got
            .iter()
            .zip(events)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(events.len()));
        return Err(format!(
            "I7: {what}: event {i} differs ({} vs {} events): {:?} vs the run's {:?}",
            got.len(),
            events.len(),
            got.get(i),
            events.get(i)
        ));
    }
    Ok(())
}

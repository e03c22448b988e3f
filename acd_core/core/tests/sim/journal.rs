//! The service's journal as the simulation sees it, and crashes.
//!
//! The service applies a command, journals it, waits for the commit and only then answers and
//! publishes (python/acd/server/recovery.py). Its journal holds each accepted command as it
//! was, a refused one as the clock movement it caused (`("timeout", now)` when the router's
//! clock reached the command's time before refusing, nothing otherwise), and now and then a
//! snapshot of the router. Recovery restores the latest snapshot and replays the entries after
//! it through `apply_batch`, in chunks.
//!
//! A crash here does the same: the router is thrown away and rebuilt from the journal's last
//! snapshot plus the entries after it, and must come back byte for byte as the router was at
//! the last sync point, with the same events on the way. Sometimes the last few commands
//! were never synced (the process died between applying them and the commit): they were
//! never acknowledged, so they are lost: cut from the run's log, forgotten by the model (it
//! goes back to its copy from the sync point), and the rebuilt router must equal the router
//! that never saw them. On restart the service withdraws every offer still open (`restart`:
//! no desktop holds it any more), and adapters retry the messages that were never answered.

use std::collections::BTreeMap;

use acd_core::{AcdError, Command, EventKind, Router};

use super::command::Cmd;
use super::model::{Check, Model};
use super::run::Sim;

/// One crash in this many steps, on average; half of them lose an unsynced tail.
const CRASH_ONE_IN: u64 = 400;
/// A lost tail is 1..=this many steps long.
const MAX_TAIL_STEPS: u64 = 8;

pub struct Journal {
    /// One per command of `Sim::cmds`: what the service journals for it.
    entries: Vec<Option<Command>>,
    /// The latest snapshot: (commands before it, events before it, bytes); none yet: the
    /// router is built from the configuration.
    snapshot: Option<(usize, usize, Vec<u8>)>,
    /// The next snapshot is taken once the journal holds this many entries.
    next_snapshot: usize,
    /// An unsynced stretch in progress: the last sync point and the step that crashes.
    unsynced: Option<(Checkpoint, usize)>,
}

/// Everything as it was at a sync point.
pub struct Checkpoint {
    cmds: usize,
    events: usize,
    router: Vec<u8>,
    model: Model,
    breaks: BTreeMap<String, String>,
}

impl Journal {
    pub fn new() -> Journal {
        Journal {
            entries: Vec::new(),
            snapshot: None,
            next_snapshot: 200,
            unsynced: None,
        }
    }

    /// No unsynced stretch in progress: everything sent is committed.
    pub fn synced(&self) -> bool {
        self.unsynced.is_none()
    }

    /// Journals a command the way `recovery.journal_commands` does. `now`: the router's
    /// clock after the command.
    pub fn record(&mut self, cmd: &Cmd, result: &Result<bool, AcdError>, now: u64) {
        let entry = match result {
            Ok(_) => Some(cmd.to_command()),
            Err(_) => (now == cmd.time()).then_some(Command::Timeout(now)),
        };
        self.entries.push(entry);
    }
}

impl Sim {
    /// Before a step: a journal snapshot now and then, and a crash with a small chance (or
    /// the one an unsynced stretch ends in).
    pub(super) fn inject_faults(&mut self, step: usize) -> Check {
        if self.journal.unsynced.as_ref().is_some_and(|u| u.1 <= step) {
            return self.crash_if_unsynced();
        }
        if !self.journal.synced() {
            return Ok(());
        }
        if self.cmds.len() >= self.journal.next_snapshot {
            self.journal.snapshot =
                Some((self.cmds.len(), self.events.len(), self.router.snapshot()));
            self.journal.next_snapshot = self.cmds.len() + self.rng.range(50, 1_500) as usize;
            self.model.stats.fault("journal snapshots");
        }
        if self.rng.below(CRASH_ONE_IN) == 0 {
            let checkpoint = self.checkpoint();
            if self.rng.percent(50) {
                return self.crash(checkpoint);
            }
            let crash_at = step + self.rng.range(1, MAX_TAIL_STEPS) as usize;
            self.journal.unsynced = Some((checkpoint, crash_at));
        }
        Ok(())
    }

    /// Crashes now if an unsynced stretch is in progress (losing it).
    pub(super) fn crash_if_unsynced(&mut self) -> Check {
        match self.journal.unsynced.take() {
            Some((checkpoint, _)) => self.crash(checkpoint),
            None => Ok(()),
        }
    }

    fn checkpoint(&mut self) -> Checkpoint {
        Checkpoint {
            cmds: self.cmds.len(),
            events: self.events.len(),
            router: self.router.snapshot(),
            model: self.model.clone(),
            breaks: self.breaks.clone(),
        }
    }

    /// The router rebuilt from the journal up to `at.cmds` (snapshot plus replay), checked
    /// against the run; the lost tail dropped; then the restart.
    fn crash(&mut self, at: Checkpoint) -> Check {
        let mut router = self.recover(&at)?;
        router
            .check_invariants()
            .map_err(|e| format!("crash recovery: check_invariants: {e}"))?;
        let lost_cmds = self.cmds.len() - at.cmds;
        let lost: Vec<Cmd> = self.cmds[at.cmds..]
            .iter()
            .zip(&self.results[at.cmds..])
            .filter(|(_, r)| r.is_ok())
            .map(|(c, _)| c.clone())
            .collect();
        self.cmds.truncate(at.cmds);
        self.results.truncate(at.cmds);
        self.events.truncate(at.events);
        self.offsets.truncate(at.cmds + 1);
        self.journal.entries.truncate(at.cmds);
        ensure!(
            self.snapshot.as_ref().is_none_or(|s| s.0 <= at.cmds),
            "harness: the mid-run snapshot was taken in a lost tail"
        );
        std::mem::swap(&mut self.router, &mut router);
        let stats = std::mem::take(&mut self.model.stats);
        self.model = at.model;
        self.model.stats = stats;
        self.breaks = at.breaks;
        self.model.stats.fault("crashes");
        if lost_cmds > 0 {
            self.model.stats.fault("tail losses");
            self.model.stats.count("lost commands", lost_cmds as u64);
        }
        self.begin_step(self.step);
        self.check_state()?;
        self.restart(lost)
    }

    /// What `recovery.recover` does: the latest snapshot (or the configuration), then the
    /// journal's entries after it through `apply_batch` in chunks. Their events must be the
    /// run's, without a refusal, and the router must end as it was at the sync point.
    fn recover(&mut self, at: &Checkpoint) -> Result<Router, String> {
        let snapshot = self.journal.snapshot.clone();
        self.replay_journal(snapshot.as_ref(), at.cmds, at.events, &at.router)
    }

    /// I7 for the journal: the whole journal replayed on a fresh router, as recovery without a
    /// snapshot does, gives the run's events and ends in its final state.
    pub(super) fn replay_whole_journal(&mut self) -> Check {
        let end = self.router.snapshot();
        self.replay_journal(None, self.cmds.len(), self.events.len(), &end)
            .map(drop)
    }

    /// The router from `snapshot` (none: the configuration) and the journal's entries up to
    /// command `cmds`: its events must be the run's up to event `events`, its state
    /// `want_state`.
    fn replay_journal(
        &mut self,
        snapshot: Option<&(usize, usize, Vec<u8>)>,
        cmds: usize,
        events: usize,
        want_state: &[u8],
    ) -> Result<Router, String> {
        let (from_cmd, from_event, mut router) = match snapshot {
            Some((ci, ei, bytes)) => (
                *ci,
                *ei,
                Router::restore(bytes).map_err(|e| format!("journal replay: restore: {e}"))?,
            ),
            None => (
                0,
                0,
                Router::from_json(&self.config).map_err(|e| e.to_string())?,
            ),
        };
        ensure!(
            from_cmd <= cmds,
            "harness: the journal snapshot is newer than the sync point"
        );
        let entries: Vec<Command> = self.journal.entries[from_cmd..cmds]
            .iter()
            .flatten()
            .cloned()
            .collect();
        let chunk = self.rng.range(1, 256) as usize;
        let mut got = Vec::new();
        for batch in entries.chunks(chunk) {
            router.apply_batch(batch);
            got.extend(router.drain());
        }
        if let Some(e) = got.iter().find(|e| e.kind == EventKind::CommandError) {
            return Err(format!(
                "journal replay: a journaled command was refused: {}",
                e.detail
            ));
        }
        let want = &self.events[from_event..events];
        if got != want {
            let i = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            return Err(format!(
                "journal replay: event {i} after command {from_cmd} differs ({} vs {} events): {:?} vs the run's {:?}",
                got.len(),
                want.len(),
                got.get(i),
                want.get(i)
            ));
        }
        ensure!(
            router.snapshot() == want_state,
            "journal replay: the router rebuilt from {} and {} journal entries after command {from_cmd} differs from the run's at command {cmds}",
            if snapshot.is_some() { "a snapshot" } else { "the configuration" },
            entries.len()
        );
        Ok(router)
    }

    /// The service comes back a little later: it withdraws every offer still open (one
    /// withdraw per agent takes all of that agent's), and adapters send again what was lost.
    fn restart(&mut self, lost: Vec<Cmd>) -> Check {
        let t = self.router.now() + self.rng.range(0, 5_000);
        let mut seen = Vec::new();
        for (call, agent, _) in self.model.open_offers() {
            if seen.contains(&agent) {
                continue;
            }
            seen.push(agent.clone());
            let cmd = Cmd::Core(Command::Withdraw(agent, call, "restart".into(), t));
            self.run_command(cmd)?;
            self.model.stats.fault("restart withdrawals");
        }
        for cmd in lost {
            let adapter = matches!(
                cmd,
                Cmd::Core(Command::Enqueue(..) | Command::Abandon(..) | Command::End(..))
            );
            if adapter && self.rng.percent(50) {
                let again = cmd.at(t).expect("an adapter message");
                self.run_command(again)?;
                self.model.stats.fault("retried messages");
            }
        }
        Ok(())
    }
}

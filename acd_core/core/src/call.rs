//! A call (any channel) while it is live in the router.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::Id;
use crate::model::{AgentIx, Channel, ClassIx, Millis, QueueIx, Skills};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallState {
    /// In its class's line, waiting for an agent.
    Waiting,
    /// Held for its preferred agent until the preference runs out.
    Held,
    /// Offered to one agent (or several with ring-all); `offers` lists them.
    Offered,
    /// Accepted by an agent.
    Connected(AgentIx),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub id: Arc<str>,
    /// Arrival order, unique for the router's life (the tie-breaker of I6).
    pub seq: u64,
    pub queue: QueueIx,
    pub channel: Channel,
    pub priority: i32,
    /// Static urgency (ROUTING.md): higher first; kept through offers and overflows.
    pub score: i64,
    pub skills_override: Option<Skills>,
    pub caller: Id,
    pub dialled: Id,
    pub attributes: Vec<(String, String)>,
    pub preferred: Option<(AgentIx, Millis)>,
    /// First enqueue, or the last transfer (time-to-live and waiting time count from here).
    pub first_enqueued_at: Millis,
    /// Entry into the current queue (escalation and overflow count from here).
    pub entered_at: Millis,
    /// Escalation steps already applied in the current queue.
    pub step: u8,
    pub class: ClassIx,
    pub state: CallState,
    /// Open offers (slots in the offer arena).
    pub offers: OfferList,
    /// The call timer currently armed.
    pub timer: Option<Millis>,
}

/// A call's open offers, in the order they were made. Almost every call has at most one (only
/// ring-all offers a call to several agents at once), so the first is held in the call itself:
/// offering and answering then neither allocate nor follow a pointer to a separate buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferList {
    first: Option<u32>,
    more: Vec<u32>,
}

impl OfferList {
    pub fn push(&mut self, oi: u32) {
        if self.first.is_none() {
            self.first = Some(oi);
        } else {
            self.more.push(oi);
        }
    }

    /// Keeps the offers `keep` accepts, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&u32) -> bool) {
        self.more.retain(|o| keep(o));
        if self.first.is_some_and(|o| !keep(&o)) {
            self.first = (!self.more.is_empty()).then(|| self.more.remove(0));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    pub fn iter(&self) -> std::iter::Chain<std::option::Iter<'_, u32>, std::slice::Iter<'_, u32>> {
        self.first.iter().chain(self.more.iter())
    }
}

impl<'a> IntoIterator for &'a OfferList {
    type Item = &'a u32;
    type IntoIter = std::iter::Chain<std::option::Iter<'a, u32>, std::slice::Iter<'a, u32>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

// As the list of offer slots it was before (a `Vec<u32>`): snapshots keep their layout.
impl Serialize for OfferList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for OfferList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OfferList, D::Error> {
        let mut list = OfferList::default();
        for oi in Vec::<u32>::deserialize(d)? {
            list.push(oi);
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_list_keeps_order_through_removals_and_serializes_as_a_vec() {
        let mut list = OfferList::default();
        assert!(list.is_empty());
        for oi in [4, 7, 9, 2] {
            list.push(oi);
        }
        list.retain(|&o| o != 4);
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [7, 9, 2]);
        list.retain(|&o| o != 9);
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [7, 2]);
        assert_eq!(list.len(), 2);
        let bytes = bincode::serialize(&list).unwrap();
        assert_eq!(bytes, bincode::serialize(&vec![7u32, 2]).unwrap());
        assert_eq!(bincode::deserialize::<OfferList>(&bytes).unwrap(), list);
        list.retain(|_| false);
        assert!(list.is_empty());
        list.push(1);
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [1]);
    }
}

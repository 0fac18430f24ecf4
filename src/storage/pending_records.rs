//! Which record of the IndexedDB pending store holds which pending node, and when a record may
//! be deleted: the bookkeeping of `IdbPendingStore`, pure so it is tested natively.
//!
//! A record is either one node (as earlier casweb versions wrote them, under the node's key) or a
//! batch (every node put in one tick, framed as a batch body). A batch record is deleted once
//! none of its nodes is pending any more; until then it keeps the released nodes too (a reload
//! finds them again and the engine's first check sees they are owned).

use std::collections::HashMap;

use crate::key::Key;

/// A record of the pending store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordId {
    /// A record holding one node, under the node's key.
    Node(Key),
    /// A batch record, under this number.
    Batch(u64),
}

/// The pending nodes of each record.
#[derive(Debug, Default)]
pub struct PendingRecords {
    record_of: HashMap<Key, RecordId>,
    /// Pending nodes per record (only records with at least one).
    pending_in: HashMap<RecordId, usize>,
}

impl PendingRecords {
    /// Notes that `record` holds `keys`. A key that an older record held moves to this one;
    /// returns the records left without pending nodes by that move.
    pub fn add(&mut self, record: RecordId, keys: impl IntoIterator<Item = Key>) -> Vec<RecordId> {
        let mut emptied = Vec::new();
        for key in keys {
            if let Some(old) = self.record_of.insert(key, record) {
                if old != record {
                    self.release_one(old, &mut emptied);
                } else {
                    continue; // the same key twice in one record counts once
                }
            }
            *self.pending_in.entry(record).or_default() += 1;
        }
        emptied
    }

    /// Notes that `keys` are no longer pending (unknown keys are ignored); returns the records
    /// that have no pending node left, which may be deleted.
    pub fn release(&mut self, keys: &[Key]) -> Vec<RecordId> {
        let mut emptied = Vec::new();
        for key in keys {
            if let Some(record) = self.record_of.remove(key) {
                self.release_one(record, &mut emptied);
            }
        }
        emptied
    }

    /// The record holding `key`, and whether other pending nodes share it.
    pub fn record_of(&self, key: &Key) -> Option<(RecordId, bool)> {
        let record = *self.record_of.get(key)?;
        Some((
            record,
            self.pending_in.get(&record).copied().unwrap_or(0) > 1,
        ))
    }

    fn release_one(&mut self, record: RecordId, emptied: &mut Vec<RecordId>) {
        if let Some(count) = self.pending_in.get_mut(&record) {
            *count -= 1;
            if *count == 0 {
                self.pending_in.remove(&record);
                emptied.push(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        Key::for_bytes(&[n])
    }

    #[test]
    fn a_batch_record_goes_when_its_last_pending_node_is_released() {
        let mut records = PendingRecords::default();
        assert!(records
            .add(RecordId::Batch(1), [key(1), key(2), key(3)])
            .is_empty());
        assert!(records.add(RecordId::Node(key(4)), [key(4)]).is_empty());
        assert_eq!(
            records.record_of(&key(4)),
            Some((RecordId::Node(key(4)), false))
        );
        assert_eq!(records.record_of(&key(1)), Some((RecordId::Batch(1), true)));
        assert!(records.release(&[key(1), key(2)]).is_empty());
        assert_eq!(
            records.record_of(&key(3)),
            Some((RecordId::Batch(1), false))
        );
        assert_eq!(
            records.release(&[key(3), key(4), key(9)]),
            [RecordId::Batch(1), RecordId::Node(key(4))]
        );
        assert_eq!(records.record_of(&key(3)), None);
        assert!(records.release(&[key(3)]).is_empty(), "released once");
    }

    #[test]
    fn a_key_put_again_moves_to_its_newest_record() {
        let mut records = PendingRecords::default();
        records.add(RecordId::Batch(1), [key(1), key(2)]);
        assert!(records.add(RecordId::Batch(2), [key(2)]).is_empty());
        assert_eq!(
            records.add(RecordId::Batch(3), [key(1)]),
            [RecordId::Batch(1)],
            "record 1 has nothing pending left"
        );
        assert!(records.add(RecordId::Batch(3), [key(1)]).is_empty());
        assert_eq!(
            records.record_of(&key(1)),
            Some((RecordId::Batch(3), false))
        );
        assert_eq!(records.release(&[key(1)]), [RecordId::Batch(3)]);
        assert_eq!(records.release(&[key(2)]), [RecordId::Batch(2)]);
    }
}

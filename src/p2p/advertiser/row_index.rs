//! A compact `Key -> row` index for the scheduler: an open-addressing hash table of 4-byte row
//! numbers (linear probing, at most 7/8 full) that reads keys from the scheduler's key column
//! instead of storing them again, so it costs about 5-9 bytes per key instead of a `HashMap`'s
//! 24-48.

use std::hash::{BuildHasher, RandomState};

use crate::key::Key;

const EMPTY: u32 = u32::MAX;

/// Rows of keys held in a `&[Key]` column (row `r` holds `keys[r]`); rows are never removed.
#[derive(Debug, Default)]
pub struct RowIndex {
    slots: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

impl RowIndex {
    fn slot_of(&self, key: &Key) -> usize {
        (self.hasher.hash_one(key) as usize) & (self.slots.len() - 1)
    }

    /// The row of `key`, looked up in `keys`.
    pub fn get(&self, key: &Key, keys: &[Key]) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.slot_of(key);
        loop {
            match self.slots[slot] {
                EMPTY => return None,
                row if keys[row as usize] == *key => return Some(row),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Adds `row`, whose key is `keys[row]` and not yet indexed; `keys` holds every indexed row.
    pub fn insert(&mut self, row: u32, keys: &[Key]) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow(keys);
        }
        self.place(row, keys);
        self.len += 1;
    }

    fn place(&mut self, row: u32, keys: &[Key]) {
        let mask = self.slots.len() - 1;
        let mut slot = self.slot_of(&keys[row as usize]);
        while self.slots[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = row;
    }

    fn grow(&mut self, keys: &[Key]) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for row in old.into_iter().filter(|&row| row != EMPTY) {
            self.place(row, keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_inserted_row_and_nothing_else() {
        let keys: Vec<Key> = (0..10_000u32)
            .map(|n| Key::for_bytes(&n.to_le_bytes()))
            .collect();
        let mut index = RowIndex::default();
        for row in 0..keys.len() {
            assert_eq!(index.get(&keys[row], &keys[..row]), None);
            index.insert(row as u32, &keys[..=row]);
        }
        for (row, key) in keys.iter().enumerate() {
            assert_eq!(index.get(key, &keys), Some(row as u32));
        }
        assert_eq!(index.get(&Key::for_bytes(b"absent"), &keys), None);
    }
}

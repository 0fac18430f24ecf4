//! Content keys: BLAKE3-128 of a node's bytes with byte 0 replaced by a size flag.
//!
//! The size flag `(H << 4) | L` says the node is at most `L * 16^H` bytes long (the smallest
//! such H, then L), so a store can route or refuse a node by size from its key alone.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use crate::crockford;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 16;

/// A 16-byte content key. Its text form is 26 characters of Crockford base32.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key([u8; KEY_LEN]);

/// Why a key (text or bytes) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("malformed key text: {0}")]
    Text(#[from] crockford::DecodeError),
    #[error("a key is {KEY_LEN} bytes, got {0}")]
    WrongByteLength(usize),
    #[error("size flag 0x{0:02x} is not canonical (L is 0 while H is not)")]
    BadSizeFlag(u8),
}

impl Key {
    /// Computes the key of `bytes` (the node's complete encoding).
    pub fn for_bytes(bytes: &[u8]) -> Key {
        let hash = blake3::hash(bytes);
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(&hash.as_bytes()[..KEY_LEN]);
        key[0] = size_flag(bytes.len() as u64);
        Key(key)
    }

    /// Builds a key from 16 raw bytes, checking the size flag is canonical.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Result<Key, KeyError> {
        let flag = bytes[0];
        if flag >> 4 != 0 && flag & 0x0f == 0 {
            return Err(KeyError::BadSizeFlag(flag));
        }
        Ok(Key(bytes))
    }

    /// Builds a key from a slice that must be exactly 16 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Key, KeyError> {
        let array: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::WrongByteLength(bytes.len()))?;
        Key::from_bytes(array)
    }

    /// Wraps bytes already checked by [`Key::from_slice`] (used by the node decoder).
    pub(crate) fn from_validated(bytes: &[u8]) -> Key {
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(bytes);
        Key(key)
    }

    /// Parses the 26-character text form.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        Key::from_bytes(crockford::decode16(text)?)
    }

    /// Parses the text form given as UTF-8 bytes (e.g. a slice of a larger buffer), with the
    /// same checks and errors as [`Key::parse`].
    pub fn parse_bytes(text: &[u8]) -> Result<Key, KeyError> {
        Key::from_bytes(crockford::decode16_bytes(text)?)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The size flag byte.
    pub fn size_flag(&self) -> u8 {
        self.0[0]
    }

    /// The largest node length this key's size flag allows.
    pub fn max_node_len(&self) -> u64 {
        size_flag_limit(self.0[0])
    }

    /// True if `bytes` hash to this key (hash and size flag both match).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Key::for_bytes(bytes) == *self
    }
}

/// A hash map keyed by [`Key`] that hashes with [`KeyHasher`] instead of SipHash.
pub(crate) type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// A fast hasher for keys: a multiply-and-mix of their two 64-bit halves, without SipHash's
/// per-process secret. Keys are BLAKE3 output, uniform already, and a map that holds the keys of
/// actual nodes cannot be flooded with colliding ones (that would take hash collisions).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        // A key arrives as its 16 bytes (the derived `Hash`); anything else, 8 bytes at a time.
        if let Ok(key) = <[u8; KEY_LEN]>::try_from(bytes) {
            let value = u128::from_le_bytes(key);
            self.mix(value as u64);
            self.mix((value >> 64) as u64);
            return;
        }
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, length: usize) {
        self.mix(length as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The size flag of a node `len` bytes long: the smallest H (then L) with `L * 16^H >= len`.
/// Lengths beyond the largest bound `15 * 16^15` (unreachable: a node is under 4 GiB) saturate
/// at `0xff`.
pub fn size_flag(len: u64) -> u8 {
    if u128::from(len) > 15 * 16u128.pow(15) {
        return 0xff;
    }
    let mut h = 0u32;
    while 15u128 * 16u128.pow(h) < u128::from(len) {
        h += 1;
    }
    let unit = 16u128.pow(h);
    let l = u128::from(len).div_ceil(unit);
    ((h as u8) << 4) | l as u8
}

/// The upper bound `L * 16^H` a size flag stands for.
pub fn size_flag_limit(flag: u8) -> u64 {
    let h = u32::from(flag >> 4);
    let l = u128::from(flag & 0x0f);
    u64::try_from(l * 16u128.pow(h)).unwrap_or(u64::MAX)
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crockford::encode16(&self.0))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

/// Keys travel in JSON as their 26-character text.
impl serde::Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Key::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl FromStr for Key {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Key, KeyError> {
        Key::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_flags_are_the_smallest_bound() {
        assert_eq!(size_flag(0), 0x00);
        assert_eq!(size_flag(1), 0x01);
        assert_eq!(size_flag(15), 0x0f);
        assert_eq!(size_flag(16), 0x11);
        assert_eq!(size_flag(17), 0x12);
        assert_eq!(size_flag(240), 0x1f);
        assert_eq!(size_flag(241), 0x21);
        assert_eq!(size_flag(4 * 1024 * 1024), 0x54);
        for len in [
            0u64,
            1,
            16,
            17,
            255,
            256,
            257,
            1 << 20,
            (1 << 20) + 1,
            u32::MAX as u64,
        ] {
            let flag = size_flag(len);
            assert!(size_flag_limit(flag) >= len, "len {len}");
        }
    }

    #[test]
    fn non_canonical_size_flag_is_refused() {
        let mut bytes = [0u8; 16];
        bytes[0] = 0x10;
        assert_eq!(Key::from_bytes(bytes), Err(KeyError::BadSizeFlag(0x10)));
        assert_eq!(
            Key::from_slice(&[0; 15]),
            Err(KeyError::WrongByteLength(15))
        );
    }

    #[test]
    fn keys_are_json_strings() {
        let key = Key::for_bytes(b"json");
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{key}\""));
        assert_eq!(serde_json::from_str::<Key>(&json).unwrap(), key);
        assert!(serde_json::from_str::<Key>("\"nope\"").is_err());
    }

    #[test]
    fn text_round_trip() {
        let key = Key::for_bytes(b"hello");
        assert_eq!(Key::parse(&key.to_string()), Ok(key));
        assert_eq!(key.size_flag(), 0x05);
        assert!(key.matches(b"hello"));
        assert!(!key.matches(b"hellO"));
    }

    #[test]
    fn text_as_bytes_parses_like_text() {
        let key = Key::for_bytes(b"bytes");
        assert_eq!(Key::parse_bytes(key.to_string().as_bytes()), Ok(key));
        for text in [
            "",
            "nope",
            "0000000000000000000000000é",
            "00000000000000000000000001",
        ] {
            assert_eq!(
                Key::parse_bytes(text.as_bytes()),
                Key::parse(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn key_maps_find_every_key() {
        let keys: Vec<Key> = (0..10_000u32)
            .map(|n| Key::for_bytes(&n.to_le_bytes()))
            .collect();
        let mut map: KeyMap<usize> = KeyMap::default();
        for (i, key) in keys.iter().enumerate() {
            map.insert(*key, i);
        }
        assert_eq!(map.len(), keys.len());
        assert!(keys.iter().enumerate().all(|(i, key)| map[key] == i));
        assert_eq!(map.get(&Key::for_bytes(b"absent")), None);
    }
}

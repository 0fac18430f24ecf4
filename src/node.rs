//! The node format: encode, decode and validate the immutable blocks a Merkle DAG is made of.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! 0..4    magic   0x01534143 ("CAS\x01")
//! 4..8    flags   bits 0-1 kind, 2-3 header extensions (must be 0), 4-7 block-size exponent
//!                 (2^n KiB, informational; 0 for sets and dicts), 8-15 hash algorithm
//!                 (0 = BLAKE3-128), 16-31 zero
//! 8..12   size    payload length in bytes
//! 12..16  count   number of child keys
//! 16..    count child keys of 16 raw bytes, then `size` payload bytes
//! ```
//!
//! A valid node is exactly `16 + 16 * count + size` bytes long. Each kind adds its own rules,
//! checked by [`decode`]: see [`NodeKind`].

use crate::key::{Key, KEY_LEN};

/// `"CAS\x01"` read as a little-endian u32.
pub const MAGIC: u32 = 0x0153_4143;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 16;
/// Length of the FileInfo that starts a file node's payload.
pub const FILE_INFO_LEN: usize = 64;
/// Longest content type a FileInfo can hold.
pub const MAX_CONTENT_TYPE_LEN: usize = FILE_INFO_LEN - 8;

const KIND_MASK: u32 = 0b11;
const EXTENSION_SHIFT: u32 = 2;
const EXTENSION_MASK: u32 = 0b11;
const BLOCK_SIZE_SHIFT: u32 = 4;
const BLOCK_SIZE_MASK: u32 = 0xf;
const HASH_SHIFT: u32 = 8;
const HASH_MASK: u32 = 0xff;
const RESERVED_MASK: u32 = 0xffff_0000;

/// What a node is. The kind decides what its payload means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A set of keys: children strictly ascending, no payload.
    Set = 0,
    /// A directory: the payload holds one name per child (u16 length + UTF-8), strictly
    /// ascending by bytes, unique and non-empty.
    Dict = 1,
    /// A piece of a file: the payload is file data; children continue it.
    Successor = 2,
    /// The root of a file: the payload is a 64-byte FileInfo, then file data; children continue it.
    File = 3,
}

impl NodeKind {
    fn from_bits(bits: u32) -> NodeKind {
        match bits & KIND_MASK {
            0 => NodeKind::Set,
            1 => NodeKind::Dict,
            2 => NodeKind::Successor,
            _ => NodeKind::File,
        }
    }
}

/// Why bytes are not a valid node (or a node cannot be encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error("node is {len} bytes, shorter than the {HEADER_LEN}-byte header")]
    Truncated { len: usize },
    #[error("bad magic 0x{found:08x} (expected 0x{MAGIC:08x})")]
    BadMagic { found: u32 },
    #[error("reserved flag bits are set (flags 0x{flags:08x})")]
    ReservedFlags { flags: u32 },
    #[error("unsupported hash algorithm {0} (only 0 = BLAKE3-128)")]
    UnsupportedHash(u8),
    #[error("header extensions ({0}) are not supported")]
    UnsupportedExtension(u8),
    #[error(
        "node length is {actual} bytes but its header says {expected} (16 + 16 * count + size)"
    )]
    LengthMismatch { expected: u64, actual: u64 },
    #[error("child {index} is not a valid key (non-canonical size flag)")]
    BadChildKey { index: usize },
    #[error("set and dict nodes must have block-size exponent 0")]
    BlockSizeOnNonFile,
    #[error("set node: {0}")]
    InvalidSet(&'static str),
    #[error("dict node: {0}")]
    InvalidDict(&'static str),
    #[error("file node: {0}")]
    InvalidFileInfo(&'static str),
    #[error("node would be too large to encode ({0})")]
    TooLarge(&'static str),
}

/// The fixed header fields, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: NodeKind,
    pub block_size_exponent: u8,
    pub size: u32,
    pub count: u32,
}

/// The 64-byte record at the start of a file node's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Length of the whole file in bytes (all nodes of its DAG together).
    pub size: u64,
    /// MIME type, printable ASCII, at most 56 bytes; empty if unknown.
    pub content_type: String,
}

/// A decoded, validated node borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    header: Header,
    bytes: &'a [u8],
}

impl<'a> NodeView<'a> {
    pub fn header(&self) -> Header {
        self.header
    }

    pub fn kind(&self) -> NodeKind {
        self.header.kind
    }

    pub fn child_count(&self) -> usize {
        self.header.count as usize
    }

    /// The child keys in order.
    pub fn children(&self) -> impl ExactSizeIterator<Item = Key> + 'a {
        let end = HEADER_LEN + KEY_LEN * self.child_count();
        self.bytes[HEADER_LEN..end]
            .chunks_exact(KEY_LEN)
            .map(Key::from_validated)
    }

    /// The raw payload (everything after the child keys).
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN + KEY_LEN * self.child_count()..]
    }

    /// File data held by this node itself: the payload after the FileInfo of a file node, the
    /// payload of a successor, nothing for sets and dicts.
    pub fn data(&self) -> &'a [u8] {
        match self.kind() {
            NodeKind::File => &self.payload()[FILE_INFO_LEN..],
            NodeKind::Successor => self.payload(),
            NodeKind::Set | NodeKind::Dict => &[],
        }
    }

    /// The FileInfo of a file node.
    pub fn file_info(&self) -> Option<FileInfo> {
        (self.kind() == NodeKind::File).then(|| {
            let payload = self.payload();
            let size = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
            let type_bytes = &payload[8..FILE_INFO_LEN];
            let end = type_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(type_bytes.len());
            FileInfo {
                size,
                content_type: String::from_utf8_lossy(&type_bytes[..end]).into_owned(),
            }
        })
    }

    /// The names of a dict node, one per child, in order.
    pub fn dict_names(&self) -> Option<Vec<&'a str>> {
        (self.kind() == NodeKind::Dict).then(|| {
            parse_dict_names(self.payload(), self.child_count()).expect("validated by decode")
        })
    }
}

/// Reads and checks the header and the length rule, without the kind-specific rules.
pub fn decode_header(bytes: &[u8]) -> Result<Header, NodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(NodeError::Truncated { len: bytes.len() });
    }
    let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let (magic, flags, size, count) = (word(0), word(4), word(8), word(12));
    if magic != MAGIC {
        return Err(NodeError::BadMagic { found: magic });
    }
    if flags & RESERVED_MASK != 0 {
        return Err(NodeError::ReservedFlags { flags });
    }
    let hash = ((flags >> HASH_SHIFT) & HASH_MASK) as u8;
    if hash != 0 {
        return Err(NodeError::UnsupportedHash(hash));
    }
    let extensions = ((flags >> EXTENSION_SHIFT) & EXTENSION_MASK) as u8;
    if extensions != 0 {
        return Err(NodeError::UnsupportedExtension(extensions));
    }
    let expected = HEADER_LEN as u64 + KEY_LEN as u64 * u64::from(count) + u64::from(size);
    if expected != bytes.len() as u64 {
        return Err(NodeError::LengthMismatch {
            expected,
            actual: bytes.len() as u64,
        });
    }
    Ok(Header {
        kind: NodeKind::from_bits(flags),
        block_size_exponent: ((flags >> BLOCK_SIZE_SHIFT) & BLOCK_SIZE_MASK) as u8,
        size,
        count,
    })
}

/// Decodes and fully validates a node (everything but its hash, which needs the key).
pub fn decode(bytes: &[u8]) -> Result<NodeView<'_>, NodeError> {
    let header = decode_header(bytes)?;
    let view = NodeView { header, bytes };
    let child_bytes = &bytes[HEADER_LEN..HEADER_LEN + KEY_LEN * view.child_count()];
    for (index, chunk) in child_bytes.chunks_exact(KEY_LEN).enumerate() {
        Key::from_slice(chunk).map_err(|_| NodeError::BadChildKey { index })?;
    }
    if matches!(header.kind, NodeKind::Set | NodeKind::Dict) && header.block_size_exponent != 0 {
        // Meaningless for sets and dicts; allowing it would give one node two encodings.
        return Err(NodeError::BlockSizeOnNonFile);
    }
    match header.kind {
        NodeKind::Set => {
            if header.size != 0 {
                return Err(NodeError::InvalidSet("a set has no payload"));
            }
            let keys: Vec<&[u8]> = child_bytes.chunks_exact(KEY_LEN).collect();
            if keys.windows(2).any(|pair| pair[0] >= pair[1]) {
                return Err(NodeError::InvalidSet(
                    "children must be strictly ascending (sorted, no duplicates)",
                ));
            }
        }
        NodeKind::Dict => {
            parse_dict_names(view.payload(), view.child_count())?;
        }
        NodeKind::File => check_file_info(view.payload())?,
        NodeKind::Successor => {}
    }
    Ok(view)
}

/// The child keys of a node, read straight from bytes `[16 + 16i, 32 + 16i)`: the built-in
/// `getChildKeys`. Checks the header and length rule, not the kind-specific rules.
pub fn child_keys(bytes: &[u8]) -> Result<Vec<Key>, NodeError> {
    let header = decode_header(bytes)?;
    bytes[HEADER_LEN..HEADER_LEN + KEY_LEN * header.count as usize]
        .chunks_exact(KEY_LEN)
        .enumerate()
        .map(|(index, chunk)| Key::from_slice(chunk).map_err(|_| NodeError::BadChildKey { index }))
        .collect()
}

fn parse_dict_names(payload: &[u8], count: usize) -> Result<Vec<&str>, NodeError> {
    let mut names: Vec<&str> = Vec::with_capacity(count.min(payload.len() / 3 + 1));
    let mut rest = payload;
    for _ in 0..count {
        if rest.len() < 2 {
            return Err(NodeError::InvalidDict(
                "names end before every child has one",
            ));
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        if len == 0 {
            return Err(NodeError::InvalidDict("names must not be empty"));
        }
        if rest.len() < len {
            return Err(NodeError::InvalidDict(
                "a name runs past the end of the payload",
            ));
        }
        let name = std::str::from_utf8(&rest[..len])
            .map_err(|_| NodeError::InvalidDict("a name is not valid UTF-8"))?;
        if names
            .last()
            .is_some_and(|prev| prev.as_bytes() >= name.as_bytes())
        {
            return Err(NodeError::InvalidDict(
                "names must be strictly ascending (sorted, unique)",
            ));
        }
        names.push(name);
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(NodeError::InvalidDict("bytes left after the last name"));
    }
    Ok(names)
}

fn check_file_info(payload: &[u8]) -> Result<(), NodeError> {
    if payload.len() < FILE_INFO_LEN {
        return Err(NodeError::InvalidFileInfo(
            "payload is shorter than the 64-byte FileInfo",
        ));
    }
    let type_bytes = &payload[8..FILE_INFO_LEN];
    let end = type_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(type_bytes.len());
    if !type_bytes[..end].iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(NodeError::InvalidFileInfo(
            "content type must be printable ASCII",
        ));
    }
    if type_bytes[end..].iter().any(|&b| b != 0) {
        return Err(NodeError::InvalidFileInfo(
            "content type must be zero-padded",
        ));
    }
    Ok(())
}

fn encode_raw(
    kind: NodeKind,
    block_size_exponent: u8,
    children: &[Key],
    payload_parts: &[&[u8]],
) -> Result<Vec<u8>, NodeError> {
    let size: usize = payload_parts.iter().map(|p| p.len()).sum();
    let size = u32::try_from(size).map_err(|_| NodeError::TooLarge("payload over 4 GiB"))?;
    let count =
        u32::try_from(children.len()).map_err(|_| NodeError::TooLarge("too many children"))?;
    let flags = (kind as u32) | (u32::from(block_size_exponent & 0xf) << BLOCK_SIZE_SHIFT);
    let mut out = Vec::with_capacity(HEADER_LEN + KEY_LEN * children.len() + size as usize);
    for word in [MAGIC, flags, size, count] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for child in children {
        out.extend_from_slice(child.as_bytes());
    }
    for part in payload_parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// Encodes a set node; the children are sorted and deduplicated.
pub fn encode_set(children: &[Key]) -> Result<Vec<u8>, NodeError> {
    let mut sorted = children.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    encode_raw(NodeKind::Set, 0, &sorted, &[])
}

/// Encodes a dict node from `(name, child)` entries, sorted here by name.
pub fn encode_dict(entries: &[(&str, Key)]) -> Result<Vec<u8>, NodeError> {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if sorted.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return Err(NodeError::InvalidDict("names must be unique"));
    }
    let mut names = Vec::new();
    for (name, _) in &sorted {
        if name.is_empty() {
            return Err(NodeError::InvalidDict("names must not be empty"));
        }
        let len = u16::try_from(name.len())
            .map_err(|_| NodeError::InvalidDict("a name is longer than 65535 bytes"))?;
        names.extend_from_slice(&len.to_le_bytes());
        names.extend_from_slice(name.as_bytes());
    }
    let children: Vec<Key> = sorted.iter().map(|(_, key)| *key).collect();
    encode_raw(NodeKind::Dict, 0, &children, &[&names])
}

/// Encodes a successor node: a piece of file data and the nodes that continue it.
pub fn encode_successor(
    children: &[Key],
    data: &[u8],
    block_size_exponent: u8,
) -> Result<Vec<u8>, NodeError> {
    encode_raw(NodeKind::Successor, block_size_exponent, children, &[data])
}

/// Encodes a file root node: FileInfo, the first piece of data, and the nodes that continue it.
pub fn encode_file(
    children: &[Key],
    info: &FileInfo,
    data: &[u8],
    block_size_exponent: u8,
) -> Result<Vec<u8>, NodeError> {
    let content_type = info.content_type.as_bytes();
    if content_type.len() > MAX_CONTENT_TYPE_LEN {
        return Err(NodeError::InvalidFileInfo(
            "content type is longer than 56 bytes",
        ));
    }
    if !content_type.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err(NodeError::InvalidFileInfo(
            "content type must be printable ASCII",
        ));
    }
    let mut file_info = [0u8; FILE_INFO_LEN];
    file_info[..8].copy_from_slice(&info.size.to_le_bytes());
    file_info[8..8 + content_type.len()].copy_from_slice(content_type);
    encode_raw(
        NodeKind::File,
        block_size_exponent,
        children,
        &[&file_info, data],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dict_is_the_well_known_node() {
        let bytes = encode_dict(&[]).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(
            Key::for_bytes(&bytes).to_string(),
            "240B5PHBGEC2A705WTKKMVRS30"
        );
        let view = decode(&bytes).unwrap();
        assert_eq!(view.kind(), NodeKind::Dict);
        assert_eq!(view.dict_names(), Some(vec![]));
    }

    #[test]
    fn dict_entries_are_sorted_and_checked() {
        let a = Key::for_bytes(b"a");
        let b = Key::for_bytes(b"b");
        let bytes = encode_dict(&[("zeta", a), ("alpha", b)]).unwrap();
        let view = decode(&bytes).unwrap();
        assert_eq!(view.dict_names(), Some(vec!["alpha", "zeta"]));
        assert_eq!(view.children().collect::<Vec<_>>(), vec![b, a]);
        assert!(matches!(
            encode_dict(&[("x", a), ("x", b)]),
            Err(NodeError::InvalidDict(_))
        ));
        assert!(matches!(
            encode_dict(&[("", a)]),
            Err(NodeError::InvalidDict(_))
        ));
    }

    #[test]
    fn file_node_round_trip() {
        let info = FileInfo {
            size: 3,
            content_type: "text/plain".into(),
        };
        let bytes = encode_file(&[], &info, b"abc", 10).unwrap();
        let view = decode(&bytes).unwrap();
        assert_eq!(view.file_info(), Some(info));
        assert_eq!(view.data(), b"abc");
        assert_eq!(view.header().block_size_exponent, 10);
        let long = FileInfo {
            size: 0,
            content_type: "x".repeat(57),
        };
        assert!(encode_file(&[], &long, b"", 0).is_err());
    }

    #[test]
    fn set_is_canonical() {
        let (a, b) = (Key::for_bytes(b"a"), Key::for_bytes(b"b"));
        let bytes = encode_set(&[b, a, b]).unwrap();
        let view = decode(&bytes).unwrap();
        assert_eq!(view.child_count(), 2);
        // Swap the two children: no longer ascending.
        let mut swapped = bytes.clone();
        swapped[16..32].copy_from_slice(&bytes[32..48]);
        swapped[32..48].copy_from_slice(&bytes[16..32]);
        assert!(matches!(decode(&swapped), Err(NodeError::InvalidSet(_))));
    }

    #[test]
    fn header_errors() {
        let good = encode_successor(&[], b"data", 0).unwrap();
        assert_eq!(
            decode(&good[..10]).unwrap_err(),
            NodeError::Truncated { len: 10 }
        );
        let mut bad = good.clone();
        bad[0] = 0;
        assert!(matches!(decode(&bad), Err(NodeError::BadMagic { .. })));
        let mut bad = good.clone();
        bad[6] = 1;
        assert!(matches!(decode(&bad), Err(NodeError::ReservedFlags { .. })));
        let mut bad = good.clone();
        bad[5] = 1;
        assert_eq!(decode(&bad).unwrap_err(), NodeError::UnsupportedHash(1));
        let mut bad = good.clone();
        bad[4] |= 0b100;
        assert_eq!(
            decode(&bad).unwrap_err(),
            NodeError::UnsupportedExtension(1)
        );
        let mut bad = encode_dict(&[]).unwrap();
        bad[4] |= 0x30;
        assert_eq!(decode(&bad).unwrap_err(), NodeError::BlockSizeOnNonFile);
        let mut bad = good.clone();
        bad.push(0);
        assert!(matches!(
            decode(&bad),
            Err(NodeError::LengthMismatch { .. })
        ));
        assert_eq!(child_keys(&good).unwrap(), vec![]);
    }
}

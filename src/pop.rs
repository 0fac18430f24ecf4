//! Proof of possession: shows a server that a client holds a node's bytes without sending them.
//!
//! `pop = "pop:" + Crockford-base32(BLAKE3-keyed(popKey, node bytes) cut to 16 bytes)`, where
//! `popKey` is the request's credential's key (`casweb::protocol::Credential::pop_key`: BLAKE3 of
//! a realm token's 32 bytes, BLAKE3 of an access token's text). Only someone with both the token
//! and the node's bytes can compute it; the server recomputes it and compares in constant time.

use crate::crockford;

/// Prefix of every proof string.
pub const PREFIX: &str = "pop:";

/// Computes the proof that the holder of `token` (a realm token's 32 bytes: its pop key is
/// their hash) has `node_bytes`.
pub fn proof(token: &[u8], node_bytes: &[u8]) -> String {
    proof_with_key(blake3::hash(token).as_bytes(), node_bytes)
}

/// Checks `claimed` against the proof for `token` and `node_bytes` (see [`verify_with_key`]).
pub fn verify(token: &[u8], node_bytes: &[u8], claimed: &str) -> bool {
    verify_with_key(blake3::hash(token).as_bytes(), node_bytes, claimed)
}

/// Computes the proof of `node_bytes` keyed with a credential's pop key.
pub fn proof_with_key(pop_key: &[u8; 32], node_bytes: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        crockford::encode16(&raw_proof(pop_key, node_bytes))
    )
}

/// Checks `claimed` against the proof for `pop_key` and `node_bytes`, in constant time over the
/// 16 proof bytes. A malformed string is simply not a valid proof.
pub fn verify_with_key(pop_key: &[u8; 32], node_bytes: &[u8], claimed: &str) -> bool {
    let Some(text) = claimed.strip_prefix(PREFIX) else {
        return false;
    };
    let Ok(claimed) = crockford::decode16(text) else {
        return false;
    };
    crate::protocol::constant_time_eq(&raw_proof(pop_key, node_bytes), &claimed)
}

fn raw_proof(pop_key: &[u8; 32], node_bytes: &[u8]) -> [u8; 16] {
    let mac = blake3::keyed_hash(pop_key, node_bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&mac.as_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_verifies_only_with_same_token_and_bytes() {
        let token = [7u8; 32];
        let pop = proof(&token, b"node");
        assert!(pop.starts_with("pop:"));
        assert_eq!(pop.len(), 30);
        assert!(verify(&token, b"node", &pop));
        assert!(!verify(&[8u8; 32], b"node", &pop));
        assert!(!verify(&token, b"other", &pop));
        assert!(!verify(&token, b"node", &pop[4..]));
        assert!(!verify(&token, b"node", "pop:not-base32"));
    }
}

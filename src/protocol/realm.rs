//! Realm names: the namespace of ownership, part of every realm URL.

/// Longest realm name, in bytes.
pub const MAX_REALM_LEN: usize = 64;

/// True for 1 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn is_valid_realm(name: &str) -> bool {
    (1..=MAX_REALM_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_names() {
        for ok in ["a", "demo", "A-b_9", &"x".repeat(64)] {
            assert!(is_valid_realm(ok), "{ok}");
        }
        for bad in ["", "a b", "é", "a/b", &"x".repeat(65)] {
            assert!(!is_valid_realm(bad), "{bad}");
        }
    }
}

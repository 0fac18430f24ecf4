//! Realm tokens as they travel: 32 random bytes, in text as standard base64 with padding
//! (44 characters), sent as `Authorization: Bearer <token>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Length of a token, in bytes.
pub const TOKEN_LEN: usize = 32;

/// A token's bytes.
pub type Token = [u8; TOKEN_LEN];

/// The text form of a token.
pub fn encode_token(token: &Token) -> String {
    STANDARD.encode(token)
}

/// Parses the text form of a token; `None` unless it is base64 of exactly 32 bytes.
pub fn decode_token(text: &str) -> Option<Token> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_text_is_none() {
        let token = [7u8; TOKEN_LEN];
        let text = encode_token(&token);
        assert_eq!(text.len(), 44);
        assert_eq!(decode_token(&text), Some(token));
        for bad in [
            "",
            "AAAA",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
            "not base64!",
        ] {
            assert_eq!(decode_token(bad), None, "{bad}");
        }
    }
}

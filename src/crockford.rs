//! Crockford base32 for fixed 16-byte values (keys and proofs of possession).
//!
//! 128 bits are written MSB-first as 26 characters of the alphabet
//! `0123456789ABCDEFGHJKMNPQRSTVWXYZ`; the two bits left over at the end are zero, so the last
//! character is always one of `048CGMRW`. Only the canonical upper-case form is accepted, so every
//! value has exactly one text form (important for keys used in URLs and as database keys).

/// The 32 symbols, in value order.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of the text form of 16 bytes.
pub const ENCODED_LEN: usize = 26;

/// Why a string is not the canonical Crockford base32 form of 16 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("expected {ENCODED_LEN} characters, got {0}")]
    WrongLength(usize),
    #[error("character {ch:?} at position {position} is not upper-case Crockford base32 (0-9, A-Z without I, L, O, U)")]
    BadCharacter { ch: char, position: usize },
    #[error("last character {0:?} must be one of 048CGMRW (its two low bits are padding and must be zero)")]
    BadLastCharacter(char),
}

/// Encodes 16 bytes as 26 characters.
pub fn encode16(bytes: &[u8; 16]) -> String {
    let value = u128::from_be_bytes(*bytes);
    // 26 * 5 = 130 bits: the value shifted left by two, read five bits at a time from the top.
    (0..ENCODED_LEN)
        .map(|i| {
            let shift = 125 - 5 * i as i32; // position of the group's lowest bit in the 130-bit number
            let group = if shift >= 2 {
                (value >> (shift - 2)) & 0x1f
            } else {
                (value << (2 - shift)) & 0x1f
            };
            ALPHABET[group as usize] as char
        })
        .collect()
}

/// Decodes the canonical 26-character form back into 16 bytes.
pub fn decode16(text: &str) -> Result<[u8; 16], DecodeError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() != ENCODED_LEN {
        return Err(DecodeError::WrongLength(chars.len()));
    }
    let mut value: u128 = 0;
    for (position, &ch) in chars.iter().enumerate() {
        let symbol = symbol_value(ch).ok_or(DecodeError::BadCharacter { ch, position })?;
        if position == ENCODED_LEN - 1 {
            if symbol & 0b11 != 0 {
                return Err(DecodeError::BadLastCharacter(ch));
            }
            value = (value << 3) | u128::from(symbol >> 2);
        } else {
            value = (value << 5) | u128::from(symbol);
        }
    }
    Ok(value.to_be_bytes())
}

fn symbol_value(ch: char) -> Option<u8> {
    if !ch.is_ascii() {
        return None;
    }
    ALPHABET
        .iter()
        .position(|&a| a == ch as u8)
        .map(|p| p as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_max_round_trip() {
        assert_eq!(encode16(&[0; 16]), "00000000000000000000000000");
        assert_eq!(encode16(&[0xff; 16]), "ZZZZZZZZZZZZZZZZZZZZZZZZZW");
        assert_eq!(decode16("ZZZZZZZZZZZZZZZZZZZZZZZZZW").unwrap(), [0xff; 16]);
    }

    #[test]
    fn every_single_bit_round_trips() {
        for bit in 0..128 {
            let bytes = (1u128 << bit).to_be_bytes();
            assert_eq!(decode16(&encode16(&bytes)).unwrap(), bytes, "bit {bit}");
        }
    }

    #[test]
    fn rejects_non_canonical_text() {
        assert_eq!(decode16("0"), Err(DecodeError::WrongLength(1)));
        assert_eq!(
            decode16("0000000000000000000000000I0"),
            Err(DecodeError::WrongLength(27))
        );
        assert_eq!(
            decode16("000000000000000000000000a0"),
            Err(DecodeError::BadCharacter {
                ch: 'a',
                position: 24
            })
        );
        assert_eq!(
            decode16("0000000000000000000000000U"),
            Err(DecodeError::BadCharacter {
                ch: 'U',
                position: 25
            })
        );
        assert_eq!(
            decode16("00000000000000000000000001"),
            Err(DecodeError::BadLastCharacter('1'))
        );
        assert_eq!(
            decode16("0000000000000000000000000é"),
            Err(DecodeError::BadCharacter {
                ch: 'é',
                position: 25
            })
        );
    }
}

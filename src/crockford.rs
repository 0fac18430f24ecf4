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
    decode16_bytes(text.as_bytes())
}

/// Decodes the canonical form given as UTF-8 bytes (e.g. a slice of a larger buffer), with the
/// same checks and errors as [`decode16`] and no allocation unless the text is refused.
pub fn decode16_bytes(text: &[u8]) -> Result<[u8; 16], DecodeError> {
    match text.try_into().ok().and_then(decode_canonical) {
        Some(bytes) => Ok(bytes),
        None => decode_characters(&String::from_utf8_lossy(text)),
    }
}

/// Symbol value of every byte, [`NOT_A_SYMBOL`] for bytes outside the alphabet.
const SYMBOL_VALUES: [u8; 256] = {
    let mut values = [NOT_A_SYMBOL; 256];
    let mut symbol = 0;
    while symbol < ALPHABET.len() {
        values[ALPHABET[symbol] as usize] = symbol as u8;
        symbol += 1;
    }
    values
};

/// Marks a byte outside the alphabet in [`SYMBOL_VALUES`] (no symbol has this bit).
const NOT_A_SYMBOL: u8 = 0x80;

/// The 16 bytes of 26 canonical characters, or `None` if any is refused ([`decode_characters`]
/// says why).
fn decode_canonical(text: &[u8; ENCODED_LEN]) -> Option<[u8; 16]> {
    // Three groups of 5-bit symbols, on 64-bit words (cheaper than u128 on wasm32): characters
    // 0-11 are bits 127..68, 12-23 bits 67..8, and 24-25 bits 7..0 (the last one's two low bits
    // are padding).
    let mut seen = 0u8; // every symbol value or-ed: NOT_A_SYMBOL shows through
    let mut group = |characters: &[u8]| {
        characters.iter().fold(0u64, |value, &byte| {
            let symbol = SYMBOL_VALUES[usize::from(byte)];
            seen |= symbol;
            (value << 5) | u64::from(symbol)
        })
    };
    let high = group(&text[..12]);
    let middle = group(&text[12..24]);
    let last = group(&text[24..]);
    if seen & NOT_A_SYMBOL != 0 || last & 0b11 != 0 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((high << 4) | (middle >> 56)).to_be_bytes());
    bytes[8..].copy_from_slice(&((middle << 8) | (last >> 2)).to_be_bytes());
    Some(bytes)
}

/// Decodes character by character: slower than [`decode_canonical`], but it names the first
/// fault of refused text.
fn decode_characters(text: &str) -> Result<[u8; 16], DecodeError> {
    let count = text.chars().count();
    if count != ENCODED_LEN {
        return Err(DecodeError::WrongLength(count));
    }
    let mut value: u128 = 0;
    for (position, ch) in text.chars().enumerate() {
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
    let byte = u8::try_from(ch).ok()?;
    let symbol = SYMBOL_VALUES[usize::from(byte)];
    (symbol != NOT_A_SYMBOL).then_some(symbol)
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

    #[test]
    fn table_decoder_agrees_with_the_character_decoder() {
        let canonical = encode16(&[0xa5; 16]);
        let mut texts: Vec<String> = (0..32).map(|len| "0".repeat(len)).collect();
        for position in 0..ENCODED_LEN {
            for ch in [
                '0', 'Z', 'W', '1', 'z', 'I', 'L', 'O', 'U', ',', ' ', 'é', '\u{fffd}',
            ] {
                let mut chars: Vec<char> = canonical.chars().collect();
                chars[position] = ch;
                texts.push(chars.into_iter().collect());
            }
        }
        for text in &texts {
            assert_eq!(decode16(text), decode_characters(text), "{text:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_bad_characters() {
        assert_eq!(
            decode16_bytes(&[0xff; ENCODED_LEN]),
            Err(DecodeError::BadCharacter {
                ch: '\u{fffd}',
                position: 0
            })
        );
        let text = encode16(&[7; 16]);
        assert_eq!(decode16_bytes(text.as_bytes()), Ok([7; 16]));
    }
}

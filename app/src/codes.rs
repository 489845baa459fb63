//! Random codes for links people type or read aloud (friend invites, room links and keys).
//! Base layer.

/// No 0/o, 1/l/i: nothing to confuse when read aloud or typed from a phone.
pub const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// A short link's code: 10 characters of 31, about 49.5 bits, beyond guessing.
pub const CODE_LEN: usize = 10;

/// Whether `s` could be a code of `len` characters (checked before any query).
pub fn is_code_of(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// Whether `s` could be a short link's code.
pub fn is_code(s: &str) -> bool {
    is_code_of(s, CODE_LEN)
}

/// A random code of `len` characters from the alphabet.
#[cfg(feature = "ssr")]
pub fn random_code(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// A random short link's code.
#[cfg(feature = "ssr")]
pub fn new_code() -> String {
    random_code(CODE_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_only_the_unambiguous_alphabet() {
        assert!(is_code("k7m2p9x4ab"));
        assert!(!is_code("k7m2p9x4a0"), "no zero");
        assert!(!is_code("short"));
        assert!(!is_code("../../etc/"));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn new_codes_are_codes() {
        for _ in 0..100 {
            assert!(is_code(&new_code()));
            assert!(is_code_of(&random_code(16), 16));
        }
    }
}

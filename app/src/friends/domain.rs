//! Friends: search input, invite codes, presence.

use crate::catalog::domain::fold;
use crate::error::{AppError, Invalid};
use serde::{Deserialize, Serialize};

pub const PEOPLE_SEARCH_MAX_CHARS: usize = 64;

/// A people search: trimmed, folded like display names, LIKE wildcards escaped, as a prefix
/// pattern (`вас%`). `None` when there is nothing to search for.
pub fn people_pattern(raw: &str) -> Result<Option<String>, AppError> {
    let q = raw.trim().trim_start_matches('@');
    if q.chars().count() > PEOPLE_SEARCH_MAX_CHARS {
        return Err(AppError::Invalid(Invalid::SearchTooLong));
    }
    if q.is_empty() {
        return Ok(None);
    }
    let escaped: String = fold(q)
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    Ok(Some(format!("{escaped}%")))
}

/// Codes for links people type or read aloud: no 0/o, 1/l/i.
pub const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// 10 characters of 31: about 49.5 bits, beyond guessing.
pub const CODE_LEN: usize = 10;

pub fn is_code(s: &str) -> bool {
    s.len() == CODE_LEN && s.bytes().all(|b| CODE_ALPHABET.contains(&b))
}

/// Where a person is, as their friends see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Presence {
    Offline,
    Online,
    InRoom,
}

/// Seen within this long counts as online.
pub const ONLINE_WINDOW_MS: i64 = 3 * 60 * 1000;

pub fn presence(now_ms: i64, last_seen_ms: i64, in_room: bool) -> Presence {
    if now_ms - last_seen_ms > ONLINE_WINDOW_MS {
        Presence::Offline
    } else if in_room {
        Presence::InRoom
    } else {
        Presence::Online
    }
}

/// How I stand with another person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Relation {
    None,
    Friend,
    /// I asked them.
    RequestSent,
    /// They asked me.
    RequestReceived,
    Myself,
}

/// The letters for an avatar: the first letter of the first two words ("Пётр Ильич" → "ПИ").
pub fn initials(display_name: &str) -> String {
    display_name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_search_is_a_folded_prefix() {
        assert_eq!(people_pattern("  Пётр ").unwrap().as_deref(), Some("петр%"));
        assert_eq!(people_pattern("@Vasya").unwrap().as_deref(), Some("vasya%"));
        assert_eq!(people_pattern("a_%").unwrap().as_deref(), Some("a\\_\\%%"));
        assert_eq!(people_pattern("   ").unwrap(), None);
        assert!(people_pattern(&"x".repeat(65)).is_err());
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        assert!(is_code("k7m2p9x4ab"));
        assert!(!is_code("k7m2p9x4a0"), "no zero");
        assert!(!is_code("short"));
        assert!(!is_code("../../etc/"));
    }

    #[test]
    fn presence_and_initials() {
        assert_eq!(
            presence(1_000_000, 1_000_000 - 60_000, false),
            Presence::Online
        );
        assert_eq!(
            presence(1_000_000, 1_000_000 - 60_000, true),
            Presence::InRoom
        );
        assert_eq!(presence(1_000_000, 0, true), Presence::Offline);
        assert_eq!(initials("Пётр Ильич Чайковский"), "ПИ");
        assert_eq!(initials("vasya"), "V");
    }
}

//! Friends: search input, invite codes, presence.

use crate::error::{AppError, Invalid};
use crate::text::like_literal;
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
    Ok(Some(format!("{}%", like_literal(q))))
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
    fn presence_from_last_seen_and_rooms() {
        assert_eq!(
            presence(1_000_000, 1_000_000 - 60_000, false),
            Presence::Online
        );
        assert_eq!(
            presence(1_000_000, 1_000_000 - 60_000, true),
            Presence::InRoom
        );
        assert_eq!(presence(1_000_000, 0, true), Presence::Offline);
    }
}

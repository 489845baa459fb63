//! Rooms: the rules that need no database — names, limits, passwords, keys, schedules, phases.

use crate::codes::is_code_of;
use crate::error::{AppError, Invalid};
use serde::{Deserialize, Serialize};

/// Participant limits: the default, and the bounds an owner may choose within.
pub const DEFAULT_LIMIT: i64 = 30;
pub const MIN_LIMIT: i64 = 5;
pub const MAX_LIMIT: i64 = 100;
pub const NAME_MAX_CHARS: usize = 100;
pub const PASSWORD_MIN_CHARS: usize = 4;
pub const PASSWORD_MAX_CHARS: usize = 128;
/// A private room's access key: 16 characters of 31, about 79 bits.
pub const KEY_LEN: usize = 16;
/// How far ahead a session may be scheduled.
pub const MAX_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;
/// A start time this little in the past (a slow form, a clock a bit off) means "now".
pub const PAST_SLACK_MS: i64 = 5 * 60 * 1000;

/// A room name: trimmed, 1–100 characters, no control characters.
pub fn room_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim();
    let count = name.chars().count();
    if count == 0 || count > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::Invalid(Invalid::RoomName));
    }
    Ok(name.to_owned())
}

/// The participant limit: the default when not given, never below 5 or above 100.
pub fn participant_limit(raw: Option<i64>) -> Result<i64, AppError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (MIN_LIMIT..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::Invalid(Invalid::ParticipantLimit)),
    }
}

/// A room password: none when empty, otherwise 4–128 characters (kept exactly as typed).
pub fn room_password(raw: Option<&str>) -> Result<Option<String>, AppError> {
    match raw {
        None | Some("") => Ok(None),
        Some(p) if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&p.chars().count()) => {
            Ok(Some(p.to_owned()))
        }
        Some(_) => Err(AppError::Invalid(Invalid::RoomPasswordLength)),
    }
}

/// A scheduled start: `None` starts at once (so does a time a few minutes past); otherwise in
/// the future, at most a year ahead.
pub fn starts_at(raw: Option<i64>, now: i64) -> Result<Option<i64>, AppError> {
    match raw {
        None => Ok(None),
        Some(t) if t <= now && t > now - PAST_SLACK_MS => Ok(None),
        Some(t) if t > now && t <= now + MAX_AHEAD_MS => Ok(Some(t)),
        Some(_) => Err(AppError::Invalid(Invalid::StartsAt)),
    }
}

pub fn is_key(s: &str) -> bool {
    is_code_of(s, KEY_LEN)
}

/// The access key in a link's fragment (`#k=<key>`, possibly among other `&`-separated parts).
pub fn key_from_fragment(fragment: &str) -> Option<String> {
    fragment
        .trim_start_matches('#')
        .split('&')
        .find_map(|part| part.strip_prefix("k="))
        .filter(|k| is_key(k))
        .map(str::to_owned)
}

/// Compares two keys in time that does not depend on where they differ.
pub fn keys_match(given: &str, stored: &str) -> bool {
    given.len() == stored.len()
        && given
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Where a room is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for its scheduled start.
    Scheduled,
    Live,
    /// Read-only: the film, who was there and the chat remain.
    Ended,
}

pub fn phase(starts_at: Option<i64>, ended_at: Option<i64>, now: i64) -> Phase {
    match (starts_at, ended_at) {
        (_, Some(_)) => Phase::Ended,
        (Some(t), None) if t > now => Phase::Scheduled,
        _ => Phase::Live,
    }
}

/// A countdown split for display: (days, hours, minutes, seconds), rounded up to the second so
/// that it never shows 00:00:00 while time remains.
pub fn countdown(ms_left: i64) -> (i64, i64, i64, i64) {
    let secs = (ms_left.max(0) + 999) / 1000;
    (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60)
}

/// Should a finished room with nobody in it end now? `last_active` is when someone was last
/// connected; the film must have reached its end and the grace period passed since both.
pub fn grace_expired(
    finished_at: Option<i64>,
    last_active: Option<i64>,
    grace_ms: i64,
    now: i64,
) -> bool {
    match finished_at {
        Some(finished) => finished.max(last_active.unwrap_or(0)) + grace_ms <= now,
        None => false,
    }
}

/// A piece of a chat message: plain text, or a web link to make clickable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Link(String),
}

/// Splits a message into text and `http(s)://` links. A link ends at whitespace; punctuation
/// that closes a sentence (".", ",", ")", "»"…) after it is text, not part of it.
pub fn linkify(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let start = ["https://", "http://"]
            .iter()
            .filter_map(|scheme| {
                rest.char_indices()
                    .map(|(i, _)| i)
                    .find(|&i| {
                        rest[i..]
                            .get(..scheme.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
                    })
                    .map(|i| (i, scheme.len()))
            })
            .min();
        let Some((at, scheme_len)) = start else {
            plain.push_str(rest);
            break;
        };
        // Only at a word's start: "xhttp://" is text.
        let word_start = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || "([«\"'".contains(c));
        let end = rest[at..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| at + e);
        let mut url = &rest[at..end];
        while let Some(last) = url.chars().next_back() {
            if ".,;:!?)]}»\"'".contains(last) {
                url = &url[..url.len() - last.len_utf8()];
            } else {
                break;
            }
        }
        if !word_start || url.len() <= scheme_len {
            plain.push_str(&rest[..at + scheme_len]);
            rest = &rest[at + scheme_len..];
            continue;
        }
        plain.push_str(&rest[..at]);
        if !plain.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut plain)));
        }
        pieces.push(Piece::Link(url.to_owned()));
        rest = &rest[at + url.len()..];
    }
    if !plain.is_empty() {
        pieces.push(Piece::Text(plain));
    }
    pieces
}

/// What to call each person in one view (participants, chat): their display name, or
/// `Name (@username)` when someone else in view goes by the same name (compared folded, so case
/// and «ё»/«е» do not tell two people apart either). Takes `(id, display name, username)`.
pub fn shown_names<'a>(
    people: impl IntoIterator<Item = (&'a str, &'a str, &'a str)> + Clone,
) -> std::collections::HashMap<String, String> {
    use crate::text::fold;
    let mut uses = std::collections::HashMap::<String, usize>::new();
    for (_, name, _) in people.clone() {
        *uses.entry(fold(name)).or_default() += 1;
    }
    people
        .into_iter()
        .map(|(id, name, username)| {
            let shown = if uses.get(&fold(name)).is_some_and(|n| *n > 1) {
                format!("{name} (@{username})")
            } else {
                name.to_owned()
            };
            (id.to_owned(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn people_who_share_a_name_are_told_apart_by_username() {
        let names = super::shown_names([
            ("1", "Вася", "vasya"),
            ("2", "ВАСЯ", "vasya_fake"),
            ("3", "Маша", "masha"),
        ]);
        assert_eq!(names["1"], "Вася (@vasya)");
        assert_eq!(names["2"], "ВАСЯ (@vasya_fake)");
        assert_eq!(names["3"], "Маша");
    }

    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(room_name("  Кино у Васи ").unwrap(), "Кино у Васи");
        assert!(room_name("   ").is_err());
        assert!(room_name(&"я".repeat(100)).is_ok());
        assert!(room_name(&"я".repeat(101)).is_err());
        assert!(room_name("a\u{0}b").is_err());
    }

    #[test]
    fn limits_default_to_30_and_stay_within_5_to_100() {
        assert_eq!(participant_limit(None).unwrap(), 30);
        assert_eq!(participant_limit(Some(5)).unwrap(), 5);
        assert!(participant_limit(Some(4)).is_err());
        assert!(participant_limit(Some(0)).is_err());
        assert!(participant_limit(Some(101)).is_err());
    }

    #[test]
    fn passwords_are_optional_but_not_trivial() {
        assert_eq!(room_password(Some("")).unwrap(), None);
        assert_eq!(room_password(None).unwrap(), None);
        assert!(room_password(Some("abc")).is_err());
        assert_eq!(
            room_password(Some(" пароль ")).unwrap().as_deref(),
            Some(" пароль ")
        );
        assert!(room_password(Some(&"x".repeat(129))).is_err());
    }

    #[test]
    fn schedules_are_in_the_future_within_a_year() {
        let now = 1_000_000_000_000;
        assert_eq!(starts_at(None, now).unwrap(), None);
        assert_eq!(starts_at(Some(now - 60_000), now).unwrap(), None);
        assert!(starts_at(Some(now - 3_600_000), now).is_err());
        assert_eq!(starts_at(Some(now + 1), now).unwrap(), Some(now + 1));
        assert!(starts_at(Some(now + MAX_AHEAD_MS + 1), now).is_err());
    }

    #[test]
    fn keys_come_from_the_fragment() {
        let key = "abcdefghjkmnpqrs";
        assert_eq!(
            key_from_fragment(&format!("#k={key}")).as_deref(),
            Some(key)
        );
        assert_eq!(
            key_from_fragment(&format!("x=1&k={key}")).as_deref(),
            Some(key)
        );
        assert_eq!(key_from_fragment("#k=short"), None);
        assert_eq!(key_from_fragment("#k=abcdefghjkmnpqr0"), None);
        assert_eq!(key_from_fragment(""), None);
        assert!(keys_match(key, key));
        assert!(!keys_match(key, "abcdefghjkmnpqrt"));
        assert!(!keys_match(key, "abc"));
    }

    #[test]
    fn phases_and_countdowns() {
        assert_eq!(phase(None, None, 10), Phase::Live);
        assert_eq!(phase(Some(20), None, 10), Phase::Scheduled);
        assert_eq!(phase(Some(10), None, 10), Phase::Live);
        assert_eq!(phase(Some(20), Some(5), 10), Phase::Ended);
        assert_eq!(countdown(0), (0, 0, 0, 0));
        assert_eq!(countdown(1), (0, 0, 0, 1));
        assert_eq!(countdown(90_061_000), (1, 1, 1, 1));
        assert_eq!(countdown(-5), (0, 0, 0, 0));
    }

    #[test]
    fn rooms_end_a_grace_period_after_the_film_and_the_last_participant() {
        let grace = 1_000;
        assert!(!grace_expired(None, Some(0), grace, 10_000));
        assert!(grace_expired(Some(100), None, grace, 1_100));
        assert!(!grace_expired(Some(100), None, grace, 1_099));
        assert!(!grace_expired(Some(100), Some(5_000), grace, 5_999));
        assert!(grace_expired(Some(100), Some(5_000), grace, 6_000));
    }

    #[test]
    fn links_in_chat_are_found_and_nothing_else_is() {
        use Piece::*;
        assert_eq!(linkify("привет"), vec![Text("привет".into())]);
        assert_eq!(
            linkify("смотри https://example.org/a?b=1, потом"),
            vec![
                Text("смотри ".into()),
                Link("https://example.org/a?b=1".into()),
                Text(", потом".into()),
            ]
        );
        assert_eq!(
            linkify("(http://x.ru/фильм)."),
            vec![
                Text("(".into()),
                Link("http://x.ru/фильм".into()),
                Text(").".into()),
            ]
        );
        assert_eq!(
            linkify("javascript:alert(1)"),
            vec![Text("javascript:alert(1)".into())]
        );
        assert_eq!(linkify("xhttps://a.b"), vec![Text("xhttps://a.b".into())]);
        assert_eq!(linkify("https://"), vec![Text("https://".into())]);
        assert_eq!(
            linkify("<b>https://a.b</b>"),
            vec![Text("<b>https://a.b</b>".into())],
            "a link glued to markup-looking text is left as text"
        );
    }
}

//! Properties of the parsers that untrusted input reaches first: whatever arrives, they answer
//! (no panic), and what they accept is what the rest of Kino relies on.

use app::accounts::domain::{DisplayName, Username};
use app::links::safe_next;
use app::rooms::protocol::ClientMsg;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_websocket_frame_gets_an_answer(frame in ".{0,300}") {
        let _ = ClientMsg::parse(&frame);
    }

    #[test]
    fn json_shaped_frames_get_an_answer(
        t in prop::sample::select(vec!["hello", "ping", "play", "pause", "seek", "rate", "chat",
                                       "react", "buffering", "history", "nope"]),
        field in "[a-z_]{1,12}",
        value in prop_oneof![
            Just("null".to_owned()),
            any::<f64>().prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        ],
    ) {
        let frame = format!(r#"{{"t":"{t}","{field}":{value},"v":1}}"#);
        let _ = ClientMsg::parse(&frame);
    }

    #[test]
    fn next_is_always_a_path_on_this_site(next in ".{0,80}") {
        let safe = safe_next(Some(&next));
        prop_assert!(safe.starts_with('/'), "{safe:?}");
        prop_assert!(!safe.starts_with("//") && !safe.contains('\\'), "{safe:?}");
        prop_assert!(safe.is_ascii(), "{safe:?} goes into a Location header");
        prop_assert!(!safe.chars().any(char::is_control), "{safe:?}");
    }

    #[test]
    fn accepted_display_names_are_visible_short_and_stable(raw in "\\PC{0,80}") {
        if let Ok(name) = DisplayName::parse(&raw) {
            let count = name.as_str().chars().count();
            prop_assert!((1..=64).contains(&count));
            prop_assert_eq!(name.as_str().trim(), name.as_str());
            // Parsing what was accepted gives it back unchanged.
            let again = DisplayName::parse(name.as_str()).map(|n| n.as_str().to_owned());
            prop_assert_eq!(again, Ok(name.as_str().to_owned()));
        }
    }

    #[test]
    fn accepted_usernames_are_lowercase_ascii(raw in ".{0,40}") {
        if let Ok(name) = Username::parse(&raw) {
            prop_assert!((3..=32).contains(&name.as_str().len()));
            prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }
}

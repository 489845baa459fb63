//! Server functions' form-encoded POST bodies: decoded exactly as leptos' `PostUrl` codec
//! does (server_fn 0.8.13, `codec/url.rs`) into the argument structs `#[server]` generates,
//! then, when a decode succeeds, through the domain parsers the handlers run first.
//! Nothing may panic.
#![no_main]

use app::accounts::domain::{DisplayName, Password, Username};
use app::links::safe_next;
use app::accounts::{ChangePassword, Login, Register, UpdateDisplayName};
use app::rooms::domain::{
    is_key, key_from_fragment, participant_limit, room_name, room_password, starts_at,
};
use app::rooms::{EnterRoom, NewRoomLink, RenameRoom, StartSession};
use libfuzzer_sys::fuzz_target;

/// `server_fn::codec::url` — `impl FromReq<PostUrl, Request, E> for T`.
macro_rules! decode {
    ($t:ty, $body:expr) => {
        serde_qs::Config::new(5, false)
            .deserialize_str::<$t>($body)
            .ok()
    };
}

/// A fixed "now" (2026-01-01T00:00:00Z, ms) for the schedule check.
const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    // The codec reads the body as a `&str` (`Req::as_query`); non-UTF-8 never gets this far.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };

    if let Some(f) = decode!(Register, body) {
        let _ = Username::parse(&f.username);
        let _ = DisplayName::parse(&f.display_name);
        let _ = Password::parse(f.password);
        let next = safe_next(f.next.as_deref());
        assert!(next.starts_with('/'), "safe_next gave {next:?}");
    }
    if let Some(f) = decode!(Login, body) {
        let _ = Username::parse(&f.username);
        let _ = Password::parse(f.password);
        let next = safe_next(f.next.as_deref());
        assert!(next.starts_with('/'), "safe_next gave {next:?}");
    }
    if let Some(f) = decode!(ChangePassword, body) {
        let _ = Password::parse(f.current_password);
        let _ = Password::parse(f.new_password);
        let _ = f.keep_other_devices.is_some();
    }
    if let Some(f) = decode!(UpdateDisplayName, body) {
        let _ = DisplayName::parse(&f.display_name);
    }
    if let Some(f) = decode!(StartSession, body) {
        let _ = (f.film_id, f.friends, f.private);
        let _ = room_password(f.password.as_deref());
        let _ = participant_limit(f.max_participants);
        let _ = starts_at(f.starts_at, NOW_MS);
    }
    if let Some(f) = decode!(EnterRoom, body) {
        let _ = f.code;
        let _ = room_password(f.password.as_deref());
        if let Some(key) = f.key.as_deref() {
            let _ = is_key(key);
            let _ = key_from_fragment(key);
        }
    }
    if let Some(f) = decode!(RenameRoom, body) {
        let _ = f.code;
        let _ = room_name(&f.name);
    }
    if let Some(f) = decode!(NewRoomLink, body) {
        let _ = f.code;
        let _ = room_password(f.password.as_deref());
    }
});

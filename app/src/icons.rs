//! Control icons as inline SVG, drawn in the text colour (`currentColor`). Emoji characters
//! render as empty boxes where no emoji font is installed (a fresh Debian Chromium, many Linux
//! desktops); these need no font. Each is decorative (`aria-hidden`): the control around it
//! keeps its accessible name. Base layer.

use leptos::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Play,
    Pause,
    VolumeOn,
    VolumeOff,
    Fullscreen,
    Bell,
    ThumbUp,
    ThumbDown,
    Check,
    Plus,
    Mic,
    MicOff,
    Camera,
    CameraOff,
}

impl Icon {
    /// Filled shapes; the others are strokes.
    fn filled(self) -> bool {
        matches!(
            self,
            Icon::Play | Icon::Pause | Icon::Bell | Icon::ThumbUp | Icon::ThumbDown
        )
    }

    /// The shape on a 24 × 24 grid.
    fn path(self) -> &'static str {
        match self {
            Icon::Play => "M8 5v14l11-7z",
            Icon::Pause => "M6 5h4v14H6zM14 5h4v14h-4z",
            Icon::VolumeOn => "M4 9v6h4l5 4V5L8 9zM16 8.5a4.5 4.5 0 0 1 0 7M18.5 6a8 8 0 0 1 0 12",
            Icon::VolumeOff => "M4 9v6h4l5 4V5L8 9zM16 9l5 6M21 9l-5 6",
            Icon::Fullscreen => "M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5",
            Icon::Bell => "M12 3a6 6 0 0 0-6 6v4l-2 3h16l-2-3V9a6 6 0 0 0-6-6zM10 18a2 2 0 0 0 4 0z",
            Icon::ThumbUp => {
                "M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5l1-5a2 2 0 0 0-3.6-1.3L8 9z"
            }
            Icon::ThumbDown => {
                "M22 14h-4V3h4zM16 3H6.5a2 2 0 0 0-2 1.6l-1.4 7A2 2 0 0 0 5 14h5l-1 5a2 2 0 0 0 3.6 1.3L16 15z"
            }
            Icon::Check => "M5 12.5l4.5 4.5L19 7.5",
            Icon::Plus => "M12 5v14M5 12h14",
            Icon::Mic => "M9 5a3 3 0 0 1 6 0v6a3 3 0 0 1-6 0zM5 11a7 7 0 0 0 14 0M12 18v3",
            Icon::MicOff => {
                "M9 5a3 3 0 0 1 6 0v6a3 3 0 0 1-6 0zM5 11a7 7 0 0 0 14 0M12 18v3M4 4l16 16"
            }
            Icon::Camera => "M3 7h12v10H3zM15 10l6-3v10l-6-3",
            Icon::CameraOff => "M3 7h12v10H3zM15 10l6-3v10l-6-3M3 4l16 16",
        }
    }
}

/// One icon, 1 em square, aligned with the text beside it. `icon` may change (play ↔ pause).
#[component]
pub fn IconSvg(#[prop(into)] icon: Signal<Icon>) -> impl IntoView {
    let fill = move || {
        if icon.get().filled() {
            "currentColor"
        } else {
            "none"
        }
    };
    let stroke = move || {
        if icon.get().filled() {
            "none"
        } else {
            "currentColor"
        }
    };
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            width="1em"
            height="1em"
            aria-hidden="true"
            focusable="false"
            fill=fill
            stroke=stroke
            stroke-width="2"
            stroke-linecap="round"
            stroke-linejoin="round"
        >
            <path d=move || icon.get().path() />
        </svg>
    }
}

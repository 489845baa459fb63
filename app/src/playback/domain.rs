//! Player events, checked at the edge, and the rules for "Continue from" and "Watched".

use crate::error::{AppError, Invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayerEventKind {
    Open,
    Progress,
    Seek,
    Pause,
    Quality,
    End,
}

impl PlayerEventKind {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        Ok(match raw {
            "open" => Self::Open,
            "progress" => Self::Progress,
            "seek" => Self::Seek,
            "pause" => Self::Pause,
            "quality" => Self::Quality,
            "end" => Self::End,
            _ => return Err(AppError::Invalid(Invalid::PlayerEvent)),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Progress => "progress",
            Self::Seek => "seek",
            Self::Pause => "pause",
            Self::Quality => "quality",
            Self::End => "end",
        }
    }

    /// Whether the event says where the viewer is now. Opening the player (at 0:00, before
    /// "Continue from" is pressed) or switching quality must not move the saved position.
    pub fn moves_position(self) -> bool {
        matches!(self, Self::Progress | Self::Seek | Self::Pause | Self::End)
    }
}

/// Longer than any film: positions and durations past this are refused.
pub const MAX_MEDIA_MS: i64 = 48 * 3600 * 1000;
pub const QUALITY_MAX_CHARS: usize = 40;

/// One report from a player, in whole milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerEvent {
    pub kind: PlayerEventKind,
    pub position_ms: i64,
    /// 0 while the player does not know the media's duration yet.
    pub duration_ms: i64,
    pub quality: Option<String>,
}

fn millis(seconds: f64) -> Result<i64, AppError> {
    if !seconds.is_finite() || seconds < 0.0 || seconds * 1000.0 > MAX_MEDIA_MS as f64 {
        return Err(AppError::Invalid(Invalid::PlayerEvent));
    }
    Ok((seconds * 1000.0).round() as i64)
}

impl PlayerEvent {
    /// `position` and `duration` in seconds, as `HTMLMediaElement` reports them.
    pub fn parse(
        kind: &str,
        position: f64,
        duration: f64,
        quality: Option<&str>,
    ) -> Result<Self, AppError> {
        let kind = PlayerEventKind::parse(kind)?;
        let mut position_ms = millis(position)?;
        let duration_ms = millis(duration)?;
        if duration_ms > 0 {
            // Players report a little past the end now and then; the end is the end.
            position_ms = position_ms.min(duration_ms);
        }
        if kind == PlayerEventKind::End && duration_ms > 0 {
            position_ms = duration_ms;
        }
        let quality = match quality.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) if q.chars().count() > QUALITY_MAX_CHARS => {
                return Err(AppError::Invalid(Invalid::PlayerEvent))
            }
            q => q.map(str::to_owned),
        };
        Ok(Self {
            kind,
            position_ms,
            duration_ms,
            quality,
        })
    }

    /// A film counts as watched once its end is reached or 90 % of it is played.
    pub fn completes_film(&self) -> bool {
        self.kind == PlayerEventKind::End
            || reached_ninety_percent(self.position_ms, self.duration_ms)
    }
}

pub fn reached_ninety_percent(position_ms: i64, duration_ms: i64) -> bool {
    duration_ms > 0 && position_ms * 10 >= duration_ms * 9
}

/// Where "Continue from" picks up: at least a second in, and not at the very end.
pub const RESUME_MIN_MS: i64 = 1000;

pub fn resumable(position_ms: i64, duration_ms: i64) -> bool {
    position_ms >= RESUME_MIN_MS && !reached_ninety_percent(position_ms, duration_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_and_kinds_are_refused() {
        for (position, duration) in [(f64::NAN, 10.0), (-1.0, 10.0), (1.0, f64::INFINITY)] {
            assert!(PlayerEvent::parse("progress", position, duration, None).is_err());
        }
        assert!(PlayerEvent::parse("rewind", 1.0, 10.0, None).is_err());
        assert!(PlayerEvent::parse("progress", 1e9, 0.0, None).is_err());
        assert!(PlayerEvent::parse("quality", 1.0, 10.0, Some(&"x".repeat(41))).is_err());
    }

    #[test]
    fn positions_are_milliseconds_within_the_media() {
        let e = PlayerEvent::parse("progress", 12.3456, 60.0, Some(" 360p mp4 ")).unwrap();
        assert_eq!((e.position_ms, e.duration_ms), (12_346, 60_000));
        assert_eq!(e.quality.as_deref(), Some("360p mp4"));
        let past_end = PlayerEvent::parse("progress", 61.0, 60.0, None).unwrap();
        assert_eq!(past_end.position_ms, 60_000);
        // Duration not known yet: the position is kept as reported.
        assert_eq!(
            PlayerEvent::parse("seek", 5.0, 0.0, None)
                .unwrap()
                .position_ms,
            5000
        );
    }

    #[test]
    fn watched_at_the_end_or_ninety_percent() {
        let at = |kind: &str, pos: f64| PlayerEvent::parse(kind, pos, 100.0, None).unwrap();
        assert!(!at("progress", 89.9).completes_film());
        assert!(at("progress", 90.0).completes_film());
        assert!(at("end", 10.0).completes_film());
        assert!(
            !resumable(500, 100_000),
            "half a second in is not worth resuming"
        );
        assert!(resumable(30_000, 100_000));
        assert!(!resumable(95_000, 100_000), "a finished film starts over");
    }
}

//! Likes and reviews, parsed at the edge.

use crate::error::{AppError, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    Like,
    Dislike,
}

impl Reaction {
    /// `like`, `dislike`, or `none` (take my reaction back).
    pub fn parse(raw: &str) -> Result<Option<Self>, AppError> {
        match raw.trim() {
            "like" => Ok(Some(Reaction::Like)),
            "dislike" => Ok(Some(Reaction::Dislike)),
            "none" | "" => Ok(None),
            _ => Err(AppError::Invalid(Invalid::UnknownReaction)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Like => "like",
            Reaction::Dislike => "dislike",
        }
    }

    /// How it is stored: 1 or -1.
    pub fn value(self) -> i64 {
        match self {
            Reaction::Like => 1,
            Reaction::Dislike => -1,
        }
    }

    pub fn from_value(value: i64) -> Option<Self> {
        match value {
            1 => Some(Reaction::Like),
            -1 => Some(Reaction::Dislike),
            _ => None,
        }
    }
}

pub const REVIEW_MAX_CHARS: usize = 5000;

/// A review's text: trimmed, 1 to 5000 characters. It is stored and shown as plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewText(String);

impl ReviewText {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        // Browsers send line breaks in a textarea as CRLF; one character per break is what the
        // user typed (and what `maxlength` counts).
        let text = raw.trim().replace("\r\n", "\n");
        let chars = text.chars().count();
        if chars == 0 || chars > REVIEW_MAX_CHARS {
            return Err(AppError::Invalid(Invalid::ReviewLength));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_parse_from_a_fixed_list() {
        assert_eq!(Reaction::parse("like").unwrap(), Some(Reaction::Like));
        assert_eq!(Reaction::parse("none").unwrap(), None);
        assert!(Reaction::parse("love").is_err());
        assert_eq!(
            Reaction::from_value(Reaction::Dislike.value()),
            Some(Reaction::Dislike)
        );
    }

    #[test]
    fn reviews_are_trimmed_and_limited_in_characters() {
        assert!(ReviewText::parse("   ").is_err());
        assert_eq!(
            ReviewText::parse("  Хорошо!\r\n ").unwrap().as_str(),
            "Хорошо!"
        );
        // 5000 Cyrillic letters are 10 000 bytes but 5000 characters: allowed.
        assert!(ReviewText::parse(&"ж".repeat(5000)).is_ok());
        assert!(ReviewText::parse(&"ж".repeat(5001)).is_err());
    }
}

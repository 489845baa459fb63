//! Account input, parsed once at the edge: an invalid value never reaches a query.

use crate::error::{AppError, Invalid};

pub const PASSWORD_MIN_CHARS: usize = 8;
/// Argon2 takes any length, but a megabyte "password" is an attack on our CPU, not a password.
pub const PASSWORD_MAX_CHARS: usize = 1024;

/// 3–32 characters of `a-z 0-9 _`, stored lowercase so uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let name = raw.trim().to_ascii_lowercase();
        let ok_len = (3..=32).contains(&name.len());
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok_len && ok_chars {
            Ok(Self(name))
        } else {
            Err(AppError::Invalid(Invalid::UsernameFormat))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1–64 Unicode characters after NFKC normalisation (fullwidth and other compatibility forms
/// become their plain letters) and trimming. Characters a reader cannot see or that reorder the
/// text around them (zero-width ones, bidi overrides, fillers) are refused, so two names that
/// look the same are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        use unicode_normalization::UnicodeNormalization;
        let normal: String = raw.nfkc().collect();
        let name = normal.trim();
        if name.chars().any(is_invisible) {
            return Err(AppError::Invalid(Invalid::DisplayNameCharacters));
        }
        let count = name.chars().count();
        if (1..=64).contains(&count) {
            Ok(Self(name.to_owned()))
        } else {
            Err(AppError::Invalid(Invalid::DisplayNameLength))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Control and format characters (zero-width joiners and spaces, bidi controls, soft hyphens),
/// line and paragraph separators, private-use and unassigned code points, and the blank
/// "letters" that render as nothing.
fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        G::Control
            | G::Format
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Surrogate
            | G::Unassigned
    ) || matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' | '\u{034F}' | '\u{180E}'
    )
}

/// At least 8 characters; kept as typed (no trimming: spaces are part of a passphrase).
pub struct Password(String);

impl Password {
    pub fn parse(raw: String) -> Result<Self, AppError> {
        let count = raw.chars().count();
        if count < PASSWORD_MIN_CHARS {
            Err(AppError::Invalid(Invalid::PasswordTooShort))
        } else if count > PASSWORD_MAX_CHARS {
            Err(AppError::Invalid(Invalid::PasswordTooLong))
        } else {
            Ok(Self(raw))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(Username::parse(" Vasily_1 ").unwrap().as_str(), "vasily_1");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse("вася").is_err());
        assert!(Username::parse("with space").is_err());
        assert!(Username::parse("dash-ed").is_err());
    }

    #[test]
    fn display_names_count_characters_not_bytes() {
        assert_eq!(DisplayName::parse(" Вася ").unwrap().as_str(), "Вася");
        assert!(DisplayName::parse(&"ё".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"ё".repeat(65)).is_err());
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn display_names_refuse_what_cannot_be_seen_and_fold_lookalike_forms() {
        for hidden in [
            "Ва\u{200B}ся",         // zero-width space
            "Вася\u{202E}cba",      // right-to-left override
            "\u{2066}Вася\u{2069}", // isolates
            "Ва\u{00AD}ся",         // soft hyphen
            "\u{3164}",             // Hangul filler: looks empty
            "Вася\u{FEFF}",         // BOM
        ] {
            assert_eq!(
                DisplayName::parse(hidden).unwrap_err(),
                AppError::Invalid(Invalid::DisplayNameCharacters),
                "{hidden:?}"
            );
        }
        // Fullwidth letters are the ASCII ones; Cyrillic and emoji stay.
        assert_eq!(DisplayName::parse("Ｖａｓｙａ").unwrap().as_str(), "Vasya");
        assert_eq!(DisplayName::parse("Ёжик 🦔").unwrap().as_str(), "Ёжик 🦔");
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert_eq!(
            Password::parse("1234567".into()).unwrap_err(),
            AppError::Invalid(Invalid::PasswordTooShort)
        );
        assert!(Password::parse("пароль12".into()).is_ok());
        assert!(Password::parse("x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }
}

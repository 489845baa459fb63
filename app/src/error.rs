//! The one error type every server function returns. Variants say what the user can act on; the
//! cause of an `Internal` error is logged on the server and never sent to the browser.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Why a piece of input was refused. The UI turns each into a sentence in the user's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Invalid {
    UsernameFormat,
    DisplayNameLength,
    /// Invisible, bidi-control or other non-printing characters in a display name.
    DisplayNameCharacters,
    PasswordTooShort,
    PasswordTooLong,
    WrongCurrentPassword,
    SearchTooLong,
    UnknownGenre,
    ReviewLength,
    UnknownReaction,
    PlayerEvent,
    SelfFriend,
    NotAFriend,
    RoomName,
    ParticipantLimit,
    RoomPasswordLength,
    StartsAt,
    SelfRemove,
    /// A film needs a title in at least one language.
    FilmTitle,
    FilmYear,
    /// A film's title or description is too long or holds control characters.
    FilmText,
    Countries,
    /// A new film needs exactly one of a finished upload and a video link.
    VideoSource,
    VideoUrl,
    /// The uploaded subtitles file holds no cues in a known format.
    SubtitlesFile,
    /// The uploaded poster is not a JPEG or PNG image (or is too large).
    PosterFile,
    /// An analytics range that is not one: unknown, backwards, or longer than a year.
    DateRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("log in first")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("invalid input: {0:?}")]
    Invalid(Invalid),
    #[error("that username is taken")]
    UsernameTaken,
    #[error("wrong username or password")]
    WrongCredentials,
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("wrong room password")]
    WrongRoomPassword,
    #[error("the room is full ({max} participants)")]
    RoomFull { max: i64 },
    /// A video of one's own would take more than is left of one's quota (MB).
    #[error("over the quota: {left_mb} MB left of {quota_mb} MB")]
    OverQuota { quota_mb: u64, left_mb: u64 },
    #[error("the room has ended")]
    RoomEnded,
    /// Too much work queued (password hashing): try again shortly.
    #[error("the server is busy; retry in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// A state-changing request from another origin (another site, port or subdomain).
    #[error("cross-site request refused")]
    CrossSite,
    /// The thing to create exists already (a film id taken meanwhile), or changed under us.
    #[error("conflict")]
    Conflict,
    #[error("internal error")]
    Internal,
    /// Transport problems (the network, a malformed request): the text is the framework's own.
    #[error("request failed: {0}")]
    Request(String),
}

impl AppError {
    /// A short name of the kind of failure, for metrics (`kino_server_fn_errors_total{kind}`).
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::Invalid(_) => "invalid",
            AppError::UsernameTaken => "username_taken",
            AppError::WrongCredentials => "wrong_credentials",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::WrongRoomPassword => "wrong_room_password",
            AppError::RoomFull { .. } => "room_full",
            AppError::OverQuota { .. } => "over_quota",
            AppError::RoomEnded => "room_ended",
            AppError::Busy { .. } => "busy",
            AppError::CrossSite => "cross_site",
            AppError::Conflict => "conflict",
            AppError::Internal => "internal",
            AppError::Request(_) => "request",
        }
    }

    /// The HTTP status a server function answers with when it fails this way.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            AppError::Unauthorized | AppError::WrongCredentials => 401,
            AppError::Forbidden | AppError::WrongRoomPassword | AppError::CrossSite => 403,
            AppError::RoomFull { .. } | AppError::RoomEnded => 409,
            AppError::Invalid(_) | AppError::Request(_) => 400,
            AppError::UsernameTaken | AppError::Conflict => 409,
            AppError::RateLimited { .. } => 429,
            AppError::OverQuota { .. } => 413,
            AppError::Busy { .. } => 503,
            AppError::Internal => 500,
        }
    }
}

impl AppError {
    /// Seconds to wait before trying again, for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_secs } | AppError::Busy { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error");
        AppError::Internal
    }
}

/// What a failed query means to the user, said where the query is written (realworld's
/// `on_constraint`): a broken unique or foreign-key constraint becomes the given error, anything
/// else `Internal` (and is logged).
#[cfg(feature = "ssr")]
pub trait OnConstraint<T> {
    /// A unique constraint refused the row: `conflict` (a taken username, say).
    fn on_unique(self, conflict: AppError) -> Result<T, AppError>;
    /// A foreign key named a row that is not there (a film that was never in the catalog).
    fn on_missing_ref(self, missing: AppError) -> Result<T, AppError>;
}

#[cfg(feature = "ssr")]
impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_unique(self, conflict: AppError) -> Result<T, AppError> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => conflict,
            _ => e.into(),
        })
    }

    fn on_missing_ref(self, missing: AppError) -> Result<T, AppError> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => missing,
            _ => e.into(),
        })
    }
}

/// For plain axum handlers and middleware: the status, `Retry-After` when there is one, and
/// the error as JSON (the same body a server function's failure has).
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = http::StatusCode::from_u16(self.status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(&self)).into_response();
        if let Some(secs) = self.retry_after_secs() {
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        res
    }
}

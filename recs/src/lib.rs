//! Recommendations from what people like — the maths only: no database, no web code, so the
//! server's job, its request path and the offline benchmark (`cargo make bench-recs`) run the
//! same code.
//!
//! - [`model`] builds each film's neighbours from everyone's positive signals: EASE^R (Steck
//!   2019, a closed-form item-item model) over the most popular films, item-kNN (cosine) for the
//!   long tail beyond what a dense inverse can hold.
//! - [`score`] ranks films for one person from their own signals and those neighbours (cheap:
//!   a person's history × 50 neighbours), with the reason ("Because you liked …").
//! - [`group`] combines several people's scores so nobody is left out (average without misery).
//! - [`content`] says how alike two films are by genres, director, countries and year: only for
//!   topping up lists where nobody has liked a film yet.

pub mod content;
pub mod group;
pub mod model;
pub mod score;

pub use group::{group_ranking, GroupSettings};
pub use model::{build, Method, Model, Settings, Signals};
pub use score::{score, Scored};

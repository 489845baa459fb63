//! Catalog query input, parsed at the edge.

use crate::error::{AppError, Invalid};
use crate::text::like_literal;
use serde::{Deserialize, Serialize};

pub const GENRES: &[&str] = &[
    "drama",
    "comedy",
    "horror",
    "sci-fi",
    "romance",
    "thriller",
    "adventure",
    "crime",
    "western",
    "fantasy",
    "documentary",
    "mystery",
    "war",
    "action",
];

pub const PAGE_SIZE: i64 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Sort {
    #[default]
    YearDesc,
    YearAsc,
    Title,
}

impl Sort {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "year_asc" => Sort::YearAsc,
            "title" => Sort::Title,
            _ => Sort::YearDesc,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::YearDesc => "year_desc",
            Sort::YearAsc => "year_asc",
            Sort::Title => "title",
        }
    }
}

/// What the catalog page asks for, from its URL (`/films?q=…&genre=…&sort=…&page=…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CatalogQuery {
    pub q: String,
    pub genre: String,
    pub sort: String,
    pub page: i64,
}

/// A `CatalogQuery` that is safe to run: a genre from the list (or none), a page ≥ 1, and the
/// search text lowercased with LIKE's wildcards escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    pub like_pattern: String,
    pub genre: Option<&'static str>,
    pub sort: Sort,
    pub page: i64,
}

pub const SEARCH_MAX_CHARS: usize = 100;

impl ParsedQuery {
    pub fn parse(query: &CatalogQuery) -> Result<Self, AppError> {
        let q = query.q.trim();
        if q.chars().count() > SEARCH_MAX_CHARS {
            return Err(AppError::Invalid(Invalid::SearchTooLong));
        }
        let genre = match query.genre.trim() {
            "" => None,
            g => Some(
                GENRES
                    .iter()
                    .copied()
                    .find(|known| *known == g)
                    .ok_or(AppError::Invalid(Invalid::UnknownGenre))?,
            ),
        };
        let escaped = like_literal(q);
        Ok(Self {
            like_pattern: format!("%{escaped}%"),
            genre,
            sort: Sort::parse(&query.sort),
            page: query.page.clamp(1, 10_000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(q: &str, genre: &str) -> CatalogQuery {
        CatalogQuery {
            q: q.into(),
            genre: genre.into(),
            ..Default::default()
        }
    }

    #[test]
    fn search_is_lowercased_and_wildcards_are_literal() {
        let p = ParsedQuery::parse(&q("  МетрОполис ", "")).unwrap();
        assert_eq!(p.like_pattern, "%метрополис%");
        let p = ParsedQuery::parse(&q("100%_a\\b", "")).unwrap();
        assert_eq!(p.like_pattern, "%100\\%\\_a\\\\b%");
    }

    #[test]
    fn genre_must_be_known_and_page_is_clamped() {
        assert_eq!(
            ParsedQuery::parse(&q("", "horror")).unwrap().genre,
            Some("horror")
        );
        assert!(ParsedQuery::parse(&q("", "'; DROP TABLE films")).is_err());
        let mut query = q("", "");
        query.page = -3;
        assert_eq!(ParsedQuery::parse(&query).unwrap().page, 1);
        assert!(ParsedQuery::parse(&q(&"x".repeat(101), "")).is_err());
    }
}

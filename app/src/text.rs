//! How text is compared and searched: Unicode folding and LIKE patterns. Base layer.

/// How titles, names and queries are compared: Unicode lowercase, and «ё» as «е» (Russians
/// type both).
pub fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

/// `s` folded, with LIKE's wildcards (and its escape character) made literal: for a
/// `LIKE $n ESCAPE '\'` comparison, wrapped in `%` as the caller needs.
pub fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in fold(s).chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_and_yo() {
        assert_eq!(fold("Потёмкин"), "потемкин");
        assert_eq!(fold("METROPOLIS"), "metropolis");
    }

    #[test]
    fn wildcards_become_literal() {
        assert_eq!(like_literal("100%_a\\b"), "100\\%\\_a\\\\b");
        assert_eq!(like_literal("Ёж"), "еж");
    }
}

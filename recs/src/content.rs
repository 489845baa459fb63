//! How alike two films are by what the catalog says about them. Content alone ranks below
//! popularity on real data, so this only tops up lists: "More like this" for a film nobody has
//! liked yet, "For you" when the neighbours run out.

/// What the catalog says about a film.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub genres: Vec<String>,
    pub director: String,
    pub countries: Vec<String>,
    pub year: i32,
}

/// 0 (nothing in common) ..= 2.25: genres weigh most (Jaccard), then the same director, then
/// countries (Jaccard) and closeness in years (linear over 20 years).
pub fn similarity(a: &Features, b: &Features) -> f32 {
    let years = 1.0 - ((a.year - b.year).unsigned_abs() as f32 / 20.0).min(1.0);
    jaccard(&a.genres, &b.genres)
        + if same_director(a, b) { 0.75 } else { 0.0 }
        + 0.25 * jaccard(&a.countries, &b.countries)
        + 0.25 * years
}

fn same_director(a: &Features, b: &Features) -> bool {
    !a.director.trim().is_empty() && a.director.trim().eq_ignore_ascii_case(b.director.trim())
}

fn jaccard(a: &[String], b: &[String]) -> f32 {
    let both = a.iter().filter(|x| b.contains(x)).count();
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f32 / either as f32
    }
}

/// The `limit` films most like `target` (leaving out `target_key` itself and anything with no
/// genre or director in common: a shared country alone says little), most alike first, ties by key.
pub fn most_similar<'a, K: Ord + Clone + 'a>(
    target_key: &K,
    target: &Features,
    others: impl IntoIterator<Item = (&'a K, &'a Features)>,
    limit: usize,
) -> Vec<(K, f32)> {
    let mut ranked: Vec<(K, f32)> = others
        .into_iter()
        .filter(|(key, _)| *key != target_key)
        .filter(|(_, f)| jaccard(&target.genres, &f.genres) > 0.0 || same_director(target, f))
        .map(|(key, f)| (key.clone(), similarity(target, f)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(limit);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn film(genres: &[&str], director: &str, countries: &[&str], year: i32) -> Features {
        Features {
            genres: genres.iter().map(|s| s.to_string()).collect(),
            director: director.into(),
            countries: countries.iter().map(|s| s.to_string()).collect(),
            year,
        }
    }

    #[test]
    fn genre_and_director_make_films_alike() {
        let nosferatu = film(&["horror"], "F. W. Murnau", &["DE"], 1922);
        let faust = film(&["horror", "fantasy"], "F. W. Murnau", &["DE"], 1926);
        let caligari = film(&["horror"], "Robert Wiene", &["DE"], 1920);
        let chaplin = film(&["comedy"], "Charlie Chaplin", &["US"], 1936);
        let others = [
            ("faust", &faust),
            ("caligari", &caligari),
            ("chaplin", &chaplin),
        ];
        let ranked = most_similar(
            &"nosferatu",
            &nosferatu,
            others.iter().map(|(k, f)| (k, *f)),
            5,
        );
        let keys: Vec<&str> = ranked.iter().map(|r| r.0).collect();
        assert_eq!(keys, ["faust", "caligari"], "{ranked:?}");
    }
}

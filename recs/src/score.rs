//! One person's ranking from their own signals and the neighbours of those films: a new like
//! changes it at once, without rebuilding the model.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// A recommended film, its score, and the film of the person's own that contributed most
/// ("Because you liked …").
#[derive(Debug, Clone, PartialEq)]
pub struct Scored<K> {
    pub film: K,
    pub score: f32,
    pub because: Option<K>,
}

/// Ranks films for a person: `history` holds their films with a weight (positive for likes,
/// watched and wanted films, negative for dislikes, which push similar films down);
/// `neighbours` holds those films' neighbour lists; `skip` films are never returned (already
/// seen, disliked, excluded). Only films with a positive score come back, best first, at most
/// `limit`; ties go to the smaller key, so the order is stable.
pub fn score<K: Hash + Eq + Ord + Clone>(
    history: &[(K, f32)],
    neighbours: &HashMap<K, Vec<(K, f32)>>,
    skip: &HashSet<K>,
    limit: usize,
) -> Vec<Scored<K>> {
    // film -> (score, best contribution, its source)
    let mut sums: HashMap<&K, (f32, f32, &K)> = HashMap::new();
    for (source, weight) in history {
        let Some(list) = neighbours.get(source) else {
            continue;
        };
        for (film, similarity) in list {
            if skip.contains(film) {
                continue;
            }
            let part = weight * similarity;
            let entry = sums.entry(film).or_insert((0.0, f32::NEG_INFINITY, source));
            entry.0 += part;
            if part > entry.1 {
                entry.1 = part;
                entry.2 = source;
            }
        }
    }
    let mut ranked: Vec<Scored<K>> = sums
        .into_iter()
        .filter(|(_, (total, _, _))| *total > 0.0)
        .map(|(film, (total, best, source))| Scored {
            film: film.clone(),
            score: total,
            because: (best > 0.0).then(|| source.clone()),
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.film.cmp(&b.film))
    });
    ranked.truncate(limit);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{build, tests::planted, Settings};

    fn neighbours_of(model: &crate::Model) -> HashMap<u32, Vec<(u32, f32)>> {
        model
            .neighbours
            .iter()
            .enumerate()
            .map(|(f, l)| (f as u32, l.clone()))
            .collect()
    }

    #[test]
    fn a_person_of_each_cluster_gets_their_clusters_films() {
        let model = build(&planted(), &Settings::default());
        let neighbours = neighbours_of(&model);
        for (liked, cluster) in [(vec![0u32, 1, 2], 0u32), (vec![13, 15], 1)] {
            let history: Vec<(u32, f32)> = liked.iter().map(|&f| (f, 1.0)).collect();
            let skip: HashSet<u32> = liked.iter().copied().collect();
            let ranked = score(&history, &neighbours, &skip, 5);
            assert_eq!(ranked.len(), 5);
            for r in &ranked {
                assert!(r.film < 20 && r.film / 10 == cluster, "{liked:?} got {r:?}");
                assert!(!skip.contains(&r.film));
                assert!(liked.contains(r.because.as_ref().unwrap()));
            }
        }
    }

    #[test]
    fn a_dislike_pushes_its_neighbours_down() {
        let model = build(&planted(), &Settings::default());
        let neighbours = neighbours_of(&model);
        let skip = HashSet::from([0u32, 10]);
        let liked = score(&[(0, 1.0)], &neighbours, &skip, 50);
        let mixed = score(&[(0, 1.0), (10, -1.0)], &neighbours, &skip, 50);
        assert!(liked.iter().all(|r| r.film / 10 == 0 || r.film >= 20));
        assert!(
            mixed.iter().all(|r| !(10..20).contains(&r.film)),
            "no film like the disliked one: {mixed:?}"
        );
    }

    #[test]
    fn unknown_history_gives_nothing() {
        let neighbours: HashMap<String, Vec<(String, f32)>> = HashMap::new();
        assert!(score(&[("x".to_string(), 1.0)], &neighbours, &HashSet::new(), 10).is_empty());
    }
}

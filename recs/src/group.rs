//! Films for a group about to watch together.
//!
//! The rule is "average without misery" (Masthoff's aggregation strategies, used in
//! group-recommender studies since PolyLens): each person's scores are first put on one scale
//! (divided by their own best score, so a person with many signals does not outvote the
//! others), a film any member would find miserable — below `misery` on that scale, which
//! includes "not scored at all" — drops below every film that nobody minds, and among those the
//! average decides. Plain least misery ranks by the worst member alone and ignores how much the
//! others want a film; a plain average lets two enthusiasts bury the third person.

use crate::score::Scored;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    /// The least a member's normalised score (0..=1) may be before the film counts as a misery
    /// for them.
    pub misery: f32,
}

impl Default for GroupSettings {
    fn default() -> Self {
        Self { misery: 0.05 }
    }
}

/// Ranks films for a group from each member's own ranking (as [`crate::score`] returns it,
/// unlimited). Members with no scores (no signals yet) do not constrain the choice. `skip`:
/// films no member should be offered (watched, disliked or excluded by any of them). Returns
/// films with the group's average normalised score, best first.
pub fn group_ranking<K: Hash + Eq + Ord + Clone>(
    members: &[Vec<Scored<K>>],
    skip: &HashSet<K>,
    settings: &GroupSettings,
    limit: usize,
) -> Vec<(K, f32)> {
    let scales: Vec<HashMap<&K, f32>> = members
        .iter()
        .filter_map(|ranking| {
            let best = ranking.iter().map(|s| s.score).fold(0f32, f32::max);
            (best > 0.0).then(|| ranking.iter().map(|s| (&s.film, s.score / best)).collect())
        })
        .collect();
    if scales.is_empty() {
        return Vec::new();
    }
    let candidates: HashSet<&K> = scales
        .iter()
        .flat_map(|m| m.keys().copied())
        .filter(|f| !skip.contains(*f))
        .collect();
    let mut ranked: Vec<(K, bool, f32)> = candidates
        .into_iter()
        .map(|film| {
            let each = scales.iter().map(|m| m.get(film).copied().unwrap_or(0.0));
            let worst = each.clone().fold(f32::INFINITY, f32::min);
            let mean = each.sum::<f32>() / scales.len() as f32;
            (film.clone(), worst >= settings.misery, mean)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.2.total_cmp(&a.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    ranked.truncate(limit);
    ranked
        .into_iter()
        .map(|(film, _, mean)| (film, mean))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{build, tests::planted, Settings};
    use crate::score::score;

    #[test]
    fn a_person_of_each_cluster_gets_films_both_clusters_like() {
        let model = build(&planted(), &Settings::default());
        let neighbours: HashMap<u32, Vec<(u32, f32)>> = model
            .neighbours
            .iter()
            .enumerate()
            .map(|(f, l)| (f as u32, l.clone()))
            .collect();
        // A likes two A films, B two B films; films 20 and 21 are liked in both clusters.
        let a = [(0u32, 1.0f32), (1, 1.0)];
        let b = [(10u32, 1.0f32), (11, 1.0)];
        let skip: HashSet<u32> = a.iter().chain(&b).map(|e| e.0).collect();
        let rank = |h: &[(u32, f32)]| score(h, &neighbours, &skip, usize::MAX);
        let ideas = group_ranking(&[rank(&a), rank(&b)], &skip, &GroupSettings::default(), 3);
        let mut both: Vec<u32> = ideas[..2].iter().map(|i| i.0).collect();
        both.sort();
        assert_eq!(
            both,
            [20, 21],
            "the films both clusters like come first: {ideas:?}"
        );
        // Alone, A would get A films first.
        assert!(rank(&a)[0].film < 10);
    }

    #[test]
    fn members_without_signals_do_not_block_and_nobody_gives_nothing() {
        let one = vec![Scored {
            film: 7u32,
            score: 2.0,
            because: None,
        }];
        let ideas = group_ranking(
            &[one, Vec::new()],
            &HashSet::new(),
            &GroupSettings::default(),
            5,
        );
        assert_eq!(ideas, vec![(7, 1.0)]);
        assert!(group_ranking::<u32>(
            &[vec![], vec![]],
            &HashSet::new(),
            &GroupSettings::default(),
            5
        )
        .is_empty());
    }
}

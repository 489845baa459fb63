//! Each film's neighbours, from everyone's positive signals.
//!
//! EASE^R: with `X` the people × films matrix of signal weights and `G = XᵀX`,
//! `P = (G + λI)⁻¹` and `B_ij = −P_ij / P_jj` (`B_ii = 0`); a person's score for film `j` is
//! `Σ_i x_i · B_ij`. Row `i` of `B`, cut to its largest weights, is film `i`'s neighbour list.
//! The inverse is dense — `n²` numbers and `n³` work — so it covers the `dense_limit` most
//! popular films; the films beyond (the long tail) get item-kNN (cosine) neighbours, scaled to
//! EASE's weights, and the popular films' lists are topped up with tail films the same way.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};

/// Everyone's positive signals: `(person, film, weight)`, people and films numbered from 0.
/// A pair given twice keeps its larger weight.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub people: usize,
    pub films: usize,
    pub entries: Vec<(u32, u32, f32)>,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// EASE's L2 regularisation (`λ`).
    pub lambda: f64,
    /// The most films the dense inverse covers (time `∝ n³`, memory at its peak `3 · 8·n²`
    /// bytes: the Cholesky factor, the inverse and faer's scratch matrix for it. 4 000 films took
    /// ~4 s on one core and ~430 MB at peak in `cargo make bench-recs`).
    pub dense_limit: usize,
    /// How many neighbours each film keeps.
    pub neighbours: usize,
    /// Item-kNN's shrinkage: `cos = dot / (‖i‖·‖j‖ + shrink)` damps pairs seen together once.
    pub shrink: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lambda: 100.0,
            dense_limit: 4_000,
            neighbours: 50,
            shrink: 5.0,
        }
    }
}

/// How a model was built (shown in logs and the benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Nobody has a positive signal yet.
    Empty,
    /// EASE over every film anyone has a signal for.
    Ease { films: usize },
    /// EASE over the `dense` most popular films, item-kNN for the `tail`.
    EaseAndKnn { dense: usize, tail: usize },
}

#[derive(Debug, Clone)]
pub struct Model {
    /// For each film, its neighbours (film, weight), largest weight first.
    pub neighbours: Vec<Vec<(u32, f32)>>,
    /// For each film, the sum of its signal weights.
    pub popularity: Vec<f32>,
    pub method: Method,
}

/// Builds the neighbours of every film from `signals`.
pub fn build(signals: &Signals, settings: &Settings) -> Model {
    let people = by_person(signals);
    let (popularity, active) = most_popular(&people, signals.films);
    if active.is_empty() {
        return Model {
            neighbours: vec![Vec::new(); signals.films],
            popularity,
            method: Method::Empty,
        };
    }
    let dense_len = active.len().min(settings.dense_limit.max(1));
    let (dense, tail) = active.split_at(dense_len);
    let mut neighbours = ease(&people, signals.films, dense, settings);
    let method = if tail.is_empty() {
        Method::Ease { films: dense.len() }
    } else {
        let knn = knn_of(&people, signals.films, settings.neighbours, settings.shrink);
        let scale = knn_scale(&neighbours, &knn, dense);
        let in_tail = membership(signals.films, tail);
        for &film in dense {
            let list = &mut neighbours[film as usize];
            list.extend(
                knn[film as usize]
                    .iter()
                    .filter(|(other, _)| in_tail[*other as usize])
                    .map(|&(other, w)| (other, w * scale)),
            );
            keep_top(list, settings.neighbours);
        }
        for &film in tail {
            neighbours[film as usize] = knn[film as usize]
                .iter()
                .map(|&(other, w)| (other, w * scale))
                .collect();
        }
        Method::EaseAndKnn {
            dense: dense.len(),
            tail: tail.len(),
        }
    };
    Model {
        neighbours,
        popularity,
        method,
    }
}

/// EASE's whole rows, for measuring what [`build`] leaves out: for each of the `dense_limit`
/// most popular films, its weight `B_ij` for every other of those films — negative ones too —
/// in film order. [`build`] keeps only the `neighbours` largest positive weights, which is what
/// the app stores and scores with; the benchmark (`cargo make bench-recs`) compares the two.
/// Films beyond `dense_limit` get empty rows.
pub fn ease_full(signals: &Signals, settings: &Settings) -> Vec<Vec<(u32, f32)>> {
    let people = by_person(signals);
    let (_, active) = most_popular(&people, signals.films);
    let dense = &active[..active.len().min(settings.dense_limit.max(1))];
    let mut rows = vec![Vec::new(); signals.films];
    let Some(p) = ease_inverse(&people, signals.films, dense, settings.lambda) else {
        return rows;
    };
    let mut order: Vec<usize> = (0..dense.len()).collect();
    order.sort_by_key(|&j| dense[j]);
    for i in 0..dense.len() {
        rows[dense[i] as usize] = order
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| (dense[j], (-p[(j, i)] / p[(j, j)]) as f32))
            .filter(|&(_, b)| b != 0.0)
            .collect();
    }
    rows
}

/// Each film's popularity (the sum of its weights), and the films anyone has a signal for, most
/// popular first; ties by number, so a build is reproducible.
fn most_popular(people: &[Vec<(u32, f32)>], films: usize) -> (Vec<f32>, Vec<u32>) {
    let mut popularity = vec![0f32; films];
    for list in people {
        for &(film, weight) in list {
            popularity[film as usize] += weight;
        }
    }
    let mut active: Vec<u32> = (0..films as u32)
        .filter(|&f| popularity[f as usize] > 0.0)
        .collect();
    active.sort_by(|&a, &b| {
        popularity[b as usize]
            .total_cmp(&popularity[a as usize])
            .then(a.cmp(&b))
    });
    (popularity, active)
}

/// Each person's films with their weights, a repeated pair kept once at its larger weight.
fn by_person(signals: &Signals) -> Vec<Vec<(u32, f32)>> {
    let mut people = vec![Vec::new(); signals.people];
    for &(person, film, weight) in &signals.entries {
        if weight > 0.0 && (person as usize) < signals.people && (film as usize) < signals.films {
            people[person as usize].push((film, weight));
        }
    }
    for list in &mut people {
        list.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        list.dedup_by_key(|e| e.0);
    }
    people
}

fn membership(films: usize, set: &[u32]) -> Vec<bool> {
    let mut member = vec![false; films];
    for &f in set {
        member[f as usize] = true;
    }
    member
}

/// EASE over the films in `dense`; the neighbour lists of other films stay empty.
fn ease(
    people: &[Vec<(u32, f32)>],
    films: usize,
    dense: &[u32],
    settings: &Settings,
) -> Vec<Vec<(u32, f32)>> {
    let n = dense.len();
    let mut neighbours = vec![Vec::new(); films];
    // G + λI is symmetric positive definite for λ > 0; the Cholesky factorisation cannot fail
    // then, and if λ was set to 0 on singular data the popular films simply get no EASE list.
    let Some(p) = ease_inverse(people, films, dense, settings.lambda) else {
        return neighbours;
    };
    let diagonal: Vec<f64> = (0..n).map(|j| p[(j, j)]).collect();
    let mut row: Vec<(u32, f32)> = Vec::with_capacity(n);
    for i in 0..n {
        row.clear();
        for j in 0..n {
            if i != j {
                // P is symmetric: read column i (contiguous) rather than row i (strided).
                let b = -p[(j, i)] / diagonal[j];
                if b > 0.0 {
                    row.push((dense[j], b as f32));
                }
            }
        }
        keep_top(&mut row, settings.neighbours);
        neighbours[dense[i] as usize] = row.clone();
    }
    neighbours
}

/// `P = (XᵀX + λI)⁻¹` over the films in `dense` (in that order), or `None` if the Cholesky
/// factorisation fails (only possible with `λ ≤ 0`).
fn ease_inverse(
    people: &[Vec<(u32, f32)>],
    films: usize,
    dense: &[u32],
    lambda: f64,
) -> Option<Mat<f64>> {
    let n = dense.len();
    let mut index = vec![usize::MAX; films];
    for (i, &film) in dense.iter().enumerate() {
        index[film as usize] = i;
    }
    // G = XᵀX, accumulated person by person into the lower triangle, the only part the
    // Cholesky factorisation reads: for a person's film i, their films j ≥ i lie down column i,
    // which is contiguous (faer is column-major), not one per column across the matrix.
    let mut gram = Mat::<f64>::zeros(n, n);
    let mut mine: Vec<(usize, f64)> = Vec::new();
    for list in people {
        mine.clear();
        mine.extend(
            list.iter()
                .filter(|(f, _)| index[*f as usize] != usize::MAX)
                .map(|&(f, w)| (index[f as usize], f64::from(w))),
        );
        mine.sort_by_key(|e| e.0);
        for (a, &(i, wi)) in mine.iter().enumerate() {
            for &(j, wj) in &mine[a..] {
                gram[(j, i)] += wi * wj;
            }
        }
    }
    for i in 0..n {
        gram[(i, i)] += lambda;
    }
    let llt = gram.llt(Side::Lower).ok()?;
    drop(gram);
    Some(llt.inverse())
}

/// Item-kNN: each film's `k` most similar films by cosine over the people who have a signal
/// for both, `dot / (‖i‖·‖j‖ + shrink)`. Work is `Σ people's list length²`.
pub fn knn(signals: &Signals, k: usize, shrink: f32) -> Vec<Vec<(u32, f32)>> {
    knn_of(&by_person(signals), signals.films, k, shrink)
}

/// [`knn`] over the signals already grouped by person (what [`build`] has at hand).
fn knn_of(people: &[Vec<(u32, f32)>], films: usize, k: usize, shrink: f32) -> Vec<Vec<(u32, f32)>> {
    let mut by_film: Vec<Vec<(u32, f32)>> = vec![Vec::new(); films];
    for (person, list) in people.iter().enumerate() {
        for &(film, w) in list {
            by_film[film as usize].push((person as u32, w));
        }
    }
    let norm: Vec<f32> = by_film
        .iter()
        .map(|l| l.iter().map(|(_, w)| w * w).sum::<f32>().sqrt())
        .collect();
    let mut dot = vec![0f32; films];
    let mut touched: Vec<u32> = Vec::new();
    // Every film a popular film shares a person with — up to the whole catalog — is a
    // candidate; the buffer is reused and only the top `k` are copied out, so each list holds
    // `k` entries and not the capacity of all its candidates.
    let mut candidates: Vec<(u32, f32)> = Vec::new();
    let mut out = vec![Vec::new(); films];
    for film in 0..films {
        for &(person, wi) in &by_film[film] {
            for &(other, wj) in &people[person as usize] {
                if other as usize != film {
                    if dot[other as usize] == 0.0 {
                        touched.push(other);
                    }
                    dot[other as usize] += wi * wj;
                }
            }
        }
        candidates.clear();
        candidates.extend(touched.iter().map(|&o| {
            let d = dot[o as usize];
            (o, d / (norm[film] * norm[o as usize] + shrink))
        }));
        for &o in &touched {
            dot[o as usize] = 0.0;
        }
        touched.clear();
        keep_top(&mut candidates, k);
        out[film] = candidates.clone();
    }
    out
}

/// The factor that puts kNN's cosines on EASE's scale: the median ratio of the two methods'
/// top weights over the popular films that have both.
fn knn_scale(ease: &[Vec<(u32, f32)>], knn: &[Vec<(u32, f32)>], dense: &[u32]) -> f32 {
    let mut ratios: Vec<f32> = dense
        .iter()
        .filter_map(|&f| {
            let e = ease[f as usize].first()?.1;
            let k = knn[f as usize].first()?.1;
            (k > 0.0).then_some(e / k)
        })
        .collect();
    if ratios.is_empty() {
        return 1.0;
    }
    let mid = ratios.len() / 2;
    *ratios.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

/// Keeps the `k` largest weights, largest first (ties by film number).
fn keep_top(list: &mut Vec<(u32, f32)>, k: usize) {
    let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if list.len() > k && k > 0 {
        list.select_nth_unstable_by(k - 1, order);
        list.truncate(k);
    } else if k == 0 {
        list.clear();
    }
    list.sort_by(order);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two taste clusters: films 0..10 are A's, 10..20 are B's, 20 and 21 both like; people
    /// 0..20 like A films, 20..40 B films (each a different 6 of their 10), everyone film 20 or 21.
    pub fn planted() -> Signals {
        let mut entries = Vec::new();
        for person in 0..40u32 {
            let base = if person < 20 { 0 } else { 10 };
            for k in 0..6 {
                entries.push((person, base + (person + k * 3) % 10, 1.0));
            }
            entries.push((person, 20 + person % 2, 1.0));
        }
        Signals {
            people: 40,
            films: 23, // film 22: nobody's
            entries,
        }
    }

    fn cluster(film: u32) -> u32 {
        film / 10
    }

    #[test]
    fn neighbours_stay_in_their_cluster() {
        let model = build(&planted(), &Settings::default());
        assert_eq!(model.method, Method::Ease { films: 22 });
        for film in 0..20u32 {
            let list = &model.neighbours[film as usize];
            assert!(!list.is_empty(), "film {film} has neighbours");
            let (top, _) = list[0];
            assert_eq!(
                cluster(top),
                cluster(film),
                "film {film}'s nearest is {top}"
            );
            assert!(
                list.windows(2).all(|w| w[0].1 >= w[1].1),
                "sorted by weight"
            );
        }
        assert!(
            model.neighbours[22].is_empty(),
            "nobody's film has no neighbours"
        );
        assert_eq!(model.popularity[22], 0.0);
    }

    #[test]
    fn the_tail_gets_knn_neighbours_when_the_dense_part_is_full() {
        let settings = Settings {
            dense_limit: 8,
            ..Settings::default()
        };
        let model = build(&planted(), &settings);
        assert_eq!(model.method, Method::EaseAndKnn { dense: 8, tail: 14 });
        for film in 0..20u32 {
            let list = &model.neighbours[film as usize];
            assert!(!list.is_empty(), "film {film} has neighbours");
            assert_eq!(cluster(list[0].0), cluster(film), "film {film}");
        }
    }

    #[test]
    fn the_full_rows_cut_to_their_largest_positive_weights_are_the_neighbours() {
        let settings = Settings {
            neighbours: 4,
            ..Settings::default()
        };
        let model = build(&planted(), &settings);
        let full = ease_full(&planted(), &settings);
        assert_eq!(full.len(), 23);
        assert!(full[22].is_empty(), "nobody's film has no row");
        assert!(
            full[0].iter().any(|&(_, b)| b < 0.0),
            "the full rows keep negative weights"
        );
        for (film, row) in full.iter().enumerate().take(22) {
            assert_eq!(row.len(), 21, "film {film}: every other film");
            let mut cut: Vec<(u32, f32)> = row.iter().copied().filter(|e| e.1 > 0.0).collect();
            keep_top(&mut cut, settings.neighbours);
            assert_eq!(cut, model.neighbours[film], "film {film}");
        }
    }

    #[test]
    fn knn_is_cosine_with_shrinkage() {
        let signals = Signals {
            people: 2,
            films: 3,
            entries: vec![
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.0),
                (1, 1, 1.0),
                (1, 2, 1.0),
            ],
        };
        let knn = knn(&signals, 5, 0.0);
        // films 0 and 1: both people, cos 1; films 0 and 2: one of two, 1/(√2·1).
        assert_eq!(knn[0][0].0, 1);
        assert!((knn[0][0].1 - 1.0).abs() < 1e-6);
        assert!((knn[0][1].1 - 1.0 / 2f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn nothing_liked_builds_an_empty_model() {
        let model = build(
            &Signals {
                people: 3,
                films: 4,
                entries: vec![(0, 1, 0.0), (9, 1, 1.0), (1, 9, 1.0)],
            },
            &Settings::default(),
        );
        assert_eq!(model.method, Method::Empty);
        assert_eq!(model.neighbours.len(), 4);
    }
}

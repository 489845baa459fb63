//! The offline evaluation of Kino's recommendations (`cargo make bench-recs`; a benchmark, not a
//! test: it takes minutes and its times depend on the machine).
//!
//! 1. **Accuracy on MovieLens-100K**, read straight out of the PyPI wheel `recbole==1.2.1` (the
//!    script downloads it into `~/.cache/kino/recbole`; its licence forbids redistributing the
//!    data, so nothing of it is in the repository). A like is a rating ≥ 4; lower ratings are
//!    dropped, as in the EASE paper. Every film of the catalog that the person has not liked in
//!    training is ranked. Two protocols: each person's last like by time held out, and a seeded
//!    80/20 random split of each person's likes. Methods: popularity, item-kNN, EASE as Kino
//!    ships it (`kino_recs::build` with the default settings, scored by `kino_recs::score`), a
//!    small λ sweep, and EASE's untruncated rows. HR, precision, recall and NDCG at 10.
//! 2. **The group rule** on the random split: synthetic groups of 3, each member scored as Kino
//!    scores them, combined by `kino_recs::group_ranking` (average without misery), against the
//!    plain average and a popularity list.
//! 3. **Scale**: a generated graph shaped like the friend-match benchmark's (20 000 films,
//!    100 000 people, 100 "Want to watch" films each from a skewed popularity, plus likes): the
//!    build's time and peak memory at three sizes of the dense part, and the time to score one
//!    person.
//!
//! Prints tables, then one JSON line with every figure.

use clap::Parser;
use kino_recs::model::{self, Method, Settings, Signals};
use kino_recs::{group_ranking, score, GroupSettings, Scored};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

const INTER: &str = "recbole/dataset_example/ml-100k/ml-100k.inter";
const ITEM: &str = "recbole/dataset_example/ml-100k/ml-100k.item";
/// The cut-off of every list and metric.
const AT: usize = 10;

#[derive(Debug, Parser)]
#[command(
    about = "Kino's recommendations: accuracy on MovieLens-100K, the group rule, build cost at scale"
)]
struct Args {
    /// The recbole 1.2.1 wheel (scripts/bench-recs.sh downloads it and checks its hash).
    #[arg(long, required_unless_present = "child")]
    wheel: Option<PathBuf>,
    /// One step of the scale part, run in a fresh process by the scale part itself.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Seed of the random split, the groups and the generated graph.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// EASE's λ values tried (the default setting's λ is always added).
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,200,500")]
    lambdas: Vec<f64>,
    /// Item-kNN's shrinkage values tried (the default setting's is always added).
    #[arg(long, value_delimiter = ',', default_value = "0,5,20,100")]
    shrinks: Vec<f32>,
    /// Synthetic groups of three (1 000: a standard error of ~0.002 on the difference between
    /// two rules).
    #[arg(long, default_value_t = 1_000)]
    groups: usize,
    /// Skip the scale part.
    #[arg(long)]
    no_scale: bool,
    /// Scale part: films in the generated catalog.
    #[arg(long, default_value_t = 20_000)]
    films: usize,
    /// Scale part: people.
    #[arg(long, default_value_t = 100_000)]
    people: usize,
    /// Scale part: "Want to watch" films per person (weight 0.5).
    #[arg(long, default_value_t = 100)]
    wants: usize,
    /// Scale part: liked films per person (weight 1.0; a liked film that is also wanted counts
    /// once, as a like).
    #[arg(long, default_value_t = 20)]
    likes: usize,
    /// Scale part: popularity as in bench-match, weight 1 / (rank + q)^s.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// See --zipf-s.
    #[arg(long, default_value_t = 50.0)]
    zipf_q: f64,
    /// Scale part: the sizes of the dense EASE part built (the default setting's is always
    /// added).
    #[arg(long, value_delimiter = ',', default_value = "2000,4000,6000")]
    dense_limits: Vec<usize>,
    /// Scale part: random people scored one at a time.
    #[arg(long, default_value_t = 2_000)]
    samples: usize,
}

fn main() -> Result {
    let args = Args::parse();
    if let Some(job) = &args.child {
        return child(job, &args);
    }
    let wheel = args.wheel.as_deref().ok_or("--wheel is needed")?;
    let load_before = load();
    let started = Instant::now();

    let ml = MovieLens::read(wheel)?;
    println!(
        "== MovieLens-100K from {} (sha256 {})",
        wheel.display(),
        &ml.sha256[..16]
    );
    println!(
        "   {} ratings, {} people, {} films; {} likes (rating ≥ 4)",
        ml.ratings,
        ml.people,
        ml.films(),
        ml.likes.len()
    );

    let mut lambdas = args.lambdas.clone();
    lambdas.push(Settings::default().lambda);
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();

    let mut shrinks = args.shrinks.clone();
    shrinks.push(Settings::default().shrink);
    shrinks.sort_by(f32::total_cmp);
    shrinks.dedup();

    let splits = [leave_last_out(&ml), random_split(&ml, args.seed)];
    let mut protocols = Vec::new();
    for split in &splits {
        protocols.push(evaluate_protocol(split, ml.films(), &lambdas, &shrinks));
    }
    print_accuracy(&protocols, &lambdas);
    let chosen = best_lambda(&protocols, &lambdas);
    print_knn_sweep(&protocols, &shrinks);

    let group = groups(&splits[1], &ml, &args);

    let scale = if args.no_scale {
        Value::Null
    } else {
        scale(&args)?
    };

    let seconds = started.elapsed().as_secs_f64();
    println!("\n(all in {seconds:.0} s)");
    println!(
        "{}",
        json!({
            "bench": "recs",
            "load_before": load_before,
            "load": load(),
            "seconds": round(seconds, 1),
            "data": {
                "wheel_sha256": ml.sha256, "ratings": ml.ratings, "people": ml.people,
                "films": ml.films(), "likes": ml.likes.len(),
            },
            "defaults": {
                "lambda": Settings::default().lambda,
                "neighbours": Settings::default().neighbours,
                "shrink": Settings::default().shrink,
                "dense_limit": Settings::default().dense_limit,
            },
            "protocols": protocols.iter().map(Protocol::json).collect::<Vec<_>>(),
            "lambda_best": chosen,
            "group": group,
            "scale": scale,
        })
    );
    Ok(())
}

// --------------------------------------------------------------------------------- the data

struct MovieLens {
    /// Film number → title, in the order of `ml-100k.item`.
    titles: Vec<String>,
    people: usize,
    ratings: usize,
    /// (person, film, time) of every rating ≥ 4.
    likes: Vec<(u32, u32, i64)>,
    /// Each person's films rated ≤ 2: what the group rule should keep off a group's list.
    dislikes: Vec<HashSet<u32>>,
    sha256: String,
}

impl MovieLens {
    fn read(wheel: &Path) -> Result<Self> {
        let bytes = std::fs::read(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
        let sha256 = format!("{:x}", Sha256::digest(&bytes));
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..]))?;
        let mut file = |name: &str| -> Result<String> {
            let mut raw = Vec::new();
            archive
                .by_name(name)
                .map_err(|e| format!("{name} in {}: {e}", wheel.display()))?
                .read_to_end(&mut raw)?;
            // The titles are Latin-1 in places; only the ids and numbers matter here.
            Ok(String::from_utf8_lossy(&raw).into_owned())
        };
        let items = file(ITEM)?;
        let inter = file(INTER)?;

        let mut film_of: HashMap<String, u32> = HashMap::new();
        let mut titles = Vec::new();
        let mut lines = items.lines();
        let header = columns(
            lines.next().unwrap_or_default(),
            &["item_id", "movie_title"],
        )?;
        for line in lines.filter(|l| !l.is_empty()) {
            let cells: Vec<&str> = line.split('\t').collect();
            let id = cells.get(header[0]).ok_or("short line in ml-100k.item")?;
            let title = cells.get(header[1]).copied().unwrap_or_default();
            film_of.insert(id.to_string(), titles.len() as u32);
            titles.push(title.to_string());
        }

        let mut lines = inter.lines();
        let header = columns(
            lines.next().unwrap_or_default(),
            &["user_id", "item_id", "rating", "timestamp"],
        )?;
        let mut rows = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |i: usize| {
                cells
                    .get(header[i])
                    .copied()
                    .ok_or("short line in ml-100k.inter")
            };
            let person: u64 = cell(0)?.parse()?;
            let film = *film_of
                .get(cell(1)?)
                .ok_or_else(|| format!("film {} is not in ml-100k.item", cell(1).unwrap_or("")))?;
            let rating: f32 = cell(2)?.parse()?;
            let time = cell(3)?.parse::<f64>()? as i64;
            rows.push((person, film, rating, time));
        }
        // People numbered in the order of their ids.
        let mut ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut dislikes = vec![HashSet::new(); ids.len()];
        for r in rows.iter().filter(|r| r.2 <= 2.0) {
            dislikes[ids.binary_search(&r.0).unwrap_or(0)].insert(r.1);
        }
        let likes = rows
            .iter()
            .filter(|r| r.2 >= 4.0)
            .map(|r| (ids.binary_search(&r.0).unwrap_or(0) as u32, r.1, r.3))
            .collect();
        Ok(Self {
            titles,
            people: ids.len(),
            ratings: rows.len(),
            likes,
            dislikes,
            sha256,
        })
    }

    fn films(&self) -> usize {
        self.titles.len()
    }

    /// Each person's likes, (time, film), in time order.
    fn by_person(&self) -> Vec<Vec<(i64, u32)>> {
        let mut people = vec![Vec::new(); self.people];
        for &(person, film, time) in &self.likes {
            people[person as usize].push((time, film));
        }
        for list in &mut people {
            list.sort_unstable();
        }
        people
    }
}

/// Where the named columns are in a RecBole header (`user_id:token\titem_id:token…`).
fn columns(header: &str, names: &[&str]) -> Result<Vec<usize>> {
    let fields: Vec<&str> = header
        .split('\t')
        .map(|f| f.split(':').next().unwrap_or(f))
        .collect();
    names
        .iter()
        .map(|name| {
            fields
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| format!("no column {name} in header {header:?}").into())
        })
        .collect()
}

/// Each person's training and held-out likes, films ascending.
struct Split {
    name: &'static str,
    train: Vec<Vec<u32>>,
    test: Vec<Vec<u32>>,
}

impl Split {
    fn signals(&self, films: usize) -> Signals {
        Signals {
            people: self.train.len(),
            films,
            entries: self
                .train
                .iter()
                .enumerate()
                .flat_map(|(p, list)| list.iter().map(move |&f| (p as u32, f, 1.0)))
                .collect(),
        }
    }

    /// Films by their number of training likes, most first (ties by number).
    fn popular(&self, films: usize) -> Vec<u32> {
        let mut count = vec![0u32; films];
        for &f in self.train.iter().flatten() {
            count[f as usize] += 1;
        }
        let mut order: Vec<u32> = (0..films as u32).collect();
        order.sort_by(|&a, &b| count[b as usize].cmp(&count[a as usize]).then(a.cmp(&b)));
        order
    }

    fn evaluated(&self) -> usize {
        self.test.iter().filter(|t| !t.is_empty()).count()
    }
}

/// (a) Each person's last like (by time; ties by film number) is held out; people with fewer
/// than two likes keep theirs in training and are not evaluated.
fn leave_last_out(ml: &MovieLens) -> Split {
    let mut train = Vec::new();
    let mut test = Vec::new();
    for mut list in ml.by_person() {
        let held = if list.len() >= 2 {
            list.pop().map(|(_, f)| vec![f])
        } else {
            None
        };
        let mut films: Vec<u32> = list.into_iter().map(|(_, f)| f).collect();
        films.sort_unstable();
        train.push(films);
        test.push(held.unwrap_or_default());
    }
    Split {
        name: "leave-last-out",
        train,
        test,
    }
}

/// (b) Each person's likes shuffled (seeded) and a fifth of them (rounded, at least one) held
/// out; people with fewer than two likes are not evaluated.
fn random_split(ml: &MovieLens, seed: u64) -> Split {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for list in ml.by_person() {
        let mut films: Vec<u32> = list.into_iter().map(|(_, f)| f).collect();
        films.sort_unstable();
        films.shuffle(&mut rng);
        let held = if films.len() >= 2 {
            ((films.len() as f64 * 0.2).round() as usize).max(1)
        } else {
            0
        };
        let mut out = films.split_off(films.len() - held);
        out.sort_unstable();
        films.sort_unstable();
        train.push(films);
        test.push(out);
    }
    Split {
        name: "random 80/20",
        train,
        test,
    }
}

// --------------------------------------------------------------------------------- accuracy

/// HR, precision, recall and NDCG at [`AT`], summed over people, then averaged.
#[derive(Debug, Default, Clone, Copy)]
struct Metrics {
    people: usize,
    hr: f64,
    precision: f64,
    recall: f64,
    ndcg: f64,
    /// The standard error of the mean NDCG (after `mean`; before it, the sum of squares).
    ndcg_se: f64,
    /// People whose list had fewer than [`AT`] scored films and was topped up by popularity.
    topped_up: usize,
}

impl Metrics {
    /// Binary relevance: a film is relevant if it is one of the held-out likes.
    fn add(&mut self, list: &[u32], test: &[u32]) {
        let gain = |rank: usize| 1.0 / (rank as f64 + 2.0).log2();
        let hits: Vec<usize> = (0..list.len().min(AT))
            .filter(|&r| test.contains(&list[r]))
            .collect();
        let dcg: f64 = hits.iter().map(|&r| gain(r)).sum();
        let ideal: f64 = (0..test.len().min(AT)).map(gain).sum();
        self.people += 1;
        self.hr += if hits.is_empty() { 0.0 } else { 1.0 };
        self.precision += hits.len() as f64 / AT as f64;
        self.recall += hits.len() as f64 / test.len() as f64;
        self.ndcg += dcg / ideal;
        self.ndcg_se += (dcg / ideal).powi(2);
    }

    fn mean(mut self) -> Self {
        let n = self.people.max(1) as f64;
        self.hr /= n;
        self.precision /= n;
        self.recall /= n;
        self.ndcg /= n;
        let variance = (self.ndcg_se / n - self.ndcg.powi(2)).max(0.0) * n / (n - 1.0).max(1.0);
        self.ndcg_se = (variance / n).sqrt();
        self
    }

    fn json(&self) -> Value {
        json!({
            "hr": round(self.hr, 4), "precision": round(self.precision, 4),
            "recall": round(self.recall, 4), "ndcg": round(self.ndcg, 4),
            "ndcg_se": round(self.ndcg_se, 4),
            "people": self.people, "topped_up": self.topped_up,
        })
    }
}

/// `list` cut to [`AT`] and topped up with the most popular films not skipped nor listed.
fn top_up(mut list: Vec<u32>, popular: &[u32], skip: &HashSet<u32>) -> (Vec<u32>, bool) {
    list.truncate(AT);
    let short = list.len() < AT;
    for &film in popular {
        if list.len() >= AT {
            break;
        }
        if !skip.contains(&film) && !list.contains(&film) {
            list.push(film);
        }
    }
    (list, short)
}

/// Runs `recommend(training likes, films to skip)` for every evaluated person.
fn evaluate(
    split: &Split,
    popular: &[u32],
    mut recommend: impl FnMut(&[u32], &HashSet<u32>) -> Vec<u32>,
) -> Metrics {
    let mut metrics = Metrics::default();
    for (train, test) in split.train.iter().zip(&split.test) {
        if test.is_empty() {
            continue;
        }
        let skip: HashSet<u32> = train.iter().copied().collect();
        let (list, short) = top_up(recommend(train, &skip), popular, &skip);
        metrics.topped_up += usize::from(short);
        metrics.add(&list, test);
    }
    metrics.mean()
}

fn neighbour_map(lists: &[Vec<(u32, f32)>]) -> HashMap<u32, Vec<(u32, f32)>> {
    lists
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(f, l)| (f as u32, l.clone()))
        .collect()
}

/// A person's likes as `score` takes them: weight 1 each.
fn history(likes: &[u32]) -> Vec<(u32, f32)> {
    likes.iter().map(|&f| (f, 1.0)).collect()
}

/// Kino's personal ranking: `kino_recs::score` over the person's likes and the neighbour lists.
fn by_score(
    neighbours: &HashMap<u32, Vec<(u32, f32)>>,
) -> impl FnMut(&[u32], &HashSet<u32>) -> Vec<u32> + '_ {
    move |train, skip| {
        score(&history(train), neighbours, skip, AT)
            .into_iter()
            .map(|s| s.film)
            .collect()
    }
}

struct Protocol {
    name: &'static str,
    people: usize,
    train_likes: usize,
    test_likes: usize,
    popularity: Metrics,
    knn: Metrics,
    /// The default settings with twice the neighbours.
    wider: Metrics,
    /// Per kNN shrinkage: k = neighbours, and k = every film.
    knn_sweep: Vec<(f32, Metrics, Metrics)>,
    /// Per λ: (top-`neighbours` lists as built, full rows, build seconds).
    sweep: Vec<(f64, Metrics, Metrics, f64)>,
}

impl Protocol {
    fn shipped(&self) -> &(f64, Metrics, Metrics, f64) {
        let lambda = Settings::default().lambda;
        self.sweep
            .iter()
            .find(|s| s.0 == lambda)
            .expect("the default λ is always swept")
    }

    fn json(&self) -> Value {
        let (_, shipped, full, build) = self.shipped();
        json!({
            "protocol": self.name, "people": self.people,
            "train_likes": self.train_likes, "test_likes": self.test_likes,
            "popularity": self.popularity.json(),
            "knn": self.knn.json(),
            "ease_kino": shipped.json(),
            "ease_full": full.json(),
            "ease_top_wider": self.wider.json(),
            "wider_neighbours": 2 * Settings::default().neighbours,
            "ease_build_s": round(*build, 3),
            "ease_vs_popularity_ndcg": round(shipped.ndcg / self.popularity.ndcg, 3),
            "knn_vs_popularity_ndcg": round(self.knn.ndcg / self.popularity.ndcg, 3),
            "knn_shrink_sweep": self.knn_sweep.iter().map(|(shrink, top, all)| json!({
                "shrink": shrink, "ndcg": round(top.ndcg, 4), "ndcg_all": round(all.ndcg, 4),
            })).collect::<Vec<_>>(),
            "lambda_sweep": self.sweep.iter().map(|(l, top, full, _)| json!({
                "lambda": l, "ndcg": round(top.ndcg, 4), "ndcg_full": round(full.ndcg, 4),
                "recall": round(top.recall, 4), "recall_full": round(full.recall, 4),
            })).collect::<Vec<_>>(),
        })
    }
}

fn evaluate_protocol(split: &Split, films: usize, lambdas: &[f64], shrinks: &[f32]) -> Protocol {
    let signals = split.signals(films);
    let popular = split.popular(films);
    let popularity = evaluate(split, &popular, |_, skip| {
        popular
            .iter()
            .copied()
            .filter(|f| !skip.contains(f))
            .take(AT)
            .collect()
    });
    let defaults = Settings::default();
    let knn_sweep: Vec<(f32, Metrics, Metrics)> = shrinks
        .iter()
        .map(|&shrink| {
            let run = |k| {
                let knn = neighbour_map(&model::knn(&signals, k, shrink));
                evaluate(split, &popular, by_score(&knn))
            };
            (shrink, run(defaults.neighbours), run(films))
        })
        .collect();
    let knn = knn_sweep
        .iter()
        .find(|s| s.0 == defaults.shrink)
        .expect("the default shrinkage is always swept")
        .1;
    let wider = Settings {
        neighbours: 2 * defaults.neighbours,
        ..defaults
    };
    let wider = neighbour_map(&model::build(&signals, &wider).neighbours);
    let wider = evaluate(split, &popular, by_score(&wider));
    let sweep = lambdas
        .iter()
        .map(|&lambda| {
            let settings = Settings { lambda, ..defaults };
            let started = Instant::now();
            let built = model::build(&signals, &settings);
            let seconds = started.elapsed().as_secs_f64();
            let top = evaluate(split, &popular, by_score(&neighbour_map(&built.neighbours)));
            let full = model::ease_full(&signals, &settings);
            let full = evaluate(split, &popular, by_score(&neighbour_map(&full)));
            (lambda, top, full, seconds)
        })
        .collect();
    Protocol {
        name: split.name,
        people: split.evaluated(),
        train_likes: signals.entries.len(),
        test_likes: split.test.iter().map(Vec::len).sum(),
        popularity,
        knn,
        wider,
        knn_sweep,
        sweep,
    }
}

fn print_accuracy(protocols: &[Protocol], lambdas: &[f64]) {
    let d = Settings::default();
    for (letter, p) in ["a", "b"].iter().zip(protocols) {
        println!(
            "\n-- ({letter}) {}: {} people evaluated, {} held-out likes, {} training likes",
            p.name, p.people, p.test_likes, p.train_likes
        );
        println!(
            "{:<34} {:>7} {:>7} {:>7} {:>17} {:>6} {:>9}",
            "method", "HR@10", "P@10", "R@10", "NDCG@10 ± se", "×pop", "topped up"
        );
        let row = |name: &str, m: &Metrics| {
            println!(
                "{name:<34} {:>7.4} {:>7.4} {:>7.4} {:>8.4} ± {:.4} {:>6.2} {:>9}",
                m.hr,
                m.precision,
                m.recall,
                m.ndcg,
                m.ndcg_se,
                m.ndcg / p.popularity.ndcg,
                m.topped_up
            );
        };
        let (_, shipped, full, _) = p.shipped();
        row("popularity", &p.popularity);
        row(
            &format!("item-kNN (k {}, shrink {})", d.neighbours, d.shrink),
            &p.knn,
        );
        row(
            &format!("EASE λ {} top {} (Kino)", d.lambda, d.neighbours),
            shipped,
        );
        row(
            &format!("EASE λ {} top {}", d.lambda, 2 * d.neighbours),
            &p.wider,
        );
        row(&format!("EASE λ {} full rows", d.lambda), full);
    }
    println!(
        "\n-- λ sweep, NDCG@10 (top {} lists as Kino stores them / full rows)",
        d.neighbours
    );
    print!("{:>8}", "λ");
    for p in protocols {
        print!(" {:>14} {:>10}", format!("{} top", short(p.name)), "full");
    }
    println!();
    for (i, lambda) in lambdas.iter().enumerate() {
        print!("{lambda:>8}");
        for p in protocols {
            let (_, top, full, _) = &p.sweep[i];
            print!(" {:>14.4} {:>10.4}", top.ndcg, full.ndcg);
        }
        println!(
            "{}",
            if *lambda == d.lambda {
                "   ← default"
            } else {
                ""
            }
        );
    }
}

fn print_knn_sweep(protocols: &[Protocol], shrinks: &[f32]) {
    let d = Settings::default();
    println!(
        "\n-- item-kNN shrinkage, NDCG@10 (top {} / every film as neighbours)",
        d.neighbours
    );
    print!("{:>8}", "shrink");
    for p in protocols {
        print!(" {:>14} {:>10}", format!("{} top", short(p.name)), "all");
    }
    println!();
    for (i, shrink) in shrinks.iter().enumerate() {
        print!("{shrink:>8}");
        for p in protocols {
            let (_, top, all) = &p.knn_sweep[i];
            print!(" {:>14.4} {:>10.4}", top.ndcg, all.ndcg);
        }
        println!(
            "{}",
            if *shrink == d.shrink {
                "   ← default"
            } else {
                ""
            }
        );
    }
}

fn short(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// The λ with the best NDCG@10 of Kino's lists on each protocol; a value for both only if they
/// agree.
fn best_lambda(protocols: &[Protocol], lambdas: &[f64]) -> Value {
    let best: Vec<f64> = protocols
        .iter()
        .map(|p| {
            p.sweep
                .iter()
                .max_by(|a, b| a.1.ndcg.total_cmp(&b.1.ndcg))
                .map(|s| s.0)
                .unwrap_or(lambdas[0])
        })
        .collect();
    println!(
        "   best λ: {} (a), {} (b); default {}",
        best[0],
        best[1],
        Settings::default().lambda
    );
    json!({ "leave_last_out": best[0], "random": best[1] })
}

// ------------------------------------------------------------------------------------ groups

/// Groups of three people from the random split, each held-out like of any member a film the
/// group would like: the share of those found in the group's top 10. And the misery the rule is
/// there to avoid: films in the top 10 that a member rated 2 or less (ratings the model never
/// sees: it learns from likes only).
fn groups(split: &Split, ml: &MovieLens, args: &Args) -> Value {
    let films = ml.films();
    let signals = split.signals(films);
    let popular = split.popular(films);
    let neighbours = neighbour_map(&model::build(&signals, &Settings::default()).neighbours);
    let eligible: Vec<usize> = (0..split.test.len())
        .filter(|&p| !split.test[p].is_empty())
        .collect();
    let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(1));
    let rules: [(&str, Option<f32>); 3] = [
        ("popularity", None),
        ("average (misery 0)", Some(0.0)),
        (
            "average without misery (Kino)",
            Some(GroupSettings::default().misery),
        ),
    ];
    // per rule: (share sum, members with a hit, members counted, films a member dislikes)
    let mut sums = [(0f64, 0usize, 0usize, 0usize); 3];
    // Kino's rule against the plain average, group by group: share difference, lists differ
    let mut paired: Vec<(f64, bool)> = Vec::new();
    let mut counted = 0usize;
    let mut empty = 0usize;
    for _ in 0..args.groups {
        let members: Vec<usize> = eligible.choose_multiple(&mut rng, 3).copied().collect();
        let skip: HashSet<u32> = members
            .iter()
            .flat_map(|&m| split.train[m].iter().copied())
            .collect();
        let held_each: Vec<Vec<u32>> = members
            .iter()
            .map(|&m| {
                split.test[m]
                    .iter()
                    .copied()
                    .filter(|f| !skip.contains(f))
                    .collect()
            })
            .collect();
        let held: HashSet<u32> = held_each.iter().flatten().copied().collect();
        if held.is_empty() {
            empty += 1;
            continue;
        }
        counted += 1;
        let rankings: Vec<Vec<Scored<u32>>> = members
            .iter()
            .map(|&m| score(&history(&split.train[m]), &neighbours, &skip, usize::MAX))
            .collect();
        let mut lists = Vec::new();
        let mut shares = Vec::new();
        for (i, (_, misery)) in rules.iter().enumerate() {
            let list = match misery {
                None => Vec::new(),
                Some(misery) => {
                    group_ranking(&rankings, &skip, &GroupSettings { misery: *misery }, AT)
                        .into_iter()
                        .map(|(f, _)| f)
                        .collect()
                }
            };
            let (list, _) = top_up(list, &popular, &skip);
            let hits = list.iter().filter(|f| held.contains(f)).count();
            let share = hits as f64 / held.len().min(AT) as f64;
            sums[i].0 += share;
            for own in held_each.iter().filter(|h| !h.is_empty()) {
                sums[i].2 += 1;
                sums[i].1 += usize::from(list.iter().any(|f| own.contains(f)));
            }
            sums[i].3 += list
                .iter()
                .filter(|f| members.iter().any(|&m| ml.dislikes[m].contains(f)))
                .count();
            let mut sorted = list.clone();
            sorted.sort_unstable();
            lists.push(sorted);
            shares.push(share);
        }
        paired.push((shares[2] - shares[1], lists[2] != lists[1]));
    }
    println!(
        "\n-- groups of 3 on the random split: {counted} groups ({empty} of {} had no held-out like left to find)",
        args.groups
    );
    println!(
        "{:<34} {:>22} {:>22} {:>24}",
        "rule", "held-out likes in top 10", "members with a hit", "disliked by a member /10"
    );
    let mut out = Vec::new();
    for (i, (name, misery)) in rules.iter().enumerate() {
        let share = sums[i].0 / counted.max(1) as f64;
        let members = sums[i].1 as f64 / sums[i].2.max(1) as f64;
        let disliked = sums[i].3 as f64 / counted.max(1) as f64;
        println!("{name:<34} {share:>22.4} {members:>22.4} {disliked:>24.3}");
        out.push(json!({
            "rule": name, "misery": misery.map(|m| round(f64::from(m), 3)), "share": round(share, 4),
            "members_with_hit": round(members, 4), "disliked_in_top10": round(disliked, 4),
        }));
    }
    let n = paired.len().max(1) as f64;
    let mean = paired.iter().map(|p| p.0).sum::<f64>() / n;
    let var = paired.iter().map(|p| (p.0 - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let se = (var / n).sqrt();
    let differ = paired.iter().filter(|p| p.1).count();
    let better = paired.iter().filter(|p| p.0 > 0.0).count();
    let worse = paired.iter().filter(|p| p.0 < 0.0).count();
    println!(
        "   misery rule − plain average: {mean:+.4} ± {se:.4} (standard error); the top 10 differ in {differ} groups: more hits in {better}, fewer in {worse}"
    );
    json!({
        "groups": counted, "without_held_out": empty, "size": 3, "rules": out,
        "misery_minus_average": { "mean": round(mean, 4), "se": round(se, 4),
            "lists_differ": differ, "more_hits": better, "fewer_hits": worse },
    })
}

// ------------------------------------------------------------------------------------- scale

/// The generated graph: every person's films with their weights, as `Signals` and per person.
struct World {
    signals: Signals,
    /// Where each person's entries start in `signals.entries` (one more: the end).
    starts: Vec<usize>,
}

impl World {
    fn generate(args: &Args) -> Result<Self> {
        if args.wants + args.likes > args.films / 2 {
            return Err("--wants + --likes may be at most half of --films".into());
        }
        let mut rng = StdRng::seed_from_u64(args.seed);
        let mut order: Vec<u32> = (0..args.films as u32).collect();
        order.shuffle(&mut rng);
        let weights = (1..=args.films).map(|r| 1.0 / (r as f64 + args.zipf_q).powf(args.zipf_s));
        let popularity = WeightedIndex::new(weights)?;
        // film → (the person who last drew it + 1, where it is in their list)
        let mut mark = vec![(0u32, 0u32); args.films];
        let mut entries = Vec::with_capacity(args.people * (args.wants + args.likes));
        let mut starts = Vec::with_capacity(args.people + 1);
        for person in 0..args.people as u32 {
            let start = entries.len();
            starts.push(start);
            for (count, weight) in [(args.wants, 0.5f32), (args.likes, 1.0)] {
                let mut drawn = 0;
                while drawn < count {
                    let film = order[popularity.sample(&mut rng)];
                    let (who, at) = mark[film as usize];
                    if who == person + 1 {
                        let entry: &mut (u32, u32, f32) = &mut entries[start + at as usize];
                        if entry.2 < weight {
                            // a wanted film also liked: one entry, the like
                            entry.2 = weight;
                            drawn += 1;
                        }
                        continue;
                    }
                    mark[film as usize] = (person + 1, (entries.len() - start) as u32);
                    entries.push((person, film, weight));
                    drawn += 1;
                }
            }
        }
        starts.push(entries.len());
        Ok(Self {
            signals: Signals {
                people: args.people,
                films: args.films,
                entries,
            },
            starts,
        })
    }

    /// The signals for the `limit` most popular films only (by the sum of their weights, ties
    /// by number, as `kino_recs::build` orders them).
    fn most_popular(&self, limit: usize) -> Signals {
        let mut popularity = vec![0f32; self.signals.films];
        for &(_, film, weight) in &self.signals.entries {
            popularity[film as usize] += weight;
        }
        let mut order: Vec<u32> = (0..self.signals.films as u32).collect();
        order.sort_by(|&a, &b| {
            popularity[b as usize]
                .total_cmp(&popularity[a as usize])
                .then(a.cmp(&b))
        });
        let mut keep = vec![false; self.signals.films];
        for &film in order.iter().take(limit) {
            keep[film as usize] = true;
        }
        Signals {
            entries: self
                .signals
                .entries
                .iter()
                .copied()
                .filter(|e| keep[e.1 as usize])
                .collect(),
            ..self.signals
        }
    }

    fn history(&self, person: usize) -> Vec<(u32, f32)> {
        self.signals.entries[self.starts[person]..self.starts[person + 1]]
            .iter()
            .map(|&(_, f, w)| (f, w))
            .collect()
    }
}

/// The scale part. Each measurement runs in a fresh process (this binary again, with `--child`)
/// that generates the same graph, so its peak memory is its own and not what an earlier step
/// left in the allocator.
fn scale(args: &Args) -> Result<Value> {
    let defaults = Settings::default();
    let mut limits = args.dense_limits.clone();
    limits.push(defaults.dense_limit);
    limits.sort_unstable();
    limits.dedup();
    println!(
        "\n== scale: {} films, {} people × {} wanted (0.5) + {} liked (1.0), popularity 1/(rank + {})^{} (seed {})",
        args.films, args.people, args.wants, args.likes, args.zipf_q, args.zipf_s, args.seed
    );
    let exe = std::env::current_exe()?;
    let run = |job: &str| -> Result<Value> {
        let output = std::process::Command::new(&exe)
            .args(["--child", job])
            .args(["--seed", &args.seed.to_string()])
            .args(["--films", &args.films.to_string()])
            .args(["--people", &args.people.to_string()])
            .args(["--wants", &args.wants.to_string()])
            .args(["--likes", &args.likes.to_string()])
            .args(["--zipf-s", &args.zipf_s.to_string()])
            .args(["--zipf-q", &args.zipf_q.to_string()])
            .args(["--samples", &args.samples.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()?;
        if !output.status.success() {
            return Err(format!("the {job} step ended with {}", output.status).into());
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let last = text
            .lines()
            .last()
            .ok_or_else(|| format!("the {job} step said nothing"))?;
        Ok(serde_json::from_str(last)?)
    };
    let num = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN);

    let knn = run("knn")?;
    println!(
        "   {} signals ({:.0} MB resident with the data); item-kNN alone, every film, k {}: {:.1} s, peak +{:.0} MB",
        knn["signals"],
        num(&knn, "rss_data_mb"),
        defaults.neighbours,
        num(&knn, "seconds"),
        num(&knn, "peak_extra_mb")
    );
    println!(
        "{:>11} {:>24} {:>9} {:>11}   {:>20} {:>11}",
        "dense limit", "build (Kino)", "seconds", "peak +MB", "EASE part alone: s", "peak +MB"
    );
    let mut builds = Vec::new();
    let mut scoring = Value::Null;
    for &limit in &limits {
        let ease = run(&format!("ease:{limit}"))?;
        let build = run(&format!("build:{limit}"))?;
        println!(
            "{limit:>11} {:>24} {:>9.1} {:>11.0}   {:>20.1} {:>11.0}{}",
            build["method"].as_str().unwrap_or("?"),
            num(&build, "seconds"),
            num(&build, "peak_extra_mb"),
            num(&ease, "seconds"),
            num(&ease, "peak_extra_mb"),
            if limit == defaults.dense_limit {
                "   ← default"
            } else {
                ""
            }
        );
        if limit == defaults.dense_limit {
            scoring = build["score"].clone();
        }
        builds.push(json!({ "dense_limit": limit, "build": build, "ease_alone": ease }));
    }
    println!(
        "   scoring one person with the default model (history ~{:.0} films × {} neighbours, top 20), {} people: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        num(&scoring, "history_avg"),
        defaults.neighbours,
        scoring["people"],
        num(&scoring, "p50_ms"),
        num(&scoring, "p99_ms"),
        num(&scoring, "max_ms")
    );
    Ok(json!({
        "films": args.films, "people": args.people, "wants": args.wants, "likes": args.likes,
        "knn": knn, "builds": builds, "score": scoring,
    }))
}

/// One step of the scale part (`--child knn`, `ease:N` or `build:N`), measured in this process;
/// prints its figures as one JSON line.
fn child(job: &str, args: &Args) -> Result {
    let defaults = Settings::default();
    let world = World::generate(args)?;
    let signals_count = world.signals.entries.len();
    let (kind, limit) = match job.split_once(':') {
        Some((kind, limit)) => (kind, limit.parse::<usize>()?),
        None => (job, defaults.dense_limit),
    };
    let settings = Settings {
        dense_limit: limit,
        ..defaults
    };
    let mut figures = match kind {
        "knn" => measured(|| model::knn(&world.signals, defaults.neighbours, defaults.shrink)).1,
        "ease" => {
            // EASE alone: the same people's signals for the `limit` most popular films only,
            // so the build has no tail and runs no kNN.
            let dense = world.most_popular(limit);
            drop(world);
            let (model, mut figures) = measured(|| model::build(&dense, &settings));
            figures["method"] = method_name(model.method).into();
            figures
        }
        "build" => {
            let (model, mut figures) = measured(|| model::build(&world.signals, &settings));
            figures["method"] = method_name(model.method).into();
            if limit == defaults.dense_limit {
                figures["score"] = score_people(&world, &model, args);
            }
            figures
        }
        _ => return Err(format!("unknown step {job}").into()),
    };
    figures["job"] = job.into();
    figures["signals"] = signals_count.into();
    println!("{figures}");
    Ok(())
}

/// Runs `job` once: its wall time, and its peak resident memory above what the process held
/// before (the data it reads), from /proc/self/status.
fn measured<T>(job: impl FnOnce() -> T) -> (T, Value) {
    let data = status_mb("VmRSS");
    // Resets VmHWM to the current RSS (Linux ≥ 4.0), so the peak is this job's.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let hwm_before = status_mb("VmHWM");
    let started = Instant::now();
    let result = job();
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_mb("VmHWM");
    let figures = json!({
        "seconds": round(seconds, 2), "rss_data_mb": round(data, 1),
        "hwm_before_mb": round(hwm_before, 1), "hwm_after_mb": round(peak, 1),
        "peak_extra_mb": round(peak - data, 1), "peak_reset": reset,
    });
    (result, figures)
}

fn method_name(method: Method) -> String {
    match method {
        Method::Empty => "empty".to_string(),
        Method::Ease { films } => format!("EASE {films}"),
        Method::EaseAndKnn { dense, tail } => format!("EASE {dense} + kNN {tail}"),
    }
}

/// Times `kino_recs::score` for random people over the default model, one at a time.
fn score_people(world: &World, model: &kino_recs::Model, args: &Args) -> Value {
    let neighbours = neighbour_map(&model.neighbours);
    let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(2));
    let people: Vec<usize> = (0..args.samples)
        .map(|_| rand::Rng::gen_range(&mut rng, 0..args.people))
        .collect();
    let warmup = 100.min(people.len() / 10);
    let mut times: Vec<Duration> = Vec::with_capacity(people.len());
    let mut returned = 0usize;
    let mut history_len = 0usize;
    for (i, &person) in people.iter().enumerate() {
        let history = world.history(person);
        let skip: HashSet<u32> = history.iter().map(|e| e.0).collect();
        let started = Instant::now();
        let ranked = score(&history, &neighbours, &skip, 20);
        let elapsed = started.elapsed();
        // The first ones warm the caches and are not recorded.
        if i >= warmup {
            times.push(elapsed);
        }
        returned += ranked.len();
        history_len += history.len();
    }
    times.sort_unstable();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let n = people.len().max(1) as f64;
    json!({
        "people": times.len(), "warmup": warmup, "limit": 20,
        "p50_ms": round(at(0.5), 4), "p99_ms": round(at(0.99), 4), "max_ms": round(at(1.0), 4),
        "returned_avg": round(returned as f64 / n, 1), "history_avg": round(history_len as f64 / n, 1),
    })
}

// ------------------------------------------------------------------------------------ helpers

/// A field of /proc/self/status in MB (`VmRSS`, `VmHWM`), 0 where there is none.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn load() -> Vec<String> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .map(str::to_owned)
        .collect()
}

fn round(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

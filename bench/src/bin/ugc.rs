//! The user-generated-content mix (issue 3): many users browsing a large catalog, opening film
//! pages, toggling "Want to watch", liking films and reporting playback progress, against the
//! release server on a fresh database — through the server functions a hydrated page calls, and
//! as whole server-rendered pages a browser loads (Home, a film, the catalog with a search,
//! asked for with a browser's User-Agent and `Accept-Encoding: br, gzip`, so they are counted as
//! page views). Prints requests/s and p50/p99/max latency per kind.
//!
//! Closed loop (the default): `--concurrency` virtual users each send a request, wait for the
//! answer and send the next at once, so the numbers are the most the server answers at that
//! concurrency. Open loop (`--rate N`): the virtual users share a schedule of N requests/s and
//! latency counts from when a request was due, so a server that falls behind shows it.

use clap::Parser;
use kino_bench::database::FreshDatabase;
use kino_bench::server::{self, Server};
use kino_bench::stats::Recorder;
use kino_bench::{api, Result};
use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::{Client, StatusCode};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Kino's UGC load mix: catalog, film pages, Want to watch, likes, progress")]
struct Args {
    /// The server binary [default: $CARGO_TARGET_DIR/release/kino].
    #[arg(long, env = "KINO_BIN")]
    kino_bin: Option<PathBuf>,
    /// The built site [default: $KINO_SITE_ROOT or target/site].
    #[arg(long)]
    site_root: Option<PathBuf>,
    /// `sqlite` for a fresh temporary SQLite file, or a PostgreSQL URL where a fresh database
    /// `kino_bench_<random>` is created (and dropped afterwards), e.g.
    /// postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, default_value = "sqlite")]
    database_url: String,
    /// Films put straight into the catalog table before the run.
    #[arg(long, default_value_t = 5_000)]
    films: usize,
    /// Accounts registered through the API before the run (argon2: about 50 ms of CPU each).
    #[arg(long, default_value_t = 200)]
    users: usize,
    /// How many registrations run at once.
    #[arg(long, default_value_t = 4)]
    register_concurrency: usize,
    /// Virtual users sending requests at once during the run.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per second to send on a fixed schedule (open loop); 0 sends as fast as the
    /// answers come (closed loop).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds of unmeasured load before the measured run.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seed of the random catalog and request mix.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A flag for the server, repeated for more: `--kino-arg=--no-analytics` measures the mix
    /// without analytics.
    #[arg(long = "kino-arg", allow_hyphen_values = true)]
    kino_args: Vec<String>,
}

/// The kinds of request, in the order of `MIX` and of the result table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Catalog,
    Film,
    Want,
    Like,
    Progress,
    Page,
}

/// How often each kind is sent, in percent.
const MIX: [(Kind, u32); 6] = [
    (Kind::Catalog, 35),
    (Kind::Film, 20),
    (Kind::Want, 10),
    (Kind::Like, 10),
    (Kind::Progress, 15),
    (Kind::Page, 10),
];

/// What a browser sends for a page.
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Catalog => "catalog",
            Kind::Film => "film",
            Kind::Want => "want",
            Kind::Like => "like",
            Kind::Progress => "progress",
            Kind::Page => "page",
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            Kind::Catalog => "films",
            Kind::Film => "film",
            Kind::Want => "watchlist/set",
            Kind::Like => "films/react",
            Kind::Progress => "playback/event",
            Kind::Page => "",
        }
    }

    /// The form a browser would send for this kind of request.
    fn form(self, rng: &mut StdRng, films: &[BenchFilm]) -> Vec<(&'static str, String)> {
        let film = films.choose(rng).expect("the catalog is not empty");
        match self {
            Kind::Catalog => catalog_query(rng),
            // The path of a whole page: a film's most often, Home, or the catalog with a search.
            Kind::Page => {
                let path = match rng.gen_range(0..10) {
                    0..=5 => format!("/films/{}", film.id),
                    6..=7 => "/".to_owned(),
                    _ => {
                        let word: &str = WORDS_EN.choose(rng).expect("words");
                        format!("/films?q={word}")
                    }
                };
                vec![("path", path)]
            }
            Kind::Film => vec![("id", film.id.clone())],
            Kind::Want => vec![
                ("film_id", film.id.clone()),
                ("want", rng.gen_bool(0.6).to_string()),
            ],
            Kind::Like => {
                let reaction = [("like", 6), ("dislike", 2), ("none", 2)]
                    .choose_weighted(rng, |(_, w)| *w)
                    .expect("constant weights")
                    .0;
                vec![("film_id", film.id.clone()), ("reaction", reaction.into())]
            }
            Kind::Progress => {
                let kind = [("progress", 85), ("pause", 5), ("seek", 5), ("open", 5)]
                    .choose_weighted(rng, |(_, w)| *w)
                    .expect("constant weights")
                    .0;
                let position = rng.gen_range(0.0..film.duration_secs);
                vec![
                    ("film_id", film.id.clone()),
                    ("kind", kind.into()),
                    ("position", format!("{position:.1}")),
                    ("duration", format!("{:.1}", film.duration_secs)),
                ]
            }
        }
    }
}

/// A catalog page as people ask for it: mostly the first page, sometimes a search (English or
/// Russian, often a partly typed word), sometimes a genre, the default sort more often than not.
fn catalog_query(rng: &mut StdRng) -> Vec<(&'static str, String)> {
    let q = if rng.gen_bool(0.4) {
        let words = if rng.gen_bool(0.7) {
            WORDS_EN
        } else {
            WORDS_RU
        };
        let word: &str = words.choose(rng).expect("word lists are not empty");
        if rng.gen_bool(0.5) {
            word.chars().take(4).collect()
        } else {
            word.to_owned()
        }
    } else {
        String::new()
    };
    let genre = if rng.gen_bool(0.3) {
        GENRES.choose(rng).expect("genres").to_string()
    } else {
        String::new()
    };
    let sort = *[("year_desc", 6), ("year_asc", 2), ("title", 2)]
        .choose_weighted(rng, |(_, w)| *w)
        .expect("constant weights");
    let page = if rng.gen_bool(0.7) {
        1
    } else {
        rng.gen_range(2..=5)
    };
    vec![
        ("query[q]", q),
        ("query[genre]", genre),
        ("query[sort]", sort.0.into()),
        ("query[page]", page.to_string()),
    ]
}

// The catalog's genres (app/src/catalog/domain.rs).
const GENRES: &[&str] = &[
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

// Titles are two or three of these words; the same index gives the Russian title's word.
const WORDS_EN: &[&str] = &[
    "silent", "harbor", "night", "river", "glass", "iron", "summer", "winter", "shadow", "garden",
    "station", "mirror", "storm", "letter", "stranger", "city", "road", "wolf", "island", "dream",
    "machine", "house", "forest", "sky",
];
const WORDS_RU: &[&str] = &[
    "тихий",
    "гавань",
    "ночь",
    "река",
    "стекло",
    "железо",
    "лето",
    "зима",
    "тень",
    "сад",
    "вокзал",
    "зеркало",
    "буря",
    "письмо",
    "незнакомец",
    "город",
    "дорога",
    "волк",
    "остров",
    "сон",
    "машина",
    "дом",
    "лес",
    "небо",
];

struct BenchFilm {
    id: String,
    duration_secs: f64,
}

fn capitalized(words: &[&str]) -> String {
    let text = words.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Inserts `count` made-up films (a tenth of them playable) straight into the catalog tables,
/// in one transaction, the way the server's own demo seed does.
async fn seed_films(db: &FreshDatabase, count: usize, rng: &mut StdRng) -> Result<Vec<BenchFilm>> {
    let pool = db.connect(1).await?;
    let mut tx = pool.begin().await?;
    let mut films = Vec::with_capacity(count);
    for i in 0..count {
        let id = format!("bench-{i:05}");
        let picks: Vec<usize> = (0..rng.gen_range(2..=3))
            .map(|_| rng.gen_range(0..WORDS_EN.len()))
            .collect();
        let title_en = capitalized(&picks.iter().map(|&w| WORDS_EN[w]).collect::<Vec<_>>());
        let title_ru = capitalized(&picks.iter().map(|&w| WORDS_RU[w]).collect::<Vec<_>>());
        let genre_count = rng.gen_range(1..=3);
        let genres: Vec<&str> = GENRES.choose_multiple(rng, genre_count).copied().collect();
        let duration_secs = rng.gen_range(70..=180) * 60;
        let description = (0..30)
            .map(|_| *WORDS_EN.choose(rng).expect("words"))
            .collect::<Vec<_>>()
            .join(" ");
        sqlx::query(
            "INSERT INTO films (id, title_en, title_ru, original_title, search_text, year, genres, \
             countries, director, description_en, description_ru, duration_secs, poster_color, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(&title_en)
        .bind(&title_ru)
        .bind(&title_en)
        .bind(format!("{title_en} {title_ru} {title_en}").to_lowercase())
        .bind(rng.gen_range(1920..=2025_i64))
        .bind(format!(",{},", genres.join(",")))
        .bind(*["US", "FR", "DE", "RU", "JP", "IT", "GB"].choose(rng).expect("countries"))
        .bind(format!("Director {}", i % 700))
        .bind(&description)
        .bind(&description)
        .bind(duration_secs)
        .bind(format!("#{:06x}", rng.gen_range(0..0x100_0000)))
        .bind(0_i64)
        .execute(&mut *tx)
        .await?;
        if i % 10 == 0 {
            sqlx::query(
                "INSERT INTO renditions (id, film_id, url, container, width, height) \
                 VALUES ($1, $2, '/media/bench.mp4', 'mp4', 1280, 720)",
            )
            .bind(format!("{id}-720p"))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
        films.push(BenchFilm {
            id,
            duration_secs: duration_secs as f64,
        });
    }
    tx.commit().await?;
    pool.close().await;
    Ok(films)
}

/// Registers `count` accounts through the API, `concurrency` at a time; each keeps its client
/// (cookie jar and session). Returns the clients and the registration latencies.
async fn register_users(
    base: &str,
    count: usize,
    concurrency: usize,
) -> Result<(Vec<Client>, Recorder)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (next, base) = (next.clone(), base.to_owned());
        workers.spawn(async move {
            let mut done = Vec::new();
            let mut recorder = Recorder::new(&["register"]);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, api::CallError>((done, recorder));
                }
                let client = api::browser();
                let form = [
                    ("username", format!("bench_{i:05}")),
                    ("display_name", format!("Bench user {i}")),
                    ("password", "bench-password".to_owned()),
                ];
                let started = Instant::now();
                api::call(&client, &base, "register", &form).await?;
                recorder.ok(0, started.elapsed());
                done.push((i, client));
            }
        });
    }
    let mut clients = Vec::with_capacity(count);
    let mut recorder = Recorder::new(&["register"]);
    while let Some(worker) = workers.join_next().await {
        let (done, latencies) = worker?.map_err(|e| format!("registration failed: {e}"))?;
        clients.extend(done);
        recorder.merge(&latencies);
    }
    clients.sort_by_key(|(i, _)| *i);
    Ok((clients.into_iter().map(|(_, c)| c).collect(), recorder))
}

/// Sends one request of `kind` as `user`: a server function, or a whole page as a browser loads
/// it (its HTML, compressed).
async fn send(
    user: &Client,
    base: &str,
    kind: Kind,
    form: &[(&'static str, String)],
) -> std::result::Result<(), api::CallError> {
    if kind != Kind::Page {
        return api::call(user, base, kind.endpoint(), form).await.map(drop);
    }
    let path = form.first().map_or("/", |(_, p)| p.as_str());
    let failed = |status: Option<StatusCode>, message: String| api::CallError { status, message };
    let res = user
        .get(format!("{base}{path}"))
        .header("user-agent", FIREFOX)
        .header("accept", "text/html")
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .map_err(|e| failed(None, e.to_string()))?;
    let status = res.status();
    let body = res
        .bytes()
        .await
        .map_err(|e| failed(Some(status), e.to_string()))?;
    if status != StatusCode::OK || body.is_empty() {
        return Err(failed(Some(status), format!("GET {path}: {status}")));
    }
    Ok(())
}

/// Sends one request of each kind; a kind whose endpoint the server does not have (the HTML
/// 404 page rather than a JSON error) is left out of the mix with a note.
async fn available_kinds(base: &str, client: &Client, films: &[BenchFilm]) -> Vec<(Kind, u32)> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut kinds = Vec::new();
    for (kind, weight) in MIX {
        let form = kind.form(&mut rng, films);
        match send(client, base, kind, &form).await {
            // A server function's own "not found" is JSON; an unknown endpoint is the HTML 404 page.
            Err(e) if e.status == Some(StatusCode::NOT_FOUND) && e.message.starts_with('<') => {
                println!(
                    "note: the server has no /api/{} yet (404), so `{}` ({weight}%) is left out \
                     of the mix",
                    kind.endpoint(),
                    kind.name()
                );
            }
            Err(e) => {
                println!(
                    "note: a first `{}` request failed ({e}); sending them anyway",
                    kind.name()
                );
                kinds.push((kind, weight));
            }
            Ok(_) => kinds.push((kind, weight)),
        }
    }
    kinds
}

struct Run {
    base: String,
    users: Vec<Client>,
    films: Vec<BenchFilm>,
    kinds: Vec<(Kind, u32)>,
    start: Instant,
    measure_from: Instant,
    until: Instant,
    /// With `--rate`: how often each virtual user sends.
    interval: Option<Duration>,
}

/// Virtual user number `index` of `of`: picks a kind by weight and a random account, sends,
/// waits for the answer, then sends again at once or, with a rate, when the next one is due.
/// Requests due before `measure_from` warm up and are not recorded.
async fn virtual_user(run: Arc<Run>, index: usize, of: usize, seed: u64) -> Recorder {
    let mut rng = StdRng::seed_from_u64(seed);
    let weights = WeightedIndex::new(run.kinds.iter().map(|(_, w)| *w)).expect("some weight");
    let mut recorder = Recorder::new(&MIX.map(|(k, _)| k.name()));
    // Spread the virtual users' schedules evenly over one interval.
    let mut due = run
        .interval
        .map(|i| run.start + i.mul_f64(index as f64 / of as f64));
    loop {
        let started = match (&mut due, run.interval) {
            (Some(due), Some(interval)) => {
                tokio::time::sleep_until((*due).into()).await;
                let started = *due;
                *due += interval;
                started
            }
            _ => Instant::now(),
        };
        if started >= run.until {
            return recorder;
        }
        let kind = run.kinds[weights.sample(&mut rng)].0;
        let user = run.users.choose(&mut rng).expect("some users");
        let form = kind.form(&mut rng, &run.films);
        let result = send(user, &run.base, kind, &form).await;
        if started < run.measure_from {
            continue;
        }
        match result {
            Ok(_) => recorder.ok(kind as usize, started.elapsed()),
            Err(e) => recorder.error(kind as usize, || e.to_string()),
        }
    }
}

fn cores(cpu: Option<f64>, seconds: f64) -> String {
    cpu.map_or("?".into(), |c| format!("{:.2}", c / seconds))
}

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    let binary = args.kino_bin.clone().unwrap_or_else(server::default_binary);
    let site_root = args
        .site_root
        .clone()
        .unwrap_or_else(server::default_site_root);
    let postgres = (!args.database_url.starts_with("sqlite")).then_some(args.database_url.as_str());
    let db = FreshDatabase::create(postgres).await?;
    let outcome = bench(&args, &binary, &site_root, &db).await;
    db.remove().await?;
    outcome
}

async fn bench(
    args: &Args,
    binary: &std::path::Path,
    site_root: &std::path::Path,
    db: &FreshDatabase,
) -> Result {
    let pace = if args.rate > 0.0 {
        format!("open loop at {} req/s", args.rate)
    } else {
        "closed loop".to_owned()
    };
    println!(
        "Kino UGC mix on {}: {} films, {} users, {} virtual users ({pace}), {} s warm-up + {} s \
         measured",
        db.kind(),
        args.films,
        args.users,
        args.concurrency,
        args.warmup,
        args.duration
    );
    let server = Server::start_with(binary, site_root, db.url(), &args.kino_args).await?;
    if !args.kino_args.is_empty() {
        println!("server flags: {}", args.kino_args.join(" "));
    }
    println!("server {} (pid {:?})", server.url, server.pid());
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        // Other work on the machine steals CPU from both sides: say how busy it was.
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("load average before the run: {}", load.join(" "));
    }

    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let films = seed_films(db, args.films.max(1), &mut rng).await?;
    println!(
        "seeded {} films in {:.1} s",
        films.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (users, registrations) =
        register_users(&server.url, args.users.max(1), args.register_concurrency).await?;
    let took = started.elapsed();
    let register = registrations.kind(0);
    println!(
        "registered {} users in {:.1} s ({:.0}/s, {} at a time; p50 {:.0} ms, p99 {:.0} ms)",
        users.len(),
        took.as_secs_f64(),
        users.len() as f64 / took.as_secs_f64(),
        args.register_concurrency,
        register.millis(0.5),
        register.millis(0.99),
    );

    let kinds = available_kinds(&server.url, &users[0], &films).await;
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let concurrency = args.concurrency.max(1);
    let run = Arc::new(Run {
        base: server.url.clone(),
        users,
        films,
        kinds,
        start,
        measure_from,
        until: measure_from + Duration::from_secs(args.duration),
        interval: (args.rate > 0.0)
            .then(|| Duration::from_secs_f64(concurrency as f64 / args.rate)),
    });
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let seed = args.seed.wrapping_mul(1000) + i as u64;
        workers.spawn(virtual_user(run.clone(), i, concurrency, seed));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let (server_cpu, own_cpu) = (server.cpu_seconds(), server::own_cpu_seconds());
    let mut recorder = Recorder::new(&MIX.map(|(k, _)| k.name()));
    while let Some(worker) = workers.join_next().await {
        recorder.merge(&worker?);
    }
    let elapsed = measure_from.elapsed();
    let server_cpu = server.cpu_seconds().zip(server_cpu).map(|(b, a)| b - a);
    let own_cpu = server::own_cpu_seconds().zip(own_cpu).map(|(b, a)| b - a);
    println!();
    recorder.print_table(elapsed);
    println!(
        "\nmeasured {:.1} s; CPU cores busy: server {}, load generator {} (of {})",
        elapsed.as_secs_f64(),
        cores(server_cpu, elapsed.as_secs_f64()),
        cores(own_cpu, elapsed.as_secs_f64()),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    // CPU time per answer depends much less on what else the machine runs than req/s does.
    let answered = recorder.total().count();
    let cpu_per_request = server_cpu
        .filter(|_| answered > 0)
        .map(|cpu| cpu * 1000.0 / answered as f64);
    if let Some(ms) = cpu_per_request {
        println!("server CPU per answered request: {ms:.2} ms");
    }
    let total = recorder.total();
    println!(
        "{}",
        serde_json::json!({
            "bench": "ugc",
            "seconds": elapsed.as_secs_f64(),
            "answered": answered,
            "req_per_s": answered as f64 / elapsed.as_secs_f64(),
            "p50_ms": total.millis(0.5),
            "p99_ms": total.millis(0.99),
            "max_ms": total.millis(1.0),
            "errors": total.errors,
            "server_cpu_ms_per_request": cpu_per_request,
            "server_flags": args.kino_args,
        })
    );
    server.stop().await
}

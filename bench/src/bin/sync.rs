//! Sync accuracy (issue 6): N headless Chromium pages in one room; a driver presses random
//! plays, pauses and seeks in random pages; every page logs its `<video>` position against the
//! machine's clock (one clock for every page, so no estimate is involved in the measurement) and
//! the benchmark prints the spread of positions between pages: p50/p95/max, in ms.
//!
//! Then `--switches` changes of film (issue 22): the first page adds a film to the room's queue
//! and presses "Play now"; the benchmark prints when each page's new film started (spread
//! between pages, and how long after the press) and the position spread after it.
//!
//! `--delay-ms`/`--jitter-ms` put a delaying TCP proxy of its own between the browsers and the
//! server (each direction, every chunk: delay + uniform jitter, order kept), as a slow link.
//!
//!   cargo make bench-sync                               # loopback
//!   cargo make bench-sync -- --delay-ms 40 --jitter-ms 20

use clap::Parser;
use end2end::{Browser, Server};
use kino_bench::Result;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser, Debug)]
struct Args {
    /// Browser pages in the room.
    #[arg(long, default_value_t = 3)]
    pages: usize,
    /// Random commands (play, pause, seek) to press.
    #[arg(long, default_value_t = 24)]
    commands: usize,
    /// Time between commands, in ms.
    #[arg(long, default_value_t = 4000)]
    every_ms: u64,
    /// One-way delay the proxy adds, in ms (0: no proxy).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Uniform jitter on top of the delay, in ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Changes of film through the queue after the commands (0: none).
    #[arg(long, default_value_t = 3)]
    switches: usize,
}

/// One page's log: (machine clock ms, position ms, paused, which film file plays).
type Log = Vec<(f64, f64, bool, String)>;

/// The films a switch puts on, in turn (the room starts with Metropolis), and their titles as
/// "Find a film" lists them.
const NEXT_FILMS: [(&str, &str, &str); 4] = [
    ("nosferatu-1922", "Nosferatu", "Nosferatu (1922)"),
    ("the-general-1926", "The General", "The General (1926)"),
    (
        "night-of-the-living-dead-1968",
        "Night of the Living Dead",
        "Night of the Living Dead (1968)",
    ),
    ("metropolis-1927", "Metropolis", "Metropolis (1927)"),
];

/// Logged in every page: the video's position and the machine's clock, 20 times a second.
const RECORDER: &str = "
    window.__syncLog = [];
    setInterval(() => {
        const v = document.querySelector('video.room-video');
        if (v && v.readyState >= 1) {
            const file = (v.currentSrc || '').split('/').pop();
            window.__syncLog.push([performance.timeOrigin + performance.now(), v.currentTime * 1000, v.paused, file]);
        }
    }, 50);";

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);

    // The server, and in front of it the proxy when a slow link is asked for.
    let proxy = if args.delay_ms + args.jitter_ms > 0 {
        Some(TcpListener::bind("127.0.0.1:0").await?)
    } else {
        None
    };
    let extra = match &proxy {
        Some(l) => vec![
            "--public-url".to_owned(),
            format!("http://{}", l.local_addr()?),
        ],
        None => vec![],
    };
    let server = Server::start_with(&extra).await?;
    let url = match proxy {
        Some(listener) => {
            let public = format!("http://{}", listener.local_addr()?);
            let upstream = server.url.trim_start_matches("http://").to_owned();
            let (delay, jitter) = (args.delay_ms, args.jitter_ms);
            tokio::spawn(serve_proxy(listener, upstream, delay, jitter));
            public
        }
        None => server.url.clone(),
    };
    println!(
        "sync: {} pages, {} commands every {} ms, link delay {} ms + jitter 0–{} ms",
        args.pages, args.commands, args.every_ms, args.delay_ms, args.jitter_ms
    );

    let mut pages = Vec::new();
    for i in 0..args.pages {
        let b = Browser::start().await?;
        b.goto(&format!("{url}/register")).await?;
        b.wait_hydrated().await?;
        b.fill("Username", &format!("viewer{i}")).await?;
        b.fill("Display name", &format!("Viewer {i}")).await?;
        b.fill("Password", "смотрим вместе").await?;
        b.click_button("Register").await?;
        b.wait_text_in("header", &format!("Viewer {i}")).await?;
        pages.push(b);
    }
    pages[0]
        .goto(&format!("{url}/films/metropolis-1927"))
        .await?;
    pages[0].wait_hydrated().await?;
    pages[0].click_button("Watch together").await?;
    pages[0].click_button("Create room").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    let room = loop {
        let at = pages[0].client.current_url().await?;
        if at.path().starts_with("/r/") {
            break at.to_string();
        }
        if Instant::now() > deadline {
            return Err("the room was not created".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for page in &pages[1..] {
        page.goto(&room).await?;
    }
    for page in &pages {
        page.wait_hydrated().await?;
        page.labelled("Seek").await?;
        page.client.execute(RECORDER, vec![]).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Commands: random page, random kind (play or pause by what the button offers, or a seek).
    // The film is 60 s; seeks stay in its first 40 s.
    let mut commands: Vec<f64> = Vec::new();
    let mut counts = [0usize; 3];
    for n in 0..args.commands {
        let page = &pages[rng.gen_range(0..pages.len())];
        let button = page
            .client
            .find(fantoccini::Locator::Css(".player-controls button.play"))
            .await?;
        let offers_play = button.attr("aria-label").await?.as_deref() == Some("Play");
        let toggle = n == 0
            || if offers_play {
                rng.gen_bool(0.6)
            } else {
                rng.gen_bool(0.3)
            };
        let at = now_ms(page).await?;
        if toggle {
            button.click().await?;
            counts[usize::from(!offers_play)] += 1;
        } else {
            let to = rng.gen_range(2.0..40.0f64);
            let seek = page.labelled("Seek").await?;
            page.client
                .execute(
                    "const s = arguments[0]; s.value = String(arguments[1]);
                     s.dispatchEvent(new Event('change', { bubbles: true }));",
                    vec![serde_json::to_value(&seek)?, serde_json::json!(to)],
                )
                .await?;
            counts[2] += 1;
        }
        commands.push(at);
        tokio::time::sleep(Duration::from_millis(args.every_ms)).await;
    }
    println!(
        "commands: {} play, {} pause, {} seek",
        counts[0], counts[1], counts[2]
    );

    // Changes of film: the first page (the owner) queues a film and presses "Play now".
    let mut switches: Vec<(f64, &str)> = Vec::new();
    if args.switches > 0 {
        let owner = &pages[0];
        owner
            .wait_for("//summary[normalize-space(.)='Add to queue']")
            .await?
            .click()
            .await?;
    }
    for n in 0..args.switches {
        let (film, title, choice) = NEXT_FILMS[n % NEXT_FILMS.len()];
        let owner = &pages[0];
        owner.fill("Find a film", title).await?;
        owner.click_button(choice).await?;
        let play_now = owner.labelled(&format!("Play {title} now")).await?;
        let at = now_ms(owner).await?;
        play_now.click().await?;
        switches.push((at, film));
        tokio::time::sleep(Duration::from_millis(args.every_ms.max(6000))).await;
    }

    let mut logs = Vec::new();
    for page in &pages {
        let raw = page
            .client
            .execute("return window.__syncLog;", vec![])
            .await?;
        let log: Log = raw
            .as_array()
            .ok_or("no log")?
            .iter()
            .filter_map(|s| {
                let s = s.as_array()?;
                Some((
                    s[0].as_f64()?,
                    s[1].as_f64()?,
                    s[2].as_bool()?,
                    s[3].as_str()?.to_owned(),
                ))
            })
            .collect();
        logs.push(log);
    }
    for page in pages {
        page.close().await?;
    }

    let mut figures = serde_json::Map::new();
    for settle in [1000.0, 3000.0] {
        let until = switches.first().map_or(f64::MAX, |(t, _)| *t);
        let spreads = spreads(&logs, &commands, settle, None, until);
        let name = format!("spread_{}s", settle / 1000.0);
        figures.insert(name, stats_json(&spreads));
        print_stats(
            &format!(
                "position spread between pages ≥ {} s after a command",
                settle / 1000.0
            ),
            spreads,
        );
    }
    if !switches.is_empty() {
        let (start_spreads, delays) = switch_starts(&logs, &switches);
        figures.insert("switch_start_spread".into(), stats_json(&start_spreads));
        figures.insert("switch_start_after".into(), stats_json(&delays));
        print_stats("change of film: start spread between pages", start_spreads);
        print_stats("change of film: start after the press", delays);
        let times: Vec<f64> = switches.iter().map(|(t, _)| *t).collect();
        let after = spreads(&logs, &times, 4000.0, Some(&switches), f64::MAX);
        figures.insert("switch_spread_4s".into(), stats_json(&after));
        print_stats(
            "change of film: position spread ≥ 4 s after the press",
            after,
        );
    }
    println!("{}", serde_json::Value::Object(figures));
    Ok(())
}

/// For each change of film: when each page's new film started (the machine's time of its
/// first sample playing the new file, less the position it had reached), the spread of those
/// instants between pages, and how long after the press the last page started. A page that
/// never played the new film fails the benchmark.
fn switch_starts(logs: &[Log], switches: &[(f64, &str)]) -> (Vec<f64>, Vec<f64>) {
    let (mut spreads, mut delays) = (Vec::new(), Vec::new());
    for &(pressed, film) in switches {
        let starts: Vec<f64> = logs
            .iter()
            .filter_map(|log| {
                log.iter()
                    .find(|(t, p, paused, file)| {
                        *t > pressed && !paused && *p > 0.0 && file.starts_with(film)
                    })
                    .map(|(t, p, _, _)| t - p)
            })
            .collect();
        if starts.len() < logs.len() {
            println!(
                "change to {film}: only {} of {} pages played it",
                starts.len(),
                logs.len()
            );
            continue;
        }
        let max = starts.iter().cloned().fold(f64::MIN, f64::max);
        let min = starts.iter().cloned().fold(f64::MAX, f64::min);
        spreads.push(max - min);
        delays.push(max - pressed);
    }
    (spreads, delays)
}

/// p50/p95/max of a figure, for the JSON line.
fn stats_json(values: &[f64]) -> serde_json::Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
    };
    serde_json::json!({
        "samples": v.len(),
        "p50_ms": pick(0.5),
        "p95_ms": pick(0.95),
        "max_ms": v.last().copied(),
    })
}

async fn now_ms(page: &Browser) -> Result<f64> {
    Ok(page
        .client
        .execute("return performance.timeOrigin + performance.now();", vec![])
        .await?
        .as_f64()
        .unwrap_or(0.0))
}

/// At each of the first page's samples taken at least `settle` ms after the last command: every
/// page's position at that instant (its nearest sample, moved on at speed 1 if playing), and
/// the largest difference between two pages. With `films` (the changes of film), only samples
/// of the film the last change put on count. Samples from `until` on are left out.
fn spreads(
    logs: &[Log],
    commands: &[f64],
    settle: f64,
    films: Option<&[(f64, &str)]>,
    until: f64,
) -> Vec<f64> {
    let mut out = Vec::new();
    let Some((first, others)) = logs.split_first() else {
        return out;
    };
    for (t, position, _, file) in first {
        let (t, position) = (*t, *position);
        if t >= until {
            continue;
        }
        let last_command = commands.iter().rev().find(|&&c| c <= t);
        let Some(&last) = last_command else { continue };
        if t - last < settle {
            continue;
        }
        if let Some(films) = films {
            let on = films.iter().rev().find(|(at, _)| *at <= t);
            if !on.is_some_and(|(_, film)| file.starts_with(film)) {
                continue;
            }
        }
        let mut at = vec![position];
        let mut complete = true;
        for log in others {
            let nearest = log
                .iter()
                .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()));
            match nearest {
                Some((t2, p2, paused2, file2)) if (t2 - t).abs() <= 60.0 && file2 == file => {
                    at.push(if *paused2 { *p2 } else { p2 + (t - t2) });
                }
                _ => complete = false,
            }
        }
        if complete {
            let max = at.iter().cloned().fold(f64::MIN, f64::max);
            let min = at.iter().cloned().fold(f64::MAX, f64::min);
            out.push(max - min);
        }
    }
    out
}

fn print_stats(what: &str, mut values: Vec<f64>) {
    if values.is_empty() {
        println!("{what}: no samples");
        return;
    }
    values.sort_by(f64::total_cmp);
    let pick = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: samples {}, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        values.len(),
        pick(0.5),
        pick(0.95),
        pick(0.99),
        values[values.len() - 1]
    );
}

/// Accepts connections and relays each through a slow link to `upstream`.
async fn serve_proxy(listener: TcpListener, upstream: String, delay: u64, jitter: u64) {
    while let Ok((client, _)) = listener.accept().await {
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::join!(
                slow_pipe(cr, sw, delay, jitter),
                slow_pipe(sr, cw, delay, jitter)
            );
        });
    }
}

/// Copies `from` to `to`, delivering every chunk `delay` + up to `jitter` ms after it arrived —
/// never before the chunk ahead of it (TCP keeps order).
async fn slow_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: u64,
    jitter: u64,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut last_due = tokio::time::Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let extra = if jitter > 0 {
            rng.gen_range(0..=jitter)
        } else {
            0
        };
        let due =
            (tokio::time::Instant::now() + Duration::from_millis(delay + extra)).max(last_due);
        last_due = due;
        if tx.send((due, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

//! First load (issue 14): how long a film page takes to become interactive (hydrated) in
//! headless Chromium on a slow link, from a cold cache, and how many bytes the browser fetched.
//!
//! ChromeDriver's network conditions throttle the browser itself (default 1.6 Mbit/s down,
//! 750 kbit/s up, 150 ms latency: a phone on a poor link). Each run is a new browser profile,
//! so nothing is cached. "Interactive" is the moment the page's `<body>` carries
//! `data-hydrated` (set by the WASM once it has taken over the server's HTML), read with
//! `performance.now()` in the page (ms since navigation started), polled every 20 ms.
//!
//!   cargo make bench-first-load
//!   KINO_SITE_ROOT=/path/to/another/site cargo make bench-first-load   # another build

use clap::Parser;
use end2end::{Browser, Server};
use fantoccini::wd::WebDriverCompatibleCommand;
use kino_bench::Result;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Page loads, each in a fresh browser.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Download bandwidth, kbit/s.
    #[arg(long, default_value_t = 1600)]
    down_kbit: u64,
    /// Upload bandwidth, kbit/s.
    #[arg(long, default_value_t = 750)]
    up_kbit: u64,
    /// Added round-trip latency, ms.
    #[arg(long, default_value_t = 150)]
    latency_ms: u64,
    /// The page to load.
    #[arg(long, default_value = "/films/metropolis-1927")]
    path: String,
}

/// ChromeDriver's own command (not W3C): throttle this browser's network.
#[derive(Debug)]
struct NetworkConditions {
    latency_ms: u64,
    down_bytes_per_s: u64,
    up_bytes_per_s: u64,
}

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "network_conditions": {
                "offline": false,
                "latency": self.latency_ms,
                "download_throughput": self.down_bytes_per_s,
                "upload_throughput": self.up_bytes_per_s,
            }
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Polled in the page: hydrated yet, and the page's clock.
const PROBE: &str = "return [!!(document.body && document.body.hasAttribute('data-hydrated')), \
                     performance.now()];";

/// What the page fetched: (name, bytes over the wire), from the resource timing entries.
const FETCHED: &str = "
    const nav = performance.getEntriesByType('navigation')[0];
    const all = [['document', nav ? nav.transferSize : 0]];
    for (const r of performance.getEntriesByType('resource')) {
        all.push([r.name.split('/').pop(), r.transferSize]);
    }
    return all;";

struct Load {
    interactive_ms: f64,
    wasm_bytes: f64,
    total_bytes: f64,
}

async fn load_once(args: &Args, url: &str) -> Result<Load> {
    let browser = Browser::start_configured(|caps| {
        caps.insert("pageLoadStrategy".into(), "none".into());
    })
    .await?;
    browser
        .client
        .issue_cmd(NetworkConditions {
            latency_ms: args.latency_ms,
            down_bytes_per_s: args.down_kbit * 1000 / 8,
            up_bytes_per_s: args.up_kbit * 1000 / 8,
        })
        .await?;
    browser.goto(url).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let interactive_ms = loop {
        let probe = browser.client.execute(PROBE, vec![]).await;
        if let Ok(serde_json::Value::Array(v)) = probe {
            if v.first().and_then(|b| b.as_bool()) == Some(true) {
                break v.get(1).and_then(|t| t.as_f64()).unwrap_or(f64::NAN);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not hydrate within 120 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let fetched = browser.client.execute(FETCHED, vec![]).await?;
    let (mut wasm_bytes, mut total_bytes) = (0.0, 0.0);
    for entry in fetched.as_array().into_iter().flatten() {
        let name = entry.get(0).and_then(|n| n.as_str()).unwrap_or_default();
        let bytes = entry.get(1).and_then(|b| b.as_f64()).unwrap_or(0.0);
        total_bytes += bytes;
        if name.ends_with(".wasm") {
            wasm_bytes += bytes;
        }
    }
    browser.close().await?;
    Ok(Load {
        interactive_ms,
        wasm_bytes,
        total_bytes,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> Result {
    let args = Args::parse();
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let server = Server::start().await?;
    let url = format!("{}{}", server.url, args.path);
    println!(
        "first load of {} ({} runs, cold cache): {} kbit/s down, {} kbit/s up, {} ms latency",
        args.path, args.runs, args.down_kbit, args.up_kbit, args.latency_ms
    );
    let mut loads = Vec::new();
    for run in 1..=args.runs {
        let load = load_once(&args, &url).await?;
        println!(
            "run {run}: interactive after {:.0} ms; fetched {:.0} KB ({:.0} KB of WASM)",
            load.interactive_ms,
            load.total_bytes / 1024.0,
            load.wasm_bytes / 1024.0
        );
        loads.push(load);
    }
    let interactive = median(loads.iter().map(|l| l.interactive_ms).collect());
    let wasm = median(loads.iter().map(|l| l.wasm_bytes).collect());
    let total = median(loads.iter().map(|l| l.total_bytes).collect());
    println!(
        "median: interactive after {interactive:.0} ms; fetched {:.0} KB, of it {:.0} KB WASM",
        total / 1024.0,
        wasm / 1024.0
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "first_load",
            "path": args.path,
            "runs": args.runs,
            "down_kbit": args.down_kbit,
            "latency_ms": args.latency_ms,
            "interactive_ms_median": interactive.round(),
            "wasm_bytes_median": wasm,
            "total_bytes_median": total,
        })
    );
    Ok(())
}

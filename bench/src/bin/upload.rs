//! Resumable uploads (issue 15): a large file (2 GB by default) through `/uploads` to the release
//! server on loopback, in pieces, as the browser sends them. Prints MB/s and the server's memory
//! (resident set, sampled while the file arrives, and its peak) — it must stream to disk, not
//! buffer. Ends with one JSON line.

use clap::Parser;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
struct Args {
    /// The `kino` binary.
    #[arg(long, env = "KINO_BIN", default_value = "target/release/kino")]
    kino: String,
    /// Megabytes to upload.
    #[arg(long, default_value_t = 2000)]
    mb: u64,
    /// Megabytes per PATCH (the browser sends 4).
    #[arg(long, default_value_t = 4)]
    piece_mb: u64,
}

/// A status line of `/proc/<pid>/status` in kB.
fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = tokio::process::Command::new(&args.kino)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-seed",
            "--transcode-workers",
            "0",
        ])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("kino.db").display()))
        .arg("--media-dir")
        .arg(dir.path().join("media"))
        .arg("--max-upload-mb")
        .arg((args.mb + 1).to_string())
        .env("KINO_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (cargo build --release -p kino)",
                args.kino
            )
        });
    let pid = child.id().expect("a pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines
            .next_line()
            .await
            .expect("kino's output")
            .expect("kino started");
        if let Some(url) = line.strip_prefix("Kino is running at ") {
            break url.trim().to_owned();
        }
    };
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/api/register"))
        .form(&[
            ("username", "admin"),
            ("display_name", "Admin"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "registered"
    );

    let total = args.mb * 1_000_000;
    let piece = (args.piece_mb * 1_000_000) as usize;
    let res = client
        .post(format!("{base}/uploads"))
        .header("Upload-Length", total.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "upload created");
    let location = format!("{base}{}", res.headers()["location"].to_str().unwrap());
    let baseline_kb = proc_kb(pid, "VmRSS:");

    // Sample the server's memory while the file arrives.
    let sampling = tokio::spawn(async move {
        let mut peak = 0;
        loop {
            peak = peak.max(proc_kb(pid, "VmRSS:"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            if proc_kb(pid, "VmRSS:") == 0 {
                return peak;
            }
        }
    });
    let data: bytes::Bytes = (0..piece)
        .map(|i| (i * 31 % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let start = Instant::now();
    let mut offset = 0u64;
    while offset < total {
        let len = (total - offset).min(piece as u64) as usize;
        let res = client
            .patch(&location)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(data.slice(..len))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "piece at {offset} taken");
        offset += len as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let during_peak_kb = proc_kb(pid, "VmHWM:");
    sampling.abort();
    let mbps = args.mb as f64 / secs;
    println!(
        "uploaded {} MB in {:.1} s: {:.0} MB/s; server memory {} MB before, peak {} MB (VmHWM), pieces of {} MB",
        args.mb,
        secs,
        mbps,
        baseline_kb / 1024,
        during_peak_kb / 1024,
        args.piece_mb
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "bench": "upload", "mb": args.mb, "piece_mb": args.piece_mb, "seconds": (secs * 10.0).round() / 10.0,
            "mb_per_s": mbps.round(), "rss_before_mb": baseline_kb / 1024, "rss_peak_mb": during_peak_kb / 1024,
            "load": load.split_whitespace().take(3).collect::<Vec<_>>(),
        })
    );
    let _ = child.kill().await;
}

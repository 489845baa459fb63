//! The built `kino` binary as a child process on `127.0.0.1:<free port>`.

use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where `cargo leptos build --release` puts the server and the site, unless told otherwise.
pub fn default_binary() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    Path::new(&target).join("release").join("kino")
}

pub fn default_site_root() -> PathBuf {
    std::env::var("KINO_SITE_ROOT")
        .unwrap_or_else(|_| "target/site".into())
        .into()
}

pub struct Server {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub url: String,
    child: Child,
    _media: tempfile::TempDir,
}

impl Server {
    /// Starts the server without the demo films and waits for its "running" line, which it
    /// prints after the migrations have run.
    pub async fn start(binary: &Path, site_root: &Path, database_url: &str) -> Result<Self> {
        Self::start_with(binary, site_root, database_url, &[]).await
    }

    /// As `start`, with more of the server's flags (say, `--no-analytics`).
    pub async fn start_with(
        binary: &Path,
        site_root: &Path,
        database_url: &str,
        extra: &[String],
    ) -> Result<Self> {
        let media = tempfile::tempdir()?;
        let mut child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0", "--no-seed"])
            // The load generators register thousands of accounts from one address.
            .args(["--registrations-per-hour", "1000000"])
            .args(["--registrations-per-hour-total", "1000000"])
            .arg("--database-url")
            .arg(database_url)
            .arg("--media-dir")
            .arg(media.path())
            .arg("--site-root")
            .arg(site_root)
            .args(extra)
            .env("KINO_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("Kino is running at ") {
                    return Ok::<_, std::io::Error>(Some(url.trim().to_owned()));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|_| "kino did not start within 60 s")??
        .ok_or("kino exited before it was running")?;
        // Keep draining stdout (warnings are logged there) so the server never blocks on a pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            url,
            child,
            _media: media,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&format!("/proc/{}/stat", self.pid()?))
    }

    /// Stops the server and waits until it has gone (and so let go of the database).
    pub async fn stop(mut self) -> Result {
        self.child.kill().await?;
        Ok(())
    }
}

/// CPU seconds (user + system) this process has used so far.
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/self/stat")
}

/// Reads utime and stime from a Linux `/proc/<pid>/stat`; `None` elsewhere.
fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain numbers.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux architecture Kino runs on.
    Some(ticks as f64 / 100.0)
}

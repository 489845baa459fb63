//! Running one ffmpeg command with progress, a stall watchdog and a readable error.
//!
//! ffmpeg is started as
//! `ffmpeg -hide_banner -nostdin -y -loglevel warning -progress pipe:1 -nostats <args>`
//! (through `nice -n N` when asked). Its machine-readable progress on stdout drives the
//! progress callback and the watchdog; its stderr is kept only as a short tail for the
//! error message, so a chatty ffmpeg cannot use unbounded memory.
//!
//! Cancelling is dropping: the child is spawned with `kill_on_drop(true)` and this module
//! spawns no tasks of its own, so dropping the future returned by [`run`] kills ffmpeg.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

/// How many stderr lines are kept for [`FfmpegError::Failed`]. ffmpeg prints the cause
/// last, and 20 lines also cover a few warnings that led up to it.
pub const STDERR_TAIL_LINES: usize = 20;

/// Longest stderr/stdout line kept, in bytes; the rest of a longer line is dropped.
const MAX_LINE: usize = 1024;

/// The default for [`Job::stall_timeout`]: ffmpeg reports progress about twice a second,
/// so two minutes of silence means it is stuck (a hung disk, a blocked input), not slow.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The least silence allowed once the encoding has reached the end (see
/// [`Job::stall_timeout`]).
pub const FINISHING_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The fraction from which the encode counts as finished and the muxer may be rewriting
/// the file. Not 1.0: audio and video rarely end on exactly the source's duration.
const FINISHING_FRACTION: f64 = 0.99;

/// One ffmpeg run.
#[derive(Debug, Clone)]
pub struct Job {
    /// Everything after the fixed leading options: inputs, filters, codecs, output.
    pub args: Vec<OsString>,
    /// Length of the source in seconds, to turn ffmpeg's output time into a fraction.
    /// Zero, negative or not finite means unknown: progress is then only reported at the
    /// end (the final 1.0). The stall watchdog works the same either way, since every
    /// progress line resets it; only the longer [`FINISHING_TIMEOUT`] needs a known
    /// duration, so give one for outputs that are rewritten at the end (`+faststart`).
    pub duration_secs: f64,
    /// If no progress line arrives for this long, ffmpeg is killed and the run fails with
    /// [`FfmpegError::Stalled`].
    ///
    /// Once the output has reached the end of the source, the limit becomes at least
    /// [`FINISHING_TIMEOUT`]: ffmpeg then writes the file's index and, for `+faststart`
    /// MP4 and `cues_to_front` WebM, rewrites the whole file to move the index to the
    /// front, all without progress lines. That takes time in proportion to the file's
    /// size (a minute or more for a multi-gigabyte film on a slow disk).
    pub stall_timeout: Duration,
    /// Run under `nice -n N` (when `nice` is on PATH) so transcodes do not slow down the
    /// web server that shares the machine. `None` runs at normal priority.
    pub niceness: Option<i32>,
}

impl Job {
    /// A job with the [`DEFAULT_STALL_TIMEOUT`] and normal priority.
    pub fn new(args: Vec<OsString>, duration_secs: f64) -> Self {
        Job {
            args,
            duration_secs,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            niceness: None,
        }
    }

    /// Sets [`Job::stall_timeout`].
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Sets [`Job::niceness`] (0 = normal … 19 = lowest priority).
    pub fn niceness(mut self, niceness: i32) -> Self {
        self.niceness = Some(niceness);
        self
    }
}

/// Why an ffmpeg run failed, worded for an admin.
#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    #[error(
        "cannot run ffmpeg: it is not installed or not on PATH (on Debian: apt-get install ffmpeg)"
    )]
    NotInstalled,
    #[error("cannot run ffmpeg: {0}")]
    Spawn(#[source] io::Error),
    #[error("ffmpeg made no progress for {} s and was stopped{}", .after.as_secs_f64(), tail_suffix(.stderr_tail))]
    Stalled {
        after: Duration,
        stderr_tail: String,
    },
    #[error("ffmpeg failed ({}){}", exit_description(.code), tail_suffix(.stderr_tail))]
    Failed {
        /// The exit code, or `None` when ffmpeg was killed by a signal.
        code: Option<i32>,
        /// The last [`STDERR_TAIL_LINES`] lines ffmpeg wrote to stderr.
        stderr_tail: String,
    },
    #[error("lost contact with ffmpeg: {0}")]
    Io(#[source] io::Error),
}

impl FfmpegError {
    /// This error as the detail of another module's error: what ffmpeg itself printed
    /// last when it failed and said why (its own words name the cause), else this
    /// error's sentence (not installed, stalled, killed, failed without a word).
    pub(crate) fn detail(&self) -> String {
        match self {
            FfmpegError::Failed { stderr_tail, .. } if !stderr_tail.is_empty() => {
                stderr_tail.clone()
            }
            other => other.to_string(),
        }
    }
}

fn exit_description(code: &Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_string(),
    }
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// Runs `job`, calling `on_progress` with a fraction in `0.0..=1.0` that only ever rises;
/// after a successful run the last call is exactly `1.0`.
pub async fn run(job: Job, mut on_progress: impl FnMut(f64)) -> Result<(), FfmpegError> {
    let Some(ffmpeg) = find_in_path("ffmpeg") else {
        return Err(FfmpegError::NotInstalled);
    };
    let mut cmd = match job.niceness.map(|n| (n, find_in_path("nice"))) {
        Some((n, Some(nice))) => {
            // `nice` execs ffmpeg, so the child's pid is ffmpeg's and killing it kills ffmpeg.
            let mut cmd = Command::new(nice);
            cmd.arg("-n").arg(n.to_string()).arg(&ffmpeg);
            cmd
        }
        Some((_, None)) => {
            tracing::warn!("`nice` is not on PATH; running ffmpeg at normal priority");
            Command::new(&ffmpeg)
        }
        None => Command::new(&ffmpeg),
    };
    cmd.args(["-hide_banner", "-nostdin", "-y", "-loglevel", "warning"])
        .args(["-progress", "pipe:1", "-nostats"])
        .args(&job.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tracing::debug!(?cmd, "starting ffmpeg");

    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(FfmpegError::NotInstalled),
        Err(e) => return Err(FfmpegError::Spawn(e)),
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        // Cannot happen with Stdio::piped(); the child is killed on drop.
        return Err(FfmpegError::Spawn(io::Error::other(
            "ffmpeg's output pipes are missing",
        )));
    };
    let mut stdout = Some(BufReader::new(stdout));
    let mut stderr = Some(BufReader::new(stderr));
    let mut tail = Tail::new(STDERR_TAIL_LINES);
    let mut progress = Progress::new(job.duration_secs);
    let mut out_line = Vec::new();
    let mut err_line = Vec::new();
    // How long ffmpeg may be silent: `stall_timeout`, longer once the encode is done.
    let mut allowed = job.stall_timeout;
    let deadline = tokio::time::sleep(allowed);
    tokio::pin!(deadline);

    let status = loop {
        tokio::select! {
            line = read_line_capped(stdout.as_mut(), &mut out_line), if stdout.is_some() => {
                match line.map_err(FfmpegError::Io)? {
                    false => stdout = None,
                    true => {
                        if let Some(fraction) = progress.line(&out_line) {
                            on_progress(fraction);
                        }
                        out_line.clear();
                        if progress.last >= FINISHING_FRACTION {
                            allowed = job.stall_timeout.max(FINISHING_TIMEOUT);
                        }
                        deadline.as_mut().reset(Instant::now() + allowed);
                    }
                }
            }
            line = read_line_capped(stderr.as_mut(), &mut err_line), if stderr.is_some() => {
                match line.map_err(FfmpegError::Io)? {
                    false => stderr = None,
                    true => {
                        tail.push(&err_line);
                        err_line.clear();
                    }
                }
            }
            // Only once both pipes are closed, so that no output is lost.
            status = child.wait(), if stdout.is_none() && stderr.is_none() => {
                break status.map_err(FfmpegError::Io)?;
            }
            () = &mut deadline => {
                tracing::warn!(after = ?allowed, "ffmpeg stalled; killing it");
                // kill() also waits, so no zombie is left behind.
                if let Err(e) = child.kill().await {
                    tracing::warn!(error = %e, "could not kill a stalled ffmpeg");
                }
                return Err(FfmpegError::Stalled {
                    after: allowed,
                    stderr_tail: tail.text(),
                });
            }
        }
    };

    if status.success() {
        if let Some(fraction) = progress.finish() {
            on_progress(fraction);
        }
        Ok(())
    } else {
        Err(FfmpegError::Failed {
            code: status.code(),
            stderr_tail: tail.text(),
        })
    }
}

/// Reads one line into `buf` (without the line ending), keeping at most [`MAX_LINE`]
/// bytes of it. Returns `false` at end of file with nothing left in `buf`. Reads bytes,
/// not `String`s, because ffmpeg prints file names and metadata that need not be UTF-8.
///
/// Cancel-safe, as `select!` needs: bytes are appended to `buf` as they are consumed, and
/// only the caller clears `buf`, after it has handled a complete line. So a read that is
/// dropped half-way resumes where it stopped.
///
/// `None` never resolves, which lets a closed pipe sit in a `select!` branch harmlessly.
async fn read_line_capped<R: AsyncBufRead + Unpin>(
    reader: Option<&mut R>,
    buf: &mut Vec<u8>,
) -> io::Result<bool> {
    let Some(reader) = reader else {
        return std::future::pending().await;
    };
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            // A last line without a newline still counts.
            return Ok(!buf.is_empty());
        }
        let (used, content) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, Some(&chunk[..i])),
            None => (chunk.len(), None),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        let part = content.unwrap_or(chunk);
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let done = content.is_some();
        reader.consume(used);
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

/// The last few lines of stderr.
struct Tail {
    lines: VecDeque<String>,
    max: usize,
}

impl Tail {
    fn new(max: usize) -> Self {
        Tail {
            lines: VecDeque::with_capacity(max),
            max,
        }
    }

    fn push(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if self.lines.len() == self.max {
            self.lines.pop_front();
        }
        self.lines.push_back(line.to_string());
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Turns `-progress` lines into a rising fraction of the source's duration.
struct Progress {
    duration_secs: f64,
    /// The last fraction reported, or a negative number before the first.
    last: f64,
}

impl Progress {
    fn new(duration_secs: f64) -> Self {
        Progress {
            duration_secs,
            last: -1.0,
        }
    }

    /// The new fraction to report for this line, if it is higher than the last one.
    fn line(&mut self, line: &[u8]) -> Option<f64> {
        let line = std::str::from_utf8(line).ok()?.trim();
        let (key, value) = line.split_once('=')?;
        let fraction = match key.trim() {
            // In ffmpeg 5.1 both are microseconds (out_time_ms is misnamed).
            "out_time_us" | "out_time_ms" => {
                let micros: i64 = value.trim().parse().ok()?; // "N/A" at the start
                if !(self.duration_secs.is_finite() && self.duration_secs > 0.0) {
                    return None;
                }
                micros as f64 / 1e6 / self.duration_secs
            }
            "progress" if value.trim() == "end" => 1.0,
            _ => return None,
        };
        self.advance(fraction)
    }

    /// The final 1.0, unless it was already reported.
    fn finish(&mut self) -> Option<f64> {
        self.advance(1.0)
    }

    fn advance(&mut self, fraction: f64) -> Option<f64> {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            return None;
        };
        if fraction > self.last {
            self.last = fraction;
            Some(fraction)
        } else {
            None
        }
    }
}

/// The first executable file called `name` in `PATH`, like a shell finds it.
fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_rises_and_clamps() {
        let mut p = Progress::new(10.0);
        assert_eq!(p.line(b"frame=1"), None);
        assert_eq!(p.line(b"out_time_us=N/A"), None);
        assert_eq!(p.line(b"out_time_us=-23000"), Some(0.0));
        assert_eq!(p.line(b"out_time_us=5000000"), Some(0.5));
        assert_eq!(
            p.line(b"out_time_ms=5000000"),
            None,
            "same value is not repeated"
        );
        assert_eq!(p.line(b"out_time_us=4000000"), None, "never goes back");
        assert_eq!(p.line(b"out_time_us=99000000"), Some(1.0), "clamped");
        assert_eq!(p.line(b"progress=end"), None);
        assert_eq!(p.finish(), None);
        assert_eq!(p.line(b"\xff\xfe=garbage"), None);
    }

    #[test]
    fn unknown_duration_reports_only_the_end() {
        let mut p = Progress::new(0.0);
        assert_eq!(p.line(b"out_time_us=5000000"), None);
        assert_eq!(p.line(b"progress=end"), Some(1.0));
        let mut p = Progress::new(f64::NAN);
        assert_eq!(p.line(b"out_time_us=5000000"), None);
        assert_eq!(p.finish(), Some(1.0));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut t = Tail::new(3);
        for i in 0..10 {
            t.push(format!("line {i}").as_bytes());
        }
        t.push(b"   ");
        t.push(b"bad \xff utf8");
        assert_eq!(t.text(), "line 8\nline 9\nbad \u{fffd} utf8");
    }

    #[tokio::test]
    async fn long_lines_are_capped() {
        let mut input = vec![b'a'; 10 * MAX_LINE];
        input.extend_from_slice(b"\r\nshort\nlast");
        let mut reader = BufReader::with_capacity(64, &input[..]);
        let mut buf = Vec::new();
        assert!(read_line_capped(Some(&mut reader), &mut buf)
            .await
            .expect("read"));
        assert_eq!(buf.len(), MAX_LINE);
        buf.clear();
        assert!(read_line_capped(Some(&mut reader), &mut buf)
            .await
            .expect("read"));
        assert_eq!(buf, b"short");
        buf.clear();
        assert!(read_line_capped(Some(&mut reader), &mut buf)
            .await
            .expect("read"));
        assert_eq!(buf, b"last");
        buf.clear();
        assert!(!read_line_capped(Some(&mut reader), &mut buf)
            .await
            .expect("read"));
    }

    #[test]
    fn errors_read_well() {
        let e = FfmpegError::Failed {
            code: Some(1),
            stderr_tail: "x.mp4: No such file".into(),
        };
        assert_eq!(
            e.to_string(),
            "ffmpeg failed (exit code 1): x.mp4: No such file"
        );
        let e = FfmpegError::Failed {
            code: None,
            stderr_tail: String::new(),
        };
        assert_eq!(e.to_string(), "ffmpeg failed (killed by a signal)");
        let e = FfmpegError::Stalled {
            after: Duration::from_millis(1500),
            stderr_tail: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "ffmpeg made no progress for 1.5 s and was stopped"
        );
        assert_eq!(e.detail(), e.to_string());
    }

    #[test]
    fn detail_is_the_stderr_tail_when_there_is_one() {
        let e = FfmpegError::Failed {
            code: Some(1),
            stderr_tail: "x.mp4: No such file".into(),
        };
        assert_eq!(e.detail(), "x.mp4: No such file");
        let e = FfmpegError::Failed {
            code: Some(1),
            stderr_tail: String::new(),
        };
        assert_eq!(e.detail(), "ffmpeg failed (exit code 1)");
        assert!(FfmpegError::NotInstalled.detail().contains("not installed"));
    }

    /// A job of unknown length (duration 0, as for posters and subtitles) reports no
    /// progress but the final 1.0, and its watchdog still kills a silent ffmpeg.
    #[tokio::test]
    async fn unknown_duration_runs_and_still_has_a_watchdog() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out.nut");
        let args: Vec<OsString> = vec![
            "-stats_period".into(),
            "0.05".into(),
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            "testsrc2=size=64x64:rate=25:duration=1".into(),
            "-c:v".into(),
            "rawvideo".into(),
            out.clone().into(),
        ];
        for duration in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut seen = Vec::new();
            run(Job::new(args.clone(), duration), |f| seen.push(f))
                .await
                .expect("run");
            assert_eq!(seen, vec![1.0], "duration {duration}");
        }

        // Opening a FIFO for reading blocks until a writer comes, which none does.
        let fifo = dir.path().join("stuck.ts");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(status.success());
        let args: Vec<OsString> = vec![
            "-f".into(),
            "mpegts".into(),
            "-i".into(),
            fifo.into(),
            "-f".into(),
            "null".into(),
            "-".into(),
        ];
        let job = Job::new(args, 0.0).stall_timeout(Duration::from_millis(500));
        let mut seen = Vec::new();
        let result = tokio::time::timeout(Duration::from_secs(20), run(job, |f| seen.push(f)))
            .await
            .expect("the watchdog did not fire");
        assert!(
            matches!(result, Err(FfmpegError::Stalled { .. })),
            "{result:?}"
        );
        assert!(seen.is_empty(), "{seen:?}");
    }
}

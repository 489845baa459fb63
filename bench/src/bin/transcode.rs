//! The transcoding ladder's cost (issue 15): a 1080p test source (ffmpeg's `testsrc2` with film
//! grain added, so the encoders have detail to spend bits on) through every rendition and
//! container the library makes, with each VP9 speed. For each output: CPU seconds (user + system
//! of ffmpeg, from `getrusage` of the children), wall time, × real time, and size; then what a
//! 2-hour film's whole ladder would take on this machine. Ends with one JSON line.

use clap::Parser;
use kino_media::ffmpeg::{run, Job};
use kino_media::ladder::{self, Container, Rendition, Vp9Speed};
use std::path::Path;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Seconds of source video.
    #[arg(long, default_value_t = 60)]
    seconds: u32,
    /// Leave out the (slow) `good` VP9 speed.
    #[arg(long)]
    fast_only: bool,
}

/// CPU seconds used so far by this process's finished children (the ffmpeg runs).
fn children_cpu() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the `struct rusage` it is pointed at.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) } != 0 {
        return 0.0;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn make_source(dir: &Path, seconds: u32) -> std::path::PathBuf {
    let out = dir.join("source.mkv");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "testsrc2=size=1920x1080:rate=25:duration={seconds},noise=alls=12:allf=t"
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "10",
            "-c:a",
            "flac",
            "-shortest",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the source");
    out
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "making a {} s 1080p source (testsrc2 + grain)…",
        args.seconds
    );
    let source = make_source(dir.path(), args.seconds);
    let probe = kino_media::probe::probe(&source).await.expect("probe");
    let video = probe.video.clone().expect("a video stream");
    let duration = probe.duration_secs;
    let speeds: Vec<Vp9Speed> = if args.fast_only {
        vec![Vp9Speed::Fast]
    } else {
        vec![Vp9Speed::Fast, Vp9Speed::Good]
    };
    println!(
        "{:<8} {:<6} {:<6} {:>8} {:>8} {:>8} {:>9}",
        "height", "format", "vp9", "cpu s", "wall s", "×real", "MB"
    );
    let mut results = Vec::new();
    let mut totals = std::collections::BTreeMap::<String, f64>::new();
    for height in ladder::plan(&video, false) {
        for container in [Container::Mp4, Container::Webm] {
            let runs: Vec<Option<Vp9Speed>> = match container {
                Container::Mp4 => vec![None],
                Container::Webm => speeds.iter().copied().map(Some).collect(),
            };
            for vp9 in runs {
                let out = dir.path().join("out.part");
                let rendition = Rendition { height, container };
                let job = Job::new(
                    ladder::args(
                        &source,
                        &out,
                        rendition,
                        probe.audio,
                        &video,
                        vp9.unwrap_or_default(),
                    ),
                    duration,
                );
                let (cpu0, wall0) = (children_cpu(), Instant::now());
                run(job, |_| {}).await.expect("ffmpeg transcodes");
                let (cpu, wall) = (children_cpu() - cpu0, wall0.elapsed().as_secs_f64());
                let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
                let speed = match vp9 {
                    None => "-",
                    Some(Vp9Speed::Fast) => "fast",
                    Some(Vp9Speed::Good) => "good",
                };
                let format = match container {
                    Container::Mp4 => "mp4",
                    Container::Webm => "webm",
                };
                println!(
                    "{:<8} {:<6} {:<6} {:>8.1} {:>8.1} {:>8.2} {:>9.1}",
                    format!("{height}p"),
                    format,
                    speed,
                    cpu,
                    wall,
                    cpu / duration,
                    bytes as f64 / 1e6
                );
                for ladder_name in ["fast", "good"] {
                    if vp9.is_none() || speed == ladder_name {
                        *totals.entry(ladder_name.to_owned()).or_default() += cpu;
                    }
                }
                results.push(serde_json::json!({
                    "height": height, "container": format, "vp9": speed,
                    "cpu_s": (cpu * 10.0).round() / 10.0, "wall_s": (wall * 10.0).round() / 10.0,
                    "cpu_per_video_s": (cpu / duration * 100.0).round() / 100.0,
                    "mb": (bytes as f64 / 1e5).round() / 10.0,
                }));
                let _ = std::fs::remove_file(&out);
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut film = serde_json::Map::new();
    for (name, cpu) in &totals {
        if name == "good" && args.fast_only {
            continue;
        }
        let hours = cpu / duration * 7200.0 / cores / 3600.0;
        println!(
            "whole ladder with VP9 {name}: {:.2} CPU-s per video second; a 2-hour film ≈ {hours:.1} h on {cores} cores",
            cpu / duration
        );
        film.insert(
            format!("film_2h_hours_vp9_{name}"),
            serde_json::json!((hours * 10.0).round() / 10.0),
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "bench": "transcode", "source_seconds": duration, "runs": results,
            "totals": film, "load": load.split_whitespace().take(3).collect::<Vec<_>>(),
        })
    );
}

//! Kino's media tools: everything the library does to a video file, with no database and no web
//! code — ffprobe (`probe`), the ffmpeg runner with progress and a stall watchdog (`ffmpeg`), the
//! rendition ladder and the checks of its outputs (`ladder`), posters and seek-preview sprites
//! (`images`), subtitles (`subtitles`), downloading a video link without reaching internal
//! addresses (`import`) and the resumable upload store (`uploads`).

pub mod ffmpeg;
pub mod images;
pub mod import;
pub mod ladder;
pub mod probe;
pub mod subtitles;
pub mod uploads;

/// A size in bytes as an error message says it: "3.2 GiB", "512 bytes".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

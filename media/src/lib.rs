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

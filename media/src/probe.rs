//! Reading what a media file contains, with `ffprobe`.
//!
//! [`probe`] is the gate every upload passes before Kino spends CPU on it, so it is
//! deliberately suspicious:
//!
//! * It reads the first bytes itself and refuses HLS playlists (`#EXTM3U`) and ffconcat
//!   lists *before* ffprobe sees them: those formats make ffmpeg open further files
//!   (segments), which a user must not be able to point at the server's disk or network.
//! * ffprobe runs with `-protocol_whitelist file` and gets the path as a `file:` URL, so
//!   a strange file name (`http:…`, `concat:…`) is never read as a protocol, and nothing
//!   but local files is ever opened.
//! * Only regular files are probed (a FIFO would block ffprobe forever), and ffprobe is
//!   killed after [`PROBE_TIMEOUT`].
//! * Still images and audio-only files are refused with their own messages, because an
//!   admin who uploaded a poster or a soundtrack by mistake should be told so.
//!
//! Every error is a sentence an admin can read in the web UI.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// How long ffprobe may take. Reading headers is quick even for a two-hour film; a probe
/// that takes longer is stuck (a hung network mount, a pathological file).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many bytes of the file are read to recognise playlists.
const SNIFF_LEN: usize = 1024;

/// Container formats that pull in other files or URLs. ffprobe may already have opened
/// some local files when it reports one of these, but nothing is ever transcoded from them.
const PLAYLIST_FORMATS: &[&str] = &["hls", "applehttp", "dash", "concat"];

/// Subtitle codecs that are text (and so can be converted to WebVTT); the others are
/// pictures (PGS, VobSub, DVB) that browsers cannot show as text tracks.
const TEXT_SUBTITLE_CODECS: &[&str] =
    &["subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"];

/// Picture codecs that, without a duration, mean the file is one still image.
const IMAGE_CODECS: &[&str] = &[
    "mjpeg", "png", "apng", "bmp", "gif", "webp", "tiff", "jpeg2000", "jpegls", "qoi", "ppm",
    "pgm", "pbm", "pam", "targa", "sgi", "pcx", "xbm", "xwd", "dpx", "exr", "hdr",
];

/// What Kino needs to know about a source video.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Length in seconds (the container's duration, else the video stream's).
    pub duration_secs: f64,
    /// ffprobe's `format_name`, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`.
    pub format_name: String,
    /// The first real video stream (cover art in audio files does not count).
    /// Always `Some` for a file that [`probe`] accepted; it is an `Option` so that the
    /// type can also describe outputs inspected by other code.
    pub video: Option<VideoStream>,
    /// Whether the file has at least one audio stream.
    pub audio: bool,
    /// Subtitle streams, in file order.
    pub subtitles: Vec<SubtitleStream>,
}

/// The picture of a video, as stored (before rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoStream {
    /// Coded width in pixels, before rotation.
    pub width: u32,
    /// Coded height in pixels, before rotation.
    pub height: u32,
    /// ffprobe's `codec_name`, e.g. `h264`, `hevc`, `vp9`.
    pub codec: String,
    /// How many degrees **clockwise** a player turns the picture to show it upright:
    /// 0, 90, 180 or 270. Phones store portrait video as landscape plus this flag.
    /// Same meaning as the legacy `rotate` tag; ffprobe's display-matrix `rotation` is
    /// counter-clockwise, so it is negated.
    pub rotation: u32,
}

/// A subtitle stream inside the source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtitleStream {
    /// The absolute stream index, for `-map 0:N`.
    pub index: u32,
    /// ffprobe's `codec_name`, e.g. `subrip`, `ass`, `hdmv_pgs_subtitle`.
    pub codec: String,
    /// The language tag (`eng`, `fra`…), if the file has one; `und` counts as none.
    pub language: Option<String>,
    /// Whether the subtitles are text (convertible to WebVTT) rather than pictures.
    pub is_text: bool,
}

/// Why a file could not be probed, worded for the admin who uploaded it.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a regular file")]
    NotARegularFile { path: PathBuf },
    #[error("this is a playlist, not a video file: upload the video itself, not an .m3u8/.mpd/ffconcat list")]
    Playlist,
    #[error("this is a still image, not a video file")]
    StillImage,
    #[error("not a video file (ffprobe: {detail})")]
    NotAVideo { detail: String },
    #[error("the file has no video stream (is it audio only?)")]
    NoVideoStream,
    #[error("the length of the video cannot be determined; the file may be damaged")]
    UnknownDuration,
    #[error("cannot run ffprobe: it is not installed or not on PATH (on Debian: apt-get install ffmpeg)")]
    FfprobeMissing,
    #[error("cannot run ffprobe: {0}")]
    FfprobeSpawn(#[source] io::Error),
    #[error("ffprobe took longer than {} s and was stopped; the file may be on a hung disk or damaged", .0.as_secs())]
    TimedOut(Duration),
    #[error("ffprobe's output could not be understood: {0}")]
    BadOutput(String),
}

/// Probes `path`: checks it is a regular file and not a playlist, runs ffprobe, and
/// describes the video (see the module docs for what is refused and why).
pub async fn probe(path: &Path) -> Result<Probe, ProbeError> {
    sniff(path).await?;
    let raw = run_ffprobe(path).await?;
    interpret(&raw)
}

/// The picture size as shown (after rotation): width and height swap for 90° and 270°.
pub fn display_size(video: &VideoStream) -> (u32, u32) {
    match video.rotation {
        90 | 270 => (video.height, video.width),
        _ => (video.width, video.height),
    }
}

/// The shorter side of the picture: what "480p" means for landscape *and* portrait video.
pub fn short_side(video: &VideoStream) -> u32 {
    video.width.min(video.height)
}

/// Refuses non-regular files and playlists by their first bytes, before ffprobe runs.
async fn sniff(path: &Path) -> Result<(), ProbeError> {
    let read_err = |source| ProbeError::Read {
        path: path.to_path_buf(),
        source,
    };
    // `metadata` follows symlinks, so a link to a FIFO is refused too, before we open it
    // (opening a FIFO for reading blocks until someone writes).
    let meta = tokio::fs::metadata(path).await.map_err(read_err)?;
    if !meta.is_file() {
        return Err(ProbeError::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    let mut file = tokio::fs::File::open(path).await.map_err(read_err)?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut file)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .await
        .map_err(read_err)?;
    if looks_like_playlist(&head) {
        return Err(ProbeError::Playlist);
    }
    Ok(())
}

/// Whether the first bytes of a file are an HLS playlist or an ffconcat list.
/// A UTF-8 byte-order mark and leading blank space are allowed, as players allow them.
fn looks_like_playlist(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    head.starts_with(b"#EXTM3U") || head.starts_with(b"ffconcat version")
}

/// ffprobe's JSON, as far as Kino reads it. Everything is optional: ffprobe leaves out
/// what it does not know, and odd files must give an error, never a panic.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawProbe {
    #[serde(default)]
    pub(crate) streams: Vec<RawStream>,
    #[serde(default)]
    pub(crate) format: Option<RawFormat>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFormat {
    #[serde(default)]
    pub(crate) format_name: Option<String>,
    #[serde(default)]
    pub(crate) duration: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawStream {
    #[serde(default)]
    pub(crate) index: Option<u32>,
    #[serde(default)]
    pub(crate) codec_type: Option<String>,
    #[serde(default)]
    pub(crate) codec_name: Option<String>,
    #[serde(default)]
    pub(crate) width: Option<u32>,
    #[serde(default)]
    pub(crate) height: Option<u32>,
    #[serde(default)]
    pub(crate) pix_fmt: Option<String>,
    #[serde(default)]
    pub(crate) duration: Option<String>,
    #[serde(default)]
    pub(crate) disposition: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(crate) side_data_list: Vec<serde_json::Value>,
}

impl RawStream {
    fn is(&self, kind: &str) -> bool {
        self.codec_type.as_deref() == Some(kind)
    }

    /// Cover art (an MP3's or M4A's picture) is stored as a one-frame "video" stream.
    fn is_attached_picture(&self) -> bool {
        self.disposition
            .get("attached_pic")
            .and_then(serde_json::Value::as_i64)
            == Some(1)
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    /// The first real video stream.
    pub(crate) fn is_video(&self) -> bool {
        self.is("video") && !self.is_attached_picture()
    }

    pub(crate) fn is_audio(&self) -> bool {
        self.is("audio")
    }
}

/// Runs ffprobe on `path` (no sniffing) and parses its JSON.
pub(crate) async fn run_ffprobe(path: &Path) -> Result<RawProbe, ProbeError> {
    let stdout = ffprobe(
        path,
        &["-print_format", "json", "-show_format", "-show_streams"],
    )
    .await
    .map_err(|e| match e {
        FfprobeError::NotInstalled => ProbeError::FfprobeMissing,
        FfprobeError::Spawn(e) => ProbeError::FfprobeSpawn(e),
        FfprobeError::TimedOut(after) => ProbeError::TimedOut(after),
        FfprobeError::Failed { stderr_tail, .. } => {
            let detail = stderr_tail
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or("it could not read the file")
                .to_string();
            tracing::debug!(path = %path.display(), stderr = %stderr_tail, "ffprobe refused the file");
            ProbeError::NotAVideo { detail }
        }
    })?;
    serde_json::from_slice(&stdout).map_err(|e| ProbeError::BadOutput(e.to_string()))
}

/// How many stderr lines of a failed ffprobe run are kept for [`FfprobeError::Failed`].
const STDERR_TAIL_LINES: usize = 20;

/// Why an ffprobe run failed. Callers word it for their own errors; the `Display` text is
/// a sentence for an admin.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FfprobeError {
    #[error("cannot run ffprobe: it is not installed or not on PATH (on Debian: apt-get install ffmpeg)")]
    NotInstalled,
    #[error("cannot run ffprobe: {0}")]
    Spawn(#[source] io::Error),
    #[error("ffprobe took longer than {} s and was stopped; the file may be on a hung disk or damaged", .0.as_secs())]
    TimedOut(Duration),
    #[error("{}", failed_description(.status, .stderr_tail))]
    Failed {
        status: ExitStatus,
        /// The last [`STDERR_TAIL_LINES`] non-empty lines ffprobe wrote to stderr.
        stderr_tail: String,
    },
}

fn failed_description(status: &ExitStatus, stderr_tail: &str) -> String {
    if stderr_tail.is_empty() {
        format!("ffprobe exited with {status}")
    } else {
        stderr_tail.to_string()
    }
}

/// Runs `ffprobe -v error -hide_banner -protocol_whitelist file <args> file:<input>` and
/// returns its stdout.
///
/// This is the one place that starts ffprobe, so that every caller gets the same safety:
/// the input is given as a `file:` URL (a name like `http:…` or `concat:…` is never read
/// as a protocol, one starting with `-` never as an option), only local files may be
/// opened (which also stops playlists from pulling in URLs), stdin is closed, and ffprobe
/// is killed after [`PROBE_TIMEOUT`] or when the returned future is dropped.
pub(crate) async fn ffprobe(input: &Path, args: &[&str]) -> Result<Vec<u8>, FfprobeError> {
    let mut url = OsString::from("file:");
    url.push(input.as_os_str());
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-hide_banner", "-protocol_whitelist", "file"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // If the timeout fires (or our caller gives up), the future is dropped: kill ffprobe.
        .kill_on_drop(true);
    let output = match tokio::time::timeout(PROBE_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(FfprobeError::TimedOut(PROBE_TIMEOUT)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FfprobeError::NotInstalled)
        }
        Ok(Err(e)) => return Err(FfprobeError::Spawn(e)),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    Err(FfprobeError::Failed {
        status: output.status,
        stderr_tail: lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n"),
    })
}

/// Turns ffprobe's JSON into a [`Probe`], refusing playlists, images and audio-only files.
pub(crate) fn interpret(raw: &RawProbe) -> Result<Probe, ProbeError> {
    let format_name = raw
        .format
        .as_ref()
        .and_then(|f| f.format_name.clone())
        .unwrap_or_default();
    if format_name
        .split(',')
        .any(|f| PLAYLIST_FORMATS.contains(&f))
    {
        return Err(ProbeError::Playlist);
    }
    // `image2`, `png_pipe`, `jpeg_pipe`, `webp_pipe`…: demuxers for pictures.
    let image_format = format_name
        .split(',')
        .any(|f| f == "image2" || f.ends_with("_pipe"));

    let Some(stream) = raw.streams.iter().find(|s| s.is_video()) else {
        return Err(ProbeError::NoVideoStream);
    };
    let codec = stream
        .codec_name
        .clone()
        .unwrap_or_else(|| "unknown".to_string());

    let duration = raw
        .format
        .as_ref()
        .and_then(|f| parse_seconds(f.duration.as_deref()))
        .or_else(|| parse_seconds(stream.duration.as_deref()));
    let image_codec = IMAGE_CODECS.contains(&codec.as_str());
    if image_format || (image_codec && duration.is_none()) {
        return Err(ProbeError::StillImage);
    }
    let duration_secs = duration.ok_or(ProbeError::UnknownDuration)?;

    let (width, height) = match (stream.width, stream.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(ProbeError::NotAVideo {
                detail: "the video stream has no picture size".to_string(),
            })
        }
    };
    let video = VideoStream {
        width,
        height,
        codec,
        rotation: rotation_of(stream),
    };

    let subtitles = raw
        .streams
        .iter()
        .filter(|s| s.is("subtitle"))
        .filter_map(|s| {
            let index = s.index?;
            let codec = s
                .codec_name
                .clone()
                .unwrap_or_else(|| "unknown".to_string());
            let language = s
                .tag("language")
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("und"))
                .map(str::to_string);
            let is_text = TEXT_SUBTITLE_CODECS.contains(&codec.as_str());
            Some(SubtitleStream {
                index,
                codec,
                language,
                is_text,
            })
        })
        .collect();

    Ok(Probe {
        duration_secs,
        format_name,
        video: Some(video),
        audio: raw.streams.iter().any(RawStream::is_audio),
        subtitles,
    })
}

/// A positive, finite number of seconds from ffprobe's text (`"N/A"` and junk give `None`).
fn parse_seconds(text: Option<&str>) -> Option<f64> {
    let secs: f64 = text?.trim().parse().ok()?;
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

/// Clockwise rotation from the display matrix (preferred: what ffmpeg itself obeys when
/// it autorotates) or else the legacy `rotate` tag, normalised to 0/90/180/270.
fn rotation_of(stream: &RawStream) -> u32 {
    let from_matrix = stream.side_data_list.iter().find_map(|sd| {
        let is_matrix = sd
            .get("side_data_type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Display Matrix"));
        if !is_matrix {
            return None;
        }
        let ccw = sd.get("rotation")?;
        ccw.as_f64()
            .or_else(|| ccw.as_str().and_then(|s| s.trim().parse().ok()))
            .map(|ccw: f64| -ccw)
    });
    let clockwise = from_matrix.or_else(|| stream.tag("rotate")?.trim().parse::<f64>().ok());
    clockwise.map_or(0, normalise_rotation)
}

/// Any angle in degrees to the nearest of 0, 90, 180, 270.
fn normalise_rotation(degrees: f64) -> u32 {
    if !degrees.is_finite() {
        return 0;
    }
    let quarter_turns = (degrees / 90.0).round().rem_euclid(4.0);
    // rem_euclid of a rounded finite value is exactly 0, 1, 2 or 3.
    (quarter_turns as u32 % 4) * 90
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawProbe {
        serde_json::from_str(json).expect("test JSON")
    }

    #[test]
    fn rotation_is_normalised() {
        assert_eq!(normalise_rotation(0.0), 0);
        assert_eq!(normalise_rotation(90.0), 90);
        assert_eq!(normalise_rotation(-90.0), 270);
        assert_eq!(normalise_rotation(-270.0), 90);
        assert_eq!(normalise_rotation(180.0), 180);
        assert_eq!(normalise_rotation(-180.0), 180);
        assert_eq!(normalise_rotation(450.0), 90);
        assert_eq!(normalise_rotation(89.6), 90);
        assert_eq!(normalise_rotation(359.0), 0);
        assert_eq!(normalise_rotation(f64::NAN), 0);
    }

    #[test]
    fn display_matrix_rotation_is_counter_clockwise() {
        let r = raw(
            r#"{"format":{"format_name":"mov,mp4","duration":"2.0"},"streams":[
            {"index":0,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
             "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]}]}"#,
        );
        let p = interpret(&r).expect("probe");
        let v = p.video.expect("video");
        assert_eq!(v.rotation, 90);
        assert_eq!(display_size(&v), (1080, 1920));
        assert_eq!(short_side(&v), 1080);
    }

    #[test]
    fn rotate_tag_is_clockwise() {
        let r = raw(
            r#"{"format":{"format_name":"mov,mp4","duration":"2.0"},"streams":[
            {"index":0,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
             "tags":{"rotate":"270"}}]}"#,
        );
        assert_eq!(
            interpret(&r).expect("probe").video.expect("video").rotation,
            270
        );
    }

    #[test]
    fn cover_art_is_not_video() {
        let r = raw(
            r#"{"format":{"format_name":"mp3","duration":"200.0"},"streams":[
            {"index":0,"codec_type":"audio","codec_name":"mp3"},
            {"index":1,"codec_type":"video","codec_name":"mjpeg","width":500,"height":500,
             "disposition":{"attached_pic":1}}]}"#,
        );
        assert!(matches!(interpret(&r), Err(ProbeError::NoVideoStream)));
    }

    #[test]
    fn motion_jpeg_with_duration_is_video() {
        let r = raw(
            r#"{"format":{"format_name":"avi","duration":"12.5"},"streams":[
            {"index":0,"codec_type":"video","codec_name":"mjpeg","width":640,"height":480}]}"#,
        );
        assert!(interpret(&r).is_ok());
    }

    #[test]
    fn playlists_by_format_and_by_bytes() {
        let r = raw(r#"{"format":{"format_name":"hls"},"streams":[]}"#);
        assert!(matches!(interpret(&r), Err(ProbeError::Playlist)));
        assert!(looks_like_playlist(b"#EXTM3U\n#EXT-X-VERSION:3\n"));
        assert!(looks_like_playlist(b"\xEF\xBB\xBF\r\n  #EXTM3U\n"));
        assert!(looks_like_playlist(b"ffconcat version 1.0\nfile a.mp4\n"));
        assert!(!looks_like_playlist(b"\0\0\0\x20ftypisom"));
        assert!(!looks_like_playlist(b""));
    }

    #[test]
    fn subtitles_are_listed() {
        let r = raw(
            r#"{"format":{"format_name":"matroska,webm","duration":"60"},"streams":[
            {"index":0,"codec_type":"video","codec_name":"h264","width":1280,"height":720},
            {"index":1,"codec_type":"audio","codec_name":"aac"},
            {"index":2,"codec_type":"subtitle","codec_name":"subrip","tags":{"language":"eng"}},
            {"index":3,"codec_type":"subtitle","codec_name":"hdmv_pgs_subtitle","tags":{"language":"und"}}]}"#,
        );
        let p = interpret(&r).expect("probe");
        assert!(p.audio);
        assert_eq!(
            p.subtitles,
            vec![
                SubtitleStream {
                    index: 2,
                    codec: "subrip".into(),
                    language: Some("eng".into()),
                    is_text: true
                },
                SubtitleStream {
                    index: 3,
                    codec: "hdmv_pgs_subtitle".into(),
                    language: None,
                    is_text: false
                },
            ]
        );
    }

    #[test]
    fn odd_output_gives_errors_not_panics() {
        assert!(matches!(
            interpret(&raw("{}")),
            Err(ProbeError::NoVideoStream)
        ));
        let no_size = raw(r#"{"format":{"duration":"3"},"streams":[{"codec_type":"video"}]}"#);
        assert!(matches!(
            interpret(&no_size),
            Err(ProbeError::NotAVideo { .. })
        ));
        let no_duration = raw(r#"{"format":{"duration":"N/A"},"streams":[
            {"codec_type":"video","codec_name":"h264","width":2,"height":2}]}"#);
        assert!(matches!(
            interpret(&no_duration),
            Err(ProbeError::UnknownDuration)
        ));
        let png = raw(r#"{"format":{"format_name":"png_pipe"},"streams":[
            {"codec_type":"video","codec_name":"png","width":2,"height":2}]}"#);
        assert!(matches!(interpret(&png), Err(ProbeError::StillImage)));
    }
}

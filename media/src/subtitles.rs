//! Subtitles for the browser: uploaded `.srt`/`.vtt` files are converted to
//! clean UTF-8 WebVTT, and text subtitle streams inside a film are extracted
//! to WebVTT files with ffmpeg.
//!
//! Character sets: uploaded files come from everywhere, so the encoding is
//! detected — a byte-order mark first, then "is it valid UTF-8", then Mozilla's
//! `chardetng` (the detector Firefox uses), which tells e.g. Windows-1251
//! (Russian) from Windows-1252 (Western European) reliably.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

use crate::ffmpeg;
use crate::images::{ff_path, input_args, part_path, quiet_job, remove_quietly, vtt_timestamp};
use crate::probe;

/// The largest subtitle file [`to_webvtt`] accepts, in bytes.
pub const MAX_SUBTITLE_BYTES: usize = 10 * 1024 * 1024;

/// Subtitle codecs (as named by ffprobe) that ffmpeg can turn into WebVTT.
/// Bitmap subtitles (`dvd_subtitle`, `hdmv_pgs_subtitle`, `dvb_subtitle`, …)
/// would need OCR and are skipped.
const TEXT_CODECS: &[&str] = &["subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"];

/// Upload formats we recognise by name but cannot convert.
const UNSUPPORTED_EXTENSIONS: &[&str] = &[
    "ass", "ssa", "sub", "idx", "sup", "smi", "sami", "ttml", "dfxp",
];

/// Errors from converting or extracting subtitles.
#[derive(Debug, thiserror::Error)]
pub enum SubtitleError {
    /// The upload exceeds [`MAX_SUBTITLE_BYTES`].
    #[error("the subtitle file is too large ({size} bytes; at most {max} bytes are accepted)")]
    TooLarge {
        /// Size of the upload.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Nothing that looks like a subtitle cue was found.
    #[error("no subtitles found in the file")]
    NoCues,
    /// The file name says it is a format we do not convert.
    #[error("{extension} subtitle files are not supported; please convert them to SRT or WebVTT")]
    UnsupportedFormat {
        /// The file name's extension, e.g. `.ass`.
        extension: String,
    },
    /// ffprobe could not list the film's streams.
    #[error("could not read the subtitle streams of {}: {detail}", path.display())]
    Probe {
        /// The film.
        path: PathBuf,
        /// What went wrong (ffprobe's stderr or a parse error).
        detail: String,
    },
    /// ffmpeg failed to extract a subtitle stream.
    #[error("could not extract subtitle stream {stream_index}: {detail}")]
    Extract {
        /// Index of the stream in the film.
        stream_index: u32,
        /// The last lines of ffmpeg's stderr, or why it could not run or was
        /// stopped.
        detail: String,
    },
    /// A filesystem operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What we tried to do.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl SubtitleError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        SubtitleError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A subtitle file converted to WebVTT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtitles {
    /// The WebVTT document (UTF-8, `\n` line endings, starts with `WEBVTT`).
    pub vtt: String,
    /// Number of cues in it.
    pub cues: usize,
    /// The character set the input was decoded from, as named by the
    /// Encoding Standard (`"UTF-8"`, `"windows-1251"`, `"UTF-16LE"`, …).
    pub encoding: &'static str,
}

/// Converts an uploaded `.srt` or `.vtt` file to UTF-8 WebVTT.
///
/// `name_hint` is the uploaded file name; only its extension is used (to
/// reject formats such as `.ass` with a helpful message). Whether the content
/// is WebVTT or SRT is decided by the content itself (a `WEBVTT` header).
///
/// * SRT is parsed leniently: the index line may be missing, timings may use
///   `,` or `.` before the milliseconds and may omit hours, extra text after
///   the end time (position info) is ignored, and `\r\n`/`\r` line endings
///   are fine. Cues with malformed timings are dropped. `<i>`, `<b>` and `<u>`
///   are kept; `<font …>` and other HTML tags and ASS overrides like `{\an8}`
///   are removed; `<`, `>` and `&` are escaped as WebVTT requires. Cues are
///   sorted by start time.
/// * WebVTT is passed through with its line endings normalised and the
///   byte-order mark removed.
///
/// # Errors
///
/// [`SubtitleError::TooLarge`] above [`MAX_SUBTITLE_BYTES`],
/// [`SubtitleError::UnsupportedFormat`] for e.g. `.ass` names, and
/// [`SubtitleError::NoCues`] if no valid cue remains.
pub fn to_webvtt(bytes: &[u8], name_hint: &str) -> Result<Subtitles, SubtitleError> {
    if bytes.len() > MAX_SUBTITLE_BYTES {
        return Err(SubtitleError::TooLarge {
            size: bytes.len(),
            max: MAX_SUBTITLE_BYTES,
        });
    }
    if let Some(ext) = extension(name_hint).filter(|e| UNSUPPORTED_EXTENSIONS.contains(&e.as_str()))
    {
        return Err(SubtitleError::UnsupportedFormat {
            extension: format!(".{ext}"),
        });
    }

    let (text, encoding) = decode(bytes);
    let text = normalize_newlines(&text);

    let (vtt, cues) = if has_webvtt_header(&text) {
        let cues = count_vtt_cues(&text);
        let mut vtt = text.into_owned();
        if !vtt.ends_with('\n') {
            vtt.push('\n');
        }
        (vtt, cues)
    } else {
        let cues = parse_srt(&text);
        let vtt = render_vtt(&cues);
        (vtt, cues.len())
    };
    if cues == 0 {
        return Err(SubtitleError::NoCues);
    }
    tracing::debug!(
        name = name_hint,
        encoding = encoding.name(),
        cues,
        "converted subtitles"
    );
    Ok(Subtitles {
        vtt,
        cues,
        encoding: encoding.name(),
    })
}

fn extension(name: &str) -> Option<String> {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

// ---------------------------------------------------------------------------
// Character set detection
// ---------------------------------------------------------------------------

/// Decodes subtitle bytes to text, returning the encoding that was used.
/// Never fails: undecodable bytes become U+FFFD.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, &'static Encoding) {
    let encoding = detect_encoding(bytes);
    let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
    if had_errors {
        tracing::debug!(
            encoding = encoding.name(),
            "subtitle text had undecodable bytes"
        );
    }
    (text, encoding)
}

fn detect_encoding(bytes: &[u8]) -> &'static Encoding {
    if let Some((encoding, _bom_len)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    if let Some(encoding) = sniff_utf16(bytes) {
        return encoding;
    }
    if std::str::from_utf8(bytes).is_ok() {
        return UTF_8;
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    detector.guess(None, Utf8Detection::Deny)
}

/// Recognises UTF-16 without a byte-order mark by its many zero bytes (every
/// other byte of ASCII text such as the timing lines is zero).
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 8 {
        return None;
    }
    let (mut zero_even, mut zero_odd) = (0usize, 0usize);
    for pair in sample.chunks_exact(2) {
        zero_even += usize::from(pair[0] == 0);
        zero_odd += usize::from(pair[1] == 0);
    }
    let mostly = |n: usize| n * 10 >= pairs * 4; // ≥ 40 %
    let rarely = |n: usize| n * 20 <= pairs; // ≤ 5 %
    if mostly(zero_odd) && rarely(zero_even) {
        Some(UTF_16LE)
    } else if mostly(zero_even) && rarely(zero_odd) {
        Some(UTF_16BE)
    } else {
        None
    }
}

fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

// ---------------------------------------------------------------------------
// WebVTT input
// ---------------------------------------------------------------------------

/// `WEBVTT` alone on the first line, or followed by a space or tab and text.
fn has_webvtt_header(text: &str) -> bool {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    match text.strip_prefix("WEBVTT") {
        Some(rest) => rest.is_empty() || rest.starts_with([' ', '\t', '\n']),
        None => false,
    }
}

/// Counts the cues of a WebVTT document (`\n` line endings): blocks whose
/// first or second line is a valid timing line. The header, `NOTE`, `STYLE`
/// and `REGION` blocks have none.
pub(crate) fn count_vtt_cues(text: &str) -> usize {
    let mut cues = 0;
    let mut block_line = 0usize;
    let mut in_header = true;
    let mut counted = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            block_line = 0;
            in_header = false;
            counted = false;
            continue;
        }
        block_line += 1;
        if !in_header && !counted && block_line <= 2 && line.contains("-->") {
            if parse_timing_line(line).is_some() {
                cues += 1;
            }
            counted = true;
        }
    }
    cues
}

// ---------------------------------------------------------------------------
// SRT input
// ---------------------------------------------------------------------------

/// One subtitle cue: times in milliseconds and cleaned-up WebVTT text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cue {
    start: u64,
    end: u64,
    lines: Vec<String>,
}

/// Parses SRT text (already `\n`-normalised) into cues, sorted by start time.
fn parse_srt(text: &str) -> Vec<Cue> {
    let lines: Vec<&str> = text.lines().collect();
    let is_timing = |l: &str| l.contains("-->");
    let is_index = |l: &str| {
        let t = l.trim();
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
    };
    let mut cues = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if !is_timing(line) {
            // Index lines, stray text and blank lines outside a cue.
            continue;
        }
        // Text runs until a blank line, or — for files that forget the blank
        // line — until the next timing line (with or without an index).
        let mut text_lines = Vec::new();
        while i < lines.len() {
            let l = lines[i];
            if l.trim().is_empty()
                || is_timing(l)
                || (is_index(l) && lines.get(i + 1).is_some_and(|n| is_timing(n)))
            {
                break;
            }
            text_lines.push(l);
            i += 1;
        }
        let Some((start, end)) = parse_timing_line(line) else {
            tracing::debug!(line, "skipping subtitle cue with a malformed timing line");
            continue;
        };
        let cleaned: Vec<String> = text_lines.iter().flat_map(|l| clean_text_line(l)).collect();
        if cleaned.is_empty() {
            continue;
        }
        cues.push(Cue {
            start,
            end,
            lines: cleaned,
        });
    }
    cues.sort_by_key(|c| c.start);
    cues
}

fn render_vtt(cues: &[Cue]) -> String {
    let mut out = String::with_capacity(16 + cues.len() * 64);
    out.push_str("WEBVTT\n");
    for cue in cues {
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n{} --> {}\n",
            vtt_timestamp(cue.start),
            vtt_timestamp(cue.end)
        );
        for line in &cue.lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Parses `start --> end [settings]` into milliseconds. The end must not be
/// before the start.
fn parse_timing_line(line: &str) -> Option<(u64, u64)> {
    let (left, right) = line.split_once("-->")?;
    let start = parse_timestamp(left)?;
    let end = parse_timestamp(right.split_whitespace().next()?)?;
    (end >= start).then_some((start, end))
}

/// Parses an SRT or WebVTT timestamp into milliseconds.
///
/// Accepts `HH:MM:SS,mmm`, `HH:MM:SS.mmm`, `MM:SS.mmm` (no hours), hours of
/// any length, 1–3 fraction digits (`1,5` is 1.5 s; more digits are
/// truncated) and a missing fraction. Minutes and seconds must be below 60
/// (minutes may be larger when there is no hour field).
fn parse_timestamp(s: &str) -> Option<u64> {
    let s = s.trim();
    let (clock, frac) = match s.rfind([',', '.']) {
        Some(pos) => (&s[..pos], &s[pos + 1..]),
        None => (s, ""),
    };
    let millis = if frac.is_empty() {
        0
    } else {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain("00".chars()).take(3).collect();
        digits.parse::<u64>().ok()?
    };
    let number = |p: &str| -> Option<u64> {
        if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => {
            let (h, m, s) = (number(h)?, number(m)?, number(s)?);
            if m >= 60 {
                return None;
            }
            (h, m, s)
        }
        [m, s] => (0, number(m)?, number(s)?),
        _ => return None,
    };
    if sec >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + millis)
}

/// Cleans one SRT text line for WebVTT; may yield several lines (ASS `\N`
/// line breaks) or none (a line that was only formatting).
fn clean_text_line(line: &str) -> Vec<String> {
    line.replace("\\N", "\n")
        .split('\n')
        .map(clean_markup)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// Keeps `<i>`, `<b>`, `<u>` (lower-cased), drops other tags and `{\…}` ASS
/// overrides, escapes stray `<`, `>` and `&`.
fn clean_markup(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        match c {
            '{' if rest[1..].starts_with('\\') => {
                if let Some(close) = rest.find('}') {
                    rest = &rest[close + 1..];
                } else {
                    // Unterminated: keep the brace as text.
                    out.push('{');
                    rest = &rest[1..];
                }
            }
            '<' => match rest[1..].find(['>', '<']).map(|p| p + 1) {
                Some(close)
                    if rest[close..].starts_with('>') && looks_like_tag(&rest[1..close]) =>
                {
                    let tag = rest[1..close].trim().to_ascii_lowercase();
                    if matches!(tag.as_str(), "i" | "b" | "u" | "/i" | "/b" | "/u") {
                        out.push('<');
                        out.push_str(&tag);
                        out.push('>');
                    }
                    // Anything else (<font …>, </font>, <br>, …) is dropped.
                    rest = &rest[close + 1..];
                }
                _ => {
                    out.push_str("&lt;");
                    rest = &rest[1..];
                }
            },
            '>' => {
                out.push_str("&gt;");
                rest = &rest[1..];
            }
            '&' => {
                let entity_len = entity_length(rest);
                if entity_len > 0 {
                    out.push_str(&rest[..entity_len]);
                    rest = &rest[entity_len..];
                } else {
                    out.push_str("&amp;");
                    rest = &rest[1..];
                }
            }
            _ => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out.trim_end().to_owned()
}

/// `i`, `/font`, `font color="#fff"`: an optional slash, then a letter.
fn looks_like_tag(inner: &str) -> bool {
    let inner = inner.trim_start();
    let inner = inner.strip_prefix('/').unwrap_or(inner);
    inner
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
}

/// Length of a character reference at the start of `s` (`&amp;`, `&#233;`,
/// `&#xE9;`), or 0 if there is none.
fn entity_length(s: &str) -> usize {
    let Some(body) = s.strip_prefix('&') else {
        return 0;
    };
    let (digits_ok, name): (fn(u8) -> bool, &str) =
        if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
            (|b: u8| b.is_ascii_hexdigit(), hex)
        } else if let Some(dec) = body.strip_prefix('#') {
            (|b: u8| b.is_ascii_digit(), dec)
        } else {
            (|b: u8| b.is_ascii_alphanumeric(), body)
        };
    let n = name.bytes().take_while(|&b| digits_ok(b)).count();
    if n == 0 || n > 32 || !name[n..].starts_with(';') {
        return 0;
    }
    // '&' + prefix + name + ';'
    1 + (body.len() - name.len()) + n + 1
}

// ---------------------------------------------------------------------------
// Extraction from a film
// ---------------------------------------------------------------------------

/// A text subtitle stream extracted from a film to a WebVTT file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedTrack {
    /// Index of the stream in the film (ffprobe's `index`, usable as
    /// `-map 0:<index>`).
    pub stream_index: u32,
    /// The stream's language tag (ISO 639-2, e.g. `"rus"`), if set and not
    /// `und`.
    pub language: Option<String>,
    /// The stream's title tag, e.g. `"Forced"` or `"SDH"`.
    pub title: Option<String>,
    /// The source codec as named by ffprobe (`subrip`, `ass`, `mov_text`, …).
    pub codec: String,
    /// The stream is flagged as default.
    pub default: bool,
    /// The stream is flagged as forced.
    pub forced: bool,
    /// The WebVTT file: `<out_dir>/subtitle-<stream_index>.vtt`.
    pub path: PathBuf,
    /// Number of cues in it.
    pub cues: usize,
}

/// A subtitle stream as listed by ffprobe.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SubtitleStream {
    index: u32,
    codec: String,
    language: Option<String>,
    title: Option<String>,
    default: bool,
    forced: bool,
}

/// Extracts every text subtitle stream of `input` to
/// `<out_dir>/subtitle-<stream_index>.vtt`.
///
/// Streams are found with ffprobe; text codecs (`subrip`, `ass`/`ssa`,
/// `webvtt`, `mov_text`, `text`) are converted by ffmpeg's WebVTT encoder in
/// a single pass over the file, each output going through a `.part` file.
/// Bitmap subtitles (DVD, PGS, DVB) are skipped, as are streams that turn out
/// to have no cues. If the single pass fails, each stream is retried on its
/// own and the ones that fail are skipped with a warning.
///
/// Returns the tracks in stream order; an empty list if there are none.
///
/// # Errors
///
/// [`SubtitleError::Probe`] if ffprobe fails, [`SubtitleError::Extract`] if
/// every candidate stream failed to extract, [`SubtitleError::Io`] for
/// filesystem errors.
pub async fn extract_text_tracks(
    input: &Path,
    out_dir: &Path,
) -> Result<Vec<ExtractedTrack>, SubtitleError> {
    let streams = probe_subtitle_streams(input).await?;
    let (text, bitmap): (Vec<_>, Vec<_>) = streams
        .into_iter()
        .partition(|s| TEXT_CODECS.contains(&s.codec.as_str()));
    for s in &bitmap {
        tracing::info!(input = %input.display(), stream = s.index, codec = %s.codec, "skipping image-based subtitles");
    }
    if text.is_empty() {
        return Ok(Vec::new());
    }
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|e| SubtitleError::io("create the folder", out_dir, e))?;

    let target = |s: &SubtitleStream| out_dir.join(format!("subtitle-{}.vtt", s.index));

    // One pass over the film for all streams.
    let mut args: Vec<OsString> = input_args(input).into();
    for s in &text {
        args.extend(extract_output_args(s.index, &part_path(&target(s))));
    }
    let mut extracted: Vec<&SubtitleStream> = Vec::new();
    let mut first_failure = None;
    match ffmpeg::run(quiet_job(args), |_| {}).await {
        Ok(()) => extracted.extend(text.iter()),
        Err(e) => {
            let detail = e.detail();
            tracing::warn!(input = %input.display(), %detail, "extracting all subtitles at once failed; trying one by one");
            for s in &text {
                let part = part_path(&target(s));
                remove_quietly(&part).await;
                let mut args: Vec<OsString> = input_args(input).into();
                args.extend(extract_output_args(s.index, &part));
                match ffmpeg::run(quiet_job(args), |_| {}).await {
                    Ok(()) => extracted.push(s),
                    Err(e) => {
                        let detail = e.detail();
                        tracing::warn!(input = %input.display(), stream = s.index, %detail, "could not extract subtitles");
                        remove_quietly(&part).await;
                        first_failure.get_or_insert(SubtitleError::Extract {
                            stream_index: s.index,
                            detail,
                        });
                    }
                }
            }
        }
    }

    let mut tracks = Vec::new();
    for (n, s) in extracted.iter().enumerate() {
        let path = target(s);
        let part = part_path(&path);
        let text = match tokio::fs::read(&part).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                // Clean up this and the remaining .part files before failing.
                for rest in &extracted[n..] {
                    remove_quietly(&part_path(&target(rest))).await;
                }
                return Err(SubtitleError::io("read", &part, e));
            }
        };
        let cues = count_vtt_cues(&normalize_newlines(&text));
        if cues == 0 {
            tracing::info!(input = %input.display(), stream = s.index, "subtitle stream has no cues; skipping");
            remove_quietly(&part).await;
            continue;
        }
        if let Err(e) = tokio::fs::rename(&part, &path).await {
            for rest in &extracted[n..] {
                remove_quietly(&part_path(&target(rest))).await;
            }
            return Err(SubtitleError::io("rename into place", &path, e));
        }
        tracks.push(ExtractedTrack {
            stream_index: s.index,
            language: s.language.clone(),
            title: s.title.clone(),
            codec: s.codec.clone(),
            default: s.default,
            forced: s.forced,
            path,
            cues,
        });
    }

    match first_failure {
        Some(err) if extracted.is_empty() => Err(err),
        _ => Ok(tracks),
    }
}

fn extract_output_args(index: u32, part: &Path) -> [OsString; 7] {
    [
        "-map".into(),
        format!("0:{index}").into(),
        "-c:s".into(),
        "webvtt".into(),
        "-f".into(),
        "webvtt".into(),
        ff_path(part),
    ]
}

async fn probe_subtitle_streams(input: &Path) -> Result<Vec<SubtitleStream>, SubtitleError> {
    let probe_error = |detail| SubtitleError::Probe {
        path: input.to_path_buf(),
        detail,
    };
    let json = probe::ffprobe(
        input,
        &[
            "-show_streams",
            "-select_streams",
            "s",
            "-print_format",
            "json",
        ],
    )
    .await
    .map_err(|e| probe_error(e.to_string()))?;
    parse_ffprobe_streams(&json).map_err(probe_error)
}

/// Reads the `streams` array of `ffprobe -show_streams -print_format json`.
fn parse_ffprobe_streams(json: &[u8]) -> Result<Vec<SubtitleStream>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| format!("ffprobe printed invalid JSON: {e}"))?;
    let Some(streams) = value.get("streams").and_then(|s| s.as_array()) else {
        // ffprobe omits the array when there are no matching streams.
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(streams.len());
    for stream in streams {
        if stream
            .get("codec_type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t != "subtitle")
        {
            continue;
        }
        let Some(index) = stream
            .get("index")
            .and_then(serde_json::Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
        else {
            continue;
        };
        let codec = stream
            .get("codec_name")
            .and_then(|c| c.as_str())
            .unwrap_or("unknown")
            .to_owned();
        let tag = |name: &str| {
            stream
                .get("tags")
                .and_then(|t| t.get(name).or_else(|| t.get(name.to_ascii_uppercase())))
                .and_then(|v| v.as_str())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let flag = |name: &str| {
            stream
                .get("disposition")
                .and_then(|d| d.get(name))
                .and_then(serde_json::Value::as_i64)
                .is_some_and(|v| v != 0)
        };
        let language = tag("language")
            .map(|l| l.to_ascii_lowercase())
            .filter(|l| l != "und");
        out.push(SubtitleStream {
            index,
            codec,
            language,
            title: tag("title"),
            default: flag("default"),
            forced: flag("forced"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("00:00:01,000"), Some(1_000));
        assert_eq!(parse_timestamp("01:02:03,004"), Some(3_723_004));
        assert_eq!(parse_timestamp("01:02:03.004"), Some(3_723_004));
        assert_eq!(parse_timestamp("  00:00:05,5  "), Some(5_500));
        assert_eq!(parse_timestamp("00:00:05,50"), Some(5_500));
        assert_eq!(parse_timestamp("00:00:05,1234"), Some(5_123));
        assert_eq!(parse_timestamp("02:03.250"), Some(123_250));
        assert_eq!(parse_timestamp("0:0:7,1"), Some(7_100));
        assert_eq!(parse_timestamp("00:00:07"), Some(7_000));
        assert_eq!(parse_timestamp("123:00:00.000"), Some(442_800_000));
        assert_eq!(parse_timestamp("00:60:00,000"), None);
        assert_eq!(parse_timestamp("00:00:60,000"), None);
        assert_eq!(parse_timestamp("00:00:0a,000"), None);
        assert_eq!(parse_timestamp("00:00:01,x"), None);
        assert_eq!(parse_timestamp("1,000"), None);
        assert_eq!(parse_timestamp(""), None);
        assert_eq!(parse_timestamp("1:2:3:4,000"), None);
        assert_eq!(parse_timestamp("-1:00:00,000"), None);
    }

    #[test]
    fn timing_lines() {
        assert_eq!(
            parse_timing_line("00:00:01,000 --> 00:00:02,500"),
            Some((1_000, 2_500))
        );
        assert_eq!(
            parse_timing_line("00:00:01,000-->00:00:02,500"),
            Some((1_000, 2_500))
        );
        assert_eq!(
            parse_timing_line("00:00:01,000  -->  00:00:02,500  X1:100 X2:600 Y1:10 Y2:50"),
            Some((1_000, 2_500))
        );
        assert_eq!(
            parse_timing_line("00:01.000 --> 00:02.000 align:start line:0"),
            Some((1_000, 2_000))
        );
        assert_eq!(parse_timing_line("00:00:03,000 --> 00:00:02,000"), None);
        assert_eq!(parse_timing_line("00:00:03,000 --> "), None);
        assert_eq!(parse_timing_line("nonsense --> 00:00:02,000"), None);
    }

    #[test]
    fn markup() {
        assert_eq!(
            clean_markup("<I>Hello</I> <b>there</b>"),
            "<i>Hello</i> <b>there</b>"
        );
        assert_eq!(
            clean_markup("{\\an8}<font color=\"#ffff00\">Top</font>"),
            "Top"
        );
        assert_eq!(clean_markup("{\\i1}a{\\i0} {not ass}"), "a {not ass}");
        assert_eq!(
            clean_markup("1 < 2 && 3 > 2 --> ok"),
            "1 &lt; 2 &amp;&amp; 3 &gt; 2 --&gt; ok"
        );
        assert_eq!(
            clean_markup("Tom &amp; Jerry &#233; &#xE9;"),
            "Tom &amp; Jerry &#233; &#xE9;"
        );
        assert_eq!(clean_markup("<<i>x</i>"), "&lt;<i>x</i>");
        assert_eq!(clean_markup("a <3 b"), "a &lt;3 b");
        assert_eq!(clean_markup("<br/>x"), "x");
        assert_eq!(
            clean_text_line("one\\Ntwo"),
            vec!["one".to_owned(), "two".to_owned()]
        );
        assert!(clean_text_line("{\\an8}").is_empty());
    }

    #[test]
    fn vtt_header_and_cue_count() {
        assert!(has_webvtt_header("WEBVTT"));
        assert!(has_webvtt_header("WEBVTT - title\n"));
        assert!(has_webvtt_header("\u{FEFF}WEBVTT\n"));
        assert!(!has_webvtt_header("WEBVTTX\n"));
        assert!(!has_webvtt_header("1\n00:00:01,000 --> 00:00:02,000\n"));
        let vtt = "WEBVTT\nKind: captions\n\nNOTE a --> b is not a cue\n\nSTYLE\n::cue {}\n\n\
                   id1\n00:01.000 --> 00:02.000\nHello\n\n00:00:03.000 --> 00:00:04.000 line:0\nWorld\n";
        // The NOTE's "-->" does not parse as a timing line.
        assert_eq!(count_vtt_cues(vtt), 2);
    }

    #[test]
    fn ffprobe_json() {
        let json = br#"{"streams":[
            {"index":2,"codec_name":"subrip","codec_type":"subtitle","disposition":{"default":1,"forced":0},"tags":{"language":"rus","title":"Full"}},
            {"index":3,"codec_name":"hdmv_pgs_subtitle","codec_type":"subtitle","tags":{"language":"und"}},
            {"index":4,"codec_name":"ass","codec_type":"subtitle","disposition":{"default":0,"forced":1}}
        ]}"#;
        let s = parse_ffprobe_streams(json).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].language.as_deref(), Some("rus"));
        assert_eq!(s[0].title.as_deref(), Some("Full"));
        assert!(s[0].default && !s[0].forced);
        assert_eq!(s[1].language, None);
        assert!(s[2].forced);
        assert_eq!(parse_ffprobe_streams(b"{}").unwrap(), vec![]);
        assert!(parse_ffprobe_streams(b"nope").is_err());
    }

    #[test]
    fn utf16_without_bom() {
        let text = "1\n00:00:01,000 --> 00:00:02,000\nHi\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(detect_encoding(&le), UTF_16LE);
        assert_eq!(detect_encoding(&be), UTF_16BE);
        assert_eq!(detect_encoding(text.as_bytes()), UTF_8);
    }
}

//! Still images made from a film: the poster frame and the seek-preview
//! ("trickplay") sprite sheets with their WebVTT index.
//!
//! Everything here shells out to the system's `ffmpeg`. Output files are
//! written under a `.part` name first and renamed into place only when ffmpeg
//! succeeded, so a reader never sees a half-written image and a failed run
//! leaves nothing behind.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::ffmpeg::{self, Job};

/// Widest poster we produce, in pixels.
pub const POSTER_MAX_WIDTH: u32 = 1280;

/// Films shorter than this (in seconds) take their poster from the start
/// rather than from 10 % in.
const POSTER_SHORT_FILM_SECS: f64 = 30.0;

/// Default seconds between two seek-preview thumbnails.
pub const DEFAULT_SPRITE_INTERVAL_SECS: f64 = 10.0;

/// Films shorter than this (in seconds) get a denser automatic interval.
const SHORT_FILM_SECS: f64 = 60.0;

/// Refuse sprite jobs that would make more thumbnails than this (a sign of a
/// bogus interval or duration).
const MAX_SPRITE_TILES: u64 = 20_000;

/// File name of the WebVTT index written by [`sprite`].
pub const SPRITE_VTT_NAME: &str = "sprite.vtt";

/// Errors from making posters and sprite sheets.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// ffmpeg could not be started, exited with an error or stalled.
    #[error("ffmpeg could not make the {what}: {detail}")]
    Ffmpeg {
        /// What we were making ("poster", "seek previews").
        what: &'static str,
        /// The last lines ffmpeg wrote to stderr (see [`ffmpeg::FfmpegError`]), or
        /// why it could not run or was stopped.
        detail: String,
    },
    /// ffmpeg exited successfully but wrote no usable image (for example the
    /// file has no decodable video frames).
    #[error("ffmpeg produced no {what} image (does the file have a video stream?)")]
    NoImage {
        /// What we were making.
        what: &'static str,
    },
    /// An image ffmpeg wrote could not be read as a JPEG.
    #[error("{} is not a readable JPEG image", path.display())]
    BadJpeg {
        /// The offending file.
        path: PathBuf,
    },
    /// A sprite sheet does not have the expected grid geometry.
    #[error(
        "sprite sheet {} is {width}x{height} pixels, which does not divide into {columns}x{rows} tiles",
        path.display()
    )]
    SheetGeometry {
        /// The offending sheet.
        path: PathBuf,
        /// Its real width.
        width: u32,
        /// Its real height.
        height: u32,
        /// Configured tile columns.
        columns: u32,
        /// Configured tile rows.
        rows: u32,
    },
    /// The duration or the options make no sense.
    #[error("invalid seek-preview request: {0}")]
    InvalidRequest(String),
    /// A filesystem operation failed.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What we tried to do ("write", "rename", …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        ImageError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

// ---------------------------------------------------------------------------
// Poster
// ---------------------------------------------------------------------------

/// Writes a representative frame of `input` as a JPEG to `output_jpeg`.
///
/// The frame is chosen by ffmpeg's `thumbnail` filter (the most "typical"
/// frame of a batch of 100) starting about 10 % into the film, or from the
/// start for films shorter than 30 s (or with an unknown duration). If
/// nothing can be decoded from that point on, the start of the film is tried
/// instead. The image keeps the display aspect ratio (anamorphic video is
/// un-squeezed), is at most [`POSTER_MAX_WIDTH`] pixels wide and has even
/// dimensions.
///
/// The JPEG is written to `<output_jpeg>.part` and renamed into place; on
/// failure no file is left behind.
///
/// # Errors
///
/// [`ImageError::Ffmpeg`] if ffmpeg fails (missing or unreadable input, no
/// video stream, …), [`ImageError::NoImage`] if no frame could be decoded at
/// all, [`ImageError::Io`] for filesystem errors.
pub async fn poster(
    input: &Path,
    output_jpeg: &Path,
    duration_secs: f64,
) -> Result<(), ImageError> {
    const WHAT: &str = "poster";
    let part = part_path(output_jpeg);
    if let Some(dir) = output_jpeg.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ImageError::io("create the folder", dir, e))?;
    }

    let start = poster_start(duration_secs);
    let mut starts = vec![start];
    if start > 0.0 {
        starts.push(0.0);
    }

    let mut last_err = ImageError::NoImage { what: WHAT };
    for start in starts {
        let args = poster_args(input, &part, start);
        if let Err(e) = ffmpeg::run(quiet_job(args), |_| {}).await {
            remove_quietly(&part).await;
            return Err(ImageError::Ffmpeg {
                what: WHAT,
                detail: e.detail(),
            });
        }
        // ffmpeg exits 0 with an empty (or no) file when the seek point is
        // past the last frame; check that we really have a JPEG.
        match tokio::fs::read(&part).await {
            Ok(bytes) if jpeg_size(&bytes).is_some() => {
                return tokio::fs::rename(&part, output_jpeg).await.map_err(|e| {
                    // Best effort: do not leave the .part behind.
                    let _ = std::fs::remove_file(&part);
                    ImageError::io("rename into place", output_jpeg, e)
                });
            }
            Ok(_) => {
                tracing::debug!(input = %input.display(), start, "no poster frame from this point");
                last_err = ImageError::NoImage { what: WHAT };
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                last_err = ImageError::NoImage { what: WHAT };
            }
            Err(e) => {
                remove_quietly(&part).await;
                return Err(ImageError::io("read", &part, e));
            }
        }
        remove_quietly(&part).await;
    }
    Err(last_err)
}

/// Where the poster search starts, in seconds.
fn poster_start(duration_secs: f64) -> f64 {
    if duration_secs.is_finite() && duration_secs >= POSTER_SHORT_FILM_SECS {
        // Millisecond precision is plenty and keeps the argument short.
        (duration_secs * 0.1 * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

fn poster_args(input: &Path, part: &Path, start: f64) -> Vec<OsString> {
    // Scale by the display aspect ratio (iw*sar), cap the width, keep both
    // sides even, then mark pixels square. Scaling (and dropping to 8 bits)
    // comes *before* `thumbnail` because that filter holds its whole batch
    // of 100 frames in memory: 100 frames of 4K 10-bit video would be ~2.5 GB.
    let filter = format!(
        "scale=w='trunc(min({POSTER_MAX_WIDTH},iw*sar)/2)*2':h='trunc(ow/dar/2)*2',\
         setsar=1,format=yuv420p,thumbnail"
    );
    let mut args: Vec<OsString> = Vec::new();
    if start > 0.0 {
        args.extend(["-ss".into(), format!("{start:.3}").into()]);
    }
    args.extend(input_args(input));
    args.extend([
        // `V` skips attached pictures (cover art) that some files carry.
        "-map".into(),
        "0:V:0".into(),
        "-vf".into(),
        filter.into(),
        "-frames:v".into(),
        "1".into(),
        "-q:v".into(),
        "3".into(),
        "-c:v".into(),
        "mjpeg".into(),
        "-f".into(),
        "mjpeg".into(),
        ff_path(part),
    ]);
    args
}

// ---------------------------------------------------------------------------
// Sprite sheets
// ---------------------------------------------------------------------------

/// Options for [`sprite`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpriteOptions {
    /// Seconds between thumbnails. `None` picks [`DEFAULT_SPRITE_INTERVAL_SECS`],
    /// or for films under a minute `duration / 8` (at least 1 s), so that
    /// short clips still get a handful of previews. Rounded to milliseconds.
    pub interval: Option<f64>,
    /// Thumbnail width in pixels (the height follows the display aspect
    /// ratio, rounded to an even number).
    pub thumb_width: u32,
    /// Tiles per sheet horizontally.
    pub columns: u32,
    /// Tiles per sheet vertically.
    pub rows: u32,
    /// ffmpeg's JPEG quality scale (`-q:v`), 2 (best) … 31 (worst).
    pub jpeg_quality: u8,
    /// Decode only key frames (`-skip_frame nokey`). Several times faster on
    /// long films, at the price of less precise thumbnails (each shows the
    /// last key frame before its time).
    pub keyframes_only: bool,
}

impl Default for SpriteOptions {
    fn default() -> Self {
        SpriteOptions {
            interval: None,
            thumb_width: 160,
            columns: 10,
            rows: 10,
            jpeg_quality: 5,
            keyframes_only: false,
        }
    }
}

/// The result of [`sprite`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpriteSheet {
    /// The WebVTT index (`<out_dir>/sprite.vtt`). Its cues reference the
    /// sheets by bare file name, e.g. `sprite-0.jpg#xywh=160,0,160,90`.
    pub vtt_path: PathBuf,
    /// The sheets in order: `<out_dir>/sprite-0.jpg`, `sprite-1.jpg`, …
    pub images: Vec<PathBuf>,
    /// Width of one thumbnail in pixels, as produced by ffmpeg.
    pub tile_w: u32,
    /// Height of one thumbnail in pixels, as produced by ffmpeg.
    pub tile_h: u32,
    /// Seconds between thumbnails (the length of every cue but the last).
    pub interval: f64,
    /// Number of thumbnails (and cues).
    pub count: usize,
}

/// Makes seek-preview sprite sheets for `input` in `out_dir`.
///
/// One thumbnail is taken every `interval` seconds (see [`SpriteOptions`]),
/// scaled to `thumb_width` pixels wide, and tiled row by row into JPEG sheets
/// of `columns`×`rows` tiles named `sprite-0.jpg`, `sprite-1.jpg`, …; a WebVTT
/// file `sprite.vtt` then has one cue per thumbnail, e.g.
///
/// ```text
/// 00:00:10.000 --> 00:00:20.000
/// sprite-0.jpg#xywh=160,0,160,90
/// ```
///
/// The cues cover `0 ..= duration_secs` without gaps (the last one is cut
/// short to end at the duration). Tile sizes are read back from the JPEGs
/// ffmpeg actually wrote. The last sheet is padded by ffmpeg to the full grid
/// size (black tiles); no cue points at the padding.
///
/// Each thumbnail shows the frame near the *middle* of its cue: ffmpeg's
/// `fps` filter rounds input timestamps to the nearest output slot and keeps
/// the last frame of each slot, so the thumbnail for `[t, t+interval)` is
/// taken at about `t + interval/2`. That halves the worst-case mismatch
/// between the preview and the frame shown after seeking.
///
/// Existing `sprite-N.jpg`/`sprite.vtt` files in `out_dir` are replaced, and
/// stale sheets from an earlier, longer run are removed. On error, no new
/// files are left behind.
///
/// # Errors
///
/// [`ImageError::InvalidRequest`] for a non-positive duration or bad
/// options, [`ImageError::Ffmpeg`] if ffmpeg fails, [`ImageError::NoImage`],
/// [`ImageError::BadJpeg`] or [`ImageError::SheetGeometry`] if its output is
/// not what was asked for, [`ImageError::Io`] for filesystem errors.
pub async fn sprite(
    input: &Path,
    out_dir: &Path,
    duration_secs: f64,
    opts: &SpriteOptions,
) -> Result<SpriteSheet, ImageError> {
    const WHAT: &str = "seek previews";
    let plan = SpritePlan::new(duration_secs, opts)?;
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|e| ImageError::io("create the folder", out_dir, e))?;

    // Clear out leftovers of an interrupted earlier run so that counting the
    // produced sheets below is reliable.
    remove_numbered(out_dir, ".jpg.part", 0).await;

    let args = sprite_args(input, out_dir, &plan, opts);
    if let Err(e) = ffmpeg::run(quiet_job(args), |_| {}).await {
        remove_numbered(out_dir, ".jpg.part", 0).await;
        return Err(ImageError::Ffmpeg {
            what: WHAT,
            detail: e.detail(),
        });
    }

    match finish_sprite(out_dir, &plan, opts).await {
        Ok(sheet) => Ok(sheet),
        Err(e) => {
            remove_numbered(out_dir, ".jpg.part", 0).await;
            Err(e)
        }
    }
}

/// What to ask ffmpeg for, all in whole milliseconds so that cue times add up
/// exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SpritePlan {
    duration_ms: u64,
    interval_ms: u64,
    /// Thumbnails needed to cover the duration: `ceil(duration / interval)`.
    count: u64,
}

impl SpritePlan {
    fn new(duration_secs: f64, opts: &SpriteOptions) -> Result<Self, ImageError> {
        if !(duration_secs.is_finite() && duration_secs > 0.0) {
            return Err(ImageError::InvalidRequest(format!(
                "the film's duration must be a positive number of seconds, not {duration_secs}"
            )));
        }
        if opts.thumb_width < 2 || opts.columns == 0 || opts.rows == 0 {
            return Err(ImageError::InvalidRequest(
                "thumbnail width, columns and rows must be positive".into(),
            ));
        }
        let interval = match opts.interval {
            Some(i) if i.is_finite() && i > 0.0 => i,
            Some(i) => {
                return Err(ImageError::InvalidRequest(format!(
                    "the interval must be a positive number of seconds, not {i}"
                )));
            }
            None => auto_interval(duration_secs),
        };
        let duration_ms = (duration_secs * 1000.0).round().max(1.0) as u64;
        let interval_ms = (interval * 1000.0).round().max(1.0) as u64;
        let count = duration_ms.div_ceil(interval_ms);
        if count > MAX_SPRITE_TILES {
            return Err(ImageError::InvalidRequest(format!(
                "{count} thumbnails would be needed (more than {MAX_SPRITE_TILES}); use a longer interval"
            )));
        }
        Ok(SpritePlan {
            duration_ms,
            interval_ms,
            count,
        })
    }
}

/// The automatic interval: 10 s, or for films under a minute `duration / 8`
/// but at least 1 s.
fn auto_interval(duration_secs: f64) -> f64 {
    if duration_secs < SHORT_FILM_SECS {
        (duration_secs / 8.0).max(1.0)
    } else {
        DEFAULT_SPRITE_INTERVAL_SECS
    }
}

fn sprite_args(
    input: &Path,
    out_dir: &Path,
    plan: &SpritePlan,
    opts: &SpriteOptions,
) -> Vec<OsString> {
    // tpad clones the last frame so that the stream is never short of the
    // `count` frames we need (fps=… rounds to the *nearest* output slot, so a
    // 4 s clip at fps=1/3 would otherwise yield one frame, not two); trim then
    // cuts at exactly `count`. Both are cheap: clones are reference-counted
    // and trim ends the whole run as soon as it has enough frames.
    let pad_ms = plan.duration_ms + 2 * plan.interval_ms;
    let filter = format!(
        "tpad=stop_mode=clone:stop_duration={pad}ms,fps=1000/{interval},trim=end_frame={count},\
         scale=w={w}:h='max(2,trunc(ow/dar/2)*2)',setsar=1,tile={cols}x{rows}",
        pad = pad_ms,
        interval = plan.interval_ms,
        count = plan.count,
        w = opts.thumb_width,
        cols = opts.columns,
        rows = opts.rows,
    );
    let mut args: Vec<OsString> = Vec::new();
    if opts.keyframes_only {
        args.extend(["-skip_frame".into(), "nokey".into()]);
    }
    args.extend(input_args(input));
    args.extend([
        "-map".into(),
        "0:V:0".into(),
        "-vf".into(),
        filter.into(),
        "-c:v".into(),
        "mjpeg".into(),
        "-q:v".into(),
        opts.jpeg_quality.clamp(2, 31).to_string().into(),
        "-f".into(),
        "image2".into(),
        "-start_number".into(),
        "0".into(),
        image2_pattern(out_dir, "sprite-%d.jpg.part"),
    ]);
    args
}

/// Checks what ffmpeg wrote, renames the sheets into place and writes the VTT.
async fn finish_sprite(
    out_dir: &Path,
    plan: &SpritePlan,
    opts: &SpriteOptions,
) -> Result<SpriteSheet, ImageError> {
    let per_sheet = u64::from(opts.columns) * u64::from(opts.rows);

    // Collect sprite-0.jpg.part, sprite-1.jpg.part, … as written by ffmpeg.
    let mut parts = Vec::new();
    loop {
        let p = out_dir.join(format!("sprite-{}.jpg.part", parts.len()));
        match tokio::fs::try_exists(&p).await {
            Ok(true) => parts.push(p),
            Ok(false) => break,
            Err(e) => return Err(ImageError::io("look for", &p, e)),
        }
    }
    if parts.is_empty() {
        return Err(ImageError::NoImage {
            what: "seek previews",
        });
    }

    // Every sheet (the last one included: ffmpeg's tile filter pads it to the
    // full grid) must have the same size; derive the tile size from it.
    let mut sheet_size = None;
    for p in &parts {
        let bytes = tokio::fs::read(p)
            .await
            .map_err(|e| ImageError::io("read", p, e))?;
        let (w, h) = jpeg_size(&bytes).ok_or_else(|| ImageError::BadJpeg { path: p.clone() })?;
        let geometry_error = || ImageError::SheetGeometry {
            path: p.clone(),
            width: w,
            height: h,
            columns: opts.columns,
            rows: opts.rows,
        };
        if w % opts.columns != 0 || h % opts.rows != 0 || w < opts.columns || h < opts.rows {
            return Err(geometry_error());
        }
        match sheet_size {
            None => sheet_size = Some((w, h)),
            Some(size) if size == (w, h) => {}
            Some(_) => return Err(geometry_error()),
        }
    }
    let Some((sheet_w, sheet_h)) = sheet_size else {
        return Err(ImageError::NoImage {
            what: "seek previews",
        });
    };
    let tile_w = sheet_w / opts.columns;
    let tile_h = sheet_h / opts.rows;

    // Normally ffmpeg wrote exactly ceil(count / per_sheet) sheets. If the
    // video stream ended long before the stated duration it may have written
    // fewer: then the last thumbnail we have is stretched to the end. (A
    // partially filled last sheet cannot be told from padding, so those tiles
    // are trusted.)
    let expected_sheets = plan.count.div_ceil(per_sheet) as usize;
    if parts.len() > expected_sheets {
        for extra in parts.drain(expected_sheets..) {
            remove_quietly(&extra).await;
        }
    }
    let count = plan.count.min(parts.len() as u64 * per_sheet);
    if count < plan.count {
        tracing::warn!(
            dir = %out_dir.display(),
            expected = plan.count,
            got = count,
            "ffmpeg produced fewer seek-preview thumbnails than the duration calls for"
        );
    }

    let vtt = sprite_vtt(
        plan.duration_ms,
        plan.interval_ms,
        count,
        tile_w,
        tile_h,
        opts.columns,
        per_sheet,
    );

    // Rename the sheets into place, then write the index last so that it
    // never points at a missing image.
    let mut images = Vec::with_capacity(parts.len());
    for (n, part) in parts.iter().enumerate() {
        let target = out_dir.join(sheet_name(n));
        tokio::fs::rename(part, &target)
            .await
            .map_err(|e| ImageError::io("rename into place", &target, e))?;
        images.push(target);
    }
    // Sheets beyond the new count belong to an earlier, longer run.
    remove_numbered(out_dir, ".jpg", images.len()).await;

    let vtt_path = out_dir.join(SPRITE_VTT_NAME);
    write_atomically(&vtt_path, vtt.as_bytes()).await?;

    Ok(SpriteSheet {
        vtt_path,
        images,
        tile_w,
        tile_h,
        interval: plan.interval_ms as f64 / 1000.0,
        count: count as usize,
    })
}

fn sheet_name(n: usize) -> String {
    format!("sprite-{n}.jpg")
}

/// Builds the WebVTT index: cue `i` covers `[i*interval, (i+1)*interval)`,
/// the last cue ends at the duration.
fn sprite_vtt(
    duration_ms: u64,
    interval_ms: u64,
    count: u64,
    tile_w: u32,
    tile_h: u32,
    columns: u32,
    per_sheet: u64,
) -> String {
    let mut out = String::with_capacity(64 + count as usize * 64);
    out.push_str("WEBVTT\n");
    for i in 0..count {
        let start = i * interval_ms;
        let end = if i + 1 == count {
            duration_ms
        } else {
            (i + 1) * interval_ms
        };
        let sheet = i / per_sheet;
        let slot = i % per_sheet;
        let x = (slot % u64::from(columns)) * u64::from(tile_w);
        let y = (slot / u64::from(columns)) * u64::from(tile_h);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n{} --> {}\nsprite-{sheet}.jpg#xywh={x},{y},{tile_w},{tile_h}\n",
            vtt_timestamp(start),
            vtt_timestamp(end)
        );
    }
    out
}

/// Formats milliseconds as a WebVTT timestamp, `HH:MM:SS.mmm`.
pub(crate) fn vtt_timestamp(ms: u64) -> String {
    let h = ms / 3_600_000;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    let f = ms % 1000;
    format!("{h:02}:{m:02}:{s:02}.{f:03}")
}

// ---------------------------------------------------------------------------
// JPEG header reader
// ---------------------------------------------------------------------------

/// Reads the pixel size `(width, height)` of a JPEG from its start-of-frame
/// marker (baseline SOF0, progressive SOF2 and the other SOFn variants).
///
/// Returns `None` for data that is not a JPEG or whose header is cut short.
#[must_use]
pub fn jpeg_size(data: &[u8]) -> Option<(u32, u32)> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return None;
    }
    let mut i = 2;
    loop {
        // Each segment starts with 0xFF, possibly preceded by fill bytes.
        if *data.get(i)? != 0xFF {
            return None;
        }
        while *data.get(i)? == 0xFF {
            i += 1;
        }
        let marker = data[i];
        i += 1;
        match marker {
            // Markers without a length field.
            0x01 | 0xD0..=0xD8 => continue,
            // End of image or start of scan before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // A frame header has at least one 3-byte component spec.
            if len < 11 {
                return None;
            }
            let seg = data.get(i..i + 7)?;
            // seg: length(2) precision(1) height(2) width(2)
            let height = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            let width = u32::from(u16::from_be_bytes([seg[5], seg[6]]));
            return (width > 0 && height > 0).then_some((width, height));
        }
        i += len;
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `foo.jpg` → `foo.jpg.part`.
pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// Writes `data` to `<path>.part` and renames it to `path`.
async fn write_atomically(path: &Path, data: &[u8]) -> Result<(), ImageError> {
    let part = part_path(path);
    if let Err(e) = tokio::fs::write(&part, data).await {
        remove_quietly(&part).await;
        return Err(ImageError::io("write", &part, e));
    }
    if let Err(e) = tokio::fs::rename(&part, path).await {
        remove_quietly(&part).await;
        return Err(ImageError::io("rename into place", path, e));
    }
    Ok(())
}

pub(crate) async fn remove_quietly(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove file");
        }
        _ => {}
    }
}

/// Removes `sprite-<n><suffix>` in `dir` for every `n >= from`, stopping at
/// the first number that does not exist.
async fn remove_numbered(dir: &Path, suffix: &str, from: usize) {
    let mut n = from;
    loop {
        let p = dir.join(format!("sprite-{n}{suffix}"));
        if !matches!(tokio::fs::try_exists(&p).await, Ok(true)) {
            break;
        }
        remove_quietly(&p).await;
        n += 1;
    }
}

/// An ffmpeg job for work whose progress nobody watches (posters, seek previews,
/// subtitle extraction), to run with [`ffmpeg::run`].
///
/// The duration is left unknown (0): these outputs' timestamps are not a fraction of
/// the film's length anyway (one poster frame, tiled sheets), so the runner reports no
/// progress except the final 1.0. Its stall watchdog works all the same, because any
/// progress line ffmpeg prints (about twice a second, with or without a usable time)
/// resets it; an ffmpeg that goes silent for [`ffmpeg::DEFAULT_STALL_TIMEOUT`] is
/// killed.
pub(crate) fn quiet_job(args: Vec<OsString>) -> Job {
    Job::new(args, 0.0)
}

/// A path as an ffmpeg input/output argument: prefixed with `file:` so that
/// names containing a colon (`a:b.mkv`) or starting with `-` are never taken
/// for a protocol or an option.
pub(crate) fn ff_path(path: &Path) -> OsString {
    let mut s = OsString::from("file:");
    s.push(path.as_os_str());
    s
}

/// `-protocol_whitelist file -i file:<input>`: read the input as a local
/// file only. ffmpeg picks the demuxer by content, so an upload that is
/// really an HLS playlist or a concat list could otherwise make it open
/// URLs or other files.
pub(crate) fn input_args(input: &Path) -> [OsString; 4] {
    [
        "-protocol_whitelist".into(),
        "file".into(),
        "-i".into(),
        ff_path(input),
    ]
}

/// Escapes `%` in a folder name for use in an image2 output pattern.
fn image2_pattern(dir: &Path, file_pattern: &str) -> OsString {
    let mut s = OsString::from("file:");
    match dir.to_str() {
        Some(d) => s.push(d.replace('%', "%%")),
        None => s.push(dir.as_os_str()),
    }
    s.push(std::path::MAIN_SEPARATOR_STR);
    s.push(file_pattern);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG header: SOI, APP0 (JFIF), DQT stub, SOFn, SOS.
    fn fake_jpeg(sof: u8, width: u16, height: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        // APP0 with a 16-byte payload (length 16 includes the length field).
        v.extend([0xFF, 0xE0, 0x00, 0x10]);
        v.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        // A DHT segment (0xC4 must not be taken for a frame header).
        v.extend([0xFF, 0xC4, 0x00, 0x04, 0xAA, 0xBB]);
        // Fill bytes before the next marker are allowed.
        v.extend([0xFF, 0xFF]);
        v.extend([0xFF, sof, 0x00, 0x11, 0x08]);
        v.extend(height.to_be_bytes());
        v.extend(width.to_be_bytes());
        v.extend([0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v.extend([0xFF, 0xDA, 0x00, 0x02]);
        v
    }

    #[test]
    fn jpeg_size_reads_baseline_and_progressive() {
        assert_eq!(jpeg_size(&fake_jpeg(0xC0, 1600, 900)), Some((1600, 900)));
        assert_eq!(jpeg_size(&fake_jpeg(0xC2, 160, 90)), Some((160, 90)));
        assert_eq!(jpeg_size(&fake_jpeg(0xC1, 65535, 1)), Some((65535, 1)));
    }

    #[test]
    fn jpeg_size_rejects_garbage() {
        assert_eq!(jpeg_size(b""), None);
        assert_eq!(jpeg_size(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(jpeg_size(&[0xFF, 0xD8, 0xFF, 0xD9]), None);
        // Cut off in the middle of the frame header.
        let full = fake_jpeg(0xC0, 320, 180);
        let cut = full.iter().position(|&b| b == 0xC0).map(|p| p + 4).unwrap();
        assert_eq!(jpeg_size(&full[..cut]), None);
        // Zero height (DNL-style) is not supported.
        assert_eq!(jpeg_size(&fake_jpeg(0xC0, 320, 0)), None);
        // Bad segment length.
        assert_eq!(jpeg_size(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01]), None);
        // Data between segments that is not a marker.
        assert_eq!(jpeg_size(&[0xFF, 0xD8, 0x00, 0xE0, 0x00, 0x02]), None);
    }

    #[test]
    fn vtt_timestamps() {
        assert_eq!(vtt_timestamp(0), "00:00:00.000");
        assert_eq!(vtt_timestamp(10_000), "00:00:10.000");
        assert_eq!(vtt_timestamp(3_723_004), "01:02:03.004");
        assert_eq!(vtt_timestamp(360_000_000), "100:00:00.000");
    }

    #[test]
    fn sprite_plan_and_vtt() {
        let opts = SpriteOptions::default();
        let p = SpritePlan::new(35.0, &opts).unwrap();
        // Under a minute: 35/8 = 4.375 s.
        assert_eq!((p.interval_ms, p.count), (4375, 8));
        let p = SpritePlan::new(4.0, &opts).unwrap();
        assert_eq!((p.interval_ms, p.count), (1000, 4));
        let p = SpritePlan::new(7200.5, &opts).unwrap();
        assert_eq!((p.interval_ms, p.count), (10_000, 721));
        assert!(SpritePlan::new(0.0, &opts).is_err());
        assert!(SpritePlan::new(f64::NAN, &opts).is_err());
        let bad = SpriteOptions {
            interval: Some(-1.0),
            ..SpriteOptions::default()
        };
        assert!(SpritePlan::new(10.0, &bad).is_err());

        let vtt = sprite_vtt(25_000, 10_000, 3, 160, 90, 2, 4);
        assert_eq!(
            vtt,
            "WEBVTT\n\
             \n00:00:00.000 --> 00:00:10.000\nsprite-0.jpg#xywh=0,0,160,90\n\
             \n00:00:10.000 --> 00:00:20.000\nsprite-0.jpg#xywh=160,0,160,90\n\
             \n00:00:20.000 --> 00:00:25.000\nsprite-0.jpg#xywh=0,90,160,90\n"
        );
        let vtt = sprite_vtt(50_000, 10_000, 5, 160, 90, 2, 4);
        assert!(vtt.ends_with("00:00:40.000 --> 00:00:50.000\nsprite-1.jpg#xywh=0,0,160,90\n"));
    }

    #[test]
    fn poster_start_point() {
        assert_eq!(poster_start(5.0), 0.0);
        assert_eq!(poster_start(f64::NAN), 0.0);
        assert_eq!(poster_start(-3.0), 0.0);
        assert_eq!(poster_start(5400.0), 540.0);
    }

    #[test]
    fn part_path_appends_suffix() {
        assert_eq!(
            part_path(Path::new("/a/b.jpg")),
            PathBuf::from("/a/b.jpg.part")
        );
    }
}

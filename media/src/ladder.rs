//! The rendition ladder: which sizes to make from a source, the ffmpeg arguments that
//! make each one, and the checks that the finished file is what browsers need.
//!
//! Every source becomes up to four heights, each in two containers:
//!
//! * **MP4** (H.264 + AAC): plays everywhere, notably Safari and older iPhones.
//! * **WebM** (VP9 + Opus): royalty-free, for browsers built without H.264 (some Linux
//!   Firefox and Chromium packages).
//!
//! Both get a keyframe exactly every 2 seconds (whatever the frame rate, and none
//! elsewhere), so the renditions line up and could later be cut into segments, and seeking
//! is quick in all of them.

use std::ffi::OsString;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::probe::{self, display_size, short_side, RawProbe, VideoStream};

/// The standard heights (short sides), smallest first. 2160 is opt-in: it takes about
/// four times the pixels (and roughly the CPU) of 1080, and few screens benefit.
const STANDARD_HEIGHTS: [u32; 3] = [480, 720, 1080];
const UHD_HEIGHT: u32 = 2160;

/// Seconds between keyframes in every rendition.
pub const KEYFRAME_INTERVAL_SECS: u32 = 2;

/// How far a rendition's duration may differ from the source's, in seconds.
/// Audio frames (AAC 1024 samples, Opus 20 ms) and encoder delay stay well inside this.
pub const DURATION_TOLERANCE_SECS: f64 = 0.2;

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// H.264 + AAC in MP4, `moov` at the front ("faststart").
    Mp4,
    /// VP9 + Opus in WebM, cues (the seek index) at the front.
    Webm,
}

impl Container {
    /// Both containers, in the order they are usually made (MP4 first: it is the one every
    /// browser can play, so it is the one to have early).
    pub const ALL: [Container; 2] = [Container::Mp4, Container::Webm];

    /// The file extension, without a dot.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Mp4 => "mp4",
            Container::Webm => "webm",
        }
    }

    fn video_codec(self) -> &'static str {
        match self {
            Container::Mp4 => "h264",
            Container::Webm => "vp9",
        }
    }

    fn audio_codec(self) -> &'static str {
        match self {
            Container::Mp4 => "aac",
            Container::Webm => "opus",
        }
    }
}

/// One output file: a size in a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rendition {
    /// The **short** side in pixels (so "480p" is 854x480 landscape and 480x854 portrait).
    pub height: u32,
    pub container: Container,
}

impl Rendition {
    /// A label such as `720p`.
    pub fn label(&self) -> String {
        format!("{}p", self.height)
    }
}

/// The heights (short sides) to make from a source, smallest first.
///
/// The standard heights 480, 720, 1080 (and 2160 when `allow_2160`) that are not larger
/// than the source's short side: upscaling only costs bytes and CPU. A source smaller than
/// 480 gets one rendition at its own short side, rounded down to even (the encoders need
/// even sizes); a degenerate source under 2 pixels gets none.
pub fn plan(source: &VideoStream, allow_2160: bool) -> Vec<u32> {
    let short = short_side(source);
    let uhd = allow_2160.then_some(UHD_HEIGHT);
    let heights: Vec<u32> = STANDARD_HEIGHTS
        .into_iter()
        .chain(uhd)
        .filter(|&h| h <= short)
        .collect();
    if !heights.is_empty() {
        return heights;
    }
    let even = short & !1;
    if even >= 2 {
        vec![even]
    } else {
        Vec::new()
    }
}

/// How hard the VP9 encoder works. VP9 is by far the slowest part of a transcode, so this
/// is the knob for a small server.
///
/// Measured on the project's 2-core machine (ffmpeg 5.1.9, libvpx 1.12, x264 164) with the
/// exact arguments of [`args`], in **CPU-seconds per second of video** (user + system of
/// the whole ffmpeg run, including decoding the source), from a lossless 25 fps 1080p
/// source with a mono tone; the machine was busy with other builds, so only CPU time,
/// not wall time, is meaningful:
///
/// | output | x264 veryfast crf 23 | VP9 `Good` crf 33 | VP9 `Fast` crf 33 |
/// |---|---:|---:|---:|
/// | 1080 `testsrc2`        | 0.87 | 2.86 | 0.66 |
/// |  720 `testsrc2`        | 0.46 | 1.71 | 0.47 |
/// |  480 `testsrc2`        | 0.32 | 0.94 | 0.29 |
/// | 1080 `testsrc2` + heavy film grain | 4.4 | 27 | 3.6 |
/// |  720 … + grain         | 1.9 | 6.6 | 1.9 |
/// |  480 … + grain         | 1.4 | 2.9 | 1.6 |
///
/// (The grain rows include about 1.2 CPU-s/s for decoding the lossless noisy source;
/// `testsrc2` decodes for about 0.15.) Real films lie between the two sets of rows. So the
/// whole six-file ladder of a 1080p film costs roughly 7 CPU-s per second with `Good`
/// (a two-hour film: about 7 hours on 2 cores) and roughly 3 with `Fast`. `Fast` files
/// were 10–100 % larger than `Good` at the same crf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Vp9Speed {
    /// `-deadline good -cpu-used 4 -row-mt 1`: the usual "good quality, reasonable speed".
    #[default]
    Good,
    /// `-deadline realtime -cpu-used 8 -row-mt 1`: much faster, noticeably larger files
    /// at the same crf. For weak machines and tests.
    Fast,
}

impl Vp9Speed {
    fn args(self) -> [&'static str; 6] {
        match self {
            Vp9Speed::Good => ["-deadline", "good", "-cpu-used", "4", "-row-mt", "1"],
            Vp9Speed::Fast => ["-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1"],
        }
    }
}

/// The ffmpeg arguments (after `ffmpeg`'s fixed leading options, see
/// [`crate::ffmpeg::run`]) that make `rendition` from `input` into `output`.
///
/// * Input: read as a `file:` URL with only the `file` protocol allowed, so neither the
///   file name nor the file's contents can make ffmpeg open anything else.
/// * Only the first video and first audio stream are kept; subtitles, data streams,
///   chapters and metadata are dropped. Metadata is dropped on purpose: phone videos
///   carry GPS positions and device names that should not be published with the film.
/// * Picture: ffmpeg's autorotation first, then scaled so the short side is
///   `rendition.height` and the long side keeps the *display* aspect ratio (square pixels
///   out, even anamorphic sources in), rounded to even; 8-bit 4:2:0 (`yuv420p`), the only
///   format every browser decodes.
/// * Keyframes every [`KEYFRAME_INTERVAL_SECS`] by time, not frame count, and none at
///   scene cuts (x264 `-sc_threshold 0`; for VP9, `-keyint_min` equal to `-g` turns
///   libvpx's automatic keyframes off). `-g` is so large it never adds keyframes itself.
/// * MP4: libx264 `-preset veryfast -crf 23`, AAC 128k stereo, `+faststart` so playback
///   starts before the download ends. Why veryfast: measured here, `medium` at the same
///   crf took 2.1–2.3 times the CPU for a slightly better picture (PSNR +0.3 to +2 dB) in
///   13–16 % more bytes. On a small self-hosted server, the film being ready tonight
///   matters more; crf 23 is x264's default and looks clean at these sizes.
/// * WebM: libvpx-vp9 constant quality `-b:v 0 -crf 33` with `vp9`'s speed flags, Opus
///   96k stereo, cues at the front for the same reason as faststart.
/// * Audio is downmixed to stereo: browsers play 5.1 badly or not at all.
/// * `-f` names the format, because `output` ends in `.part` until it is verified.
pub fn args(
    input: &Path,
    output: &Path,
    rendition: Rendition,
    has_audio: bool,
    source: &VideoStream,
    vp9: Vp9Speed,
) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::with_capacity(64);
    let push = |a: &mut Vec<OsString>, items: &[&str]| a.extend(items.iter().map(OsString::from));

    push(&mut a, &["-protocol_whitelist", "file", "-i"]);
    a.push(file_url(input));

    push(&mut a, &["-map", "0:v:0"]);
    if has_audio {
        push(&mut a, &["-map", "0:a:0?"]);
    }
    push(
        &mut a,
        &["-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"],
    );

    let filter = scale_filter(source, rendition.height);
    push(&mut a, &["-vf", &filter, "-pix_fmt", "yuv420p"]);

    let key_expr = format!("expr:gte(t,n_forced*{KEYFRAME_INTERVAL_SECS})");
    push(&mut a, &["-force_key_frames", &key_expr]);

    match rendition.container {
        Container::Mp4 => {
            push(
                &mut a,
                &["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"],
            );
            push(&mut a, &["-g", "9999", "-sc_threshold", "0"]);
            if has_audio {
                push(&mut a, &["-c:a", "aac", "-b:a", "128k", "-ac", "2"]);
            } else {
                push(&mut a, &["-an"]);
            }
            push(&mut a, &["-movflags", "+faststart", "-f", "mp4"]);
        }
        Container::Webm => {
            push(&mut a, &["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "33"]);
            push(&mut a, &vp9.args());
            push(&mut a, &["-g", "9999", "-keyint_min", "9999"]);
            if has_audio {
                push(&mut a, &["-c:a", "libopus", "-b:a", "96k", "-ac", "2"]);
            } else {
                push(&mut a, &["-an"]);
            }
            push(&mut a, &["-cues_to_front", "1", "-f", "webm"]);
        }
    }
    a.push(file_url(output));
    a
}

/// The `-vf` filter that scales to a short side of `height` with square pixels.
///
/// ffmpeg autorotates before the filter runs, so the orientation is the *displayed* one.
/// `dar` (display aspect ratio, which includes the sample aspect ratio) gives the long
/// side; `round(…/2)*2` makes it even the same way `scale=-2:H` does for square pixels.
fn scale_filter(source: &VideoStream, height: u32) -> String {
    let (w, h) = display_size(source);
    if w >= h {
        format!("scale=w=round({height}*dar/2)*2:h={height},setsar=1")
    } else {
        format!("scale=w={height}:h=round({height}/dar/2)*2,setsar=1")
    }
}

/// `path` as a `file:` URL, so names such as `http:x` or `concat:a|b` stay file names.
fn file_url(path: &Path) -> OsString {
    let mut url = OsString::from("file:");
    url.push(path.as_os_str());
    url
}

/// Why a finished rendition was rejected. Each means the file must not be published.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the finished file cannot be read back: {0}")]
    Probe(#[from] probe::ProbeError),
    #[error("the finished file cannot be read: {0}")]
    Io(#[from] io::Error),
    #[error("the finished file has video codec {found}, expected {expected}")]
    VideoCodec {
        expected: &'static str,
        found: String,
    },
    #[error("the finished file has audio codec {found}, expected {expected}")]
    AudioCodec {
        expected: &'static str,
        found: String,
    },
    #[error("the finished file has no audio, but the source has")]
    MissingAudio,
    #[error("the finished file has audio, but the source has none")]
    UnexpectedAudio,
    #[error(
        "the finished file has pixel format {found}, expected yuv420p (what browsers can play)"
    )]
    PixelFormat { found: String },
    #[error("the finished file is {found} pixels on its short side, expected {expected}")]
    Height { expected: u32, found: u32 },
    #[error("the finished file is {found:.2} s long, but the source is {expected:.2} s")]
    Duration { expected: f64, found: f64 },
    #[error("the MP4 has its index (moov) after the media data: browsers would have to download all of it before playing")]
    NotFaststart,
    #[error("the MP4 is malformed: {0}")]
    MalformedMp4(String),
}

/// Checks a finished rendition before it is published: the codecs of `container`, audio
/// present exactly when the source had it, `yuv420p`, the short side `expected_height`,
/// the duration within [`DURATION_TOLERANCE_SECS`] of the source, and for MP4 that the
/// `moov` box comes before `mdat` (faststart).
pub async fn verify(
    output: &Path,
    expected_height: u32,
    expected_duration: f64,
    container: Container,
    has_audio: bool,
) -> Result<(), VerifyError> {
    // No sniffing here: this is our own output, not an upload.
    let raw = probe::run_ffprobe(output).await?;
    let probed = probe::interpret(&raw)?;
    check_streams(&raw, container, has_audio)?;

    let video = probed
        .video
        .as_ref()
        .ok_or(probe::ProbeError::NoVideoStream)?;
    let found = short_side(video);
    if found != expected_height {
        return Err(VerifyError::Height {
            expected: expected_height,
            found,
        });
    }
    if (probed.duration_secs - expected_duration).abs() > DURATION_TOLERANCE_SECS {
        return Err(VerifyError::Duration {
            expected: expected_duration,
            found: probed.duration_secs,
        });
    }

    if container == Container::Mp4 {
        let path = output.to_path_buf();
        let boxes = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(path)?;
            top_level_boxes(&mut file)
        })
        .await
        .map_err(|e| io::Error::other(format!("the MP4 check was interrupted: {e}")))??;
        check_faststart(&boxes)?;
    }
    Ok(())
}

/// Codecs and pixel format of the first video and audio stream.
fn check_streams(raw: &RawProbe, container: Container, has_audio: bool) -> Result<(), VerifyError> {
    let unknown = || "unknown".to_string();
    let video = raw
        .streams
        .iter()
        .find(|s| s.is_video())
        .ok_or(probe::ProbeError::NoVideoStream)?;
    let codec = video.codec_name.clone().unwrap_or_else(unknown);
    if codec != container.video_codec() {
        return Err(VerifyError::VideoCodec {
            expected: container.video_codec(),
            found: codec,
        });
    }
    let pix_fmt = video.pix_fmt.clone().unwrap_or_else(unknown);
    if pix_fmt != "yuv420p" {
        return Err(VerifyError::PixelFormat { found: pix_fmt });
    }
    match (raw.streams.iter().find(|s| s.is_audio()), has_audio) {
        (None, true) => Err(VerifyError::MissingAudio),
        (Some(_), false) => Err(VerifyError::UnexpectedAudio),
        (None, false) => Ok(()),
        (Some(audio), true) => {
            let codec = audio.codec_name.clone().unwrap_or_else(unknown);
            if codec == container.audio_codec() {
                Ok(())
            } else {
                Err(VerifyError::AudioCodec {
                    expected: container.audio_codec(),
                    found: codec,
                })
            }
        }
    }
}

/// One top-level box (atom) of an MP4 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Box {
    /// The four-character type, e.g. `*b"moov"`.
    pub kind: [u8; 4],
    /// Where the box starts in the file.
    pub offset: u64,
    /// The whole box's size including its header.
    pub size: u64,
}

/// Lists the top-level boxes of an MP4 by walking their headers (4-byte big-endian size,
/// 4-byte type; size 1 means a 64-bit size follows, size 0 means "to the end of file").
/// Only headers are read, so this is instant even on a multi-gigabyte file.
///
/// A box that claims to run past the end of the file is reported with its claimed size
/// and ends the walk; a size smaller than its own header is an error.
pub fn top_level_boxes<R: Read + Seek>(reader: &mut R) -> io::Result<Vec<Mp4Box>> {
    let len = reader.seek(SeekFrom::End(0))?;
    let mut boxes = Vec::new();
    let mut offset = 0u64;
    while offset < len {
        if len - offset < 8 {
            return Err(malformed(format!(
                "{} stray bytes at the end of the file",
                len - offset
            )));
        }
        reader.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; 8];
        reader.read_exact(&mut header)?;
        let [s0, s1, s2, s3, k0, k1, k2, k3] = header;
        let kind = [k0, k1, k2, k3];
        let (size, header_len) = match u32::from_be_bytes([s0, s1, s2, s3]) {
            0 => (len - offset, 8),
            1 => {
                let mut large = [0u8; 8];
                reader.read_exact(&mut large).map_err(|_| {
                    malformed(format!("box {} at {offset} is cut off", kind_name(kind)))
                })?;
                (u64::from_be_bytes(large), 16)
            }
            small => (u64::from(small), 8),
        };
        if size < header_len {
            return Err(malformed(format!(
                "box {} at {offset} claims {size} bytes, less than its header",
                kind_name(kind)
            )));
        }
        boxes.push(Mp4Box { kind, offset, size });
        match offset.checked_add(size) {
            Some(next) if next <= len => offset = next,
            // Truncated file or an absurd size: nothing after it can be trusted.
            _ => break,
        }
    }
    Ok(boxes)
}

/// Whether `moov` comes before `mdat`, as browsers need to start playing early.
pub fn check_faststart(boxes: &[Mp4Box]) -> Result<(), VerifyError> {
    let position = |kind: &[u8; 4]| boxes.iter().position(|b| &b.kind == kind);
    match (position(b"moov"), position(b"mdat")) {
        (Some(moov), Some(mdat)) if moov < mdat => Ok(()),
        (Some(_), Some(_)) => Err(VerifyError::NotFaststart),
        (None, _) => Err(VerifyError::MalformedMp4("it has no moov box".to_string())),
        (Some(_), None) => Err(VerifyError::MalformedMp4("it has no mdat box".to_string())),
    }
}

fn kind_name(kind: [u8; 4]) -> String {
    String::from_utf8_lossy(&kind).escape_debug().to_string()
}

fn malformed(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn video(width: u32, height: u32, rotation: u32) -> VideoStream {
        VideoStream {
            width,
            height,
            codec: "h264".into(),
            rotation,
        }
    }

    #[test]
    fn plan_for_many_sizes() {
        let cases: &[(u32, u32, bool, &[u32])] = &[
            (3840, 2160, false, &[480, 720, 1080]),
            (3840, 2160, true, &[480, 720, 1080, 2160]),
            (4096, 2160, true, &[480, 720, 1080, 2160]),
            (3840, 1600, true, &[480, 720, 1080]),
            (2560, 1440, true, &[480, 720, 1080]),
            (1920, 1080, false, &[480, 720, 1080]),
            (1920, 1080, true, &[480, 720, 1080]),
            (1920, 1036, false, &[480, 720]),
            (1920, 800, false, &[480, 720]),
            (1440, 1080, false, &[480, 720, 1080]),
            (1280, 720, false, &[480, 720]),
            (1280, 718, false, &[480]),
            (854, 480, false, &[480]),
            (720, 576, false, &[480]),
            (720, 480, false, &[480]),
            (640, 480, false, &[480]),
            (640, 360, false, &[360]),
            (640, 361, false, &[360]),
            (639, 479, false, &[478]),
            (480, 480, false, &[480]),
            (320, 240, true, &[240]),
            (176, 144, false, &[144]),
            (3, 3, false, &[2]),
            (2, 1, false, &[]),
            (1, 1, false, &[]),
            // portrait: the short side is the width
            (720, 1280, false, &[480, 720]),
            (1080, 1920, false, &[480, 720, 1080]),
            (2160, 3840, true, &[480, 720, 1080, 2160]),
            (360, 640, false, &[360]),
        ];
        for &(w, h, uhd, expected) in cases {
            assert_eq!(
                plan(&video(w, h, 0), uhd),
                expected,
                "{w}x{h} allow_2160={uhd}"
            );
            // Rotation never changes the short side.
            assert_eq!(plan(&video(w, h, 90), uhd), expected, "{w}x{h} rotated");
        }
    }

    #[test]
    fn scale_follows_displayed_orientation() {
        assert_eq!(
            scale_filter(&video(1920, 1080, 0), 720),
            "scale=w=round(720*dar/2)*2:h=720,setsar=1"
        );
        assert_eq!(
            scale_filter(&video(720, 1280, 0), 480),
            "scale=w=480:h=round(480/dar/2)*2,setsar=1"
        );
        // A phone's landscape-coded portrait video: autorotated first, so portrait.
        assert_eq!(
            scale_filter(&video(1920, 1080, 90), 480),
            "scale=w=480:h=round(480/dar/2)*2,setsar=1"
        );
        assert_eq!(
            scale_filter(&video(1920, 1080, 180), 480),
            "scale=w=round(480*dar/2)*2:h=480,setsar=1"
        );
    }

    #[test]
    fn args_have_the_essentials() {
        let src = video(1920, 1080, 0);
        let mp4 = Rendition {
            height: 720,
            container: Container::Mp4,
        };
        let a: Vec<String> = args(
            Path::new("/in/a b.mkv"),
            Path::new("/out/x.mp4.part"),
            mp4,
            true,
            &src,
            Vp9Speed::Good,
        )
        .into_iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
        let joined = a.join(" ");
        for needle in [
            "-i file:/in/a b.mkv",
            "-map 0:v:0 -map 0:a:0?",
            "-sn -dn",
            "-pix_fmt yuv420p",
            "-force_key_frames expr:gte(t,n_forced*2)",
            "-sc_threshold 0",
            "-c:a aac -b:a 128k -ac 2",
            "-movflags +faststart -f mp4",
        ] {
            assert!(joined.contains(needle), "{needle:?} missing from {joined}");
        }
        assert_eq!(a.last().map(String::as_str), Some("file:/out/x.mp4.part"));

        let webm = Rendition {
            height: 480,
            container: Container::Webm,
        };
        let joined = args(
            Path::new("in"),
            Path::new("out.webm.part"),
            webm,
            false,
            &src,
            Vp9Speed::Fast,
        )
        .into_iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
        for needle in [
            "-c:v libvpx-vp9 -b:v 0 -crf 33",
            "-deadline realtime -cpu-used 8 -row-mt 1",
            "-an",
            "-f webm",
        ] {
            assert!(joined.contains(needle), "{needle:?} missing from {joined}");
        }
        assert!(
            !joined.contains("0:a:0"),
            "no audio map without audio: {joined}"
        );
    }

    fn boxes_of(bytes: Vec<u8>) -> io::Result<Vec<Mp4Box>> {
        top_level_boxes(&mut Cursor::new(bytes))
    }

    fn mp4_box(kind: &[u8; 4], body_len: usize) -> Vec<u8> {
        let mut b = u32::try_from(body_len + 8)
            .expect("small box")
            .to_be_bytes()
            .to_vec();
        b.extend_from_slice(kind);
        b.resize(body_len + 8, 0xAB);
        b
    }

    fn kinds(boxes: &[Mp4Box]) -> Vec<&[u8; 4]> {
        boxes.iter().map(|b| &b.kind).collect()
    }

    #[test]
    fn boxes_faststart_order() {
        let file = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"moov", 100),
            mp4_box(b"mdat", 1000),
        ]
        .concat();
        let boxes = boxes_of(file).expect("boxes");
        assert_eq!(kinds(&boxes), [b"ftyp", b"moov", b"mdat"]);
        assert_eq!(
            boxes[1],
            Mp4Box {
                kind: *b"moov",
                offset: 24,
                size: 108
            }
        );
        assert!(check_faststart(&boxes).is_ok());
    }

    #[test]
    fn boxes_moov_at_end_is_rejected() {
        let file = [
            mp4_box(b"ftyp", 16),
            mp4_box(b"free", 0),
            mp4_box(b"mdat", 1000),
            mp4_box(b"moov", 100),
        ]
        .concat();
        let boxes = boxes_of(file).expect("boxes");
        assert_eq!(kinds(&boxes), [b"ftyp", b"free", b"mdat", b"moov"]);
        assert!(matches!(
            check_faststart(&boxes),
            Err(VerifyError::NotFaststart)
        ));
    }

    #[test]
    fn boxes_64_bit_size() {
        // size == 1: the real size is the 64-bit number after the type.
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16u64 + 40).to_be_bytes());
        large.resize(16 + 40, 0);
        let file = [
            mp4_box(b"ftyp", 8),
            mp4_box(b"moov", 10),
            large,
            mp4_box(b"free", 4),
        ]
        .concat();
        let boxes = boxes_of(file).expect("boxes");
        assert_eq!(kinds(&boxes), [b"ftyp", b"moov", b"mdat", b"free"]);
        assert_eq!(
            boxes[2],
            Mp4Box {
                kind: *b"mdat",
                offset: 34,
                size: 56
            }
        );
        assert!(check_faststart(&boxes).is_ok());
    }

    #[test]
    fn boxes_size_zero_runs_to_the_end() {
        let mut last = 0u32.to_be_bytes().to_vec();
        last.extend_from_slice(b"mdat");
        last.resize(8 + 500, 0);
        let file = [mp4_box(b"ftyp", 8), mp4_box(b"moov", 10), last].concat();
        let boxes = boxes_of(file).expect("boxes");
        assert_eq!(
            boxes[2],
            Mp4Box {
                kind: *b"mdat",
                offset: 34,
                size: 508
            }
        );
    }

    #[test]
    fn boxes_truncated_or_malformed() {
        // mdat claims more than the file has: listed, and the walk stops.
        let mut file = [mp4_box(b"ftyp", 8), mp4_box(b"mdat", 1000)].concat();
        file.truncate(100);
        let boxes = boxes_of(file).expect("boxes");
        assert_eq!(kinds(&boxes), [b"ftyp", b"mdat"]);
        assert!(matches!(
            check_faststart(&boxes),
            Err(VerifyError::MalformedMp4(_))
        ));

        // A size smaller than the header would loop forever if trusted.
        let mut bad = 4u32.to_be_bytes().to_vec();
        bad.extend_from_slice(b"moov");
        assert!(boxes_of([mp4_box(b"ftyp", 8), bad].concat()).is_err());

        // Stray bytes, a cut-off 64-bit size, an absurd 64-bit size, an empty file.
        assert!(boxes_of([mp4_box(b"ftyp", 8), vec![0, 0, 0]].concat()).is_err());
        let mut cut = 1u32.to_be_bytes().to_vec();
        cut.extend_from_slice(b"mdat");
        cut.extend_from_slice(&[0, 0, 0]);
        assert!(boxes_of(cut).is_err());
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(kinds(&boxes_of(huge).expect("boxes")), [b"mdat"]);
        assert_eq!(boxes_of(Vec::new()).expect("boxes"), []);
        assert!(matches!(
            check_faststart(&[]),
            Err(VerifyError::MalformedMp4(_))
        ));
    }
}

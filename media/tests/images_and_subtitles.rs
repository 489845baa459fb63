//! Integration tests for `kino_media::images` and `kino_media::subtitles`.
//!
//! Fixtures are generated on the fly with ffmpeg's `lavfi` test sources and
//! in code; nothing is committed. Needs `ffmpeg` and `ffprobe` on PATH.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use kino_media::images::{self, ImageError, SpriteOptions, SpriteSheet};
use kino_media::subtitles::{self, SubtitleError};

// ---------------------------------------------------------------------------
// Fixture helpers
// ---------------------------------------------------------------------------

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-y", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("ffmpeg must be installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ffprobe(args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .output()
        .expect("ffprobe must be installed");
    assert!(
        out.status.success(),
        "ffprobe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `testsrc2` H.264 clip of `secs` seconds.
fn test_video(
    dir: &Path,
    name: &str,
    secs: f64,
    size: &str,
    rate: u32,
    extra_vf: Option<&str>,
) -> PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc2=size={size}:rate={rate}");
    let secs = secs.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &src, "-t", &secs];
    if let Some(vf) = extra_vf {
        args.extend(["-vf", vf]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        path.to_str().unwrap(),
    ]);
    ffmpeg(&args);
    path
}

fn duration_of(path: &Path) -> f64 {
    ffprobe(&[
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
        path.to_str().unwrap(),
    ])
    .trim()
    .parse()
    .unwrap()
}

/// (codec, width, height) of the first video stream, according to ffprobe.
fn image_info(path: &Path) -> (String, u32, u32) {
    let out = ffprobe(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height",
        "-of",
        "csv=p=0",
        path.to_str().unwrap(),
    ]);
    let parts: Vec<&str> = out.trim().split(',').collect();
    (
        parts[0].to_owned(),
        parts[1].parse().unwrap(),
        parts[2].parse().unwrap(),
    )
}

fn no_part_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".part"))
}

// ---------------------------------------------------------------------------
// Posters
// ---------------------------------------------------------------------------

#[tokio::test]
async fn poster_of_short_clip_is_a_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path(), "clip.mp4", 5.0, "320x180", 25, None);
    let poster = dir.path().join("poster.jpg");

    images::poster(&video, &poster, 5.0).await.unwrap();

    let bytes = std::fs::read(&poster).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "JPEG magic");
    assert!(
        bytes.len() > 2_000 && bytes.len() < 500_000,
        "size {}",
        bytes.len()
    );
    assert_eq!(image_info(&poster), ("mjpeg".to_owned(), 320, 180));
    assert_eq!(images::jpeg_size(&bytes), Some((320, 180)));
    assert!(no_part_files(dir.path()));
}

#[tokio::test]
async fn poster_seeks_into_longer_films_and_unsqueezes_anamorphic_video() {
    let dir = tempfile::tempdir().unwrap();
    // 320x180 storage with 2:1 pixels: displayed 640x180.
    let video = test_video(dir.path(), "wide.mp4", 32.0, "320x180", 5, Some("setsar=2"));
    let poster = dir.path().join("out").join("poster.jpg");

    images::poster(&video, &poster, duration_of(&video))
        .await
        .unwrap();
    assert_eq!(image_info(&poster), ("mjpeg".to_owned(), 640, 180));

    // A stated duration far beyond the real one: the seek lands past the end,
    // and the poster falls back to the start.
    let poster2 = dir.path().join("poster2.jpg");
    images::poster(&video, &poster2, 10_000.0).await.unwrap();
    assert_eq!(image_info(&poster2).0, "mjpeg");
    assert!(no_part_files(dir.path()));
}

#[tokio::test]
async fn poster_of_missing_input_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let poster = dir.path().join("poster.jpg");
    let err = images::poster(&dir.path().join("nope.mkv"), &poster, 100.0)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Ffmpeg { .. }), "{err:?}");
    assert!(err.to_string().contains("No such file"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left behind"
    );
}

// ---------------------------------------------------------------------------
// Sprites
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct SpriteCue {
    start: u64,
    end: u64,
    image: String,
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

fn parse_ms(ts: &str) -> u64 {
    let (hms, ms) = ts.split_once('.').unwrap();
    let p: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    assert_eq!(p.len(), 3, "HH:MM:SS.mmm expected, got {ts}");
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<u64>().unwrap()
}

fn parse_sprite_vtt(text: &str) -> Vec<SpriteCue> {
    let mut blocks = text.split("\n\n");
    assert_eq!(blocks.next().unwrap().trim(), "WEBVTT");
    blocks
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let lines: Vec<&str> = b.trim().lines().collect();
            assert_eq!(lines.len(), 2, "cue block {b:?}");
            let (start, end) = lines[0].split_once(" --> ").unwrap();
            let (image, xywh) = lines[1].split_once("#xywh=").unwrap();
            let n: Vec<u32> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
            SpriteCue {
                start: parse_ms(start),
                end: parse_ms(end),
                image: image.to_owned(),
                x: n[0],
                y: n[1],
                w: n[2],
                h: n[3],
            }
        })
        .collect()
}

/// Checks the invariants every sprite set must satisfy.
fn check_sprite(sheet: &SpriteSheet, out_dir: &Path, duration_secs: f64) -> Vec<SpriteCue> {
    let vtt = std::fs::read_to_string(&sheet.vtt_path).unwrap();
    assert_eq!(sheet.vtt_path, out_dir.join("sprite.vtt"));
    let cues = parse_sprite_vtt(&vtt);
    assert_eq!(cues.len(), sheet.count);
    assert_eq!(
        sheet.images.len(),
        sheet.count.div_ceil(100),
        "one sheet per 100 tiles"
    );

    // Contiguous from 0 to the duration.
    assert_eq!(cues[0].start, 0);
    for pair in cues.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "gap or overlap: {pair:?}");
    }
    for c in &cues {
        assert!(c.end > c.start, "empty cue {c:?}");
    }
    let duration_ms = (duration_secs * 1000.0).round() as u64;
    assert_eq!(cues.last().unwrap().end, duration_ms);

    // Every region inside its (real) image.
    for (n, img) in sheet.images.iter().enumerate() {
        assert_eq!(img, &out_dir.join(format!("sprite-{n}.jpg")));
    }
    // Real sizes according to ffprobe (not our own JPEG reader).
    let sizes: HashMap<PathBuf, (u32, u32)> = sheet
        .images
        .iter()
        .map(|img| {
            let (codec, w, h) = image_info(img);
            assert_eq!(codec, "mjpeg");
            (img.clone(), (w, h))
        })
        .collect();
    for c in &cues {
        assert!(
            !c.image.contains('/'),
            "relative reference expected: {}",
            c.image
        );
        let path = out_dir.join(&c.image);
        let Some(&(w, h)) = sizes.get(&path) else {
            panic!("{} not among the sheets", c.image);
        };
        assert!(c.x + c.w <= w && c.y + c.h <= h, "{c:?} outside {w}x{h}");
        assert_eq!((c.w, c.h), (sheet.tile_w, sheet.tile_h));
    }
    assert!(no_part_files(out_dir));
    cues
}

#[tokio::test]
async fn sprite_of_35s_film() {
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path(), "film.mp4", 35.0, "320x180", 5, None);
    let duration = duration_of(&video);
    let out = dir.path().join("trickplay");

    let sheet = images::sprite(&video, &out, duration, &SpriteOptions::default())
        .await
        .unwrap();

    // Under a minute: duration / 8.
    assert_eq!(sheet.count, 8);
    assert!((sheet.interval - 4.375).abs() < 1e-9);
    assert_eq!((sheet.tile_w, sheet.tile_h), (160, 90));
    let cues = check_sprite(&sheet, &out, duration);
    assert_eq!(cues[1].start, 4_375);
    assert_eq!(
        (cues[7].x, cues[7].y, cues[7].image.as_str()),
        (7 * 160, 0, "sprite-0.jpg")
    );
    // The last (only) sheet is padded to the full 10x10 grid by ffmpeg.
    assert_eq!(
        image_info(&sheet.images[0]),
        ("mjpeg".to_owned(), 1600, 900)
    );
}

#[tokio::test]
async fn sprite_of_4s_clip() {
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path(), "clip.mp4", 4.0, "320x180", 5, None);
    let duration = duration_of(&video);

    let sheet = images::sprite(&video, dir.path(), duration, &SpriteOptions::default())
        .await
        .unwrap();

    assert!(
        sheet.count >= 4,
        "at least four previews, got {}",
        sheet.count
    );
    assert_eq!(sheet.interval, 1.0);
    check_sprite(&sheet, dir.path(), duration);
}

#[tokio::test]
async fn sprite_with_more_than_one_sheet_and_stale_sheets_removed() {
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path(), "film.mp4", 30.0, "160x90", 5, None);
    let duration = duration_of(&video);
    let out = dir.path().join("trick");

    let opts = SpriteOptions {
        interval: Some(0.25),
        ..SpriteOptions::default()
    };
    let sheet = images::sprite(&video, &out, duration, &opts).await.unwrap();
    assert_eq!(sheet.count, 120);
    assert_eq!(sheet.images.len(), 2);
    let cues = check_sprite(&sheet, &out, duration);
    assert_eq!(cues[99].image, "sprite-0.jpg");
    assert_eq!((cues[99].x, cues[99].y), (9 * 160, 9 * 90));
    assert_eq!(
        (cues[100].image.as_str(), cues[100].x, cues[100].y),
        ("sprite-1.jpg", 0, 0)
    );

    // Regenerating with fewer tiles removes the now unused second sheet.
    let sheet = images::sprite(&video, &out, duration, &SpriteOptions::default())
        .await
        .unwrap();
    assert_eq!(sheet.images.len(), 1);
    assert!(!out.join("sprite-1.jpg").exists());
    check_sprite(&sheet, &out, duration);
}

#[tokio::test]
async fn sprite_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = images::sprite(
        &dir.path().join("missing.mp4"),
        dir.path(),
        10.0,
        &SpriteOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImageError::Ffmpeg { .. }), "{err:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left behind"
    );

    let err = images::sprite(
        &dir.path().join("missing.mp4"),
        dir.path(),
        0.0,
        &SpriteOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImageError::InvalidRequest(_)), "{err:?}");
}

// ---------------------------------------------------------------------------
// Subtitle conversion
// ---------------------------------------------------------------------------

/// An SRT document with the given cue texts, one second each.
fn srt(texts: &[&str], newline: &str) -> String {
    let mut s = String::new();
    for (i, t) in texts.iter().enumerate() {
        let _ = write!(
            s,
            "{n}{nl}00:00:{a:02},000 --> 00:00:{a:02},900{nl}{t}{nl}{nl}",
            n = i + 1,
            a = i + 1,
            nl = newline,
            t = t.replace('\n', newline)
        );
    }
    s
}

#[test]
fn cp1252_srt() {
    let texts = [
        "Un café, s'il vous plaît.",
        "Ne sois pas naïve.",
        "<i>Zoë</i> arrive.",
    ];
    let source = srt(&texts, "\r\n");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&source);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "fixture must not be UTF-8"
    );

    let subs = subtitles::to_webvtt(&bytes, "film.fr.srt").unwrap();
    assert_eq!(subs.encoding, "windows-1252");
    assert_eq!(subs.cues, texts.len());
    assert!(subs.vtt.starts_with("WEBVTT\n"));
    for word in ["café", "plaît", "naïve", "<i>Zoë</i>"] {
        assert!(subs.vtt.contains(word), "{word} missing in {}", subs.vtt);
    }
    assert!(subs.vtt.contains("00:00:01.000 --> 00:00:01.900\n"));
    assert!(!subs.vtt.contains('\r'));
}

#[test]
fn cp1251_srt() {
    let texts = [
        "Привет, мир!",
        "Съешь же ещё этих мягких французских булок,\nда выпей чаю.",
        "Широкая электрификация южных губерний даст мощный толчок подъёму сельского хозяйства.",
    ];
    let source = srt(&texts, "\r\n");
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&source);
    assert!(!unmappable);

    let subs = subtitles::to_webvtt(&bytes, "film.ru.srt").unwrap();
    assert_eq!(subs.encoding, "windows-1251");
    assert_eq!(subs.cues, texts.len());
    assert!(subs.vtt.contains("Привет, мир!"));
    assert!(subs
        .vtt
        .contains("Съешь же ещё этих мягких французских булок,\nда выпей чаю."));
}

#[test]
fn utf8_with_bom() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(srt(&["Grüße", "日本語の字幕"], "\n").as_bytes());
    let subs = subtitles::to_webvtt(&bytes, "a.srt").unwrap();
    assert_eq!(subs.encoding, "UTF-8");
    assert_eq!(subs.cues, 2);
    assert!(subs.vtt.starts_with("WEBVTT\n"), "BOM must be gone");
    assert!(subs.vtt.contains("日本語の字幕"));
}

#[test]
fn utf16le_with_bom() {
    let source = srt(&["Ça va ?", "Ещё раз"], "\r\n");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(source.encode_utf16().flat_map(u16::to_le_bytes));
    let subs = subtitles::to_webvtt(&bytes, "a.srt").unwrap();
    assert_eq!(subs.encoding, "UTF-16LE");
    assert_eq!(subs.cues, 2);
    assert!(subs.vtt.contains("Ça va ?") && subs.vtt.contains("Ещё раз"));
}

#[test]
fn sloppy_srt() {
    // CRLF, no index lines, missing hours, '.' separators, extra spaces,
    // position info, formatting to strip, a malformed cue, no final newline,
    // and two cues not separated by a blank line.
    let source = "\r\n\r\n00:00:01,000 --> 00:00:02,000\r\n{\\an8}<font color=\"#ffff00\">First</font>\r\n\r\n\
                  00:03.500   -->   00:04.250  X1:10 X2:20 Y1:30 Y2:40\r\n<I>Second</I> & more\r\n\r\n\
                  7\r\n00:00:xx,000 --> 00:00:06,000\r\nBroken timing\r\n\r\n\
                  00:00:07.000-->00:00:08.000\r\nThird\r\n\
                  9\r\n00:00:09,000 --> 00:00:10,000\r\nFourth\r\nline two";
    let subs = subtitles::to_webvtt(source.as_bytes(), "sloppy.srt").unwrap();
    assert_eq!(subs.cues, 4, "{}", subs.vtt);
    assert_eq!(
        subs.vtt,
        "WEBVTT\n\
         \n00:00:01.000 --> 00:00:02.000\nFirst\n\
         \n00:00:03.500 --> 00:00:04.250\n<i>Second</i> &amp; more\n\
         \n00:00:07.000 --> 00:00:08.000\nThird\n\
         \n00:00:09.000 --> 00:00:10.000\nFourth\nline two\n"
    );
}

#[test]
fn webvtt_passthrough() {
    let source = "WEBVTT\r\n\r\nNOTE hello\r\n\r\n00:01.000 --> 00:02.000\r\nHi\r\n\r\nid\r\n00:00:03.000 --> 00:00:04.000 line:0\r\nThere";
    let subs = subtitles::to_webvtt(source.as_bytes(), "x.vtt").unwrap();
    assert_eq!(subs.cues, 2);
    assert_eq!(
        subs.vtt,
        "WEBVTT\n\nNOTE hello\n\n00:01.000 --> 00:02.000\nHi\n\nid\n00:00:03.000 --> 00:00:04.000 line:0\nThere\n"
    );

    let err = subtitles::to_webvtt(b"WEBVTT\n\nNOTE nothing here\n", "x.vtt").unwrap_err();
    assert!(matches!(err, SubtitleError::NoCues));
}

#[test]
fn no_cues_and_other_errors() {
    for garbage in [
        &b""[..],
        b"\x00\x01\x02\xff\xfe\x00garbage",
        b"just some text\nwithout timings\n",
        b"1\n00:00:05,000 --> 00:00:01,000\nbackwards\n",
    ] {
        let err = subtitles::to_webvtt(garbage, "x.srt").unwrap_err();
        assert!(matches!(err, SubtitleError::NoCues), "{err:?}");
        assert_eq!(err.to_string(), "no subtitles found in the file");
    }

    let big = vec![b'a'; subtitles::MAX_SUBTITLE_BYTES + 1];
    assert!(matches!(
        subtitles::to_webvtt(&big, "big.srt"),
        Err(SubtitleError::TooLarge { .. })
    ));

    let err = subtitles::to_webvtt(b"[Script Info]\n", "anime.ASS").unwrap_err();
    assert!(
        matches!(err, SubtitleError::UnsupportedFormat { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(".ass"), "{err}");
}

// ---------------------------------------------------------------------------
// Extraction from a film
// ---------------------------------------------------------------------------

#[tokio::test]
async fn extract_text_tracks_from_mkv() {
    let dir = tempfile::tempdir().unwrap();
    let texts = [
        "Привет, мир!",
        "Съешь же ещё этих мягких французских булок",
        "<i>да выпей чаю</i>",
    ];
    let srt_path = dir.path().join("subs.srt");
    std::fs::write(&srt_path, srt(&texts, "\n")).unwrap();
    let mkv = dir.path().join("film.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x90:rate=5",
        "-i",
        srt_path.to_str().unwrap(),
        "-map",
        "0",
        "-map",
        "1",
        "-t",
        "5",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:s",
        "srt",
        "-metadata:s:s:0",
        "language=rus",
        mkv.to_str().unwrap(),
    ]);
    let out = dir.path().join("subs");

    let tracks = subtitles::extract_text_tracks(&mkv, &out).await.unwrap();

    assert_eq!(tracks.len(), 1, "{tracks:?}");
    let t = &tracks[0];
    assert_eq!(t.stream_index, 1);
    assert_eq!(t.language.as_deref(), Some("rus"));
    assert_eq!(t.codec, "subrip");
    assert_eq!(t.cues, texts.len());
    assert_eq!(t.path, out.join("subtitle-1.vtt"));
    let vtt = std::fs::read_to_string(&t.path).unwrap();
    assert!(vtt.starts_with("WEBVTT"));
    assert!(vtt.contains("Съешь же ещё этих мягких французских булок"));
    assert!(no_part_files(&out));

    // The extracted file goes through the upload converter unchanged in
    // substance.
    let again = subtitles::to_webvtt(vtt.as_bytes(), "x.vtt").unwrap();
    assert_eq!(again.cues, texts.len());
}

#[tokio::test]
async fn extract_text_tracks_without_subtitles_or_input() {
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path(), "plain.mp4", 1.0, "160x90", 5, None);
    let out = dir.path().join("subs");
    let tracks = subtitles::extract_text_tracks(&video, &out).await.unwrap();
    assert!(tracks.is_empty());
    assert!(!out.exists(), "nothing to extract, no folder made");

    let err = subtitles::extract_text_tracks(&dir.path().join("missing.mkv"), &out)
        .await
        .unwrap_err();
    assert!(matches!(err, SubtitleError::Probe { .. }), "{err:?}");
}

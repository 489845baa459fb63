//! End-to-end tests of probing, the rendition ladder and the ffmpeg runner against the
//! real ffmpeg/ffprobe. Every fixture is made here with ffmpeg's `lavfi` sources in a
//! temporary directory; nothing is committed.
//!
//! The machines have 2 cores, so sources are 2–3 seconds long and VP9 runs with
//! `Vp9Speed::Fast`. These tests need `ffmpeg` and `ffprobe` on PATH (Debian: `apt-get
//! install ffmpeg`); without them they fail with that message rather than pass silently.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kino_media::ffmpeg::{self, FfmpegError, Job};
use kino_media::ladder::{self, Container, Rendition, VerifyError, Vp9Speed};
use kino_media::probe::{self, display_size, short_side, ProbeError};
use serde_json::Value;
use tempfile::TempDir;

/// Makes a test video with ffmpeg: `testsrc2` (and a `sine` tone when `audio`), H.264
/// ultrafast in MP4 *without* faststart. `extra_out` goes just before the output file.
async fn make_video(
    dir: &Path,
    name: &str,
    w: u32,
    h: u32,
    secs: f64,
    audio: bool,
    extra_out: &[&str],
) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = tokio::process::Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
    ])
    .arg(format!("testsrc2=size={w}x{h}:rate=25:duration={secs}"));
    if audio {
        cmd.args(["-f", "lavfi", "-i"])
            .arg(format!(
                "sine=frequency=440:sample_rate=48000:duration={secs}"
            ))
            .args(["-c:a", "aac", "-ac", "2"]);
    }
    cmd.args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ])
    .args(extra_out)
    .arg(&path);
    let out = cmd
        .output()
        .await
        .expect("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "making {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// ffprobe's JSON for a file, read independently of the code under test.
async fn ffprobe_json(path: &Path, extra: &[&str]) -> Value {
    let out = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .args(extra)
        .arg(path)
        .output()
        .await
        .expect("ffprobe is not installed (Debian: apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

fn streams_of<'a>(json: &'a Value, kind: &str) -> Vec<&'a Value> {
    json["streams"]
        .as_array()
        .map(|s| s.iter().filter(|s| s["codec_type"] == kind).collect())
        .unwrap_or_default()
}

fn seconds(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Runs one rendition through the real runner and `verify`, and returns the output path.
async fn transcode(dir: &Path, source: &Path, height: u32, container: Container) -> PathBuf {
    let probed = probe::probe(source).await.expect("probe source");
    let video = probed.video.clone().expect("source video");
    let rendition = Rendition { height, container };
    // `.part`, as the real pipeline writes it: the format must come from `-f`.
    let output = dir.join(format!(
        "{}-{}.{}.part",
        source_stem(source),
        rendition.label(),
        container.extension()
    ));
    let args = ladder::args(
        source,
        &output,
        rendition,
        probed.audio,
        &video,
        Vp9Speed::Fast,
    );
    let job = Job::new(args, probed.duration_secs).stall_timeout(Duration::from_secs(60));
    ffmpeg::run(job, |_| {})
        .await
        .unwrap_or_else(|e| panic!("transcoding {}: {e}", output.display()));
    ladder::verify(
        &output,
        height,
        probed.duration_secs,
        container,
        probed.audio,
    )
    .await
    .unwrap_or_else(|e| panic!("verifying {}: {e}", output.display()));
    output
}

fn source_stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Independent checks of a finished rendition with plain ffprobe.
async fn check_output(
    output: &Path,
    container: Container,
    size: (u32, u32),
    duration: f64,
    audio: bool,
) {
    let json = ffprobe_json(output, &[]).await;
    let videos = streams_of(&json, "video");
    assert_eq!(videos.len(), 1, "{}: one video stream", output.display());
    let v = videos[0];
    let (vcodec, acodec) = match container {
        Container::Mp4 => ("h264", "aac"),
        Container::Webm => ("vp9", "opus"),
    };
    assert_eq!(v["codec_name"], vcodec, "{}", output.display());
    assert_eq!(v["pix_fmt"], "yuv420p", "{}", output.display());
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(size.0.into()), Some(size.1.into())),
        "{}",
        output.display()
    );
    let audios = streams_of(&json, "audio");
    if audio {
        assert_eq!(audios.len(), 1, "{}: one audio stream", output.display());
        assert_eq!(audios[0]["codec_name"], acodec, "{}", output.display());
        assert_eq!(audios[0]["channels"], 2, "{}: stereo", output.display());
    } else {
        assert!(audios.is_empty(), "{}: no audio expected", output.display());
    }
    assert!(streams_of(&json, "subtitle").is_empty());
    let found = seconds(&json["format"]["duration"]);
    assert!(
        (found - duration).abs() <= 0.2,
        "{}: duration {found} vs source {duration}",
        output.display()
    );
    let format = json["format"]["format_name"].as_str().unwrap_or_default();
    match container {
        Container::Mp4 => {
            assert!(format.contains("mp4"), "{format}");
            let mut file = std::fs::File::open(output).expect("open output");
            let boxes = ladder::top_level_boxes(&mut file).expect("MP4 boxes");
            let pos = |k: &[u8; 4]| boxes.iter().position(|b| &b.kind == k);
            assert!(
                matches!((pos(b"moov"), pos(b"mdat")), (Some(m), Some(d)) if m < d),
                "{}: moov must come before mdat: {boxes:?}",
                output.display()
            );
        }
        Container::Webm => assert!(format.contains("webm"), "{format}"),
    }
}

/// Keyframe times of the video stream.
async fn keyframe_times(path: &Path) -> Vec<f64> {
    let json = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts_time,flags",
        ],
    )
    .await;
    json["packets"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter(|p| p["flags"].as_str().is_some_and(|f| f.starts_with('K')))
                .map(|p| seconds(&p["pts_time"]))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn source_1080p_makes_six_verified_renditions() {
    let started = Instant::now();
    let dir = TempDir::new().expect("tempdir");
    let src = make_video(dir.path(), "src1080.mp4", 1920, 1080, 3.0, true, &[]).await;
    let probed = probe::probe(&src).await.expect("probe");
    let video = probed.video.clone().expect("video");
    assert_eq!((video.width, video.height, video.rotation), (1920, 1080, 0));
    assert_eq!(video.codec, "h264");
    assert!(probed.audio);
    assert!(
        (probed.duration_secs - 3.0).abs() < 0.1,
        "{}",
        probed.duration_secs
    );
    assert!(probed.format_name.contains("mp4"));

    let heights = ladder::plan(&video, false);
    assert_eq!(heights, [480, 720, 1080]);
    for &height in &heights {
        let width = match height {
            480 => 854,
            720 => 1280,
            _ => 1920,
        };
        for container in Container::ALL {
            let out = transcode(dir.path(), &src, height, container).await;
            check_output(&out, container, (width, height), probed.duration_secs, true).await;
            // A keyframe every 2 s, and no others. (WebM starts a few ms late: Opus
            // pre-skip shifts the timeline, so times are taken from the first frame.)
            let keys = keyframe_times(&out).await;
            assert_eq!(keys.len(), 2, "{}: keyframes at {keys:?}", out.display());
            assert!(
                (keys[1] - keys[0] - 2.0).abs() < 0.02,
                "{}: keyframes at {keys:?}",
                out.display()
            );
        }
    }
    eprintln!(
        "six 1080p renditions took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn smaller_sources_get_smaller_ladders() {
    let dir = TempDir::new().expect("tempdir");
    let src720 = make_video(dir.path(), "src720.mp4", 1280, 720, 0.4, true, &[]).await;
    let v720 = probe::probe(&src720)
        .await
        .expect("probe")
        .video
        .expect("video");
    assert_eq!(ladder::plan(&v720, false), [480, 720]);
    assert_eq!(ladder::plan(&v720, true), [480, 720]);

    let src360 = make_video(dir.path(), "src360.mp4", 640, 360, 2.0, true, &[]).await;
    let probed = probe::probe(&src360).await.expect("probe");
    let v360 = probed.video.clone().expect("video");
    assert_eq!(ladder::plan(&v360, false), [360]);
    for container in Container::ALL {
        let out = transcode(dir.path(), &src360, 360, container).await;
        check_output(&out, container, (640, 360), probed.duration_secs, true).await;
    }
}

#[tokio::test]
async fn portrait_video_keeps_its_shape() {
    let dir = TempDir::new().expect("tempdir");
    let src = make_video(dir.path(), "portrait.mp4", 720, 1280, 2.0, true, &[]).await;
    let probed = probe::probe(&src).await.expect("probe");
    let video = probed.video.clone().expect("video");
    assert_eq!(short_side(&video), 720);
    assert_eq!(ladder::plan(&video, false), [480, 720]);
    for container in Container::ALL {
        let out = transcode(dir.path(), &src, 480, container).await;
        check_output(&out, container, (480, 854), probed.duration_secs, true).await;
    }
}

/// A phone's portrait video is stored landscape with a rotation flag; ffmpeg turns it
/// upright, so the renditions are portrait and carry no rotation of their own.
#[tokio::test]
async fn rotated_phone_video_becomes_portrait() {
    let dir = TempDir::new().expect("tempdir");
    let coded = make_video(dir.path(), "coded.mp4", 1280, 720, 2.0, false, &[]).await;
    // ffmpeg 5.1 turns a `rotate` tag into a display matrix only when copying.
    let src = dir.path().join("phone.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-loglevel", "error", "-i"])
        .arg(&coded)
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&src)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probed = probe::probe(&src).await.expect("probe");
    let video = probed.video.clone().expect("video");
    assert!(
        matches!(video.rotation, 90 | 270),
        "rotation {}",
        video.rotation
    );
    assert_eq!(display_size(&video), (720, 1280));
    assert_eq!(ladder::plan(&video, false), [480, 720]);
    let out = transcode(dir.path(), &src, 480, Container::Mp4).await;
    check_output(
        &out,
        Container::Mp4,
        (480, 854),
        probed.duration_secs,
        false,
    )
    .await;
    let rendition = probe::probe(&out)
        .await
        .expect("probe rendition")
        .video
        .expect("video");
    assert_eq!(rendition.rotation, 0, "the rendition is upright as stored");
}

/// Non-square pixels (HDV: 1440x1080 shown as 16:9) come out with square pixels at the
/// displayed aspect ratio.
#[tokio::test]
async fn anamorphic_video_gets_square_pixels() {
    let dir = TempDir::new().expect("tempdir");
    let src = make_video(
        dir.path(),
        "hdv.mp4",
        1440,
        1080,
        1.0,
        false,
        &["-vf", "setsar=4/3"],
    )
    .await;
    let out = transcode(dir.path(), &src, 480, Container::Mp4).await;
    let probed = probe::probe(&src).await.expect("probe");
    check_output(
        &out,
        Container::Mp4,
        (854, 480),
        probed.duration_secs,
        false,
    )
    .await;
    let json = ffprobe_json(&out, &[]).await;
    let sar = &streams_of(&json, "video")[0]["sample_aspect_ratio"];
    assert!(sar == "1:1" || sar.is_null(), "sar {sar}");
}

#[tokio::test]
async fn video_without_audio_gives_video_only_renditions() {
    let dir = TempDir::new().expect("tempdir");
    let src = make_video(dir.path(), "silent.mp4", 640, 360, 2.0, false, &[]).await;
    let probed = probe::probe(&src).await.expect("probe");
    assert!(!probed.audio);
    for container in Container::ALL {
        let out = transcode(dir.path(), &src, 360, container).await;
        check_output(&out, container, (640, 360), probed.duration_secs, false).await;
        // Claiming the source had audio must make verify fail.
        let err = ladder::verify(&out, 360, probed.duration_secs, container, true).await;
        assert!(matches!(err, Err(VerifyError::MissingAudio)), "{err:?}");
    }
}

#[tokio::test]
async fn verify_rejects_wrong_files() {
    let dir = TempDir::new().expect("tempdir");
    // The fixture is H.264 + AAC yuv420p, but written without faststart.
    let src = make_video(dir.path(), "plain.mp4", 640, 360, 1.0, true, &[]).await;
    let duration = probe::probe(&src).await.expect("probe").duration_secs;
    let err = ladder::verify(&src, 360, duration, Container::Mp4, true).await;
    assert!(matches!(err, Err(VerifyError::NotFaststart)), "{err:?}");
    let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("moov"), "{msg}");

    let fast = make_video(
        dir.path(),
        "fast.mp4",
        640,
        360,
        1.0,
        true,
        &["-movflags", "+faststart"],
    )
    .await;
    ladder::verify(&fast, 360, duration, Container::Mp4, true)
        .await
        .expect("a good MP4 verifies");
    let err = ladder::verify(&fast, 480, duration, Container::Mp4, true).await;
    assert!(
        matches!(
            err,
            Err(VerifyError::Height {
                expected: 480,
                found: 360
            })
        ),
        "{err:?}"
    );
    let err = ladder::verify(&fast, 360, duration + 1.0, Container::Mp4, true).await;
    assert!(matches!(err, Err(VerifyError::Duration { .. })), "{err:?}");
    let err = ladder::verify(&fast, 360, duration, Container::Mp4, false).await;
    assert!(matches!(err, Err(VerifyError::UnexpectedAudio)), "{err:?}");
    let err = ladder::verify(&fast, 360, duration, Container::Webm, true).await;
    assert!(
        matches!(
            err,
            Err(VerifyError::VideoCodec {
                expected: "vp9",
                ..
            })
        ),
        "{err:?}"
    );

    let yuv444 = make_video(
        dir.path(),
        "444.mp4",
        640,
        360,
        1.0,
        true,
        &["-pix_fmt", "yuv444p", "-movflags", "+faststart"],
    )
    .await;
    let err = ladder::verify(&yuv444, 360, duration, Container::Mp4, true).await;
    assert!(
        matches!(err, Err(VerifyError::PixelFormat { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn probe_refuses_what_is_not_a_video() {
    let dir = TempDir::new().expect("tempdir");
    let d = dir.path();

    // An HLS playlist dressed up as an MP4; its segment exists, to show it is never read.
    std::fs::write(
        d.join("fake.mp4"),
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXT-X-ENDLIST\n",
    )
    .expect("write");
    let err = probe::probe(&d.join("fake.mp4"))
        .await
        .expect_err("playlist");
    assert!(matches!(err, ProbeError::Playlist), "{err:?}");
    assert!(err.to_string().contains("playlist"), "{err}");

    std::fs::write(
        d.join("notes.txt"),
        "Bring popcorn.\nFilm starts at eight.\n",
    )
    .expect("write");
    let err = probe::probe(&d.join("notes.txt")).await.expect_err("text");
    assert!(err.to_string().contains("not a video"), "{err}");

    // The first half of a real MP4 whose index (moov) is at the end.
    let whole = make_video(d, "whole.mp4", 640, 360, 2.0, true, &[]).await;
    let bytes = std::fs::read(&whole).expect("read");
    std::fs::write(d.join("truncated.mp4"), &bytes[..bytes.len() / 2]).expect("write");
    let err = probe::probe(&d.join("truncated.mp4"))
        .await
        .expect_err("truncated");
    assert!(err.to_string().contains("not a video"), "{err}");

    let png = d.join("poster.png");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240",
            "-frames:v",
            "1",
        ])
        .arg(&png)
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    let err = probe::probe(&png).await.expect_err("png");
    assert!(matches!(err, ProbeError::StillImage), "{err:?}");
    assert!(err.to_string().contains("not a video"), "{err}");

    let m4a = d.join("song.m4a");
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
        ])
        .arg(&m4a)
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    let err = probe::probe(&m4a).await.expect_err("audio only");
    assert!(matches!(err, ProbeError::NoVideoStream), "{err:?}");
    assert!(err.to_string().contains("no video stream"), "{err}");

    let err = probe::probe(&d.join("missing.mp4"))
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("missing.mp4"), "{err}");

    // A FIFO would block ffprobe (and our own read) forever.
    let fifo = make_fifo(d, "pipe.mp4");
    let err = tokio::time::timeout(Duration::from_secs(10), probe::probe(&fifo))
        .await
        .expect("probing a FIFO must not block")
        .expect_err("fifo");
    assert!(matches!(err, ProbeError::NotARegularFile { .. }), "{err:?}");

    // File names that look like URLs stay file names.
    let odd = d.join("http:example");
    std::fs::copy(&whole, &odd).expect("copy");
    probe::probe(&odd)
        .await
        .expect("a file called http:… is still a local file");
}

#[tokio::test]
async fn subtitles_are_listed() {
    let dir = TempDir::new().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("a.srt"), "1\n00:00:00,000 --> 00:00:01,000\nHello\n").expect("write");
    let src = make_video(d, "src.mkv", 320, 240, 1.0, true, &[]).await;
    let mkv = d.join("subs.mkv");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-loglevel", "error", "-i"])
        .arg(&src)
        .arg("-i")
        .arg(d.join("a.srt"))
        .args([
            "-map",
            "0",
            "-map",
            "1",
            "-c",
            "copy",
            "-metadata:s:s:0",
            "language=fra",
        ])
        .arg(&mkv)
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probed = probe::probe(&mkv).await.expect("probe");
    assert_eq!(probed.subtitles.len(), 1);
    let s = &probed.subtitles[0];
    assert_eq!(
        (s.index, s.codec.as_str(), s.language.as_deref(), s.is_text),
        (2, "subrip", Some("fra"), true)
    );
}

#[tokio::test]
async fn progress_rises_to_one() {
    let dir = TempDir::new().expect("tempdir");
    let src = make_video(dir.path(), "p.mp4", 640, 360, 2.0, true, &[]).await;
    let probed = probe::probe(&src).await.expect("probe");
    let video = probed.video.clone().expect("video");
    let rendition = Rendition {
        height: 360,
        container: Container::Webm,
    };
    let mut args: Vec<OsString> = vec!["-stats_period".into(), "0.05".into()];
    args.extend(ladder::args(
        &src,
        &dir.path().join("p.webm"),
        rendition,
        true,
        &video,
        Vp9Speed::Fast,
    ));
    let mut seen = Vec::new();
    ffmpeg::run(Job::new(args, probed.duration_secs), |f| seen.push(f))
        .await
        .expect("run");
    assert!(seen.len() >= 3, "only {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "not rising: {seen:?}");
    assert!(seen.iter().all(|f| (0.0..=1.0).contains(f)), "{seen:?}");
    assert_eq!(seen.last(), Some(&1.0));
}

#[tokio::test]
async fn stalled_ffmpeg_is_killed() {
    let dir = TempDir::new().expect("tempdir");
    // Opening a FIFO for reading blocks until a writer comes, which none does.
    let fifo = make_fifo(dir.path(), "stuck.ts");
    let job = Job::new(fifo_args(&fifo), 10.0).stall_timeout(Duration::from_millis(700));
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), ffmpeg::run(job, |_| {}))
        .await
        .expect("the watchdog did not fire");
    let took = started.elapsed();
    assert!(
        matches!(result, Err(FfmpegError::Stalled { .. })),
        "{result:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(result
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
        .contains("no progress"));
    assert!(
        processes_reading(&fifo).is_empty(),
        "ffmpeg is still running"
    );
}

#[tokio::test]
async fn dropping_the_run_kills_ffmpeg() {
    let dir = TempDir::new().expect("tempdir");
    let fifo = make_fifo(dir.path(), "dropped.ts");
    // Niceness is checked on the running process on the way.
    let job = Job::new(fifo_args(&fifo), 10.0).niceness(7);
    let run = ffmpeg::run(job, |_| {});
    let fifo2 = fifo.clone();
    let look = async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(&pid) = processes_reading(&fifo2).first() {
                return Some(pid);
            }
        }
        None
    };
    let pid = tokio::select! {
        r = run => panic!("ffmpeg ended on its own: {r:?}"),
        pid = look => pid.expect("ffmpeg did not start"),
    };
    // `run` is dropped now: ffmpeg must go away.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let nice = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().nth(16))
        .unwrap_or("?")
        .to_string();
    for _ in 0..100 {
        if processes_reading(&fifo).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        processes_reading(&fifo).is_empty(),
        "ffmpeg survived the drop"
    );
    assert!(
        stat.is_empty() || nice == "7",
        "nice value {nice} in {stat}"
    );
}

#[tokio::test]
async fn failing_ffmpeg_reports_its_stderr() {
    let dir = TempDir::new().expect("tempdir");
    let missing = dir.path().join("no-such-film.mkv");
    let args: Vec<OsString> = vec![
        "-i".into(),
        missing.clone().into(),
        "-f".into(),
        "null".into(),
        "-".into(),
    ];
    let err = ffmpeg::run(Job::new(args, 1.0), |_| {})
        .await
        .expect_err("must fail");
    match &err {
        FfmpegError::Failed { code, stderr_tail } => {
            assert!(matches!(code, Some(c) if *c != 0), "{code:?}");
            assert!(stderr_tail.contains("no-such-film.mkv"), "{stderr_tail}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(err.to_string().contains("no-such-film.mkv"), "{err}");
}

fn fifo_args(fifo: &Path) -> Vec<OsString> {
    vec![
        "-f".into(),
        "mpegts".into(),
        "-i".into(),
        fifo.into(),
        "-f".into(),
        "null".into(),
        "-".into(),
    ]
}

fn make_fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    path
}

/// Pids of processes whose command line mentions `path` (the FIFO is unique per test).
fn processes_reading(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // A zombie (state Z) is gone for our purposes, but kill_on_drop reaps anyway.
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie && cmdline.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

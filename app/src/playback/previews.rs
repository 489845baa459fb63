//! Seek previews: the library's WebVTT index of a sprite of small frames (`sprite-0.jpg#xywh=…`
//! per cue), read once, and the frame for a time — shown above a seek bar while the pointer is
//! over it or the thumb is dragged.

use crate::dates::clock;
use crate::i18n::*;
use leptos::prelude::*;

/// One small frame: the time span it stands for and where it is in which sprite image.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCue {
    pub start: f64,
    pub end: f64,
    /// The sprite image's URL (resolved against the index's own URL).
    pub image: String,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// `HH:MM:SS.mmm` or `MM:SS.mmm` in seconds.
fn timestamp(raw: &str) -> Option<f64> {
    let mut secs = 0.0;
    for part in raw.trim().split(':') {
        secs = secs * 60.0 + part.parse::<f64>().ok()?;
    }
    secs.is_finite().then_some(secs)
}

/// The cues of a previews index whose URL is `index_url`; lines that do not parse are skipped.
pub fn parse_previews(vtt: &str, index_url: &str) -> Vec<PreviewCue> {
    let base = index_url.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut cues = Vec::new();
    let mut lines = vtt.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some((from, to)) = line.split_once("-->") else {
            continue;
        };
        let (Some(start), Some(end)) = (
            timestamp(from),
            timestamp(to.split_whitespace().next().unwrap_or_default()),
        ) else {
            continue;
        };
        let Some((file, region)) = lines.next().and_then(|l| l.split_once("#xywh=")) else {
            continue;
        };
        let numbers: Vec<u32> = region
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        let [x, y, w, h] = numbers[..] else { continue };
        // Only plain relative names (ours are `sprite-N.jpg`): nothing that could leave the
        // directory or break out of the CSS `url('…')` it goes into.
        let plain = file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
        if file.is_empty() || !plain || file.contains("..") || file.starts_with('/') {
            continue;
        }
        cues.push(PreviewCue {
            start,
            end,
            image: format!("{base}/{file}"),
            x,
            y,
            w,
            h,
        });
    }
    cues
}

/// The frame for second `at`.
pub fn preview_at(cues: &[PreviewCue], at: f64) -> Option<&PreviewCue> {
    cues.iter()
        .find(|c| at >= c.start && at < c.end)
        .or_else(|| {
            // Past the last cue's end (the very end of the film): its last frame.
            cues.last().filter(|c| at >= c.end)
        })
}

/// Loads the previews index at `url` into `cues` (in the browser; nothing on the server).
pub fn load_previews(url: Option<String>, cues: RwSignal<Vec<PreviewCue>>) {
    let Some(url) = url else { return };
    Effect::new(move |_| {
        let url = url.clone();
        leptos::task::spawn_local(async move {
            if let Some(text) = fetch_text(&url).await {
                cues.set(parse_previews(&text, &url));
            }
        });
    });
}

async fn fetch_text(url: &str) -> Option<String> {
    use wasm_bindgen::JsCast;
    let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    if !response.ok() {
        return None;
    }
    wasm_bindgen_futures::JsFuture::from(response.text().ok()?)
        .await
        .ok()?
        .as_string()
}

/// Where the pointer is over a seek bar, in seconds of `duration` (for the preview frame).
fn hover_time(e: &leptos::ev::MouseEvent, duration: f64) -> Option<f64> {
    use wasm_bindgen::JsCast;
    let bar = e
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())?;
    let width = f64::from(bar.client_width());
    (width > 0.0).then(|| (f64::from(e.offset_x()) / width).clamp(0.0, 1.0) * duration)
}

/// A seek bar ("Seek") with the frame under the pointer, or under the thumb while dragging,
/// above it: the room's player and the film page's scenes bar. `scrubbing` is where the thumb
/// is while dragged (the caller may show that time); letting go calls `on_seek` (seconds).
#[component]
pub fn SeekBar(
    cues: RwSignal<Vec<PreviewCue>>,
    #[prop(into)] time: Signal<f64>,
    #[prop(into)] duration: Signal<f64>,
    scrubbing: RwSignal<Option<f64>>,
    on_seek: Callback<f64>,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional, into)] title: Signal<Option<String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let hovering = RwSignal::new(None::<f64>);
    let preview_at = Signal::derive(move || scrubbing.get().or_else(|| hovering.get()));
    view! {
        <SeekPreview cues at=preview_at duration />
        <input
            type="range"
            class="seek"
            aria-label=move || t_string!(i18n, seek).to_string()
            title=title
            min="0"
            step="0.1"
            max=move || duration.get().max(0.1)
            prop:value=move || scrubbing.get().unwrap_or_else(|| time.get())
            disabled=disabled
            on:input=move |e| scrubbing.set(event_target_value(&e).parse::<f64>().ok())
            on:change=move |e| {
                scrubbing.set(None);
                if let Ok(at) = event_target_value(&e).parse::<f64>() {
                    on_seek.run(at);
                }
            }
            on:mousemove=move |e| hovering.set(hover_time(&e, duration.get_untracked()))
            on:mouseleave=move |_| hovering.set(None)
        />
    }
}

/// The frame and its time above a seek bar, at `at` seconds of `duration` (nothing without
/// previews or a time).
#[component]
pub fn SeekPreview(
    cues: RwSignal<Vec<PreviewCue>>,
    #[prop(into)] at: Signal<Option<f64>>,
    #[prop(into)] duration: Signal<f64>,
) -> impl IntoView {
    move || {
        let at = at.get()?;
        let duration = duration.get();
        let cue = cues.with(|c| preview_at(c, at).cloned())?;
        let left = if duration > 0.0 {
            (at / duration * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        };
        Some(view! {
            <div class="seek-preview" style=format!("left: {left:.2}%") aria-hidden="true">
                <div
                    class="seek-frame"
                    style=format!(
                        "width: {}px; height: {}px; background: url('{}') -{}px -{}px",
                        cue.w,
                        cue.h,
                        cue.image,
                        cue.x,
                        cue.y,
                    )
                ></div>
                <span class="seek-time">{clock((at * 1000.0) as i64)}</span>
            </div>
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nsprite-0.jpg#xywh=0,0,160,90\n\n\
        00:00:10.000 --> 00:00:20.000\nsprite-0.jpg#xywh=160,0,160,90\n\n\
        01:40.000 --> 01:43.500\nsprite-1.jpg#xywh=0,90,160,90\n";

    #[test]
    fn cues_are_read_with_their_regions_and_images_beside_the_index() {
        let cues = parse_previews(INDEX, "/media/films/x/previews-ab/sprite.vtt");
        assert_eq!(cues.len(), 3);
        assert_eq!(cues[1].image, "/media/films/x/previews-ab/sprite-0.jpg");
        assert_eq!(
            (cues[1].x, cues[1].y, cues[1].w, cues[1].h),
            (160, 0, 160, 90)
        );
        assert_eq!((cues[2].start, cues[2].end), (100.0, 103.5));
    }

    #[test]
    fn the_frame_for_a_time_is_the_cue_that_holds_it() {
        let cues = parse_previews(INDEX, "/p/sprite.vtt");
        assert_eq!(preview_at(&cues, 0.0).map(|c| c.x), Some(0));
        assert_eq!(preview_at(&cues, 15.0).map(|c| c.x), Some(160));
        assert_eq!(
            preview_at(&cues, 200.0).map(|c| c.y),
            Some(90),
            "past the end: the last"
        );
        assert!(preview_at(&cues, 50.0).is_none(), "a gap has no frame");
    }

    #[test]
    fn broken_lines_and_odd_paths_are_skipped() {
        let vtt = "WEBVTT\n\nnonsense --> 00:01.000\nx.jpg#xywh=0,0,1,1\n\n\
            00:00.000 --> 00:01.000\n../../etc/passwd#xywh=0,0,1,1\n\n\
            00:00.000 --> 00:01.000\njavascript:x#xywh=0,0,1,1\n\n\
            00:00.000 --> 00:01.000\nok.jpg#xywh=0,0,1\n";
        assert!(parse_previews(vtt, "/p/i.vtt").is_empty());
        assert!(parse_previews("", "/p/i.vtt").is_empty());
    }
}

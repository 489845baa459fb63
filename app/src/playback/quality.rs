//! "Quality": Auto or a height, each person's own choice (remembered in this browser), for the
//! film page's player and the room's. Auto takes the smallest rendition at least as tall as the
//! player is on screen (in device pixels), then steps down while the measured download speed
//! cannot carry it, and one step further for each time playback stalled.
//!
//! The player sets its `<video>`'s source itself (not through the markup), so the server's
//! page does not start a download the browser would throw away once it knows its own size.

use crate::catalog::Rendition;
use crate::i18n::*;
use leptos::html::Video;
use leptos::prelude::*;

/// What the viewer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Height(i64),
}

impl Choice {
    fn as_value(self) -> String {
        match self {
            Choice::Auto => "auto".into(),
            Choice::Height(h) => h.to_string(),
        }
    }

    fn parse(raw: &str) -> Option<Choice> {
        match raw {
            "auto" => Some(Choice::Auto),
            other => other.parse().ok().filter(|h| *h > 0).map(Choice::Height),
        }
    }
}

/// What Auto goes by.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Conditions {
    /// The player's height on screen in device pixels (0: not known yet).
    pub screen_height: f64,
    /// The browser's estimate of the download speed, in Mbit/s, when it gives one.
    pub downlink_mbps: Option<f64>,
    /// Times playback stalled for want of data since the last choice.
    pub stalls: u32,
}

/// Roughly what each height needs to play without stalling (our ladder's bit rates with room
/// to spare), in Mbit/s.
fn needs_mbps(height: i64) -> f64 {
    match height {
        ..=480 => 1.5,
        481..=720 => 3.0,
        721..=1080 => 6.0,
        _ => 16.0,
    }
}

/// The heights on offer, tallest first.
pub fn heights(renditions: &[Rendition]) -> Vec<i64> {
    let mut heights: Vec<i64> = renditions.iter().map(|r| r.height).collect();
    heights.sort_unstable_by(|a, b| b.cmp(a));
    heights.dedup();
    heights
}

/// The height Auto picks from `heights` (tallest first) under `conditions`.
pub fn auto_height(heights: &[i64], conditions: Conditions) -> Option<i64> {
    let smallest = *heights.last()?;
    let fits_screen = if conditions.screen_height > 0.0 {
        heights
            .iter()
            .rev()
            .find(|h| **h as f64 >= conditions.screen_height * 0.95)
            .copied()
            .unwrap_or(heights[0])
    } else {
        // Before the page knows its size: a middle choice, not the largest file.
        heights
            .iter()
            .copied()
            .find(|h| *h <= 720)
            .unwrap_or(smallest)
    };
    let affordable = heights
        .iter()
        .copied()
        .filter(|h| *h <= fits_screen)
        .find(|h| {
            conditions
                .downlink_mbps
                .is_none_or(|mbps| needs_mbps(*h) <= mbps * 0.8)
        })
        .unwrap_or(smallest);
    let at = heights.iter().position(|h| *h == affordable).unwrap_or(0);
    let stepped = (at + conditions.stalls as usize).min(heights.len() - 1);
    Some(heights[stepped])
}

/// The rendition to play: the chosen height (or Auto's), in the container this browser plays
/// (MP4 when it can, else WebM), or whatever there is at that height.
pub fn pick(
    renditions: &[Rendition],
    choice: Choice,
    mp4_plays: bool,
    conditions: Conditions,
) -> Option<&Rendition> {
    let heights = heights(renditions);
    let height = match choice {
        Choice::Height(h) if heights.contains(&h) => h,
        _ => auto_height(&heights, conditions)?,
    };
    let preferred = if mp4_plays { "mp4" } else { "webm" };
    renditions
        .iter()
        .filter(|r| r.height == height)
        .find(|r| r.container == preferred)
        .or_else(|| renditions.iter().find(|r| r.height == height))
}

const STORAGE_KEY: &str = "kino.quality";

fn remembered() -> Choice {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
        .and_then(|raw| Choice::parse(&raw))
        .unwrap_or(Choice::Auto)
}

fn remember(choice: Choice) {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = storage.set_item(STORAGE_KEY, &choice.as_value());
    }
}

/// The browser's download speed estimate (`navigator.connection.downlink`), where it has one.
fn downlink_mbps() -> Option<f64> {
    let navigator = window().navigator();
    let connection = js_sys::Reflect::get(&navigator, &"connection".into()).ok()?;
    if connection.is_undefined() || connection.is_null() {
        return None;
    }
    js_sys::Reflect::get(&connection, &"downlink".into())
        .ok()?
        .as_f64()
        .filter(|mbps| *mbps > 0.0)
}

/// A player's quality state: the choice, what Auto goes by, and the rendition that follows.
/// `Copy`, like the signals it holds.
#[derive(Clone, Copy)]
pub struct Quality {
    pub renditions: StoredValue<Vec<Rendition>>,
    pub choice: RwSignal<Choice>,
    conditions: RwSignal<Conditions>,
    mp4_plays: RwSignal<bool>,
    /// The rendition playing (its index in `renditions`), once the browser has measured itself.
    pub selected: Memo<Option<usize>>,
    mounted: RwSignal<bool>,
}

impl Quality {
    pub fn new(renditions: Vec<Rendition>) -> Self {
        let renditions = StoredValue::new(renditions);
        let choice = RwSignal::new(Choice::Auto);
        let conditions = RwSignal::new(Conditions::default());
        let mp4_plays = RwSignal::new(true);
        let mounted = RwSignal::new(false);
        let selected = Memo::new(move |_| {
            if !mounted.get() {
                return None;
            }
            let (choice, conditions, mp4) = (choice.get(), conditions.get(), mp4_plays.get());
            renditions.with_value(|all| {
                let chosen = pick(all, choice, mp4, conditions)?;
                all.iter().position(|r| std::ptr::eq(r, chosen))
            })
        });
        Self {
            renditions,
            choice,
            conditions,
            mp4_plays,
            selected,
            mounted,
        }
    }

    /// Starts measuring once `video` is on the page: its size (again when the window changes,
    /// full screen included), the download speed, and what it plays; restores the remembered
    /// choice.
    pub fn attach(self, video: NodeRef<Video>) {
        let measure = move || {
            let Some(v) = video.get_untracked() else {
                return;
            };
            let ratio = window().device_pixel_ratio().max(1.0);
            let height = f64::from(v.client_height()) * ratio;
            self.conditions.update(|c| {
                c.screen_height = height;
                c.downlink_mbps = downlink_mbps();
            });
        };
        Effect::new(move |_| {
            if let Some(v) = video.get() {
                self.mp4_plays.set(!v.can_play_type("video/mp4").is_empty());
                self.choice.set(remembered());
                measure();
                self.mounted.set(true);
            }
        });
        // Full screen changes the viewport, which the window reports as a resize.
        let resize = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || resize.remove());
    }

    /// Playback stalled for want of data: Auto steps down (a manual choice stays).
    pub fn stalled(self) {
        if self.choice.get_untracked() == Choice::Auto {
            self.conditions.update(|c| c.stalls += 1);
        }
    }

    pub fn choose(self, choice: Choice) {
        remember(choice);
        self.conditions.update(|c| c.stalls = 0);
        self.choice.set(choice);
    }

    /// The URL to play, when known.
    pub fn url(self) -> Option<String> {
        let index = self.selected.get()?;
        self.renditions
            .with_value(|r| r.get(index).map(|r| r.url.clone()))
    }

    /// The rendition playing, for reports ("720p MP4").
    pub fn label(self) -> Option<String> {
        let index = self.selected.get_untracked()?;
        self.renditions.with_value(|r| {
            r.get(index)
                .map(|r| format!("{}p {}", r.height, r.container.to_uppercase()))
        })
    }

    /// Keeps `video` playing [`Quality::url`]: a switch puts the picture back where it was
    /// (and playing if it was) through `on_switch`, which gets the time and whether it played.
    pub fn drive(self, video: NodeRef<Video>, on_switch: impl Fn(f64, bool) + 'static) {
        Effect::new(move |_| {
            let (Some(v), Some(url)) = (video.get(), self.url()) else {
                return;
            };
            if v.get_attribute("src").as_deref() == Some(url.as_str()) {
                return;
            }
            let had_source = v.get_attribute("src").is_some();
            let (time, playing) = (v.current_time(), !v.paused());
            v.set_src(&url);
            if had_source {
                on_switch(time, playing);
            }
        });
    }
}

/// The "Quality" menu: Auto (saying what it chose) and each height, when there is a choice.
#[component]
pub fn QualityMenu(
    quality: Quality,
    #[prop(default = "quality")] id: &'static str,
) -> impl IntoView {
    let i18n = use_i18n();
    let heights = quality.renditions.with_value(|r| heights(r));
    let playing_height = move || {
        let index = quality.selected.get()?;
        quality
            .renditions
            .with_value(|r| r.get(index).map(|r| r.height))
    };
    let choose = move |ev: leptos::ev::Event| {
        if let Some(choice) = Choice::parse(&event_target_value(&ev)) {
            quality.choose(choice);
        }
    };
    (heights.len() > 1).then(|| {
        view! {
            <label for=id>{t!(i18n, quality)}</label>
            <select id=id on:change=choose>
                <option value="auto" selected=move || quality.choice.get() == Choice::Auto>
                    {move || match (quality.choice.get(), playing_height()) {
                        (Choice::Auto, Some(height)) => {
                            t_string!(i18n, quality_auto_now, height = height).to_string()
                        }
                        _ => t_string!(i18n, quality_auto).to_string(),
                    }}
                </option>
                {heights
                    .into_iter()
                    .map(|h| view! {
                        <option
                            value=h.to_string()
                            selected=move || quality.choice.get() == Choice::Height(h)
                        >
                            {format!("{h}p")}
                        </option>
                    })
                    .collect_view()}
            </select>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> Vec<Rendition> {
        [1080, 720, 480]
            .into_iter()
            .flat_map(|h| {
                ["mp4", "webm"].map(|c| Rendition {
                    url: format!("/{h}.{c}"),
                    container: c.into(),
                    width: h * 16 / 9,
                    height: h,
                })
            })
            .collect()
    }

    fn on(screen_height: f64, downlink_mbps: Option<f64>, stalls: u32) -> Conditions {
        Conditions {
            screen_height,
            downlink_mbps,
            stalls,
        }
    }

    #[test]
    fn auto_fits_the_player_on_screen() {
        let r = ladder();
        let url = |c| pick(&r, Choice::Auto, true, c).map(|r| r.url.as_str());
        assert_eq!(url(on(400.0, None, 0)), Some("/480.mp4"));
        assert_eq!(url(on(700.0, None, 0)), Some("/720.mp4"));
        assert_eq!(url(on(1080.0, None, 0)), Some("/1080.mp4"));
        assert_eq!(
            url(on(2000.0, None, 0)),
            Some("/1080.mp4"),
            "the tallest there is"
        );
        assert_eq!(
            url(on(0.0, None, 0)),
            Some("/720.mp4"),
            "unknown size: the middle"
        );
    }

    #[test]
    fn auto_steps_down_for_a_slow_link_and_for_each_stall() {
        let r = ladder();
        let height = |c| pick(&r, Choice::Auto, true, c).map(|r| r.height);
        assert_eq!(height(on(1080.0, Some(10.0), 0)), Some(1080));
        assert_eq!(height(on(1080.0, Some(4.0), 0)), Some(720));
        assert_eq!(
            height(on(1080.0, Some(0.5), 0)),
            Some(480),
            "the smallest at worst"
        );
        assert_eq!(height(on(1080.0, None, 1)), Some(720));
        assert_eq!(height(on(1080.0, None, 5)), Some(480));
    }

    #[test]
    fn a_chosen_height_wins_and_the_container_follows_the_browser() {
        let r = ladder();
        let slow = on(300.0, Some(0.5), 3);
        assert_eq!(
            pick(&r, Choice::Height(1080), false, slow).map(|r| r.url.as_str()),
            Some("/1080.webm")
        );
        // A height this film does not have: Auto.
        assert_eq!(
            pick(&r, Choice::Height(2160), true, on(400.0, None, 0)).map(|r| r.url.as_str()),
            Some("/480.mp4")
        );
        let only_webm: Vec<Rendition> = r.into_iter().filter(|r| r.container == "webm").collect();
        assert_eq!(
            pick(&only_webm, Choice::Auto, true, on(400.0, None, 0)).map(|r| r.url.as_str()),
            Some("/480.webm")
        );
        assert_eq!(pick(&[], Choice::Auto, true, on(400.0, None, 0)), None);
    }

    #[test]
    fn choices_read_back_as_written() {
        for choice in [Choice::Auto, Choice::Height(720)] {
            assert_eq!(Choice::parse(&choice.as_value()), Some(choice));
        }
        assert_eq!(Choice::parse("-5"), None);
        assert_eq!(Choice::parse("best"), None);
    }
}

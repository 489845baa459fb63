//! Watching alone: the film page's player, its reports (open, progress every ~10 s, seek, pause,
//! quality, end), "Continue from", Home's "Continue watching" and the "Watched" page.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

pub mod previews;
pub mod quality;

use crate::catalog::{FilmCard, FilmGrid, Rendition, SubtitleTrack};
use crate::dates::clock;
use crate::error::AppError;
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{Alert, PageTitle};
use leptos::prelude::*;
use leptos_router::components::A;
use quality::{Quality, QualityMenu};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub position_ms: i64,
    pub duration_ms: i64,
    pub watched: bool,
}

impl Resume {
    pub fn resumable(&self) -> bool {
        domain::resumable(self.position_ms, self.duration_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueItem {
    pub film: FilmCard,
    pub position_ms: i64,
    pub duration_ms: i64,
}

/// One player report. `position` and `duration` are seconds (`duration` 0 while unknown);
/// guests may report too (they are told apart by an anonymous cookie).
#[server(endpoint = "playback/event")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn record_playback(
    film_id: String,
    kind: String,
    position: f64,
    duration: f64,
    quality: Option<String>,
) -> Result<(), AppError> {
    let result = match domain::PlayerEvent::parse(&kind, position, duration, quality.as_deref()) {
        Ok(event) => ssr::record(&film_id, event).await,
        Err(e) => Err(e),
    };
    result
}

#[server(endpoint = "playback/resume")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_resume(film_id: String) -> Result<Option<Resume>, AppError> {
    ssr::resume(&film_id).await
}

#[server(endpoint = "playback/continue")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_continue_watching() -> Result<Vec<ContinueItem>, AppError> {
    ssr::continue_watching().await
}

#[server(endpoint = "playback/watched")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_watched() -> Result<Vec<FilmCard>, AppError> {
    ssr::watched().await
}

/// How far apart progress reports are while playing, in media seconds.
const PROGRESS_EVERY_SECS: f64 = 10.0;

/// The film page's own player. The browser's controls do the playing; this reports what
/// happens and offers "Continue from" where the viewer stopped last time.
#[component]
pub fn Player(
    film_id: String,
    renditions: Vec<Rendition>,
    subtitles: Vec<SubtitleTrack>,
    /// The seek previews' index (WebVTT), when the film has them.
    previews: Option<String>,
    poster: String,
    /// Where the viewer stopped (created by the page, outside any suspense).
    resume: Resource<Result<Option<Resume>, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let quality = Quality::new(renditions);
    let report = Reports::new(film_id, quality);
    let video = report.video;
    let opened = StoredValue::new(false);
    // After a quality switch: where to go back to, and whether to keep playing.
    let restore = StoredValue::new(None::<(f64, bool)>);
    let restoring_seek = StoredValue::new(false);
    // The element's time and duration, for the scenes bar.
    let (time, duration) = (RwSignal::new(0.0f64), RwSignal::new(0.0f64));
    let follow = move || {
        if let Some(v) = video.get_untracked() {
            let d = v.duration();
            duration.set(if d.is_finite() { d } else { 0.0 });
            time.set(v.current_time());
        }
    };
    quality.attach(video);
    quality.drive(video, move |time, playing| {
        restore.set_value(Some((time, playing)))
    });
    // Leaving the page (reload, close, another site): a beacon survives the page's end.
    let _ = window_event_listener(leptos::ev::pagehide, move |_| report.beacon());
    on_cleanup(move || report.beacon());
    // Metadata may have loaded before the page hydrated: then the event below came too early.
    Effect::new(move |_| {
        if let Some(v) = video.get() {
            if v.ready_state() >= 1 && !opened.get_value() {
                opened.set_value(true);
                report.send("open");
            }
        }
    });
    let on_metadata = move |_| {
        follow();
        let Some(v) = video.get_untracked() else {
            return;
        };
        if let Some((time, playing)) = restore.get_value() {
            restore.set_value(None);
            restoring_seek.set_value(true);
            v.set_current_time(time);
            if playing {
                let _ = v.play();
            }
            report.send("quality");
        } else if !opened.get_value() {
            opened.set_value(true);
            report.send("open");
        }
    };
    let on_seeked = move |_| {
        if restoring_seek.get_value() {
            restoring_seek.set_value(false);
        } else {
            report.send("seek");
        }
    };
    let on_pause = move |_| {
        if !video.get_untracked().is_some_and(|v| v.ended()) {
            report.send("pause");
        }
    };
    view! {
        <div class="player-box">
            <video
                node_ref=video
                controls
                preload="metadata"
                playsinline
                poster=poster
                aria-label=move || t_string!(i18n, player).to_string()
                on:loadedmetadata=on_metadata
                on:timeupdate=move |_| {
                    report.progress();
                    follow();
                }
                on:durationchange=move |_| follow()
                on:seeked=move |e| {
                    follow();
                    on_seeked(e)
                }
                on:pause=on_pause
                on:ended=move |_| report.send("end")
                on:waiting=move |_| {
                    // Waiting for data while playing on (not after a seek): Auto steps down.
                    if video.get_untracked().is_some_and(|v| !v.seeking() && !v.paused()) {
                        quality.stalled();
                    }
                }
            >
                <SubtitleTracks tracks=subtitles.clone() />
            </video>
            {previews.map(|index| view! { <ScenesBar video index time duration /> })}
            <div class="player-bar">
                <ContinueButton resume video />
                <QualityMenu quality />
                <SubtitlePicker video tracks=subtitles />
            </div>
        </div>
    }
}

/// What the film page's player reports of the viewing (open, progress about every 10 s, seek,
/// pause, quality, end) and the state that needs. `Copy`, like the signals it holds.
#[derive(Clone, Copy)]
struct Reports {
    video: NodeRef<leptos::html::Video>,
    film: StoredValue<String>,
    quality: Quality,
    /// Media time of the last report, and the latest time and duration seen.
    last_reported: StoredValue<f64>,
    last_seen: StoredValue<(f64, f64)>,
}

impl Reports {
    fn new(film_id: String, quality: Quality) -> Self {
        Self {
            video: NodeRef::new(),
            film: StoredValue::new(film_id),
            quality,
            last_reported: StoredValue::new(-1.0),
            last_seen: StoredValue::new((0.0, 0.0)),
        }
    }

    fn quality(self) -> Option<String> {
        self.quality.label()
    }

    /// The element's time and duration (seconds; 0 while the duration is unknown).
    fn snapshot(self) -> Option<(f64, f64)> {
        self.video.get_untracked().map(|v| {
            let duration = v.duration();
            let duration = if duration.is_finite() { duration } else { 0.0 };
            (v.current_time(), duration)
        })
    }

    fn send(self, kind: &'static str) {
        let Some((position, duration)) = self.snapshot() else {
            return;
        };
        self.last_reported.set_value(position);
        self.last_seen.set_value((position, duration));
        let film_id = self.film.get_value();
        let quality = self.quality();
        leptos::task::spawn_local(async move {
            // A lost report only costs a few seconds of "where I stopped"; the next one fixes it.
            let _ = record_playback(film_id, kind.to_owned(), position, duration, quality).await;
        });
    }

    /// On each time update: the first report comes a second in, so even a short look is
    /// remembered; then about every 10 s while playing.
    fn progress(self) {
        let Some((position, duration)) = self.snapshot() else {
            return;
        };
        self.last_seen.set_value((position, duration));
        let playing = self.video.get_untracked().is_some_and(|v| !v.paused());
        let reported = self.last_reported.get_value();
        let first = reported < 1.0 && position >= 1.0;
        if playing && (first || (position - reported).abs() >= PROGRESS_EVERY_SECS) {
            self.send("progress");
        }
    }

    /// The last position, sent with `navigator.sendBeacon` as the page goes away.
    fn beacon(self) {
        let (Some((position, duration)), Some(reported), Some(film_id)) = (
            self.last_seen.try_get_value(),
            self.last_reported.try_get_value(),
            self.film.try_get_value(),
        ) else {
            return;
        };
        if position <= 0.0 || (position - reported).abs() < 0.25 {
            return;
        }
        let _ = self.last_reported.try_set_value(position);
        if let Ok(params) = web_sys::UrlSearchParams::new() {
            params.append("film_id", &film_id);
            params.append("kind", "progress");
            params.append("position", &position.to_string());
            params.append("duration", &duration.to_string());
            let _ = window()
                .navigator()
                .send_beacon_with_opt_url_search_params("/api/playback/event", Some(&params));
        }
    }
}

/// The film's scenes under its player: a seek bar that shows the frame under the pointer (or
/// the thumb while dragging) — the browser's own controls cannot show previews.
#[component]
fn ScenesBar(
    video: NodeRef<leptos::html::Video>,
    index: String,
    /// The element's time and duration (seconds), kept by the player.
    time: RwSignal<f64>,
    duration: RwSignal<f64>,
) -> impl IntoView {
    let cues = RwSignal::new(Vec::new());
    previews::load_previews(Some(index), cues);
    let scrubbing = RwSignal::new(None::<f64>);
    let seek = move |at: f64| {
        if let Some(v) = video.get_untracked() {
            v.set_current_time(at);
        }
    };
    view! {
        <div class="seek-box scenes">
            <previews::SeekBar cues time duration scrubbing on_seek=Callback::new(seek) />
        </div>
    }
}

/// "▶ Continue from 12:34" when the viewer stopped partway.
#[component]
fn ContinueButton(
    resume: Resource<Result<Option<Resume>, AppError>>,
    video: NodeRef<leptos::html::Video>,
) -> impl IntoView {
    let i18n = use_i18n();
    let continue_from = move |position_ms: i64| {
        if let Some(v) = video.get_untracked() {
            v.set_current_time(position_ms as f64 / 1000.0);
            let _ = v.play();
        }
    };
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                resume
                    .await
                    .ok()
                    .flatten()
                    .filter(Resume::resumable)
                    .map(|r| {
                        let time = clock(r.position_ms);
                        view! {
                            <button
                                type="button"
                                class="primary continue"
                                on:click=move |_| continue_from(r.position_ms)
                            >
                                <crate::icons::IconSvg icon=crate::icons::Icon::Play />
                                " "
                                {t!(i18n, continue_from, time = move || time.clone())}
                            </button>
                        }
                    })
            })}
        </Suspense>
    }
}

/// The film's subtitles as `<track>` elements of a `<video>` (none shows until chosen).
#[component]
pub fn SubtitleTracks(tracks: Vec<SubtitleTrack>) -> impl IntoView {
    let locale = use_i18n().get_locale_untracked();
    tracks
        .into_iter()
        .map(|t| {
            view! {
                <track
                    kind="subtitles"
                    src=t.url
                    srclang=t.lang.clone()
                    label=crate::catalog::language_name(&t.lang, locale)
                />
            }
        })
        .collect_view()
}

/// Where the viewer's subtitle choice is remembered ("off" or a language), for every film.
const SUBTITLES_KEY: &str = "kino.subtitles";

/// "Subtitles": off or a language, each person's own, remembered in this browser. The choice
/// shows the matching `<track>` of `video` (rendered by [`SubtitleTracks`] in the same order).
#[component]
pub fn SubtitlePicker(
    video: NodeRef<leptos::html::Video>,
    tracks: Vec<SubtitleTrack>,
) -> impl IntoView {
    let i18n = use_i18n();
    let langs: Vec<String> = tracks.iter().map(|t| t.lang.clone()).collect();
    let chosen = RwSignal::new("off".to_owned());
    let apply = {
        let langs = langs.clone();
        move |choice: &str| {
            let Some(v) = video.get_untracked() else {
                return;
            };
            let list = v.text_tracks();
            for (i, lang) in langs.iter().enumerate() {
                if let Some(track) = list.as_ref().and_then(|l| l.get(i as u32)) {
                    track.set_mode(if lang == choice {
                        web_sys::TextTrackMode::Showing
                    } else {
                        web_sys::TextTrackMode::Disabled
                    });
                }
            }
        }
    };
    // The remembered choice, once the page runs (and the tracks exist).
    {
        let (apply, langs) = (apply.clone(), langs.clone());
        Effect::new(move |_| {
            if video.get().is_none() {
                return;
            }
            let saved = window()
                .local_storage()
                .ok()
                .flatten()
                .and_then(|s| s.get_item(SUBTITLES_KEY).ok().flatten())
                .filter(|lang| langs.contains(lang))
                .unwrap_or_else(|| "off".to_owned());
            apply(&saved);
            chosen.set(saved);
        });
    }
    let choose = move |ev: leptos::ev::Event| {
        let choice = event_target_value(&ev);
        apply(&choice);
        if let Some(storage) = window().local_storage().ok().flatten() {
            let _ = storage.set_item(SUBTITLES_KEY, &choice);
        }
        chosen.set(choice);
    };
    (!tracks.is_empty()).then(|| {
        let locale = i18n.get_locale_untracked();
        view! {
            <label for="subtitles-choice">{t!(i18n, subtitles)}</label>
            <select id="subtitles-choice" on:change=choose>
                <option value="off" selected=move || chosen.get() == "off">
                    {t!(i18n, subtitles_off)}
                </option>
                {tracks
                    .iter()
                    .map(|t| {
                        let lang = t.lang.clone();
                        let name = crate::catalog::language_name(&t.lang, locale);
                        view! {
                            <option value=lang.clone() selected=move || chosen.get() == lang>
                                {name}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        }
    })
}

/// Home's "Continue watching" row (nothing for a guest or when there is nothing to continue).
#[component]
pub fn ContinueWatching() -> impl IntoView {
    let i18n = use_i18n();
    let items = Resource::new(|| (), |_| get_continue_watching());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let items = items.await.unwrap_or_default();
                (!items.is_empty())
                    .then(|| {
                        view! {
                            <section class="continue-watching" aria-labelledby="continue-title">
                                <h2 id="continue-title">{t!(i18n, continue_watching)}</h2>
                                <ul class="film-grid">
                                    {items.into_iter().map(|item| view! { <ContinueCard item /> }).collect_view()}
                                </ul>
                            </section>
                        }
                    })
            })}
        </Suspense>
    }
}

#[component]
fn ContinueCard(item: ContinueItem) -> impl IntoView {
    let i18n = use_i18n();
    let href = format!("/films/{}", item.film.id);
    let poster = item.film.poster_url();
    let film = item.film.clone();
    let title = move || film.title(i18n.get_locale()).to_owned();
    let position = clock(item.position_ms);
    let duration = clock(item.duration_ms);
    let (value, max) = (
        item.position_ms,
        item.duration_ms.max(item.position_ms).max(1),
    );
    view! {
        <li class="film-card">
            <A href=href>
                <img src=poster alt="" loading="lazy" width="300" height="450" />
                <span class="film-title">{title}</span>
                <progress value=value max=max></progress>
                <span class="film-meta">
                    {t!(i18n, progress_of, position = move || position.clone(), duration = move || duration.clone())}
                </span>
            </A>
        </li>
    }
}

#[component]
pub fn WatchedPage() -> impl IntoView {
    let i18n = use_i18n();
    let films = Resource::new(|| (), |_| get_watched());
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, watched_title), t_string!(i18n, app_name)) />
        <section class="catalog">
            <h1>{t!(i18n, watched_title)}</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    match films.await {
                        Ok(films) if films.is_empty() => {
                            view! { <p class="empty">{t!(i18n, watched_empty)}</p> }.into_any()
                        }
                        Ok(films) => view! { <FilmGrid films /> }.into_any(),
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/watched") /> }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <Alert error /> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

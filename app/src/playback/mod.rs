//! Watching alone: the film page's player, its reports (open, progress every ~10 s, seek, pause,
//! quality, end), "Continue from", Home's "Continue watching" and the "Watched" page.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::login_link;
use crate::catalog::{FilmCard, FilmGrid, Rendition};
use crate::error::AppError;
use crate::i18n::*;
use crate::ui::ErrorMessage;
use crate::ui::PageTitle;
use domain::clock;
use leptos::prelude::*;
use leptos_router::components::A;
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
    crate::accounts::ssr::respond(result)
}

#[server(endpoint = "playback/resume")]
pub async fn get_resume(film_id: String) -> Result<Option<Resume>, AppError> {
    crate::accounts::ssr::respond(ssr::resume(&film_id).await)
}

#[server(endpoint = "playback/continue")]
pub async fn get_continue_watching() -> Result<Vec<ContinueItem>, AppError> {
    crate::accounts::ssr::respond(ssr::continue_watching().await)
}

#[server(endpoint = "playback/watched")]
pub async fn get_watched() -> Result<Vec<FilmCard>, AppError> {
    crate::accounts::ssr::respond(ssr::watched().await)
}

/// How far apart progress reports are while playing, in media seconds.
const PROGRESS_EVERY_SECS: f64 = 10.0;

fn quality_label(r: &Rendition) -> String {
    format!("{}p {}", r.height, r.container.to_uppercase())
}

/// The film page's own player. The browser's controls do the playing; this reports what
/// happens and offers "Continue from" where the viewer stopped last time.
#[component]
pub fn Player(
    film_id: String,
    renditions: Vec<Rendition>,
    poster: String,
    /// Where the viewer stopped (created by the page, outside any suspense).
    resume: Resource<Result<Option<Resume>, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let video = NodeRef::<leptos::html::Video>::new();
    let renditions = StoredValue::new(renditions);
    let film = StoredValue::new(film_id.clone());
    let selected = RwSignal::new(0usize);
    // Media time of the last report, and the latest time and duration seen.
    let last_reported = StoredValue::new(-1.0f64);
    let last_seen = StoredValue::new((0.0f64, 0.0f64));
    let opened = StoredValue::new(false);
    // After a quality switch: where to go back to, and whether to keep playing.
    let restore = StoredValue::new(None::<(f64, bool)>);
    let restoring_seek = StoredValue::new(false);

    let src = move || {
        renditions.with_value(|r| {
            r.get(selected.get())
                .map(|r| r.url.clone())
                .unwrap_or_default()
        })
    };
    let current_quality =
        move || renditions.with_value(|r| r.get(selected.get_untracked()).map(quality_label));
    let snapshot = move || {
        video.get_untracked().map(|v| {
            let duration = v.duration();
            let duration = if duration.is_finite() { duration } else { 0.0 };
            (v.current_time(), duration)
        })
    };
    let send = move |kind: &'static str| {
        let Some((position, duration)) = snapshot() else {
            return;
        };
        last_reported.set_value(position);
        last_seen.set_value((position, duration));
        let film_id = film.get_value();
        let quality = current_quality();
        leptos::task::spawn_local(async move {
            // A lost report only costs a few seconds of "where I stopped"; the next one fixes it.
            let _ = record_playback(film_id, kind.to_owned(), position, duration, quality).await;
        });
    };
    // Leaving the page (reload, close, another site): a beacon survives the page's end.
    let beacon = move || {
        let (Some((position, duration)), Some(reported), Some(film_id)) = (
            last_seen.try_get_value(),
            last_reported.try_get_value(),
            film.try_get_value(),
        ) else {
            return;
        };
        if position <= 0.0 || (position - reported).abs() < 0.25 {
            return;
        }
        let _ = last_reported.try_set_value(position);
        if let Ok(params) = web_sys::UrlSearchParams::new() {
            params.append("film_id", &film_id);
            params.append("kind", "progress");
            params.append("position", &position.to_string());
            params.append("duration", &duration.to_string());
            let _ = window()
                .navigator()
                .send_beacon_with_opt_url_search_params("/api/playback/event", Some(&params));
        }
    };
    let _ = window_event_listener(leptos::ev::pagehide, move |_| beacon());
    on_cleanup(beacon);
    // Metadata may have loaded before the page hydrated: then the event below came too early.
    Effect::new(move |_| {
        if let Some(v) = video.get() {
            if v.can_play_type("video/mp4").is_empty() {
                if let Some(webm) =
                    renditions.with_value(|r| r.iter().position(|r| r.container == "webm"))
                {
                    selected.set(webm);
                }
            }
            if v.ready_state() >= 1 && !opened.get_value() {
                opened.set_value(true);
                send("open");
            }
        }
    });

    let on_metadata = move |_| {
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
            send("quality");
        } else if !opened.get_value() {
            opened.set_value(true);
            send("open");
        }
    };
    let on_time = move |_| {
        let Some((position, duration)) = snapshot() else {
            return;
        };
        last_seen.set_value((position, duration));
        let playing = video.get_untracked().is_some_and(|v| !v.paused());
        let reported = last_reported.get_value();
        // The first report comes a second in, so even a short look is remembered; then ~10 s.
        let first = reported < 1.0 && position >= 1.0;
        if playing && (first || (position - reported).abs() >= PROGRESS_EVERY_SECS) {
            send("progress");
        }
    };
    let on_seeked = move |_| {
        if restoring_seek.get_value() {
            restoring_seek.set_value(false);
        } else {
            send("seek");
        }
    };
    let on_pause = move |_| {
        if !video.get_untracked().is_some_and(|v| v.ended()) {
            send("pause");
        }
    };
    let on_ended = move |_| send("end");
    let continue_from = move |position_ms: i64| {
        if let Some(v) = video.get_untracked() {
            v.set_current_time(position_ms as f64 / 1000.0);
            let _ = v.play();
        }
    };
    let choose_quality = move |ev: leptos::ev::Event| {
        let Ok(index) = event_target_value(&ev).parse::<usize>() else {
            return;
        };
        if let Some(v) = video.get_untracked() {
            restore.set_value(Some((v.current_time(), !v.paused())));
        }
        selected.set(index);
    };
    let many = renditions.with_value(|r| r.len() > 1);

    view! {
        <div class="player-box">
            <video
                node_ref=video
                controls
                preload="metadata"
                playsinline
                poster=poster
                src=src
                aria-label=move || t_string!(i18n, player).to_string()
                on:loadedmetadata=on_metadata
                on:timeupdate=on_time
                on:seeked=on_seeked
                on:pause=on_pause
                on:ended=on_ended
            ></video>
            <div class="player-bar">
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
                                        "▶ "
                                        {t!(i18n, continue_from, time = move || time.clone())}
                                    </button>
                                }
                            })
                    })}
                </Suspense>
                {many
                    .then(|| {
                        view! {
                            <label for="quality">{t!(i18n, quality)}</label>
                            <select id="quality" on:change=choose_quality>
                                {renditions
                                    .get_value()
                                    .iter()
                                    .enumerate()
                                    .map(|(i, r)| {
                                        view! {
                                            <option value=i.to_string() selected=move || selected.get() == i>
                                                {quality_label(r)}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        }
                    })}
            </div>
        </div>
    }
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
                            view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

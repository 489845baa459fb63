//! `/rooms/new`, "New room": a film from the catalog, or a video of one's own (a file, uploaded
//! at once and resumable, or a link), then the room's settings. One's own video is seen only
//! by the room's members; the room shows "Preparing the video…" until it can play.

use super::together::{local_input_to_ms, RoomSettings};
use super::{domain, StartOwnSession, StartSession};
use crate::catalog::domain::CatalogQuery;
use crate::catalog::{list_films, CatalogPage};
use crate::i18n::*;
use crate::library::upload_widget::{FileUpload, UploadState};
use crate::links::login_link;
use crate::ui::PageTitle;
use leptos::prelude::*;

/// Where the room's video comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Catalog,
    File,
    Link,
}

#[component]
pub fn NewRoomPage() -> impl IntoView {
    let i18n = use_i18n();
    let me = Resource::new(|| (), |_| crate::accounts::current_user());
    view! {
        <PageTitle text=move || t_string!(i18n, new_room).to_string() />
        <Suspense>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(_)) => view! { <NewRoomForm /> }.into_any(),
                    _ => view! {
                        <leptos_router::components::Redirect path=login_link("/rooms/new") />
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewRoomForm() -> impl IntoView {
    let i18n = use_i18n();
    let source = RwSignal::new(Source::Catalog);
    let upload = RwSignal::new(UploadState::Idle);
    let link = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    let limit = RwSignal::new(domain::DEFAULT_LIMIT.to_string());
    let start = ServerAction::<StartSession>::new();
    let start_own = ServerAction::<StartOwnSession>::new();
    Effect::new(move |_| {
        let created = match (start.value().get(), start_own.value().get()) {
            (Some(Ok(code)), _) | (_, Some(Ok(code))) => code,
            _ => return,
        };
        let navigate = leptos_router::hooks::use_navigate();
        navigate(&format!("/r/{created}"), Default::default());
    });
    let settings = move || {
        let is_private = private.get_untracked();
        (
            is_private,
            is_private.then(|| password.get_untracked()),
            local_input_to_ms(&starts.get_untracked()),
            limit.get_untracked().trim().parse().ok(),
        )
    };
    let start_with_film = move |film_id: String| {
        let (private, password, starts_at, max_participants) = settings();
        start.dispatch(StartSession {
            film_id,
            friends: Vec::new(),
            private,
            password,
            starts_at,
            max_participants,
            choose: false,
        });
    };
    let submit_own = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (private, password, starts_at, max_participants) = settings();
        let (upload_id, url) = match source.get_untracked() {
            Source::File => match upload.get_untracked() {
                UploadState::Done { id, .. } => (Some(id), None),
                _ => (None, None),
            },
            _ => (None, Some(link.get_untracked())),
        };
        start_own.dispatch(StartOwnSession {
            upload: upload_id,
            url,
            title: Some(title.get_untracked()),
            private,
            password,
            starts_at,
            max_participants,
        });
    };
    let busy = move || {
        start.pending().get()
            || start_own.pending().get()
            || matches!(upload.get(), UploadState::Sending { .. })
    };
    let choice = move |value: Source, id: &'static str, label: String| {
        view! {
            <div class="check">
                <input
                    type="radio"
                    id=id
                    name="source"
                    prop:checked=move || source.get() == value
                    on:change=move |_| source.set(value)
                />
                <label for=id>{label}</label>
            </div>
        }
    };
    view! {
        <section class="card new-room">
            <h1>{t!(i18n, new_room)}</h1>
            <p class="muted">{t!(i18n, new_room_intro)}</p>
            <fieldset class="field">
                <legend>{t!(i18n, what_to_watch)}</legend>
                {choice(Source::Catalog, "source-catalog", t_string!(i18n, film_from_catalog).to_string())}
                {choice(Source::File, "source-file", t_string!(i18n, video_file).to_string())}
                {choice(Source::Link, "source-link", t_string!(i18n, video_url).to_string())}
            </fieldset>
            <RoomSettings private password starts limit />
            {move || match source.get() {
                Source::Catalog => view! { <CatalogChoice on_choose=start_with_film busy /> }.into_any(),
                own => view! {
                    <form class="form" on:submit=submit_own>
                        {(own == Source::File).then(|| view! {
                            <FileUpload
                                id="own-video-file"
                                label=Signal::derive(move || t_string!(i18n, video_file_field).to_string())
                                accept="video/*,.mkv,.avi,.mov,.mp4,.webm,.m4v,.mpg,.ts"
                                state=upload
                            />
                        })}
                        {(own == Source::Link).then(|| view! {
                            <div class="field">
                                <label for="own-video-url">{t!(i18n, video_link_field)}</label>
                                <input
                                    id="own-video-url"
                                    type="url"
                                    placeholder="https://"
                                    required
                                    prop:value=move || link.get()
                                    on:input=move |ev| link.set(event_target_value(&ev))
                                />
                            </div>
                        })}
                        <div class="field">
                            <label for="own-video-title">{t!(i18n, own_video_title)}</label>
                            <input
                                id="own-video-title"
                                maxlength="200"
                                prop:value=move || title.get()
                                on:input=move |ev| title.set(event_target_value(&ev))
                            />
                        </div>
                        <button type="submit" class="primary" disabled=busy>
                            {t!(i18n, create_room)}
                        </button>
                    </form>
                }
                .into_any(),
            }}
            <Show when=move || start.pending().get() || start_own.pending().get()>
                <p class="muted" role="status">{t!(i18n, creating_room)}</p>
            </Show>
            {crate::ui::alert(start.value())}
            {crate::ui::alert(start_own.value())}
        </section>
    }
}

/// "Find a film": a search of the catalog's playable films; choosing one calls `on_choose`
/// (creates the room for it here; adds it to a room's queue there).
#[component]
pub(super) fn CatalogChoice(
    on_choose: impl Fn(String) + Copy + Send + Sync + 'static,
    busy: impl Fn() -> bool + Copy + Send + Sync + 'static,
    #[prop(default = "find-film")] input_id: &'static str,
    /// List nothing until something is typed.
    #[prop(optional)]
    needs_query: bool,
    /// The most films listed.
    #[prop(default = usize::MAX)]
    limit: usize,
) -> impl IntoView {
    let i18n = use_i18n();
    let query = RwSignal::new(String::new());
    let films = Resource::new(
        move || query.get(),
        move |q| async move {
            if needs_query && q.trim().is_empty() {
                return Ok(CatalogPage::default());
            }
            list_films(CatalogQuery {
                q,
                genre: String::new(),
                sort: String::new(),
                page: 1,
            })
            .await
        },
    );
    view! {
        <div class="field">
            <label for=input_id>{t!(i18n, find_film)}</label>
            <input
                id=input_id
                type="search"
                maxlength="100"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
        </div>
        <Transition>
            {move || Suspend::new(async move {
                let page = films.await.ok()?;
                if needs_query && query.with_untracked(|q| q.trim().is_empty()) {
                    return None;
                }
                let playable: Vec<_> =
                    page.films.into_iter().filter(|f| f.playable).take(limit).collect();
                Some(if playable.is_empty() {
                    view! { <p class="muted">{t!(i18n, no_films_found)}</p> }.into_any()
                } else {
                    view! {
                        <ul class="film-choices">
                            {playable
                                .into_iter()
                                .map(|film| {
                                    let id = film.id.clone();
                                    let title = format!(
                                        "{} ({})",
                                        film.title(i18n.get_locale_untracked()),
                                        film.year
                                    );
                                    view! {
                                        <li>
                                            <button
                                                type="button"
                                                disabled=busy
                                                on:click=move |_| on_choose(id.clone())
                                            >
                                                {title}
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any()
                })
            })}
        </Transition>
    }
}

//! The media library, for admins: "Add a film" (a file or a link, then the details), the
//! "Library" page with every film's transcoding jobs (live progress, errors, Retry, Cancel) and
//! the disk, and a film's "Edit" page (details, poster, subtitles, delete).
//!
//! The work itself happens in `worker` (ffmpeg through the `kino_media` crate), queued in
//! `queue`; uploads arrive through `uploads` (resumable).

pub mod domain;
#[cfg(feature = "ssr")]
pub mod own;
#[cfg(feature = "ssr")]
pub mod queue;
#[cfg(feature = "ssr")]
pub mod signing;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod upload_widget;
#[cfg(feature = "ssr")]
pub mod uploads;
#[cfg(feature = "ssr")]
pub mod worker;

use crate::catalog::domain::GENRES;
use crate::catalog::{GenreName, SubtitleTrack};
use crate::error::AppError;
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{Alert, PageError, PageTitle};
use domain::{Container, FilmForm, JobKind, JobState, JobView};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde::{Deserialize, Serialize};
use upload_widget::{FileUpload, UploadState};

/// A film of the library as its page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryFilm {
    pub id: String,
    pub title_en: String,
    pub title_ru: String,
    /// Listed in the catalog (its first MP4 is ready).
    pub published: bool,
    pub source_name: String,
    pub source_url: Option<String>,
    pub duration_secs: i64,
    pub width: i64,
    pub height: i64,
    /// The source and every rendition.
    pub bytes: i64,
    pub added_at: i64,
    pub jobs: Vec<JobView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    pub free_bytes: u64,
    pub total_bytes: u64,
    pub min_free_bytes: u64,
    /// Why jobs wait (the disk is nearly full), when they do.
    pub waiting: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibraryOverview {
    pub films: Vec<LibraryFilm>,
    pub disk: DiskInfo,
}

/// What the edit page starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilmEdit {
    pub id: String,
    pub form: FilmForm,
    pub poster_url: Option<String>,
    /// Rooms made for the film (deleting the film deletes them).
    pub rooms: i64,
    /// Whether the film has files of its own (not one of the demo clips).
    pub own_media: bool,
    pub subtitles: Vec<SubtitleTrack>,
}

#[server(endpoint = "library")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_library() -> Result<LibraryOverview, AppError> {
    ssr::overview().await
}

/// Adds a film from a finished upload (`upload`, its id) or a link (`url`); returns its id.
#[server(endpoint = "library/add")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_film(
    form: FilmForm,
    upload: Option<String>,
    url: Option<String>,
) -> Result<String, AppError> {
    ssr::add_film(form, upload, url).await
}

#[server(endpoint = "library/film")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_film_edit(id: String) -> Result<FilmEdit, AppError> {
    ssr::film_edit(&id).await
}

#[server(endpoint = "library/update")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn update_film(id: String, form: FilmForm) -> Result<(), AppError> {
    ssr::update_film(&id, form).await
}

#[server(endpoint = "library/delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_film(id: String) -> Result<(), AppError> {
    ssr::delete_film(&id).await
}

#[server(endpoint = "library/retry")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn retry_job(id: String) -> Result<(), AppError> {
    ssr::retry_job(&id).await
}

#[server(endpoint = "library/cancel")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn cancel_job(id: String) -> Result<(), AppError> {
    ssr::cancel_job(&id).await
}

#[server(endpoint = "library/subtitles")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_subtitles(film: String, lang: String, upload: String) -> Result<(), AppError> {
    ssr::add_subtitles(&film, &lang, &upload).await
}

#[server(endpoint = "library/subtitles/remove")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_subtitles(film: String, lang: String) -> Result<(), AppError> {
    ssr::remove_subtitles(&film, &lang).await
}

#[server(endpoint = "library/poster")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn set_poster(film: String, upload: String) -> Result<(), AppError> {
    ssr::set_poster(&film, &upload).await
}

/// Bytes as people read them: "1.4 GB", "350 MB".
pub fn size_text(bytes: u64) -> String {
    const GB: f64 = 1_000_000_000.0;
    const MB: f64 = 1_000_000.0;
    let b = bytes as f64;
    if b >= GB {
        format!("{:.1} GB", b / GB)
    } else if b >= MB {
        format!("{:.0} MB", b / MB)
    } else {
        format!("{:.0} KB", b / 1000.0)
    }
}

/// A job's name on the page.
#[component]
fn JobName(kind: JobKind) -> impl IntoView {
    let i18n = use_i18n();
    match kind {
        JobKind::Import => t!(i18n, job_import).into_any(),
        JobKind::Probe => t!(i18n, job_probe).into_any(),
        JobKind::Rendition { height, container } => {
            let name = match container {
                Container::Mp4 => "MP4",
                Container::Webm => "WebM",
            };
            format!("{name} {height}p").into_any()
        }
        JobKind::Poster => t!(i18n, job_poster).into_any(),
        JobKind::Sprite => t!(i18n, job_sprite).into_any(),
        JobKind::Subtitles => t!(i18n, job_subtitles).into_any(),
    }
}

#[component]
fn StateName(state: JobState) -> impl IntoView {
    let i18n = use_i18n();
    match state {
        JobState::Queued => t!(i18n, job_queued).into_any(),
        JobState::Running => t!(i18n, job_running).into_any(),
        JobState::Done => t!(i18n, job_done).into_any(),
        JobState::Failed => t!(i18n, job_failed).into_any(),
        JobState::Cancelled => t!(i18n, job_cancelled).into_any(),
    }
}

/// `/library`: every film with media of its own and its jobs, live while any job is unfinished.
#[component]
pub fn LibraryPage() -> impl IntoView {
    let i18n = use_i18n();
    let retry = ServerAction::<RetryJob>::new();
    let cancel = ServerAction::<CancelJob>::new();
    // Again after Retry or Cancel, and every 2 s while something is unfinished (below).
    let overview = Resource::new(
        move || (retry.version().get(), cancel.version().get()),
        |_| get_library(),
    );
    let busy = move || {
        overview
            .get_untracked()
            .and_then(Result::ok)
            .is_some_and(|o| {
                o.films.iter().any(|f| {
                    f.jobs
                        .iter()
                        .any(|j| matches!(j.state, JobState::Queued | JobState::Running))
                })
            })
    };
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if busy() {
                    overview.refetch();
                }
            },
            std::time::Duration::from_secs(2),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <PageTitle text=move || t_string!(i18n, library_title).to_string() />
        <section class="library">
            <div class="section-head">
                <h1>{t!(i18n, library_title)}</h1>
                <A href="/library/new" attr:class="button primary">{t!(i18n, add_film)}</A>
            </div>
            <Transition>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => {
                            view! { <LibraryList overview retry cancel /> }.into_any()
                        }
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/library") /> }
                                .into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn LibraryList(
    overview: LibraryOverview,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let i18n = use_i18n();
    let disk = overview.disk;
    let free = size_text(disk.free_bytes);
    let total = size_text(disk.total_bytes);
    view! {
        <p class="disk muted">{t!(i18n, disk_space, free = move || free.clone(), total = move || total.clone())}</p>
        {disk
            .waiting
            .map(|why| {
                view! {
                    <p class="notice" role="status">
                        {t!(i18n, jobs_waiting_disk)} " (" {why} ")"
                    </p>
                }
            })}
        {crate::ui::alert(retry.value())}
        {crate::ui::alert(cancel.value())}
        {if overview.films.is_empty() {
            view! { <p class="muted">{t!(i18n, library_empty)}</p> }.into_any()
        } else {
            view! {
                <ul class="library-films">
                    {overview
                        .films
                        .into_iter()
                        .map(|film| view! { <LibraryItem film retry cancel /> })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
    }
}

#[component]
fn LibraryItem(
    film: LibraryFilm,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let i18n = use_i18n();
    let title = {
        let (en, ru) = (film.title_en.clone(), film.title_ru.clone());
        move || match i18n.get_locale() {
            Locale::ru => ru.clone(),
            _ => en.clone(),
        }
    };
    let failed = film.jobs.iter().any(|j| j.state == JobState::Failed);
    let status = if film.published {
        view! { <span class="chip ok">{t!(i18n, film_published)}</span> }.into_any()
    } else if failed {
        view! { <span class="chip bad">{t!(i18n, job_failed)}</span> }.into_any()
    } else {
        view! { <span class="chip">{t!(i18n, film_preparing)}</span> }.into_any()
    };
    let facts = {
        let mut facts = vec![film.source_name.clone()];
        if film.height > 0 {
            facts.push(format!("{}×{}", film.width, film.height));
        }
        if film.duration_secs > 0 {
            facts.push(crate::dates::clock(film.duration_secs * 1000));
        }
        facts.push(size_text(film.bytes.max(0) as u64));
        facts.join(" · ")
    };
    let href = format!("/films/{}", film.id);
    let edit = format!("/films/{}/edit", film.id);
    view! {
        <li class="library-film card">
            <div class="library-film-head">
                <h2><A href=href>{title}</A></h2>
                {status}
                <A href=edit attr:class="button ghost small">{t!(i18n, edit)}</A>
            </div>
            <p class="muted">{facts}</p>
            <table class="jobs">
                <thead>
                    <tr>
                        <th scope="col">{t!(i18n, job_step)}</th>
                        <th scope="col">{t!(i18n, job_state)}</th>
                        <th scope="col">{t!(i18n, job_progress)}</th>
                        <th scope="col"><span class="sr-only">{t!(i18n, job_actions)}</span></th>
                    </tr>
                </thead>
                <tbody>
                    {film.jobs.into_iter().map(|job| view! { <JobRow job retry cancel /> }).collect_view()}
                </tbody>
            </table>
        </li>
    }
}

#[component]
fn JobRow(
    job: JobView,
    retry: ServerAction<RetryJob>,
    cancel: ServerAction<CancelJob>,
) -> impl IntoView {
    let i18n = use_i18n();
    let percent = job.progress / 10;
    let id = job.id.clone();
    let can_retry = matches!(job.state, JobState::Failed | JobState::Cancelled);
    let can_cancel = matches!(job.state, JobState::Queued | JobState::Running);
    let kind = job.kind;
    view! {
        <tr class="job">
            <td><JobName kind /></td>
            <td>
                <StateName state=job.state />
                {(job.attempts > 1 && job.state != JobState::Done)
                    .then(|| view! { <small class="muted">" · " {{ let n = job.attempts; t!(i18n, job_attempt, n = move || n) }}</small> })}
            </td>
            <td>
                <span
                    class="progress"
                    role="progressbar"
                    aria-valuemin="0"
                    aria-valuemax="100"
                    aria-valuenow=percent.to_string()
                >
                    <span class="progress-fill" style=format!("width: {percent}%")></span>
                </span>
                " " {format!("{percent} %")}
            </td>
            <td>
                {can_retry
                    .then(|| {
                        let id = id.clone();
                        view! {
                            <button type="button" class="small" on:click=move |_| { retry.dispatch(RetryJob { id: id.clone() }); }>
                                {t!(i18n, retry)}
                            </button>
                        }
                    })}
                {can_cancel
                    .then(|| {
                        let id = id.clone();
                        view! {
                            <button type="button" class="small ghost" on:click=move |_| { cancel.dispatch(CancelJob { id: id.clone() }); }>
                                {t!(i18n, cancel)}
                            </button>
                        }
                    })}
            </td>
        </tr>
        {job
            .error
            .map(|error| {
                view! {
                    <tr class="job-error">
                        <td colspan="4"><pre>{error}</pre></td>
                    </tr>
                }
            })}
    }
}

/// The details' fields, filled from `form` ("Add a film" starts empty, "Edit" from the film).
#[component]
fn FilmFields(form: FilmForm) -> impl IntoView {
    let i18n = use_i18n();
    let chosen: Vec<String> = form
        .genres
        .split(',')
        .map(|g| g.trim().to_owned())
        .collect();
    let field = move |id: &'static str, label: AnyView, value: String, required: bool| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id name=id value=value required=required maxlength="200" />
            </div>
        }
    };
    view! {
        {field("title_en", t!(i18n, title_en).into_any(), form.title_en.clone(), false)}
        {field("title_ru", t!(i18n, title_ru).into_any(), form.title_ru.clone(), false)}
        {field("original_title", t!(i18n, original_title).into_any(), form.original_title.clone(), false)}
        <div class="field">
            <label for="year">{t!(i18n, year)}</label>
            <input id="year" name="year" inputmode="numeric" pattern="[0-9]{4}" value=form.year.clone() />
        </div>
        <fieldset class="field genres-choice">
            <legend>{t!(i18n, genres)}</legend>
            {GENRES
                .iter()
                .map(|g| {
                    let checked = chosen.iter().any(|c| c == g);
                    view! {
                        <label class="check">
                            <input type="checkbox" name="genres" value=*g checked=checked />
                            <GenreName genre=g.to_string() />
                        </label>
                    }
                })
                .collect_view()}
        </fieldset>
        <div class="field">
            <label for="countries">{t!(i18n, countries)}</label>
            <input id="countries" name="countries" value=form.countries.clone() aria-describedby="countries-hint" />
            <small id="countries-hint" class="hint">{t!(i18n, countries_hint)}</small>
        </div>
        {field("director", t!(i18n, director).into_any(), form.director.clone(), false)}
        <div class="field">
            <label for="description_en">{t!(i18n, description_en)}</label>
            <textarea id="description_en" name="description_en" rows="4" maxlength="5000">{form.description_en.clone()}</textarea>
        </div>
        <div class="field">
            <label for="description_ru">{t!(i18n, description_ru)}</label>
            <textarea id="description_ru" name="description_ru" rows="4" maxlength="5000">{form.description_ru.clone()}</textarea>
        </div>
    }
}

/// The details as the form holds them now (the browser reads them when "Save" is pressed).
fn read_form(form: &web_sys::HtmlFormElement) -> FilmForm {
    let Ok(data) = web_sys::FormData::new_with_form(form) else {
        return FilmForm::default();
    };
    let text = |name: &str| data.get(name).as_string().unwrap_or_default();
    let genres: Vec<String> = data
        .get_all("genres")
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    FilmForm {
        title_en: text("title_en"),
        title_ru: text("title_ru"),
        original_title: text("original_title"),
        year: text("year"),
        genres: genres.join(","),
        countries: text("countries"),
        director: text("director"),
        description_en: text("description_en"),
        description_ru: text("description_ru"),
    }
}

fn form_of(ev: &leptos::ev::SubmitEvent) -> Option<web_sys::HtmlFormElement> {
    use wasm_bindgen::JsCast;
    ev.prevent_default();
    ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()
}

/// `/library/new`: "Add a film" — a video file (uploaded at once, resumable) or a link, then the
/// details; "Save" queues the work and opens the library.
#[component]
pub fn AddFilmPage() -> impl IntoView {
    let i18n = use_i18n();
    let upload = RwSignal::new(UploadState::Idle);
    let add = ServerAction::<AddFilm>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            navigate("/library", Default::default());
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&ev) else { return };
        let url = web_sys::FormData::new_with_form(&form)
            .ok()
            .and_then(|d| d.get("url").as_string())
            .filter(|u| !u.trim().is_empty());
        let uploaded = match upload.get_untracked() {
            UploadState::Done { id, .. } => Some(id),
            _ => None,
        };
        add.dispatch(AddFilm {
            form: read_form(&form),
            upload: uploaded,
            url,
        });
    };
    let uploading = move || matches!(upload.get(), UploadState::Sending { .. });
    view! {
        <PageTitle text=move || t_string!(i18n, add_film).to_string() />
        <section class="card add-film">
            <h1>{t!(i18n, add_film)}</h1>
            <form class="form" on:submit=on_submit>
                <fieldset class="field">
                    <legend>{t!(i18n, video)}</legend>
                    <FileUpload
                        id="video-file"
                        label=Signal::derive(move || t_string!(i18n, video_file).to_string())
                        accept="video/*,.mkv,.avi,.mov,.mp4,.webm,.m4v,.mpg,.ts"
                        state=upload
                    />
                    <div class="field">
                        <label for="video-url">{t!(i18n, video_url)}</label>
                        <input id="video-url" name="url" type="url" placeholder="https://" />
                    </div>
                </fieldset>
                <FilmFields form=FilmForm::default() />
                {crate::ui::alert(add.value())}
                <button type="submit" class="primary" disabled=uploading>
                    {t!(i18n, save)}
                </button>
            </form>
        </section>
    }
}

/// `/films/<id>/edit`: the film's details, poster and subtitles, and "Delete film".
#[component]
pub fn EditFilmPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let film = Resource::new(move || id.get(), get_film_edit);
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match film.await {
                    Ok(edit) => view! { <EditFilm edit film /> }.into_any(),
                    Err(AppError::Unauthorized) => {
                        let here = format!("/films/{}/edit", id.get_untracked());
                        view! { <leptos_router::components::Redirect path=login_link(&here) /> }
                            .into_any()
                    }
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EditFilm(edit: FilmEdit, film: Resource<Result<FilmEdit, AppError>>) -> impl IntoView {
    let i18n = use_i18n();
    let id = edit.id.clone();
    let update = ServerAction::<UpdateFilm>::new();
    let on_submit = {
        let id = id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            let Some(form) = form_of(&ev) else { return };
            update.dispatch(UpdateFilm {
                id: id.clone(),
                form: read_form(&form),
            });
        }
    };
    let title = edit.form.title_en.clone();
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, edit), title) />
        <section class="card edit-film">
            <h1>{t!(i18n, edit_film)} " «" {edit.form.title_en.clone()} "»"</h1>
            <p><A href=format!("/films/{}", edit.id)>{t!(i18n, open_film_page)}</A></p>
            <form class="form" on:submit=on_submit>
                <FilmFields form=edit.form.clone() />
                <crate::ui::FieldError result=update.value() />
                <button type="submit" class="primary">{t!(i18n, save)}</button>
            </form>
        </section>
        <PosterEditor film_id=id.clone() current=edit.poster_url.clone() film />
        <SubtitlesEditor film_id=id.clone() tracks=edit.subtitles.clone() film />
        <DeleteFilm film_id=id title=edit.form.title_en.clone() rooms=edit.rooms />
    }
}

#[component]
fn PosterEditor(
    film_id: String,
    current: Option<String>,
    film: Resource<Result<FilmEdit, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let upload = RwSignal::new(UploadState::Idle);
    let set = ServerAction::<SetPoster>::new();
    Effect::new(move |_| {
        if let UploadState::Done { id, .. } = upload.get() {
            set.dispatch(SetPoster {
                film: film_id.clone(),
                upload: id,
            });
            upload.set(UploadState::Idle);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = set.value().get() {
            film.refetch();
        }
    });
    view! {
        <section class="card">
            <h2>{t!(i18n, poster)}</h2>
            {current.map(|src| view! { <img class="poster small" src=src alt="" width="150" height="225" /> })}
            <FileUpload
                id="poster-file"
                label=Signal::derive(move || t_string!(i18n, poster_file).to_string())
                accept="image/jpeg,image/png"
                state=upload
            />
            {crate::ui::alert(set.value())}
        </section>
    }
}

#[component]
fn SubtitlesEditor(
    film_id: String,
    tracks: Vec<SubtitleTrack>,
    film: Resource<Result<FilmEdit, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let upload = RwSignal::new(UploadState::Idle);
    let lang = RwSignal::new("ru".to_owned());
    let add = ServerAction::<AddSubtitles>::new();
    let remove = ServerAction::<RemoveSubtitles>::new();
    {
        let film_id = film_id.clone();
        Effect::new(move |_| {
            if let UploadState::Done { id, .. } = upload.get() {
                add.dispatch(AddSubtitles {
                    film: film_id.clone(),
                    lang: lang.get_untracked(),
                    upload: id,
                });
                upload.set(UploadState::Idle);
            }
        });
    }
    Effect::new(move |_| {
        if add.version().get() + remove.version().get() > 0 {
            film.refetch();
        }
    });
    view! {
        <section class="card">
            <h2>{t!(i18n, subtitles)}</h2>
            {if tracks.is_empty() {
                view! { <p class="muted">{t!(i18n, no_subtitles)}</p> }.into_any()
            } else {
                view! {
                    <ul class="subtitle-list">
                        {tracks
                            .into_iter()
                            .map(|track| {
                                let (film, lang) = (film_id.clone(), track.lang.clone());
                                view! {
                                    <li>
                                        <strong>{crate::catalog::language_name(&track.lang, i18n.get_locale_untracked())}</strong>
                                        " · " {{ let n = track.cues; t!(i18n, cue_count, n = move || n) }} " "
                                        <button type="button" class="small ghost" on:click=move |_| {
                                            remove.dispatch(RemoveSubtitles { film: film.clone(), lang: lang.clone() });
                                        }>{t!(i18n, remove)}</button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
            <div class="field">
                <label for="subtitles-lang">{t!(i18n, subtitles_language)}</label>
                <select id="subtitles-lang" on:change=move |ev| lang.set(event_target_value(&ev))>
                    {["ru", "en", "uk", "de", "fr", "es", "it", "ja", "zh"]
                        .into_iter()
                        .map(|code| view! { <option value=code>{crate::catalog::language_name(code, i18n.get_locale_untracked())}</option> })
                        .collect_view()}
                </select>
            </div>
            <FileUpload
                id="subtitles-file"
                label=Signal::derive(move || t_string!(i18n, subtitles_file).to_string())
                accept=".srt,.vtt,text/vtt"
                state=upload
            />
            {crate::ui::alert(add.value())}
            {crate::ui::alert(remove.value())}
        </section>
    }
}

#[component]
fn DeleteFilm(film_id: String, title: String, rooms: i64) -> impl IntoView {
    let i18n = use_i18n();
    let asking = RwSignal::new(false);
    let delete = ServerAction::<DeleteFilm>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/library", Default::default());
        }
    });
    view! {
        <section class="card danger-zone">
            <h2>{t!(i18n, delete_film)}</h2>
            <Show
                when=move || asking.get()
                fallback=move || view! {
                    <button type="button" class="danger" on:click=move |_| asking.set(true)>
                        {t!(i18n, delete_film)}
                    </button>
                }
            >
                <div role="alertdialog" aria-labelledby="delete-question" class="confirm">
                    <p id="delete-question">
                        {
                            let title = title.clone();
                            t!(i18n, delete_film_question, title = move || title.clone(), rooms = move || rooms)
                        }
                    </p>
                    <button type="button" class="danger" on:click={
                        let id = film_id.clone();
                        move |_| { delete.dispatch(DeleteFilm { id: id.clone() }); }
                    }>
                        {t!(i18n, delete_for_good)}
                    </button>
                    " "
                    <button type="button" class="ghost" on:click=move |_| asking.set(false)>
                        {t!(i18n, keep_film)}
                    </button>
                </div>
            </Show>
            {move || match delete.value().get() {
                Some(Err(error)) => Some(view! { <Alert error /> }),
                _ => None,
            }}
        </section>
    }
}

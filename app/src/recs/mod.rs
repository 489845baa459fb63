//! Recommendations: "For you" on Home (or "Popular this week"), "More like this" on a film's
//! page, "Ideas for all of you" in the "Watch together" panel, and "Not interested" with its
//! undo and the profile's list to restore from. The model lives in `kino-recs`; the job and the
//! queries in `ssr`.

#[cfg(feature = "ssr")]
pub mod ssr;

use crate::catalog::{FilmCard, FilmCardLink, FilmGrid};
use crate::error::AppError;
use crate::i18n::*;
use crate::ui::{alert, Alert};
use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Which list Home shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListKind {
    /// Scored from the person's own likes, watched and wanted films.
    ForYou,
    /// For guests and people with too few signals: what is popular this week.
    Popular,
    /// Nobody has liked or wanted anything yet: the newest films.
    New,
}

/// The film of the person's own that a recommendation comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Because {
    pub film_id: String,
    pub title_en: String,
    pub title_ru: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendation {
    pub card: FilmCard,
    pub because: Option<Because>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recommendations {
    pub kind: ListKind,
    pub items: Vec<Recommendation>,
    /// Signed in: each film offers "Not interested", whichever list this is.
    pub can_exclude: bool,
}

/// What a model build did (the admin's "rebuild now", the job's log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildReport {
    pub method: String,
    /// Films and people with at least one signal.
    pub films: i64,
    pub people: i64,
    /// Neighbour rows stored.
    pub neighbours: i64,
    /// The whole job, and its parts: reading every signal, building the model (the rest is
    /// storing it).
    pub build_ms: i64,
    pub read_ms: i64,
    pub model_ms: i64,
}

#[server(endpoint = "recs/for-you")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn for_you() -> Result<Recommendations, AppError> {
    ssr::for_you().await
}

#[server(endpoint = "recs/similar")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn more_like_this(film_id: String) -> Result<Vec<FilmCard>, AppError> {
    ssr::more_like_this(&film_id).await
}

/// `friends`: user ids of the signed-in person's friends who would watch with them.
#[server(endpoint = "recs/group")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn group_ideas(friends: Vec<String>) -> Result<Vec<FilmCard>, AppError> {
    ssr::group_ideas(&friends).await
}

/// "Not interested" (`excluded` true) or its undo (false); answers the new state.
#[server(endpoint = "recs/exclude")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn set_excluded(film_id: String, excluded: bool) -> Result<bool, AppError> {
    ssr::set_excluded(&film_id, excluded).await
}

#[server(endpoint = "recs/excluded")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn excluded_films() -> Result<Vec<FilmCard>, AppError> {
    ssr::excluded().await
}

/// Admins: rebuild the model now. `None`: another node is building at this moment.
#[server(endpoint = "recs/rebuild")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn rebuild_recommendations() -> Result<Option<RebuildReport>, AppError> {
    ssr::rebuild_now().await
}

/// Home: "For you" (with each film's reason and "Not interested"), or "Popular this week".
#[component]
pub fn HomeRecommendations() -> impl IntoView {
    let i18n = use_i18n();
    let list = Resource::new(|| (), |_| for_you());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let Ok(list) = list.await else {
                    return None;
                };
                (!list.items.is_empty()).then(|| {
                    let kind = list.kind;
                    let heading = move || match kind {
                        ListKind::ForYou => t_string!(i18n, recs_for_you),
                        ListKind::Popular => t_string!(i18n, recs_popular),
                        ListKind::New => t_string!(i18n, recs_new),
                    };
                    let can_exclude = list.can_exclude;
                    view! {
                        <section class="recommendations" aria-labelledby="recs-title">
                            <h2 id="recs-title">{heading}</h2>
                            <ul class="film-grid">
                                {list
                                    .items
                                    .into_iter()
                                    .map(|item| view! { <RecommendationCard item can_exclude /> })
                                    .collect_view()}
                            </ul>
                        </section>
                    }
                })
            })}
        </Suspense>
    }
}

/// One recommended film; "Not interested" turns it into a line with "Undo".
#[component]
fn RecommendationCard(item: Recommendation, can_exclude: bool) -> impl IntoView {
    let i18n = use_i18n();
    let exclude = ServerAction::<SetExcluded>::new();
    let hidden = move || matches!(exclude.value().get(), Some(Ok(true)));
    let id = StoredValue::new(item.card.id.clone());
    let title = {
        let card = item.card.clone();
        move || card.title(i18n.get_locale()).to_owned()
    };
    let because = item.because;
    let reason = move || {
        because.clone().map(|because| {
            let title = move || match i18n.get_locale() {
                Locale::ru => because.title_ru.clone(),
                _ => because.title_en.clone(),
            };
            view! { <span class="reason">{t!(i18n, recs_because, title = title)}</span> }
        })
    };
    let card = item.card;
    view! {
        <li class="film-card recommendation">
            <Show
                when=hidden
                fallback=move || {
                    view! {
                        <FilmCardLink film=card.clone() />
                        {reason()}
                        {can_exclude.then(|| view! {
                            <ActionForm action=exclude attr:class="inline">
                                <input type="hidden" name="film_id" value=id.get_value() />
                                <input type="hidden" name="excluded" value="true" />
                                <button type="submit" class="ghost small">{t!(i18n, recs_not_interested)}</button>
                            </ActionForm>
                        })}
                    }
                }
            >
                <p class="removed" role="status">{t!(i18n, recs_removed, title = title.clone())}</p>
                <ActionForm action=exclude attr:class="inline">
                    <input type="hidden" name="film_id" value=id.get_value() />
                    <input type="hidden" name="excluded" value="false" />
                    <button type="submit" class="small">{t!(i18n, recs_undo)}</button>
                </ActionForm>
            </Show>
            {alert(exclude.value())}
        </li>
    }
}

/// A film page's "More like this", for everyone.
#[component]
pub fn MoreLikeThis(similar: Resource<Result<Vec<FilmCard>, AppError>>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let films = similar.await.unwrap_or_default();
                (!films.is_empty()).then(|| view! {
                    <section class="more-like-this" aria-labelledby="similar-title">
                        <h2 id="similar-title">{t!(i18n, recs_more_like_this)}</h2>
                        <FilmGrid films />
                    </section>
                })
            })}
        </Suspense>
    }
}

/// "Ideas for all of you" in the "Watch together" panel, once friends are chosen: each film
/// starts the session with it in one click (`pick`).
#[component]
pub fn GroupIdeas(chosen: RwSignal<BTreeSet<String>>, pick: Callback<String>) -> impl IntoView {
    let i18n = use_i18n();
    let ideas = Resource::new(
        move || chosen.get(),
        |friends| async move {
            if friends.is_empty() {
                Ok(Vec::new())
            } else {
                group_ideas(friends.into_iter().collect()).await
            }
        },
    );
    view! {
        <Transition>
            {move || Suspend::new(async move {
                match ideas.await {
                    Ok(films) if films.is_empty() => None,
                    Ok(films) => Some(view! {
                        <section class="group-ideas" aria-labelledby="ideas-title">
                            <h3 id="ideas-title">{t!(i18n, recs_group_ideas)}</h3>
                            <p class="muted">{t!(i18n, recs_group_hint)}</p>
                            <ul class="ideas">
                                {films.into_iter().map(|card| {
                                    let id = card.id.clone();
                                    let title = {
                                        let card = card.clone();
                                        move || card.title(i18n.get_locale()).to_owned()
                                    };
                                    let label = title.clone();
                                    view! {
                                        <li>
                                            <A href=format!("/films/{}", card.id)>{title}</A>
                                            " (" {card.year} ") "
                                            <button
                                                type="button"
                                                class="small"
                                                on:click=move |_| pick.run(id.clone())
                                            >
                                                {t!(i18n, recs_start_with, title = label.clone())}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    }.into_any()),
                    Err(error) => Some(view! { <Alert error /> }.into_any()),
                }
            })}
        </Transition>
    }
}

/// The profile's list of films hidden with "Not interested", each with "Restore".
#[component]
pub fn ExcludedFilms() -> impl IntoView {
    let i18n = use_i18n();
    let restore = ServerAction::<SetExcluded>::new();
    let films = Resource::new(move || restore.version().get(), |_| excluded_films());
    view! {
        <section class="card narrow excluded-films" aria-labelledby="excluded-title">
            <h2 id="excluded-title">{t!(i18n, recs_excluded_title)}</h2>
            <Transition>
                {move || Suspend::new(async move {
                    match films.await {
                        Ok(films) if films.is_empty() => {
                            view! { <p class="muted">{t!(i18n, recs_excluded_none)}</p> }.into_any()
                        }
                        Ok(films) => view! {
                            <ul class="plain-list">
                                {films.into_iter().map(|card| {
                                    let title = {
                                        let card = card.clone();
                                        move || card.title(i18n.get_locale()).to_owned()
                                    };
                                    view! {
                                        <li>
                                            <A href=format!("/films/{}", card.id)>{title}</A>
                                            " "
                                            <ActionForm action=restore attr:class="inline">
                                                <input type="hidden" name="film_id" value=card.id.clone() />
                                                <input type="hidden" name="excluded" value="false" />
                                                <button type="submit" class="ghost small">{t!(i18n, recs_restore)}</button>
                                            </ActionForm>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <Alert error /> }.into_any(),
                    }
                })}
            </Transition>
            {alert(restore.value())}
        </section>
    }
}

//! What users say about a film: one like or dislike each, and reviews.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::use_auth;
use crate::dates::date_text;
use crate::error::AppError;
use crate::i18n::*;
use crate::icons::{Icon, IconSvg};
use crate::links::login_link;
use crate::ui::{alert, Alert};
use domain::{Reaction, REVIEW_MAX_CHARS};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactions {
    pub likes: i64,
    pub dislikes: i64,
    /// The signed-in user's own reaction.
    pub mine: Option<Reaction>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub author_username: String,
    pub author_name: String,
    /// Plain text; the page renders it as text, never as HTML.
    pub body: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub edited: bool,
    /// Written by the signed-in user, who may edit and delete it.
    pub mine: bool,
}

#[server(endpoint = "films/reactions")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_reactions(film_id: String) -> Result<Reactions, AppError> {
    ssr::film_reactions(&film_id).await
}

/// `reaction`: `like`, `dislike` or `none`.
#[server(endpoint = "films/react")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn react(film_id: String, reaction: String) -> Result<Reactions, AppError> {
    let result = match Reaction::parse(&reaction) {
        Ok(reaction) => ssr::react(&film_id, reaction).await,
        Err(e) => Err(e),
    };
    result
}

#[server(endpoint = "reviews")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_reviews(film_id: String) -> Result<Vec<Review>, AppError> {
    ssr::reviews(&film_id).await
}

#[server(endpoint = "reviews/add")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn add_review(film_id: String, body: String) -> Result<Review, AppError> {
    ssr::add_review(&film_id, &body).await
}

#[server(endpoint = "reviews/edit")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn edit_review(id: String, body: String) -> Result<Review, AppError> {
    ssr::edit_review(&id, &body).await
}

#[server(endpoint = "reviews/delete")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn delete_review(id: String) -> Result<(), AppError> {
    ssr::delete_review(&id).await
}

/// A film page's likes and reviews: the resources and the actions that change them, created once
/// by the page (outside its suspense) and shared by the components below.
#[derive(Clone, Copy)]
pub struct FilmOpinions {
    pub reactions: Resource<Result<Reactions, AppError>>,
    pub react: ServerAction<React>,
    pub reviews: Resource<Result<Vec<Review>, AppError>>,
    pub add: ServerAction<AddReview>,
    pub edit: ServerAction<EditReview>,
    pub delete: ServerAction<DeleteReview>,
}

impl FilmOpinions {
    pub fn new(film_id: Memo<String>) -> Self {
        let react = ServerAction::<React>::new();
        let add = ServerAction::<AddReview>::new();
        let edit = ServerAction::<EditReview>::new();
        let delete = ServerAction::<DeleteReview>::new();
        // Keyed on the actions' versions too: after a change the counts and the list reload.
        let reactions = Resource::new(
            move || (film_id.get(), react.version().get()),
            |(id, _)| get_reactions(id),
        );
        let reviews = Resource::new(
            move || {
                (
                    film_id.get(),
                    add.version().get(),
                    edit.version().get(),
                    delete.version().get(),
                )
            },
            |(id, ..)| get_reviews(id),
        );
        Self {
            reactions,
            react,
            reviews,
            add,
            edit,
            delete,
        }
    }
}

/// "Like" and "Dislike" with their counts. Pressing the pressed one takes the reaction back.
#[component]
pub fn ReactionButtons(film_id: String, opinions: FilmOpinions) -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let react = opinions.react;
    let here = format!("/films/{film_id}");
    view! {
        <Transition>
            {move || {
                let film_id = film_id.clone();
                let here = here.clone();
                Suspend::new(async move {
                    let Ok(now) = opinions.reactions.await else {
                        return ().into_any();
                    };
                    let signed_in = matches!(auth.user.await, Ok(Some(_)));
                    let now = move || now;
                    let button = move |kind: Reaction| {
                        let label = move || match kind {
                            Reaction::Like => t_string!(i18n, like).to_string(),
                            Reaction::Dislike => t_string!(i18n, dislike).to_string(),
                        };
                        let icon = match kind {
                            Reaction::Like => Icon::ThumbUp,
                            Reaction::Dislike => Icon::ThumbDown,
                        };
                        let count = move || match kind {
                            Reaction::Like => now().likes,
                            Reaction::Dislike => now().dislikes,
                        };
                        let pressed = move || now().mine == Some(kind);
                        if signed_in {
                            let film_id = film_id.clone();
                            view! {
                                <ActionForm action=react attr:class="inline">
                                    <input type="hidden" name="film_id" value=film_id />
                                    <input
                                        type="hidden"
                                        name="reaction"
                                        prop:value=move || if pressed() { "none" } else { kind.as_str() }
                                        value=move || if pressed() { "none" } else { kind.as_str() }
                                    />
                                    <button
                                        type="submit"
                                        class="reaction"
                                        aria-pressed=move || pressed().to_string()
                                    >
                                        <IconSvg icon />
                                        " "
                                        {label}
                                        " "
                                        <span class="count">{count}</span>
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        } else {
                            view! {
                                <a class="button reaction" href=login_link(&here)>
                                    <IconSvg icon />
                                    " "
                                    {label}
                                    " "
                                    <span class="count">{count}</span>
                                </a>
                            }
                                .into_any()
                        }
                    };
                    view! {
                        <div class="reactions">
                            {button(Reaction::Like)} {button(Reaction::Dislike)}
                        </div>
                        {alert(react.value())}
                    }
                        .into_any()
                })
            }}
        </Transition>
    }
}

/// The film's reviews, newest first, and a form to write one.
#[component]
pub fn Reviews(film_id: String, opinions: FilmOpinions) -> impl IntoView {
    let i18n = use_i18n();
    let auth = use_auth();
    let FilmOpinions {
        add,
        edit,
        delete,
        reviews: list,
        ..
    } = opinions;
    // The draft empties once it is published.
    let draft = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            draft.set(String::new());
        }
    });
    let here = format!("/films/{film_id}");
    view! {
        <section class="reviews" aria-labelledby="reviews-title">
            <h2 id="reviews-title">{t!(i18n, reviews)}</h2>
            <Suspense>
                {move || {
                    let film_id = film_id.clone();
                    let here = here.clone();
                    Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(_)) => {
                                view! {
                                    <ActionForm action=add attr:class="review-form">
                                        <input type="hidden" name="film_id" value=film_id />
                                        <label for="review-new">{t!(i18n, your_review)}</label>
                                        <textarea
                                            id="review-new"
                                            name="body"
                                            rows="4"
                                            required
                                            maxlength=REVIEW_MAX_CHARS
                                            prop:value=move || draft.get()
                                            on:input=move |ev| draft.set(event_target_value(&ev))
                                        ></textarea>
                                        <button type="submit" class="primary">
                                            {t!(i18n, publish)}
                                        </button>
                                        {alert(add.value())}
                                    </ActionForm>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <p class="muted">
                                        <a href=login_link(&here)>{t!(i18n, log_in)}</a>
                                        " "
                                        {t!(i18n, to_write_review)}
                                    </p>
                                }
                                    .into_any()
                            }
                        }
                    })
                }}
            </Suspense>
            {alert(edit.value())}
            {alert(delete.value())}
            <Transition>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(reviews) if reviews.is_empty() => {
                            view! { <p class="muted">{t!(i18n, no_reviews)}</p> }.into_any()
                        }
                        Ok(reviews) => {
                            view! {
                                <ol class="review-list">
                                    {reviews
                                        .into_iter()
                                        .map(|review| view! { <ReviewItem review edit delete /> })
                                        .collect_view()}
                                </ol>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! { <Alert error /> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn EditReviewForm(
    id: String,
    body: String,
    field_id: String,
    edit: ServerAction<EditReview>,
    editing: RwSignal<bool>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ActionForm action=edit attr:class="review-form">
            <input type="hidden" name="id" value=id />
            <label for=field_id.clone() class="sr-only">
                {t!(i18n, your_review)}
            </label>
            <textarea id=field_id name="body" rows="4" required maxlength=REVIEW_MAX_CHARS>
                {body}
            </textarea>
            <div class="row">
                <button type="submit" class="primary">{t!(i18n, save)}</button>
                <button type="button" class="ghost" on:click=move |_| editing.set(false)>
                    {t!(i18n, cancel)}
                </button>
            </div>
        </ActionForm>
    }
}

#[component]
fn ReviewItem(
    review: Review,
    edit: ServerAction<EditReview>,
    delete: ServerAction<DeleteReview>,
) -> impl IntoView {
    let i18n = use_i18n();
    let editing = RwSignal::new(false);
    let created_at = review.created_at;
    let date = move || date_text(created_at, i18n.get_locale());
    let textarea_id = format!("review-edit-{}", review.id);
    let Review {
        id,
        author_name,
        author_username,
        body,
        edited,
        mine,
        ..
    } = review;
    let id_for_delete = id.clone();
    let shown_body = body.clone();
    view! {
        <li class="review">
            <p class="review-head">
                <strong class="author" title=format!("@{author_username}")>{author_name}</strong>
                " · "
                <time datetime=created_at.to_string()>{date}</time>
                {edited.then(|| view! { <span class="muted">" · " {t!(i18n, edited)}</span> })}
            </p>
            <Show
                when=move || editing.get()
                fallback=move || view! { <p class="review-body">{shown_body.clone()}</p> }
            >
                <EditReviewForm
                    id=id.clone()
                    body=body.clone()
                    field_id=textarea_id.clone()
                    edit
                    editing
                />
            </Show>
            {mine
                .then(|| {
                    let id = id_for_delete.clone();
                    view! {
                        <div class="row review-actions">
                            <button
                                type="button"
                                class="ghost small"
                                on:click=move |_| editing.set(true)
                                prop:hidden=move || editing.get()
                            >
                                {t!(i18n, edit)}
                            </button>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=id />
                                <button
                                    type="submit"
                                    class="ghost small danger"
                                    on:click=move |ev| {
                                        let sure = window()
                                            .confirm_with_message(t_string!(i18n, delete_review_confirm))
                                            .unwrap_or(true);
                                        if !sure {
                                            ev.prevent_default();
                                        }
                                    }
                                >
                                    {t!(i18n, delete)}
                                </button>
                            </ActionForm>
                        </div>
                    }
                })}
        </li>
    }
}

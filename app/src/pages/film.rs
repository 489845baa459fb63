//! The film page: the film, its player, "Want to watch", likes, "Watch together" and reviews —
//! a page made of several features, so it lives above them.

use crate::accounts::use_auth;
use crate::catalog::{country_name, duration_text, get_film, FilmDetails, GenreName, WantButton};
use crate::error::AppError;
use crate::friends::MatchFriend;
use crate::i18n::*;
use crate::opinions::{FilmOpinions, ReactionButtons, Reviews};
use crate::playback::{get_resume, Player, Resume};
use crate::recs::{more_like_this, MoreLikeThis};
use crate::rooms::WatchTogether;
use crate::ui::{PageError, PageTitle};
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn FilmPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    // Every resource of the page starts here, outside the suspense: one created inside it would
    // be thrown away (with its context) when the suspense renders again.
    let film = Resource::new(move || id.get(), get_film);
    let opinions = FilmOpinions::new(id);
    let resume = Resource::new(move || id.get(), get_resume);
    let similar = Resource::new(move || id.get(), more_like_this);
    // "Watch together": open on arrival from Home's "Watch with friends" (`?together=1`); the
    // friends are loaded once the panel opens.
    let query = use_query_map();
    let together = RwSignal::new(query.read_untracked().get("together").is_some());
    let auth = use_auth();
    let friends = Resource::new(
        move || (id.get(), together.get()),
        move |(id, open)| async move {
            if open && matches!(auth.user.await, Ok(Some(_))) {
                crate::friends::match_film(id).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match film.await {
                    Ok(film) => {
                        view! { <FilmDetailsView film opinions resume together friends similar /> }.into_any()
                    }
                    Err(error) => view! { <PageError error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FilmDetailsView(
    film: FilmDetails,
    opinions: FilmOpinions,
    resume: Resource<Result<Option<Resume>, AppError>>,
    together: RwSignal<bool>,
    friends: Resource<Result<Vec<MatchFriend>, AppError>>,
    similar: Resource<Result<Vec<crate::catalog::FilmCard>, AppError>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let card = film.card.clone();
    let title = {
        let card = card.clone();
        move || card.title(i18n.get_locale()).to_owned()
    };
    let description = {
        let (en, ru) = (film.description_en.clone(), film.description_ru.clone());
        move || match i18n.get_locale() {
            Locale::ru => ru.clone(),
            _ => en.clone(),
        }
    };
    let page_title = {
        let title = title.clone();
        move || {
            format!(
                "{} ({}) — {}",
                title(),
                card.year,
                t_string!(i18n, app_name)
            )
        }
    };
    let poster = card.poster_url();
    let playable = !film.renditions.is_empty();
    let auth = use_auth();
    let edit_href = format!("/films/{}/edit", card.id);
    let is_admin = move || matches!(auth.user.get(), Some(Ok(Some(user))) if user.is_admin);
    let countries = film.countries.clone();
    view! {
        <PageTitle text=page_title />
        <Meta name="description" content=description.clone() />
        <Meta property="og:type" content="video.movie" />
        <Meta property="og:title" content=title.clone() />
        <Meta property="og:description" content=description.clone() />
        <Meta property="og:image" content=film.share_image.clone() />
        <Meta name="twitter:image" content=film.share_image.clone() />
        <Meta name="twitter:card" content="summary" />
        <Meta name="twitter:title" content=title.clone() />
        <Meta name="twitter:description" content=description.clone() />
        <article class="film">
            <img class="poster" src=poster.clone() alt="" width="300" height="450" />
            <div class="film-info">
                <h1>{title.clone()}</h1>
                <p class="muted original">{film.original_title.clone()}</p>
                <p class="facts">
                    {card.year} " · " {move || duration_text(card.duration_secs, i18n.get_locale())} " · "
                    {move || {
                        let locale = i18n.get_locale();
                        countries.iter().map(|c| country_name(c, locale)).collect::<Vec<_>>().join(", ")
                    }}
                    " · " {film.director.clone()}
                </p>
                <p class="genres">
                    {card
                        .genres
                        .iter()
                        .map(|g| view! { <span class="chip"><GenreName genre=g.clone() /></span> })
                        .collect_view()}
                </p>
                <p class="description">{description}</p>
                {move || {
                    is_admin()
                        .then(|| {
                            view! {
                                <a href=edit_href.clone() class="button ghost small">
                                    {t!(i18n, edit)}
                                </a>
                            }
                        })
                }}
            </div>
        </article>
        <section class="player" aria-label=move || t_string!(i18n, player).to_string()>
            {if playable {
                view! {
                    <Player
                        film_id=card.id.clone()
                        renditions=film.renditions.clone()
                        subtitles=film.subtitles.clone()
                        previews=film.previews.clone()
                        poster
                        resume
                    />
                }
                    .into_any()
            } else {
                view! { <p class="muted no-media">{t!(i18n, no_media)}</p> }.into_any()
            }}
        </section>
        <section class="film-actions">
            <WantButton film_id=card.id.clone() wanted=film.wanted />
            <ReactionButtons film_id=card.id.clone() opinions />
        </section>
        <WatchTogether film_id=card.id.clone() open=together friends />
        <MoreLikeThis similar />
        <Reviews film_id=card.id.clone() opinions />
    }
}

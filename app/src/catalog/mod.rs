//! The film catalog (`/films`), film pages (`/films/<id>`) and the "Want to watch" list.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::{use_auth, SignedIn};
use crate::error::AppError;
use crate::i18n::*;
use crate::icons::{Icon, IconSvg};
use crate::links::{login_link, urlencode};
use crate::ui::{PageAlert, PageTitle};
use domain::{CatalogQuery, GENRES};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilmCard {
    pub id: String,
    pub title_en: String,
    pub title_ru: String,
    pub year: i64,
    pub genres: Vec<String>,
    pub duration_secs: i64,
    pub playable: bool,
    /// The film's own poster image (a chosen frame or an admin's upload), if it has one.
    pub poster: Option<String>,
}

impl FilmCard {
    pub fn title(&self, locale: Locale) -> &str {
        match locale {
            Locale::ru => &self.title_ru,
            _ => &self.title_en,
        }
    }

    pub fn poster_url(&self) -> String {
        match &self.poster {
            Some(url) => url.clone(),
            None => format!("/posters/{}.svg", self.id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendition {
    pub url: String,
    pub container: String,
    pub width: i64,
    pub height: i64,
}

/// A film's subtitles in one language (`ru`, `en`, …; `und` when the file did not say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtitleTrack {
    pub lang: String,
    pub url: String,
    pub cues: i64,
}

/// A subtitle language's name in the page's language (the code itself when unknown).
pub fn language_name(code: &str, locale: Locale) -> String {
    let names: Option<(&str, &str)> = match code {
        "ru" => Some(("Russian", "Русский")),
        "en" => Some(("English", "Английский")),
        "uk" => Some(("Ukrainian", "Украинский")),
        "de" => Some(("German", "Немецкий")),
        "fr" => Some(("French", "Французский")),
        "es" => Some(("Spanish", "Испанский")),
        "it" => Some(("Italian", "Итальянский")),
        "ja" => Some(("Japanese", "Японский")),
        "zh" => Some(("Chinese", "Китайский")),
        "pl" => Some(("Polish", "Польский")),
        "pt" => Some(("Portuguese", "Португальский")),
        "kk" => Some(("Kazakh", "Казахский")),
        "be" => Some(("Belarusian", "Белорусский")),
        "und" => Some(("Unknown language", "Язык не указан")),
        _ => None,
    };
    match (names, locale) {
        (Some((_, ru)), Locale::ru) => ru.to_owned(),
        (Some((en, _)), _) => en.to_owned(),
        (None, _) => code.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilmDetails {
    pub card: FilmCard,
    pub original_title: String,
    pub countries: Vec<String>,
    pub director: String,
    pub description_en: String,
    pub description_ru: String,
    pub renditions: Vec<Rendition>,
    /// Subtitle tracks (WebVTT), one per language.
    pub subtitles: Vec<SubtitleTrack>,
    /// The seek previews' WebVTT index (`#xywh=` regions of sprite images), when made.
    pub previews: Option<String>,
    /// Whether the signed-in user has it in "Want to watch".
    pub wanted: bool,
    /// The poster as an absolute URL for link previews (Telegram and others need one).
    pub share_image: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub films: Vec<FilmCard>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

#[server(endpoint = "films")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_films(query: CatalogQuery) -> Result<CatalogPage, AppError> {
    let russian = leptos_i18n::locale::resolve_locale::<Locale>() == Locale::ru;
    ssr::list_films(domain::ParsedQuery::parse(&query)?, russian).await
}

#[server(endpoint = "film")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_film(id: String) -> Result<FilmDetails, AppError> {
    ssr::film(&id).await
}

#[server(endpoint = "watchlist/set")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn set_want(film_id: String, want: bool) -> Result<bool, AppError> {
    ssr::set_want(&film_id, want).await
}

#[server(endpoint = "watchlist")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn get_watchlist() -> Result<Vec<FilmCard>, AppError> {
    ssr::watchlist().await
}

#[server(endpoint = "watchlist/count")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn watchlist_count() -> Result<i64, AppError> {
    ssr::watchlist_count().await
}

/// The header's count and a counter of list changes, shared by every page. Each "Want to watch"
/// button has its own action (a shared one would hand film A's last result to film B's button)
/// and bumps `changes` when it succeeds, so the count and `/watchlist` refetch.
#[derive(Clone, Copy)]
pub struct Watchlist {
    pub changes: RwSignal<u64>,
    pub count: Resource<Result<i64, AppError>>,
}

impl Watchlist {
    pub fn provide() -> Self {
        let auth = use_auth();
        let changes = RwSignal::new(0u64);
        let count = Resource::new(
            move || {
                (
                    changes.get(),
                    auth.login.version().get(),
                    auth.register.version().get(),
                    auth.logout.version().get(),
                )
            },
            |_| watchlist_count(),
        );
        let list = Self { changes, count };
        provide_context(list);
        list
    }
}

pub fn use_watchlist() -> Watchlist {
    expect_context::<Watchlist>()
}

/// A film's running time in the reader's language: "2 h 28 min", "2 ч 28 мин".
pub fn duration_text(secs: i64, locale: Locale) -> String {
    let (h, min) = match locale {
        Locale::ru => ("ч", "мин"),
        Locale::en => ("h", "min"),
    };
    let minutes = secs / 60;
    if minutes >= 60 {
        format!("{} {h} {:02} {min}", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} {min}")
    }
}

/// A country's name from the ISO 3166 code the catalog keeps ("SU", withdrawn, is the Soviet
/// Union, where many classics were made). A code not in the table shows as itself.
pub fn country_name(code: &str, locale: Locale) -> &str {
    let names: Option<(&str, &str)> = match code {
        "AR" => Some(("Argentina", "Аргентина")),
        "AT" => Some(("Austria", "Австрия")),
        "AU" => Some(("Australia", "Австралия")),
        "BE" => Some(("Belgium", "Бельгия")),
        "BR" => Some(("Brazil", "Бразилия")),
        "CA" => Some(("Canada", "Канада")),
        "CH" => Some(("Switzerland", "Швейцария")),
        "CN" => Some(("China", "Китай")),
        "CZ" => Some(("Czechia", "Чехия")),
        "DE" => Some(("Germany", "Германия")),
        "DK" => Some(("Denmark", "Дания")),
        "ES" => Some(("Spain", "Испания")),
        "FI" => Some(("Finland", "Финляндия")),
        "FR" => Some(("France", "Франция")),
        "GB" => Some(("United Kingdom", "Великобритания")),
        "HK" => Some(("Hong Kong", "Гонконг")),
        "HU" => Some(("Hungary", "Венгрия")),
        "IE" => Some(("Ireland", "Ирландия")),
        "IN" => Some(("India", "Индия")),
        "IT" => Some(("Italy", "Италия")),
        "JP" => Some(("Japan", "Япония")),
        "KR" => Some(("South Korea", "Южная Корея")),
        "MX" => Some(("Mexico", "Мексика")),
        "NL" => Some(("Netherlands", "Нидерланды")),
        "NO" => Some(("Norway", "Норвегия")),
        "PL" => Some(("Poland", "Польша")),
        "RU" => Some(("Russia", "Россия")),
        "SE" => Some(("Sweden", "Швеция")),
        "SU" => Some(("Soviet Union", "СССР")),
        "US" => Some(("USA", "США")),
        _ => None,
    };
    match (names, locale) {
        (Some((en, _)), Locale::en) => en,
        (Some((_, ru)), Locale::ru) => ru,
        (None, _) => code,
    }
}

#[component]
pub fn GenreName(genre: String) -> impl IntoView {
    let i18n = use_i18n();
    match genre.as_str() {
        "drama" => t!(i18n, genre_drama).into_any(),
        "comedy" => t!(i18n, genre_comedy).into_any(),
        "horror" => t!(i18n, genre_horror).into_any(),
        "sci-fi" => t!(i18n, genre_scifi).into_any(),
        "romance" => t!(i18n, genre_romance).into_any(),
        "thriller" => t!(i18n, genre_thriller).into_any(),
        "adventure" => t!(i18n, genre_adventure).into_any(),
        "crime" => t!(i18n, genre_crime).into_any(),
        "western" => t!(i18n, genre_western).into_any(),
        "fantasy" => t!(i18n, genre_fantasy).into_any(),
        "documentary" => t!(i18n, genre_documentary).into_any(),
        "mystery" => t!(i18n, genre_mystery).into_any(),
        "war" => t!(i18n, genre_war).into_any(),
        "action" => t!(i18n, genre_action).into_any(),
        _ => genre.into_any(),
    }
}

/// A film's poster, title, year and length (and ▶ when it can be played), linking to its page:
/// the inside of every card in a grid of films.
#[component]
pub fn FilmCardLink(film: FilmCard) -> impl IntoView {
    let i18n = use_i18n();
    let href = format!("/films/{}", film.id);
    let poster = film.poster_url();
    let duration = film.duration_secs;
    let title = {
        let film = film.clone();
        move || film.title(i18n.get_locale()).to_owned()
    };
    view! {
        <A href=href>
            <img src=poster alt="" loading="lazy" width="300" height="450" />
            <span class="film-title">{title}</span>
            <span class="film-meta">
                {film.year} " · " {move || duration_text(duration, i18n.get_locale())}
                {film.playable.then(|| view! { <span class="badge">"▶"</span> })}
            </span>
        </A>
    }
}

/// Posters in a grid. `removable`: each card gets a "Remove" button that takes the film off
/// the signed-in user's "Want to watch" list.
#[component]
pub fn FilmGrid(films: Vec<FilmCard>, #[prop(optional)] removable: bool) -> impl IntoView {
    view! {
        <ul class="film-grid">
            {films
                .into_iter()
                .map(|film| {
                    let id = film.id.clone();
                    view! {
                        <li class="film-card">
                            <FilmCardLink film />
                            {removable.then(|| view! { <RemoveFromList film_id=id /> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

fn catalog_href(q: &str, genre: &str, sort: &str, page: i64) -> String {
    let mut params = Vec::new();
    for (k, v) in [("q", q), ("genre", genre), ("sort", sort)] {
        if !v.is_empty() {
            params.push(format!("{k}={}", urlencode(v)));
        }
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        "/films".to_owned()
    } else {
        format!("/films?{}", params.join("&"))
    }
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let current = Memo::new(move |_| {
        let q = query.read();
        CatalogQuery {
            q: q.get("q").unwrap_or_default(),
            genre: q.get("genre").unwrap_or_default(),
            sort: q.get("sort").unwrap_or_default(),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        }
    });
    // An empty or unknown `sort` means the default, so the select always shows a choice.
    let sort_key = Memo::new(move |_| domain::Sort::parse(&current.get().sort).as_str());
    // Keyed on the URL only: the server sorts titles in the language it resolves itself.
    let films = Resource::new(move || current.get(), list_films);
    let q_input = NodeRef::<leptos::html::Input>::new();
    let genre_select = NodeRef::<leptos::html::Select>::new();
    let sort_select = NodeRef::<leptos::html::Select>::new();
    let navigate = leptos_router::hooks::use_navigate();
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = q_input.get().map(|i| i.value()).unwrap_or_default();
        let genre = genre_select.get().map(|s| s.value()).unwrap_or_default();
        let sort = sort_select.get().map(|s| s.value()).unwrap_or_default();
        // The default order is left out of the link.
        let sort = if sort == domain::Sort::default().as_str() {
            String::new()
        } else {
            sort
        };
        navigate(
            &catalog_href(q.trim(), &genre, &sort, 1),
            Default::default(),
        );
    };
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, films_title), t_string!(i18n, app_name)) />
        <section class="catalog">
            <h1>{t!(i18n, films_title)}</h1>
            // Without WASM this is a plain GET form; once hydrated it navigates to a clean URL
            // (only what was chosen, `/films?q=…`) without reloading.
            <form method="GET" action="/films" class="filters" on:submit=search>
                <div class="field grow">
                    <label for="catalog-q">{t!(i18n, search)}</label>
                    <input
                        node_ref=q_input
                        id="catalog-q"
                        type="search"
                        name="q"
                        maxlength="100"
                        value=move || current.get().q
                        prop:value=move || current.get().q
                    />
                </div>
                <div class="field">
                    <label for="catalog-genre">{t!(i18n, genre)}</label>
                    <select
                        node_ref=genre_select
                        id="catalog-genre"
                        name="genre"
                        prop:value=move || current.get().genre
                    >
                        <option value="">{t!(i18n, all_genres)}</option>
                        {GENRES
                            .iter()
                            .map(|g| {
                                view! {
                                    <option value=*g selected=move || current.get().genre == *g>
                                        <GenreName genre=g.to_string() />
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="catalog-sort">{t!(i18n, sort)}</label>
                    <select
                        node_ref=sort_select
                        id="catalog-sort"
                        name="sort"
                        prop:value=move || sort_key.get()
                    >
                        <option value="year_desc" selected=move || sort_key.get() == "year_desc">
                            {t!(i18n, sort_newest)}
                        </option>
                        <option value="year_asc" selected=move || sort_key.get() == "year_asc">
                            {t!(i18n, sort_oldest)}
                        </option>
                        <option value="title" selected=move || sort_key.get() == "title">
                            {t!(i18n, sort_title)}
                        </option>
                    </select>
                </div>
                <button type="submit" class="primary">
                    {t!(i18n, apply)}
                </button>
            </form>
            <Transition>
                {move || Suspend::new(async move {
                    match films.await {
                        Ok(page) => {
                            view! { <CatalogResults page query=current.get_untracked() /> }.into_any()
                        }
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// One page of the catalog: how many films match, their grid, and the pager.
#[component]
fn CatalogResults(page: CatalogPage, query: CatalogQuery) -> impl IntoView {
    let i18n = use_i18n();
    let c = query;
    let prev = (page.page > 1).then(|| catalog_href(&c.q, &c.genre, &c.sort, page.page - 1));
    let next =
        (page.page < page.pages).then(|| catalog_href(&c.q, &c.genre, &c.sort, page.page + 1));
    let total = page.total;
    let (current_page, pages) = (page.page, page.pages);
    view! {
        <p class="muted" role="status">
            {t!(i18n, films_found, count = move || total)}
        </p>
        {if page.films.is_empty() {
            view! { <p class="empty">{t!(i18n, nothing_found)}</p> }.into_any()
        } else {
            view! { <FilmGrid films=page.films /> }.into_any()
        }}
        <nav class="pager" aria-label=move || t_string!(i18n, pages).to_string()>
            {prev.map(|href| view! { <A href=href>{t!(i18n, previous)}</A> })}
            <span>{current_page} " / " {pages}</span>
            {next.map(|href| view! { <A href=href>{t!(i18n, next)}</A> })}
        </nav>
    }
}

/// "Want to watch" as a toggle button; a guest is sent to log in and back to this film.
#[component]
pub fn WantButton(film_id: String, wanted: bool) -> impl IntoView {
    let i18n = use_i18n();
    let list = use_watchlist();
    let set_want = ServerAction::<SetWant>::new();
    let (wanted, set_wanted) = signal(wanted);
    let here = format!("/films/{film_id}");
    Effect::new(move |_| {
        if let Some(Ok(now)) = set_want.value().get() {
            set_wanted.set(now);
            list.changes.update(|n| *n += 1);
        }
    });
    let film_id = StoredValue::new(film_id);
    let guest = move || {
        view! {
            <a class="button want" href=login_link(&here)>
                "+ "
                {t!(i18n, want_to_watch)}
            </a>
        }
    };
    view! {
        <SignedIn guest>
            <ActionForm action=set_want attr:class="inline">
                <input type="hidden" name="film_id" value=film_id.get_value() />
                <input type="hidden" name="want" prop:value=move || (!wanted.get()).to_string() />
                <button type="submit" class="want" aria-pressed=move || wanted.get().to_string()>
                    <IconSvg icon=Signal::derive(move || if wanted.get() { Icon::Check } else { Icon::Plus }) />
                    " "
                    {t!(i18n, want_to_watch)}
                </button>
            </ActionForm>
        </SignedIn>
    }
}

#[component]
fn RemoveFromList(film_id: String) -> impl IntoView {
    let i18n = use_i18n();
    let list = use_watchlist();
    let remove = ServerAction::<SetWant>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = remove.value().get() {
            list.changes.update(|n| *n += 1);
        }
    });
    view! {
        <ActionForm action=remove attr:class="inline remove">
            <input type="hidden" name="film_id" value=film_id />
            <input type="hidden" name="want" value="false" />
            <button type="submit" class="ghost small">{t!(i18n, remove)}</button>
        </ActionForm>
    }
}

#[component]
pub fn WatchlistPage() -> impl IntoView {
    let i18n = use_i18n();
    let list = use_watchlist();
    let films = Resource::new(move || list.changes.get(), |_| get_watchlist());
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, want_to_watch), t_string!(i18n, app_name)) />
        <section class="catalog">
            <h1>{t!(i18n, want_to_watch)}</h1>
            <Transition>
                {move || Suspend::new(async move {
                    match films.await {
                        Ok(films) if films.is_empty() => {
                            view! {
                                <p class="empty">
                                    {t!(i18n, watchlist_empty)} " "
                                    <A href="/films">{t!(i18n, browse_films)}</A>
                                </p>
                            }
                                .into_any()
                        }
                        Ok(films) => view! { <FilmGrid films removable=true /> }.into_any(),
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/watchlist") /> }
                                .into_any()
                        }
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The header's link to "Want to watch" with the number of films on the list.
#[component]
pub fn WatchlistLink(count: i64) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <A href="/watchlist" attr:class="watchlist-link">
            {t!(i18n, want_to_watch)}
            <span class="count" aria-label=format!("({count})")>{count}</span>
        </A>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_links_keep_the_filters() {
        assert_eq!(catalog_href("", "", "", 1), "/films");
        assert_eq!(
            catalog_href("ночь живых", "horror", "title", 2),
            "/films?q=%D0%BD%D0%BE%D1%87%D1%8C%20%D0%B6%D0%B8%D0%B2%D1%8B%D1%85&genre=horror&sort=title&page=2"
        );
        assert_eq!(duration_text(94 * 60, Locale::en), "1 h 34 min");
        assert_eq!(duration_text(45 * 60, Locale::en), "45 min");
        assert_eq!(duration_text(148 * 60, Locale::ru), "2 ч 28 мин");
        assert_eq!(country_name("DE", Locale::ru), "Германия");
        assert_eq!(country_name("SU", Locale::en), "Soviet Union");
        assert_eq!(country_name("XK", Locale::ru), "XK");
    }
}

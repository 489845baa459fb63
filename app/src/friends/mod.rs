//! Friends (`/friends`, `/friends/<username>`, invite links `/f/<code>`), presence, and the
//! "Watch together" match: which friends also want a film.

pub mod domain;
mod invite;
#[cfg(feature = "ssr")]
pub mod ssr;

use invite::InviteLink;
pub use invite::InvitePage;

use crate::accounts::use_auth;
use crate::catalog::{FilmCard, FilmGrid};
use crate::error::AppError;
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{alert, PageAlert, PageError, PageTitle};
use domain::{Presence, Relation};
use leptos::prelude::*;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub presence: Presence,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonResult {
    pub person: Person,
    pub relation: Relation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchFriend {
    pub person: Person,
    /// Has this film in "Want to watch" (and does not hide the list).
    pub wants: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedFilm {
    pub film: FilmCard,
    pub friends: Vec<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub code: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendsData {
    pub friends: Vec<Person>,
    pub incoming: Vec<Person>,
    pub outgoing: Vec<Person>,
    pub invite: Option<Invite>,
    pub hide_watchlist: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteDetails {
    pub inviter: Person,
    /// `None` for a guest.
    pub relation: Option<Relation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonFilms {
    pub friend: Person,
    pub films: Vec<FilmCard>,
}

#[server(endpoint = "friends/search")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn search_people(q: String) -> Result<Vec<PersonResult>, AppError> {
    ssr::search_people(&q).await.map(|found| {
        found
            .into_iter()
            .map(|(person, relation)| PersonResult { person, relation })
            .collect()
    })
}

#[server(endpoint = "friends/request")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn request_friend(user_id: String) -> Result<Relation, AppError> {
    ssr::request(&user_id).await
}

#[server(endpoint = "friends/accept")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn accept_friend(user_id: String) -> Result<Relation, AppError> {
    ssr::accept(&user_id).await
}

/// Declines their request, cancels mine, or removes a friend.
#[server(endpoint = "friends/remove")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn remove_friend(user_id: String) -> Result<Relation, AppError> {
    ssr::sever(&user_id).await
}

#[server(endpoint = "friends")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn friends_overview() -> Result<FriendsData, AppError> {
    ssr::overview().await
}

#[server(endpoint = "friends/incoming")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn incoming_requests() -> Result<i64, AppError> {
    ssr::incoming_count().await
}

#[server(endpoint = "friends/hide")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn hide_watchlist(hide: bool) -> Result<bool, AppError> {
    ssr::set_hide_watchlist(hide).await
}

#[server(endpoint = "friends/invite/new")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn new_invite() -> Result<Invite, AppError> {
    ssr::regenerate_invite().await
}

#[server(endpoint = "friends/invite/revoke")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn revoke_invite() -> Result<(), AppError> {
    ssr::revoke_invite().await
}

#[server(endpoint = "friends/invite")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn invite_info(code: String) -> Result<InviteDetails, AppError> {
    ssr::invite_info(&code)
        .await
        .map(|(inviter, relation)| InviteDetails { inviter, relation })
}

#[server(endpoint = "friends/invite/accept")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn accept_invite(code: String) -> Result<Relation, AppError> {
    ssr::accept_invite(&code).await
}

#[server(endpoint = "friends/match")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn match_film(film_id: String) -> Result<Vec<MatchFriend>, AppError> {
    ssr::match_film(&film_id).await
}

#[server(endpoint = "friends/match/all")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn match_all() -> Result<Vec<MatchedFilm>, AppError> {
    ssr::my_match_all().await
}

#[server(endpoint = "friends/both")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn both_want(username: String) -> Result<CommonFilms, AppError> {
    ssr::both_want(&username)
        .await
        .map(|(friend, films)| CommonFilms { friend, films })
}

/// The header's link to Friends with the number of requests waiting, shared by every page.
#[derive(Clone, Copy)]
pub struct FriendRequests {
    pub changes: RwSignal<u64>,
    pub count: Resource<Result<i64, AppError>>,
}

impl FriendRequests {
    pub fn provide(tick: RwSignal<u64>) -> Self {
        let auth = use_auth();
        let changes = RwSignal::new(0u64);
        let count = Resource::new(
            move || {
                (
                    changes.get(),
                    tick.get(),
                    auth.login.version().get(),
                    auth.logout.version().get(),
                )
            },
            |_| incoming_requests(),
        );
        let this = Self { changes, count };
        provide_context(this);
        this
    }
}

#[component]
pub fn Avatar(person: Person) -> impl IntoView {
    let class = match person.presence {
        Presence::Offline => "",
        Presence::Online => "online",
        Presence::InRoom => "in-room",
    };
    view! { <crate::ui::Avatar name=person.display_name class /> }
}

#[component]
fn PresenceText(presence: Presence) -> impl IntoView {
    let i18n = use_i18n();
    match presence {
        Presence::Offline => ().into_any(),
        Presence::Online => {
            view! { <span class="presence online">{t!(i18n, online)}</span> }.into_any()
        }
        Presence::InRoom => {
            view! { <span class="presence in-room">{t!(i18n, in_a_room)}</span> }.into_any()
        }
    }
}

/// One button that acts on a person (add, accept, decline, cancel, remove).
macro_rules! person_action {
    ($action:expr, $user_id:expr, $label:expr, $class:literal) => {{
        let user_id: String = $user_id;
        let label: Signal<String> = $label;
        view! {
            <ActionForm action=$action attr:class="inline">
                <input type="hidden" name="user_id" value=user_id />
                <button type="submit" class=$class>
                    {move || label.get()}
                </button>
            </ActionForm>
        }
    }};
}

/// The page's actions on people; `Copy`, so every row can use them.
#[derive(Clone, Copy)]
struct PeopleActions {
    add: ServerAction<RequestFriend>,
    accept: ServerAction<AcceptFriend>,
    remove: ServerAction<RemoveFriend>,
    hide: ServerAction<HideWatchlist>,
    new_link: ServerAction<NewInvite>,
    revoke: ServerAction<RevokeInvite>,
}

impl PeopleActions {
    fn new() -> Self {
        Self {
            add: ServerAction::new(),
            accept: ServerAction::new(),
            remove: ServerAction::new(),
            hide: ServerAction::new(),
            new_link: ServerAction::new(),
            revoke: ServerAction::new(),
        }
    }

    /// Changes whenever any of them has run: what the page's resources reload on.
    fn versions(self) -> [usize; 6] {
        [
            self.add.version().get(),
            self.accept.version().get(),
            self.remove.version().get(),
            self.hide.version().get(),
            self.new_link.version().get(),
            self.revoke.version().get(),
        ]
    }
}

/// A button's text, in the current language.
fn action_label(key: &'static str) -> Signal<String> {
    let i18n = use_i18n();
    Signal::derive(move || match key {
        "add" => t_string!(i18n, add_friend).to_string(),
        "accept" => t_string!(i18n, accept).to_string(),
        "decline" => t_string!(i18n, decline).to_string(),
        "cancel" => t_string!(i18n, cancel_request).to_string(),
        _ => t_string!(i18n, remove).to_string(),
    })
}

#[component]
pub fn FriendsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let requests = use_context::<FriendRequests>();
    let acts = PeopleActions::new();
    Effect::new(move |_| {
        acts.versions();
        if let Some(requests) = requests {
            requests.changes.update(|n| *n += 1);
        }
    });
    let overview = Resource::new(move || acts.versions(), |_| friends_overview());
    let found = Resource::new(
        move || (q.get(), acts.versions()),
        |(q, _)| search_people(q),
    );
    // Results as you type: a pause of 300 ms puts the text into the address (`?q=`), which the
    // search above follows. Without JavaScript the form's "Search" does the same.
    let navigate = leptos_router::hooks::use_navigate();
    let typing = StoredValue::new(None::<TimeoutHandle>);
    let search_as_you_type = move |e: leptos::ev::Event| {
        let text = event_target_value(&e);
        if let Some(pending) = typing.get_value() {
            pending.clear();
        }
        let navigate = navigate.clone();
        let go = move || {
            let options = leptos_router::NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            };
            navigate(&crate::links::with_query("/friends", "q", &text), options);
        };
        typing.set_value(set_timeout_with_handle(go, std::time::Duration::from_millis(300)).ok());
    };
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, friends_title), t_string!(i18n, app_name)) />
        <section class="friends">
            <h1>{t!(i18n, friends_title)}</h1>
            {alert(acts.add.value())}
            {alert(acts.accept.value())}
            {alert(acts.remove.value())}
            <Form method="GET" action="/friends" attr:class="filters">
                <div class="field grow">
                    <label for="find-friends">{t!(i18n, find_friends)}</label>
                    <input
                        id="find-friends"
                        type="search"
                        name="q"
                        maxlength="64"
                        autocomplete="off"
                        value=move || q.get()
                        prop:value=move || q.get()
                        on:input=search_as_you_type
                    />
                </div>
                <button type="submit" class="primary">{t!(i18n, search)}</button>
            </Form>
            <Transition>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(found) if found.is_empty() && !q.get_untracked().trim().is_empty() => {
                            view! { <p class="muted" role="status">{t!(i18n, nobody_found)}</p> }.into_any()
                        }
                        Ok(found) => view! { <SearchResults found acts /> }.into_any(),
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <MyFriends overview acts /> }.into_any(),
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/friends") /> }.into_any()
                        }
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// People found by the search, each with what I can do about them.
#[component]
fn SearchResults(found: Vec<PersonResult>, acts: PeopleActions) -> impl IntoView {
    let i18n = use_i18n();
    let PeopleActions {
        add,
        accept,
        remove,
        ..
    } = acts;
    view! {
        <ul class="people">
            {found
                .into_iter()
                .map(|r| {
                    let id = r.person.id.clone();
                    let action = match r.relation {
                        Relation::None => view! { {person_action!(add, id, action_label("add"), "primary small")} }.into_any(),
                        Relation::RequestReceived => view! { {person_action!(accept, id, action_label("accept"), "primary small")} }.into_any(),
                        Relation::RequestSent => view! { {person_action!(remove, id, action_label("cancel"), "ghost small")} }.into_any(),
                        Relation::Friend => view! { <span class="muted">{t!(i18n, already_friends)}</span> }.into_any(),
                        Relation::Myself => ().into_any(),
                    };
                    view! { <PersonRow person=r.person>{action}</PersonRow> }
                })
                .collect_view()}
        </ul>
    }
}

/// Requests to me and from me, my friends, my invite link, and hiding my list.
#[component]
fn MyFriends(overview: FriendsData, acts: PeopleActions) -> impl IntoView {
    let i18n = use_i18n();
    let o = overview;
    let PeopleActions {
        accept,
        remove,
        hide,
        new_link,
        revoke,
        ..
    } = acts;
    view! {
        {(!o.incoming.is_empty()).then(|| view! {
            <h2>{t!(i18n, friend_requests)}</h2>
            <ul class="people">
                {o.incoming.into_iter().map(|p| {
                    let id = p.id.clone();
                    view! {
                        <PersonRow person=p>
                            {person_action!(accept, id.clone(), action_label("accept"), "primary small")}
                            {person_action!(remove, id, action_label("decline"), "ghost small")}
                        </PersonRow>
                    }
                }).collect_view()}
            </ul>
        })}
        {(!o.outgoing.is_empty()).then(|| view! {
            <h2>{t!(i18n, sent_requests)}</h2>
            <ul class="people">
                {o.outgoing.into_iter().map(|p| {
                    let id = p.id.clone();
                    view! {
                        <PersonRow person=p>
                            {person_action!(remove, id, action_label("cancel"), "ghost small")}
                        </PersonRow>
                    }
                }).collect_view()}
            </ul>
        })}
        <h2>{t!(i18n, my_friends)}</h2>
        {if o.friends.is_empty() {
            view! { <p class="muted">{t!(i18n, no_friends_yet)}</p> }.into_any()
        } else {
            view! {
                <ul class="people">
                    {o.friends.into_iter().map(|p| {
                        let id = p.id.clone();
                        let href = format!("/friends/{}", p.username);
                        view! {
                            <PersonRow person=p>
                                <A href=href attr:class="button ghost small">{t!(i18n, both_want)}</A>
                                {person_action!(remove, id, action_label("remove"), "ghost small")}
                            </PersonRow>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <InviteLink invite=o.invite new_link revoke />
        <ActionForm action=hide attr:class="privacy">
            <input type="hidden" name="hide" value=(!o.hide_watchlist).to_string() />
            <button type="submit" class="ghost" aria-pressed=o.hide_watchlist.to_string()>
                {t!(i18n, hide_my_list)}
            </button>
            <p class="hint">{t!(i18n, hide_my_list_hint)}</p>
        </ActionForm>
    }
}

#[component]
fn PersonRow(person: Person, children: Children) -> impl IntoView {
    let presence = person.presence;
    view! {
        <li class="person">
            <Avatar person=person.clone() />
            <span class="person-name">
                <strong>{person.display_name.clone()}</strong>
                <span class="muted">" @" {person.username.clone()}</span>
                <PresenceText presence />
            </span>
            <span class="person-actions">{children()}</span>
        </li>
    }
}

/// `/friends/<username>`: the films a friend and I both want.
#[component]
pub fn FriendPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let username = Memo::new(move |_| params.read().get("username").unwrap_or_default());
    let both = Resource::new(move || username.get(), both_want);
    view! {
        <section class="catalog">
            <Suspense>
                {move || Suspend::new(async move {
                    match both.await {
                        Ok(CommonFilms { friend, films }) => {
                            let name = friend.display_name.clone();
                            let title = friend.display_name.clone();
                            view! {
                                <PageTitle text=move || format!("{} — {}", title, t_string!(i18n, app_name)) />
                                <h1>{t!(i18n, we_both_want, name = move || name.clone())}</h1>
                                {if films.is_empty() {
                                    view! { <p class="empty">{t!(i18n, nothing_in_common)}</p> }.into_any()
                                } else {
                                    view! { <FilmGrid films /> }.into_any()
                                }}
                            }
                                .into_any()
                        }
                        Err(AppError::Unauthorized) => {
                            let here = format!("/friends/{}", username.get_untracked());
                            view! { <leptos_router::components::Redirect path=login_link(&here) /> }.into_any()
                        }
                        Err(AppError::NotFound) => view! { <PageError error=AppError::NotFound /> }.into_any(),
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Home's "Watch with friends": films on my list that friends want too, most wanted first.
#[component]
pub fn WatchWithFriends() -> impl IntoView {
    let i18n = use_i18n();
    let films = Resource::new(|| (), |_| match_all());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let films = films.await.unwrap_or_default();
                (!films.is_empty()).then(|| view! {
                    <section class="watch-with-friends" aria-labelledby="wwf-title">
                        <h2 id="wwf-title">{t!(i18n, watch_with_friends)}</h2>
                        <ul class="match-list">
                            {films.into_iter().map(|m| {
                                let film = m.film.clone();
                                let href = format!("/films/{}", film.id);
                                let together = format!("/films/{}?together=1", film.id);
                                let title = move || film.title(i18n.get_locale()).to_owned();
                                let n = m.friends.len();
                                view! {
                                    <li class="match">
                                        <img src=m.film.poster_url() alt="" width="60" height="90" loading="lazy" />
                                        <div class="match-info">
                                            <A href=href attr:class="film-title">{title}</A>
                                            <span class="muted">{t!(i18n, friends_want_it, count = move || n)}</span>
                                            <span class="avatars">
                                                {m.friends.into_iter().map(|p| view! { <Avatar person=p /> }).collect_view()}
                                            </span>
                                        </div>
                                        <a class="button primary small" href=together>{t!(i18n, watch_together)}</a>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}

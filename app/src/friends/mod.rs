//! Friends (`/friends`, `/friends/<username>`, invite links `/f/<code>`), presence, and the
//! "Watch together" match: which friends also want a film.

pub mod domain;
#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::{login_link, use_auth};
use crate::catalog::{FilmCard, FilmGrid};
use crate::error::AppError;
use crate::i18n::*;
use crate::ui::ErrorMessage;
use crate::ui::PageTitle;
use domain::{initials, Presence, Relation};
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
pub async fn search_people(q: String) -> Result<Vec<PersonResult>, AppError> {
    crate::accounts::ssr::respond(ssr::search_people(&q).await.map(|found| {
        found
            .into_iter()
            .map(|(person, relation)| PersonResult { person, relation })
            .collect()
    }))
}

#[server(endpoint = "friends/request")]
pub async fn request_friend(user_id: String) -> Result<Relation, AppError> {
    crate::accounts::ssr::respond(ssr::request(&user_id).await)
}

#[server(endpoint = "friends/accept")]
pub async fn accept_friend(user_id: String) -> Result<Relation, AppError> {
    crate::accounts::ssr::respond(ssr::accept(&user_id).await)
}

/// Declines their request, cancels mine, or removes a friend.
#[server(endpoint = "friends/remove")]
pub async fn remove_friend(user_id: String) -> Result<Relation, AppError> {
    crate::accounts::ssr::respond(ssr::sever(&user_id).await)
}

#[server(endpoint = "friends")]
pub async fn friends_overview() -> Result<FriendsData, AppError> {
    crate::accounts::ssr::respond(ssr::overview().await)
}

#[server(endpoint = "friends/incoming")]
pub async fn incoming_requests() -> Result<i64, AppError> {
    crate::accounts::ssr::respond(ssr::incoming_count().await)
}

#[server(endpoint = "friends/hide")]
pub async fn hide_watchlist(hide: bool) -> Result<bool, AppError> {
    crate::accounts::ssr::respond(ssr::set_hide_watchlist(hide).await)
}

#[server(endpoint = "friends/invite/new")]
pub async fn new_invite() -> Result<Invite, AppError> {
    crate::accounts::ssr::respond(ssr::regenerate_invite().await)
}

#[server(endpoint = "friends/invite/revoke")]
pub async fn revoke_invite() -> Result<(), AppError> {
    crate::accounts::ssr::respond(ssr::revoke_invite().await)
}

#[server(endpoint = "friends/invite")]
pub async fn invite_info(code: String) -> Result<InviteDetails, AppError> {
    crate::accounts::ssr::respond(
        ssr::invite_info(&code)
            .await
            .map(|(inviter, relation)| InviteDetails { inviter, relation }),
    )
}

#[server(endpoint = "friends/invite/accept")]
pub async fn accept_invite(code: String) -> Result<Relation, AppError> {
    crate::accounts::ssr::respond(ssr::accept_invite(&code).await)
}

#[server(endpoint = "friends/match")]
pub async fn match_film(film_id: String) -> Result<Vec<MatchFriend>, AppError> {
    crate::accounts::ssr::respond(ssr::match_film(&film_id).await)
}

#[server(endpoint = "friends/match/all")]
pub async fn match_all() -> Result<Vec<MatchedFilm>, AppError> {
    crate::accounts::ssr::respond(ssr::my_match_all().await)
}

#[server(endpoint = "friends/both")]
pub async fn both_want(username: String) -> Result<CommonFilms, AppError> {
    crate::accounts::ssr::respond(
        ssr::both_want(&username)
            .await
            .map(|(friend, films)| CommonFilms { friend, films }),
    )
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
        Presence::Offline => "avatar",
        Presence::Online => "avatar online",
        Presence::InRoom => "avatar in-room",
    };
    view! {
        <span class=class title=person.display_name.clone() aria-hidden="true">
            {initials(&person.display_name)}
        </span>
    }
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

fn alert<T, S>(value: S) -> impl IntoView
where
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(error)) => {
            Some(view! { <p class="error" role="alert"><ErrorMessage error /></p> })
        }
        _ => None,
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

#[component]
pub fn FriendsPage() -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let requests = use_context::<FriendRequests>();
    let add = ServerAction::<RequestFriend>::new();
    let accept = ServerAction::<AcceptFriend>::new();
    let remove = ServerAction::<RemoveFriend>::new();
    let hide = ServerAction::<HideWatchlist>::new();
    let new_link = ServerAction::<NewInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let versions = move || {
        (
            add.version().get(),
            accept.version().get(),
            remove.version().get(),
            hide.version().get(),
            new_link.version().get(),
            revoke.version().get(),
        )
    };
    Effect::new(move |_| {
        versions();
        if let Some(requests) = requests {
            requests.changes.update(|n| *n += 1);
        }
    });
    let overview = Resource::new(versions, |_| friends_overview());
    let found = Resource::new(move || (q.get(), versions()), |(q, _)| search_people(q));
    let label = move |key: &'static str| -> Signal<String> {
        Signal::derive(move || match key {
            "add" => t_string!(i18n, add_friend).to_string(),
            "accept" => t_string!(i18n, accept).to_string(),
            "decline" => t_string!(i18n, decline).to_string(),
            "cancel" => t_string!(i18n, cancel_request).to_string(),
            _ => t_string!(i18n, remove).to_string(),
        })
    };
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, friends_title), t_string!(i18n, app_name)) />
        <section class="friends">
            <h1>{t!(i18n, friends_title)}</h1>
            {alert(add.value())}
            {alert(accept.value())}
            {alert(remove.value())}
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
                        Ok(found) => {
                            view! {
                                <ul class="people">
                                    {found
                                        .into_iter()
                                        .map(|r| {
                                            let id = r.person.id.clone();
                                            let action = match r.relation {
                                                Relation::None => view! { {person_action!(add, id, label("add"), "primary small")} }.into_any(),
                                                Relation::RequestReceived => view! { {person_action!(accept, id, label("accept"), "primary small")} }.into_any(),
                                                Relation::RequestSent => view! { {person_action!(remove, id, label("cancel"), "ghost small")} }.into_any(),
                                                Relation::Friend => view! { <span class="muted">{t!(i18n, already_friends)}</span> }.into_any(),
                                                Relation::Myself => ().into_any(),
                                            };
                                            view! { <PersonRow person=r.person>{action}</PersonRow> }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                    }
                })}
            </Transition>
            <Transition>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => {
                            view! {
                                {(!o.incoming.is_empty()).then(|| view! {
                                    <h2>{t!(i18n, friend_requests)}</h2>
                                    <ul class="people">
                                        {o.incoming.into_iter().map(|p| {
                                            let id = p.id.clone();
                                            view! {
                                                <PersonRow person=p>
                                                    {person_action!(accept, id.clone(), label("accept"), "primary small")}
                                                    {person_action!(remove, id, label("decline"), "ghost small")}
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
                                                    {person_action!(remove, id, label("cancel"), "ghost small")}
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
                                                        {person_action!(remove, id, label("remove"), "ghost small")}
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
                                .into_any()
                        }
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/friends") /> }.into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
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

/// Copies `text` to the clipboard (a no-op where the browser does not allow it).
pub fn copy_to_clipboard(text: &str) {
    let clipboard = window().navigator().clipboard();
    let _ = clipboard.write_text(text);
}

#[component]
fn InviteLink(
    invite: Option<Invite>,
    new_link: ServerAction<NewInvite>,
    revoke: ServerAction<RevokeInvite>,
) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    view! {
        <section class="invite-link">
            <h2>{t!(i18n, invite_link)}</h2>
            <p class="hint">{t!(i18n, invite_link_hint)}</p>
            {match invite {
                Some(invite) => {
                    let url = invite.url.clone();
                    view! {
                        <p class="share-link"><code>{invite.url.clone()}</code></p>
                        <div class="row">
                            <button
                                type="button"
                                class="primary small"
                                on:click=move |_| {
                                    copy_to_clipboard(&url);
                                    copied.set(true);
                                }
                            >
                                {t!(i18n, copy_link)}
                            </button>
                            <ActionForm action=new_link attr:class="inline">
                                <button type="submit" class="ghost small">{t!(i18n, new_link)}</button>
                            </ActionForm>
                            <ActionForm action=revoke attr:class="inline">
                                <button type="submit" class="ghost small danger">{t!(i18n, revoke_link)}</button>
                            </ActionForm>
                            <Show when=move || copied.get()>
                                <span class="ok" role="status">{t!(i18n, copied)}</span>
                            </Show>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <ActionForm action=new_link attr:class="inline">
                            <button type="submit" class="primary small">{t!(i18n, create_link)}</button>
                        </ActionForm>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// `/f/<code>`: someone's invite to be friends.
#[component]
pub fn InvitePage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let code = Memo::new(move |_| params.read().get("code").unwrap_or_default());
    let accept = ServerAction::<AcceptInvite>::new();
    let info = Resource::new(
        move || (code.get(), accept.version().get()),
        |(c, _)| invite_info(c),
    );
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, friend_invite), t_string!(i18n, app_name)) />
        <section class="card narrow invite">
            <Suspense>
                {move || Suspend::new(async move {
                    let here = format!("/f/{}", code.get_untracked());
                    match info.await {
                        Ok(InviteDetails { inviter, relation }) => {
                            let name = inviter.display_name.clone();
                            view! {
                                <Avatar person=inviter.clone() />
                                <h1>{t!(i18n, invites_you, name = move || name.clone())}</h1>
                                {match relation {
                                    None => view! {
                                        <p>{t!(i18n, invite_log_in_first)}</p>
                                        <div class="actions">
                                            <a class="button primary" href=crate::accounts::with_next("/register", &here)>{t!(i18n, register)}</a>
                                            <a class="button" href=login_link(&here)>{t!(i18n, log_in)}</a>
                                        </div>
                                    }.into_any(),
                                    Some(Relation::Friend) => view! {
                                        <p class="ok" role="status">{t!(i18n, already_friends)}</p>
                                        <A href="/friends" attr:class="button">{t!(i18n, friends_title)}</A>
                                    }.into_any(),
                                    Some(Relation::Myself) => view! { <p class="muted">{t!(i18n, this_is_your_link)}</p> }.into_any(),
                                    Some(_) => view! {
                                        <ActionForm action=accept>
                                            <input type="hidden" name="code" value=code.get_untracked() />
                                            <button type="submit" class="primary">{t!(i18n, become_friends)}</button>
                                        </ActionForm>
                                        {alert(accept.value())}
                                    }.into_any(),
                                }}
                            }
                                .into_any()
                        }
                        Err(AppError::NotFound) => {
                            view! {
                                <h1>{t!(i18n, invite_invalid)}</h1>
                                <p class="muted">{t!(i18n, invite_invalid_text)}</p>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
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
                        Err(AppError::NotFound) => view! { <crate::pages::NotFound /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert"><ErrorMessage error /></p> }.into_any(),
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

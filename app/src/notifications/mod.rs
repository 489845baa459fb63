//! In-app notifications: the bell in the header (its unread count refreshes on its own) and
//! the list at `/notifications`.

#[cfg(feature = "ssr")]
pub mod ssr;

use crate::accounts::use_auth;
use crate::dates::date_text;
use crate::error::AppError;
use crate::i18n::*;
use crate::links::login_link;
use crate::ui::{PageAlert, PageTitle};
use leptos::prelude::*;
use leptos_router::components::A;
use serde::{Deserialize, Serialize};

/// What a notification tells (stored and sent as `room_invite`, `room_starting`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A friend invited me to a room.
    RoomInvite,
    /// A scheduled room I was invited to has started.
    RoomStarting,
    /// Someone asked to be my friend.
    FriendRequest,
    /// Someone accepted my request (or my invite link).
    FriendAccepted,
}

impl NotificationKind {
    pub const ALL: [Self; 4] = [
        Self::RoomInvite,
        Self::RoomStarting,
        Self::FriendRequest,
        Self::FriendAccepted,
    ];

    /// The column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomInvite => "room_invite",
            Self::RoomStarting => "room_starting",
            Self::FriendRequest => "friend_request",
            Self::FriendAccepted => "friend_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub actor: String,
    pub room_code: Option<String>,
    pub film_title_en: Option<String>,
    pub film_title_ru: Option<String>,
    pub created_at: i64,
    pub read: bool,
}

#[server(endpoint = "notifications")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn list_notifications() -> Result<Vec<Notification>, AppError> {
    ssr::list().await
}

#[server(endpoint = "notifications/unread")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn unread_notifications() -> Result<i64, AppError> {
    ssr::unread().await
}

#[server(endpoint = "notifications/read")]
#[cfg_attr(feature = "ssr", tracing::instrument(skip_all))]
pub async fn mark_notifications_read() -> Result<(), AppError> {
    ssr::mark_all_read().await
}

/// How often the header asks for new notifications and friend requests.
pub const POLL_SECS: u64 = 15;

/// A counter that ticks every `POLL_SECS` in the browser (never on the server), so header
/// counts refetch without a reload.
pub fn provide_tick() -> RwSignal<u64> {
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || tick.update(|n| *n += 1),
            std::time::Duration::from_secs(POLL_SECS),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    tick
}

#[derive(Clone, Copy)]
pub struct Notifications {
    pub read: ServerAction<MarkNotificationsRead>,
    pub unread: Resource<Result<i64, AppError>>,
}

impl Notifications {
    pub fn provide(tick: RwSignal<u64>) -> Self {
        let auth = use_auth();
        let read = ServerAction::<MarkNotificationsRead>::new();
        let unread = Resource::new(
            move || {
                (
                    tick.get(),
                    read.version().get(),
                    auth.login.version().get(),
                    auth.logout.version().get(),
                )
            },
            |_| unread_notifications(),
        );
        let this = Self { read, unread };
        provide_context(this);
        this
    }
}

/// The bell: a link to the list, with the unread count.
#[component]
pub fn Bell(count: i64) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <A href="/notifications" attr:class="bell">
            <crate::icons::IconSvg icon=crate::icons::Icon::Bell />
            <span class="sr-only">{t!(i18n, notifications)}</span>
            {(count > 0).then(|| view! { <span class="count">{count}</span> })}
        </A>
    }
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let i18n = use_i18n();
    let notifications = expect_context::<Notifications>();
    let list = Resource::new(|| (), |_| list_notifications());
    // Seen once the page is shown in the browser.
    Effect::new(move |_| {
        notifications.read.dispatch(MarkNotificationsRead {});
    });
    view! {
        <PageTitle text=move || format!("{} — {}", t_string!(i18n, notifications), t_string!(i18n, app_name)) />
        <section class="notifications">
            <h1>{t!(i18n, notifications)}</h1>
            <Suspense>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(items) if items.is_empty() => {
                            view! { <p class="empty">{t!(i18n, no_notifications)}</p> }.into_any()
                        }
                        Ok(items) => view! {
                            <ul class="notification-list">
                                {items.into_iter().map(|n| view! { <NotificationItem n /> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(AppError::Unauthorized) => {
                            view! { <leptos_router::components::Redirect path=login_link("/notifications") /> }.into_any()
                        }
                        Err(error) => view! { <PageAlert error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn NotificationItem(n: Notification) -> impl IntoView {
    let i18n = use_i18n();
    let created_at = n.created_at;
    let date = move || date_text(created_at, i18n.get_locale());
    let name = n.actor.clone();
    let (en, ru) = (
        n.film_title_en.clone().unwrap_or_default(),
        n.film_title_ru.clone().unwrap_or_default(),
    );
    let film = move || match i18n.get_locale() {
        Locale::ru => ru.clone(),
        _ => en.clone(),
    };
    let room = n
        .room_code
        .map(|c| format!("/r/{c}"))
        .unwrap_or_else(|| "/".into());
    let (text, href) = match n.kind {
        NotificationKind::RoomInvite => (
            t!(
                i18n,
                notif_room_invite,
                name = move || name.clone(),
                film = film.clone()
            )
            .into_any(),
            room.clone(),
        ),
        NotificationKind::RoomStarting => (
            t!(
                i18n,
                notif_room_starting,
                name = move || name.clone(),
                film = film.clone()
            )
            .into_any(),
            room.clone(),
        ),
        NotificationKind::FriendRequest => (
            t!(i18n, notif_friend_request, name = move || name.clone()).into_any(),
            "/friends".to_owned(),
        ),
        NotificationKind::FriendAccepted => (
            t!(i18n, notif_friend_accepted, name = move || name.clone()).into_any(),
            "/friends".to_owned(),
        ),
    };
    view! {
        <li class=if n.read { "notification" } else { "notification unread" }>
            <A href=href>{text}</A>
            <span class="muted">" · " {date}</span>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::NotificationKind;

    #[test]
    fn kinds_read_back_what_they_write() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(NotificationKind::parse("party"), None);
    }
}

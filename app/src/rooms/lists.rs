//! Home's room lists: rooms I am in and public rooms.

use super::domain::Phase;
use super::*;
use crate::dates::LocalTime;
use crate::i18n::*;
use leptos::prelude::*;

/// Home: my rooms and the public rooms open now.
#[component]
pub fn HomeRoomLists() -> impl IntoView {
    let i18n = use_i18n();
    let rooms = Resource::new(|| (), |_| home_rooms());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let Ok(rooms) = rooms.await else { return None };
                Some(view! {
                    {(!rooms.mine.is_empty()).then(|| view! {
                        <section class="room-list" aria-labelledby="my-rooms-title">
                            <h2 id="my-rooms-title">{t!(i18n, my_rooms)}</h2>
                            <RoomCards rooms=rooms.mine.clone() />
                        </section>
                    })}
                    <section class="room-list" aria-labelledby="public-rooms-title">
                        <h2 id="public-rooms-title">{t!(i18n, public_rooms)}</h2>
                        {if rooms.public.is_empty() {
                            view! { <p class="muted">{t!(i18n, no_public_rooms)}</p> }.into_any()
                        } else {
                            view! { <RoomCards rooms=rooms.public.clone() /> }.into_any()
                        }}
                    </section>
                })
            })}
        </Suspense>
    }
}

#[component]
fn RoomCards(rooms: Vec<RoomSummary>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ul class="room-cards">
            {rooms.into_iter().map(|r| {
                let film = r.film.clone();
                let title = move || film.title(i18n.get_locale()).to_owned();
                let count = r.participants;
                view! {
                    <li class="room-card">
                        <a href=format!("/r/{}", r.code)>
                            <img src=r.film.poster_url() alt="" width="80" height="120" loading="lazy" />
                            <span class="room-card-text">
                                <strong>{r.name.clone()}</strong>
                                <span class="muted">{title}</span>
                                <span class="muted">
                                    {r.owner_name.clone()} " · "
                                    {t!(i18n, participants_count, count = count)}
                                    {r.private.then(|| view! { " · " {t!(i18n, private_chip)} })}
                                </span>
                                <span class="muted">
                                    {match r.phase {
                                        Phase::Scheduled => view! {
                                            {t!(i18n, starts)} " " <LocalTime ms=r.starts_at.unwrap_or_default() />
                                        }.into_any(),
                                        Phase::Live => view! {
                                            {t!(i18n, started)} " " <LocalTime ms=r.starts_at.unwrap_or(r.created_at) />
                                        }.into_any(),
                                        Phase::Ended => t!(i18n, room_ended).into_any(),
                                    }}
                                </span>
                            </span>
                        </a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

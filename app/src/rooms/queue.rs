//! Choosing together in the browser: "Up next" beside the chat (add, vote, remove, play now,
//! skip), the countdown to the next film, the stage while the room is still choosing, and
//! "Watched here". Every press is a message on the room channel; what the page shows is the
//! room's state as the channel tells it ([`Live::queue`]), never a guess of its own.

use super::live::Live;
use super::new_room::CatalogChoice;
use super::protocol::{ClientMsg, QueueEntry};
use super::room_ideas;
use crate::dates::LocalTime;
use crate::i18n::*;
use leptos::prelude::*;
use leptos_router::components::A;
use std::collections::HashMap;

/// How often the countdown to the next film redraws.
const COUNTDOWN_TICK: std::time::Duration = std::time::Duration::from_millis(250);

/// "Up next": the countdown, skip, the queue in its order with votes, "Find a film" to add one,
/// and the group's ideas.
#[component]
pub(super) fn UpNext(
    live: Live,
    code: String,
    names: StoredValue<HashMap<String, String>>,
    i_own: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let entries = Memo::new(move |_| live.queue.with(|q| q.ordered()));
    // Redrawn whenever the entry or its votes change.
    let key = |e: &QueueEntry| format!("{}:{}", e.id, e.votes.join(","));
    let busy = move || !live.welcomed() || live.ended.get();
    let add = move |film: String| live.command(ClientMsg::QueueAdd { film });
    view! {
        <section class="up-next" aria-labelledby="up-next-title">
            <div class="side-head">
                <h2 id="up-next-title">{t!(i18n, up_next)}</h2>
                <span class="muted">{move || entries.with(Vec::len)}</span>
            </div>
            <NextBanner live />
            <SkipButton live />
            {move || {
                (live.welcomed() && entries.with(Vec::is_empty))
                    .then(|| view! { <p class="muted">{t!(i18n, queue_empty)}</p> })
            }}
            <ol class="queue">
                <For each=move || entries.get() key=key let:entry>
                    <QueueItem live entry i_own names />
                </For>
            </ol>
            <details class="queue-add">
                <summary>{t!(i18n, add_to_queue)}</summary>
                <CatalogChoice on_choose=add busy input_id="queue-find" needs_query=true limit=6 />
                <RoomIdeas live code />
            </details>
        </section>
    }
}

/// One entry: its film, who added it, the vote button with its count, and "Play now" (owner)
/// and "Remove" (owner, or whoever added it).
#[component]
fn QueueItem(
    live: Live,
    entry: QueueEntry,
    i_own: bool,
    names: StoredValue<HashMap<String, String>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let title = entry.film.title(i18n.get_locale_untracked()).to_owned();
    let me = live.me.get_untracked();
    let voted = entry.votes.contains(&me);
    let count = entry.votes.len();
    let may_remove = i_own || entry.added_by.as_deref() == Some(me.as_str());
    let adder = entry
        .added_by
        .as_deref()
        .and_then(|u| live.name_of(names, u))
        .or(entry.added_name.clone())
        .unwrap_or_else(|| t_string!(i18n, someone).to_string());
    let id = StoredValue::new(entry.id.clone());
    let vote_label = t_string!(i18n, vote_for, title = title.clone()).to_string();
    let remove_label = t_string!(i18n, remove_from_queue, title = title.clone()).to_string();
    let play_label = t_string!(i18n, play_now_title, title = title.clone()).to_string();
    view! {
        <li class="queue-entry">
            <img class="queue-poster" src=entry.film.poster_url() alt="" width="36" height="54" loading="lazy" />
            <span class="queue-film">
                <A href=format!("/films/{}", entry.film.id)>{title.clone()}</A>
                <span class="muted">" " {entry.film.year}</span>
                <span class="queue-adder muted">{t!(i18n, added_by, name = adder)}</span>
            </span>
            <span class="queue-actions">
                <button
                    type="button"
                    class="small vote"
                    aria-pressed=voted.to_string()
                    aria-label=vote_label
                    on:click=move |_| live.command(ClientMsg::QueueVote { entry: id.get_value(), vote: !voted })
                >
                    "▲ " <span class="vote-count">{count}</span>
                </button>
                {i_own.then(|| view! {
                    <button
                        type="button"
                        class="small"
                        aria-label=play_label
                        on:click=move |_| live.command(ClientMsg::PlayNow { entry: id.get_value() })
                    >
                        {t!(i18n, play_now)}
                    </button>
                })}
                {may_remove.then(|| view! {
                    <button
                        type="button"
                        class="small"
                        aria-label=remove_label
                        on:click=move |_| live.command(ClientMsg::QueueRemove { entry: id.get_value() })
                    >
                        {t!(i18n, remove)}
                    </button>
                })}
            </span>
        </li>
    }
}

/// "Next: Nosferatu in 10 s" with "Cancel", while the countdown runs.
#[component]
fn NextBanner(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    let now = RwSignal::new(0.0f64);
    Effect::new(move |_| {
        now.set(live.server_now());
        if let Ok(handle) =
            set_interval_with_handle(move || now.set(live.server_now()), COUNTDOWN_TICK)
        {
            on_cleanup(move || handle.clear());
        }
    });
    move || {
        live.queue.with(|q| q.next.clone()).map(|next| {
            let title = next.film.title(i18n.get_locale_untracked()).to_owned();
            let secs = move || ((next.at as f64 - now.get()) / 1000.0).ceil().max(0.0) as i64;
            view! {
                <div class="next-up" role="status">
                    <p>{t!(i18n, next_in, title = title.clone(), secs = secs)}</p>
                    <button type="button" class="small" on:click=move |_| live.command(ClientMsg::CancelNext)>
                        {t!(i18n, cancel)}
                    </button>
                </div>
            }
        })
    }
}

/// "Skip · 1/2" while a film plays and something waits in the queue (a majority of those
/// present moves on); "Play next" once the film has ended.
#[component]
fn SkipButton(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let (on, empty, skips, ended) = live.queue.with(|q| {
            (
                q.film.is_some(),
                q.entries.is_empty(),
                q.skips.clone(),
                q.next.is_some(),
            )
        });
        if !on || empty || live.ended.get() {
            return None;
        }
        let me = live.me.get();
        let mine = skips.contains(&me);
        let (present, counted) = live.present.with(|p| {
            let counted = skips
                .iter()
                .filter(|s| p.iter().any(|x| &x.user == *s))
                .count();
            (p.len().max(1), counted)
        });
        let needed = present / 2 + 1;
        Some(if ended {
            view! {
                <button type="button" class="primary small" on:click=move |_| live.command(ClientMsg::Skip { skip: true })>
                    {t!(i18n, play_next)}
                </button>
            }
            .into_any()
        } else {
            view! {
                <button
                    type="button"
                    class="small skip"
                    aria-pressed=mine.to_string()
                    on:click=move |_| live.command(ClientMsg::Skip { skip: !mine })
                >
                    {t!(i18n, skip_count, count = counted, needed = needed)}
                </button>
            }
            .into_any()
        })
    }
}

/// The stage of a room that has no film on yet: what to do, and "Start" with the top entry.
#[component]
pub(super) fn ChoosingStage(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    let top = Memo::new(move |_| live.queue.with(|q| q.ordered().into_iter().next()));
    view! {
        <div class="room-choosing">
            <h2>{t!(i18n, choosing_title)}</h2>
            <p class="muted">{t!(i18n, choosing_text)}</p>
            {move || top.get().map(|entry| {
                let title = entry.film.title(i18n.get_locale_untracked()).to_owned();
                view! {
                    <img class="room-poster" src=entry.film.poster_url() alt="" width="160" height="240" />
                    <button
                        type="button"
                        class="primary"
                        disabled=move || live.ended.get()
                        on:click=move |_| live.command(ClientMsg::Skip { skip: true })
                    >
                        {t!(i18n, start_with_film, title = title.clone())}
                    </button>
                }
            })}
        </div>
    }
}

/// "Ideas for all of you": films for the people in the room now, each added in one click.
#[component]
fn RoomIdeas(live: Live, code: String) -> impl IntoView {
    let i18n = use_i18n();
    let code = StoredValue::new(code);
    // Asked again when someone comes or goes.
    let people = Memo::new(move |_| live.present.with(|p| p.len()));
    let ideas = Resource::new(
        move || (live.welcomed(), people.get()),
        move |(welcomed, _)| async move {
            if welcomed {
                room_ideas(code.get_value()).await.unwrap_or_default()
            } else {
                Vec::new()
            }
        },
    );
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let ideas = ideas.await;
                let queued: Vec<String> = live.queue.with(|q| {
                    q.entries.iter().map(|e| e.film.id.clone())
                        .chain(q.film.iter().map(|f| f.id.clone()))
                        .collect()
                });
                let fresh: Vec<_> = ideas.into_iter().filter(|f| !queued.contains(&f.id)).take(5).collect();
                (!fresh.is_empty()).then(|| view! {
                    <h3 class="ideas-title">{t!(i18n, recs_group_ideas)}</h3>
                    <ul class="film-choices">
                        {fresh.into_iter().map(|film| {
                            let id = film.id.clone();
                            let title = format!("{} ({})", film.title(i18n.get_locale_untracked()), film.year);
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        on:click=move |_| live.command(ClientMsg::QueueAdd { film: id.clone() })
                                    >
                                        "+ " {title}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })
            })}
        </Transition>
    }
}

/// "Watched here": the films the room has put on, newest first, with when.
#[component]
pub(super) fn WatchedHere(live: Live) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let played = live.queue.with(|q| q.played.clone());
        let on_now = live.queue.with(|q| q.film.as_ref().map(|f| f.id.clone()));
        (!played.is_empty()).then(|| {
            let last = played.len() - 1;
            view! {
                <section class="watched-here">
                    <h2>{t!(i18n, watched_here)}</h2>
                    <ol>
                        {played.into_iter().enumerate().rev().map(|(i, p)| {
                            let now = i == last && on_now.as_deref() == Some(p.film.id.as_str());
                            view! {
                                <li>
                                    <A href=format!("/films/{}", p.film.id)>
                                        {p.film.title(i18n.get_locale_untracked()).to_owned()}
                                    </A>
                                    " · " <LocalTime ms=p.at />
                                    {now.then(|| view! { " " <span class="chip">{t!(i18n, on_now)}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                </section>
            }
        })
    }
}

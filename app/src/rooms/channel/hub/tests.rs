//! The hub's decisions, without sockets or a database.

use super::*;
use crate::accounts::session::SignOut;

fn playing(position: f64, anchor: f64) -> Playback {
    Playback {
        paused: false,
        position,
        anchor,
        rate: 1.0,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn someone_who_keeps_stalling_is_not_waited_for_again_in_the_window() {
    let mut waiting = Waiting::default();
    let t0 = Instant::now();
    for i in 0..STALL_HOLDS {
        assert!(waiting.note_hold("vasya", t0 + Duration::from_secs(i as u64)));
    }
    assert!(!waiting.note_hold("vasya", t0 + Duration::from_secs(60)));
    assert!(
        waiting.note_hold("petya", t0),
        "others are still waited for"
    );
    assert!(
        waiting.note_hold("vasya", t0 + STALL_WINDOW + Duration::from_secs(5)),
        "a new window"
    );
}

#[test]
fn a_stall_is_considered_only_when_the_room_may_wait_for_them() {
    let wait = Duration::from_secs(10);
    let mut waiting = Waiting::default();
    assert!(waiting.considers("vasya", wait));
    assert!(
        !waiting.considers("vasya", Duration::ZERO),
        "a room set never to wait"
    );
    waiting.excused.insert("vasya".into());
    assert!(!waiting.considers("vasya", wait), "timed out before");
    assert!(waiting.considers("petya", wait));
    waiting.hold = Some(1);
    assert!(!waiting.considers("petya", wait), "already holding");
}

#[test]
fn a_hold_ends_when_nobody_waited_for_is_stalled() {
    let mut waiting = Waiting {
        hold: Some(1),
        next: 1,
        ..Waiting::default()
    };
    assert_eq!(waiting.release(&names(&["vasya"]), None), Release::Keep);
    assert_eq!(waiting.release(&[], None), Release::End { excuse: vec![] });
    waiting.excused.insert("vasya".into());
    assert_eq!(
        waiting.release(&names(&["vasya"]), None),
        Release::End { excuse: vec![] },
        "someone excused is not waited for"
    );
    assert_eq!(
        waiting.release(&names(&["vasya", "petya"]), None),
        Release::Keep
    );
}

#[test]
fn a_timeout_ends_only_its_own_hold_and_excuses_whoever_is_still_stalled() {
    let waiting = Waiting {
        hold: Some(2),
        next: 2,
        ..Waiting::default()
    };
    assert_eq!(
        waiting.release(&names(&["vasya"]), Some(1)),
        Release::Keep,
        "an older hold's timer"
    );
    assert_eq!(
        waiting.release(&names(&["vasya"]), Some(2)),
        Release::End {
            excuse: names(&["vasya"])
        }
    );
    assert_eq!(
        Waiting::default().release(&[], Some(2)),
        Release::Keep,
        "nothing held"
    );
    assert_eq!(Waiting::default().release(&[], None), Release::Keep);
}

#[test]
fn only_connected_people_count_as_stalled() {
    let mut present = HashMap::new();
    for (user, sockets, buffering) in [("vasya", 1, true), ("petya", 0, true), ("olga", 2, false)] {
        present.insert(
            user.to_owned(),
            PresentEntry {
                name: user.to_owned(),
                sockets,
                buffering,
            },
        );
    }
    assert_eq!(stalled(&present), names(&["vasya"]));
}

#[test]
fn a_hold_pauses_where_the_film_is_and_the_resume_goes_on_from_there() {
    let (held_kind, held) = hold_at(playing(1_000.0, 0.0), 500.0).expect("playing: held");
    assert_eq!(held_kind, EventKind::Hold { position: 1_500.0 });
    assert!(held.paused);
    assert_eq!((held.position, held.anchor), (1_500.0, 500.0));
    assert_eq!(
        hold_at(held, 600.0),
        None,
        "paused already: nothing to hold"
    );

    let (kind, resumed) = resume_from(held, 9_000.0, true).expect("held: resumed");
    assert_eq!(
        kind,
        EventKind::Resume {
            position: 1_500.0,
            timed_out: true
        }
    );
    assert!(!resumed.paused);
    assert_eq!((resumed.position, resumed.anchor), (1_500.0, 9_000.0));
    assert_eq!(
        resume_from(resumed, 9_100.0, false),
        None,
        "playing already"
    );
}

#[test]
fn a_room_releases_its_hold_once_the_stalled_can_play() {
    let room = RoomHub::new();
    room.enter("vasya", "Vasya");
    room.set_buffering("vasya", true);
    let id = room.start_hold();
    assert!(room.holding());
    assert!(!room.release(None), "Vasya is still stalled");
    room.set_buffering("vasya", false);
    assert!(room.release(None));
    assert!(!room.holding());

    // A timeout excuses Vasya until he can play again.
    room.set_buffering("vasya", true);
    let id2 = room.start_hold();
    assert!(id2 > id);
    assert!(!room.release(Some(id)), "the old timer does nothing");
    assert!(room.release(Some(id2)));
    assert!(!room.considers_hold("vasya", Duration::from_secs(10)));
    room.set_buffering("vasya", false);
    assert!(room.considers_hold("vasya", Duration::from_secs(10)));
}

#[test]
fn presence_counts_sockets_and_a_reload_is_not_a_leave() {
    let room = RoomHub::new();
    assert!(room.enter("vasya", "Vasya"), "the first socket joins");
    assert!(!room.enter("vasya", "Vasya"), "a second tab does not");
    assert!(!room.leave("vasya"));
    assert!(room.leave("vasya"), "the last socket closed");
    assert!(
        !room.enter("vasya", "Vasya"),
        "back within the grace period"
    );
    assert!(!room.forget("vasya"), "connected again: not gone");
    assert!(room.leave("vasya"));
    assert!(room.forget("vasya"));
    assert!(room.present().is_empty());
}

#[test]
fn a_token_bucket_refuses_a_flood_and_keeps_buckets_apart() {
    let room = RoomHub::new();
    let allowed = (0..100)
        .filter(|_| room.take_control_token("vasya"))
        .count();
    assert!(
        (CONTROL_BURST as usize..CONTROL_BURST as usize + 2).contains(&allowed),
        "{allowed} of 100 commands at once got through"
    );
    assert!(
        room.take_chat_token("vasya", 2.0, 8.0),
        "chat has its own bucket"
    );
}

#[test]
fn published_events_reach_the_room_and_a_removal_says_whom() {
    let hub = Hub::default();
    let (_room, mut rx) = hub.join("r1");
    hub.publish(
        "r1",
        RoomEvent {
            seq: 7,
            at: 0,
            user: None,
            name: None,
            kind: EventKind::Remove {
                user: "vasya".into(),
            },
        },
    );
    let out = rx.try_recv().expect("published");
    assert_eq!(out.seq, 7);
    assert_eq!(out.removes.as_deref(), Some("vasya"));
    hub.tidy("r1");
    assert!(
        lock(&hub.rooms).contains_key("r1"),
        "a room with a socket is kept"
    );
    drop(rx);
    hub.tidy("r1");
    assert!(!lock(&hub.rooms).contains_key("r1"));
}

#[test]
fn sign_out_ends_the_right_sockets() {
    let one = SignOut::Session("s1".into());
    assert!(one.ends("u", Some("s1")));
    assert!(!one.ends("u", Some("s2")));
    let others = SignOut::UserExcept {
        user: "u".into(),
        keep: Some("s1".into()),
    };
    assert!(!others.ends("u", Some("s1")));
    assert!(others.ends("u", Some("s2")));
    assert!(!others.ends("v", Some("s2")));
}

#[test]
fn people_on_other_nodes_show_beside_this_nodes_own_once() {
    let room = RoomHub::new();
    room.enter("u1", "Вася");
    let elsewhere = |user: &str, name: &str, buffering| Present {
        user: user.into(),
        name: name.into(),
        buffering,
    };
    assert!(room.set_elsewhere(vec![
        elsewhere("u2", "Петя", false),
        elsewhere("u1", "Вася", true)
    ]));
    assert!(
        !room.set_elsewhere(vec![
            elsewhere("u1", "Вася", true),
            elsewhere("u2", "Петя", false)
        ]),
        "the same people in another order change nothing"
    );
    let present = room.present();
    assert_eq!(
        present.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Вася", "Петя"],
        "Вася, here and through another node, is listed once"
    );
    assert!(present[0].buffering, "stalled on the other node is stalled");
    // Only this node's own people go to the other nodes, with those in their grace period.
    room.leave("u1");
    assert_eq!(
        room.local(),
        [("u1".to_owned(), "Вася".to_owned(), 0, false)]
    );
    assert!(room.set_elsewhere(Vec::new()));
    assert!(room.present().is_empty());
}

#[test]
fn the_first_greeting_sets_where_sending_begins_and_later_ones_do_not() {
    let room = RoomHub::new();
    assert_eq!(room.published(), 0);
    room.greeted(10);
    room.greeted(14);
    assert_eq!(
        room.published(),
        10,
        "the sockets already here may still lack 11..14"
    );
    room.saw(12);
    room.saw(11);
    assert_eq!(room.published(), 12);
}

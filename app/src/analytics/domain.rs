//! What the numbers mean — the same definitions the dashboard prints beside them — and the time
//! each viewer played, worked out from raw events: a film page's player reports, and a room's
//! ordered log (everyone present plays what the room plays).

use std::collections::HashMap;

pub const DAY_MS: i64 = 86_400_000;

/// The UTC day of an instant (days since 1970-01-01).
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// A range of whole UTC days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Days {
    pub from: i64,
    pub to: i64,
}

impl Days {
    pub fn count(self) -> i64 {
        self.to - self.from + 1
    }
}

/// The windows the job counts distinct people over for each day (the dashboard's 7 and 30 days;
/// MAU is the month ending with the range).
pub const WEEK: i64 = 7;
pub const MONTH: i64 = 30;

/// The longest range the dashboard shows at once.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The day `1970-01-01` is day 0 of; `time`'s Julian day number of it.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// `2026-12-04` → its day number; `None` for anything else.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY))
}

/// A day number as `2026-12-04`.
pub fn format_day(day: i64) -> String {
    i32::try_from(day)
        .ok()
        .and_then(|d| d.checked_add(UNIX_EPOCH_JULIAN_DAY))
        .and_then(|jd| time::Date::from_julian_day(jd).ok())
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

/// The range a dashboard request asks for: `today`, `7d`, `30d` (ending today), or `custom`
/// from `from` to `to` (`YYYY-MM-DD`). `None`: a range that is not one.
pub fn days_for(range: &str, from: &str, to: &str, today: i64) -> Option<Days> {
    let days = match range {
        "" | "7d" => Days {
            from: today - WEEK + 1,
            to: today,
        },
        "today" => Days {
            from: today,
            to: today,
        },
        "30d" => Days {
            from: today - MONTH + 1,
            to: today,
        },
        "custom" => Days {
            from: parse_day(from)?,
            to: parse_day(to)?,
        },
        _ => return None,
    };
    (days.from <= days.to && days.count() <= MAX_RANGE_DAYS).then_some(days)
}

/// A view is one (viewer, film, day) with at least this much actually played …
pub const VIEW_MS: i64 = 2 * 60 * 1000;
/// … or, for a film shorter than this, half of it.
pub const SHORT_FILM_MS: i64 = 4 * 60 * 1000;
/// Playing this much of a video on a day makes its viewer active that day.
pub const ACTIVE_PLAY_MS: i64 = 1000;

/// How much of a film of `length_ms` (0: unknown) one must play on a day for a view.
pub fn view_threshold(length_ms: i64) -> i64 {
    if length_ms > 0 && length_ms < SHORT_FILM_MS {
        (length_ms + 1) / 2
    } else {
        VIEW_MS
    }
}

/// A completion: the end or 90 % reached (the rule "Watched" uses).
pub fn completes(position_ms: i64, length_ms: i64) -> bool {
    crate::playback::domain::reached_ninety_percent(position_ms, length_ms)
}

/// Slack for a report's clock: a progress report may move a little further than the wall clock
/// did between two reports (network, timers) and still be play, not a jump.
const REPORT_SLACK_MS: i64 = 2000;

/// What one viewer played of one film: the media time that passed while playing, seeks excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Played {
    pub played_ms: i64,
    /// The part played in rooms.
    pub room_ms: i64,
    pub completed: bool,
    /// The longest length seen (0: unknown).
    pub length_ms: i64,
}

impl Played {
    pub fn add(&mut self, other: Played) {
        self.played_ms += other.played_ms;
        self.room_ms += other.room_ms;
        self.completed |= other.completed;
        self.length_ms = self.length_ms.max(other.length_ms);
    }

    pub fn viewed(&self) -> bool {
        self.played_ms >= view_threshold(self.length_ms)
    }

    /// A view in a room: at least half of the play was in rooms.
    pub fn viewed_in_rooms(&self) -> bool {
        self.viewed() && self.room_ms * 2 >= self.played_ms
    }
}

/// A film's day: what its viewers played, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilmDay {
    pub views: i64,
    pub room_views: i64,
    pub completions: i64,
    pub watched_ms: i64,
    pub length_ms: i64,
}

impl FilmDay {
    pub fn add(&mut self, played: &Played) {
        self.views += i64::from(played.viewed());
        self.room_views += i64::from(played.viewed_in_rooms());
        self.completions += i64::from(played.completed);
        self.watched_ms += played.played_ms;
        self.length_ms = self.length_ms.max(played.length_ms);
    }
}

/// One player report from a film page, as `player_events` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: String,
    pub position_ms: i64,
    pub duration_ms: i64,
    pub at: i64,
}

/// The play in one viewer's reports of one film (in time order), counting the reports made at or
/// after `from` (earlier ones only say where the player was). A report that says the player
/// played on (`progress`, `pause`, `end`) counts the media time since the report before it, when
/// that is forward and no more than the wall clock allows; a `seek` counts nothing, nor does a
/// jump no seek was reported for.
pub fn played_alone(reports: &[Report], from: i64) -> Played {
    let mut played = Played::default();
    let mut previous: Option<&Report> = None;
    for report in reports {
        played.length_ms = played.length_ms.max(report.duration_ms);
        if report.at >= from {
            if let (Some(before), true) = (
                previous,
                matches!(report.kind.as_str(), "progress" | "pause" | "end"),
            ) {
                let moved = report.position_ms - before.position_ms;
                let wall = report.at - before.at;
                if moved > 0 && moved <= wall + wall / 4 + REPORT_SLACK_MS {
                    played.played_ms += moved;
                }
            }
            if report.kind == "end" || completes(report.position_ms, report.duration_ms) {
                played.completed = true;
            }
        }
        previous = Some(report);
    }
    played
}

/// A room's log as the play time needs it (positions in milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub enum RoomStep {
    Join,
    Leave,
    Play(f64),
    Pause(f64),
    Seek(f64),
    Rate(f64),
    /// Held for a stalled player (the room waits at this position).
    Hold(f64),
    Resume(f64),
    /// The room changed film: it plays from the start.
    Film(String),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomEntry {
    pub at: i64,
    pub user: Option<String>,
    pub step: RoomStep,
}

/// The room's playback while it is replayed.
struct Stage<'a> {
    film: String,
    lengths: &'a HashMap<String, i64>,
    playing: bool,
    position: f64,
    rate: f64,
    present: Vec<String>,
}

impl Stage<'_> {
    fn length(&self) -> f64 {
        self.lengths.get(&self.film).copied().unwrap_or(0) as f64
    }

    /// Where the film is `elapsed` ms of wall time after the last event (never past its end).
    fn position_after(&self, elapsed: i64) -> f64 {
        if !self.playing {
            return self.position;
        }
        let moved = self.position + elapsed.max(0) as f64 * self.rate;
        let length = self.length();
        if length > 0.0 {
            moved.min(length.max(self.position))
        } else {
            moved
        }
    }
}

/// What each person present played of each film in a room, between `from` and `until` (wall
/// clock): the room's log is replayed from its start (`first_film` is the film it was created
/// with), and the media time that passed while it played counts for everyone present. A person
/// is `u:<user id>`; `lengths` are the films' lengths (a film plays to its end, then stands).
pub fn played_in_room(
    first_film: &str,
    lengths: &HashMap<String, i64>,
    log: &[RoomEntry],
    from: i64,
    until: i64,
) -> HashMap<(String, String), Played> {
    let mut played: HashMap<(String, String), Played> = HashMap::new();
    let mut stage = Stage {
        film: first_film.to_owned(),
        lengths,
        playing: false,
        position: 0.0,
        rate: 1.0,
        present: Vec::new(),
    };
    let mut last_at = i64::MIN;
    let credit = |stage: &Stage, start: i64, end: i64, played: &mut HashMap<_, Played>| {
        // The part of [start, end) inside the window.
        let (a, b) = (start.max(from), end.min(until));
        if !stage.playing || b <= a || stage.present.is_empty() {
            return;
        }
        let at_a = stage.position_after(a - start);
        let at_b = stage.position_after(b - start);
        let moved = (at_b - at_a).max(0.0).round() as i64;
        let length = stage.lengths.get(&stage.film).copied().unwrap_or(0);
        let completed = completes(at_b.round() as i64, length);
        for person in &stage.present {
            let entry = played
                .entry((person.clone(), stage.film.clone()))
                .or_default();
            entry.played_ms += moved;
            entry.room_ms += moved;
            entry.completed |= completed;
            entry.length_ms = entry.length_ms.max(length);
        }
    };
    for entry in log.iter().filter(|e| e.at < until) {
        if last_at != i64::MIN {
            credit(&stage, last_at, entry.at, &mut played);
            stage.position = stage.position_after(entry.at - last_at);
        }
        last_at = entry.at;
        let person = entry.user.as_ref().map(|u| format!("u:{u}"));
        match &entry.step {
            RoomStep::Join => {
                if let Some(p) = person.filter(|p| !stage.present.contains(p)) {
                    stage.present.push(p);
                }
            }
            RoomStep::Leave => {
                if let Some(p) = person {
                    stage.present.retain(|q| *q != p);
                }
            }
            RoomStep::Play(at) | RoomStep::Resume(at) => {
                stage.playing = true;
                stage.position = *at;
            }
            RoomStep::Pause(at) | RoomStep::Hold(at) => {
                stage.playing = false;
                stage.position = *at;
            }
            RoomStep::Seek(to) => stage.position = *to,
            RoomStep::Rate(rate) => stage.rate = rate.clamp(0.0, 4.0),
            RoomStep::Film(film) => {
                stage.film = film.clone();
                stage.position = 0.0;
                stage.playing = true;
            }
            RoomStep::End => {
                stage.playing = false;
                stage.present.clear();
            }
        }
    }
    if last_at != i64::MIN {
        credit(&stage, last_at, until, &mut played);
    }
    played
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(kind: &str, position_s: i64, at_s: i64) -> Report {
        Report {
            kind: kind.to_owned(),
            position_ms: position_s * 1000,
            duration_ms: 600_000,
            at: at_s * 1000,
        }
    }

    #[test]
    fn days_read_and_print_as_dates() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-12-04"), Some(20_791));
        assert_eq!(format_day(20_791), "2026-12-04");
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(parse_day("yesterday"), None);
        assert_eq!(
            days_for("30d", "", "", 100),
            Some(Days { from: 71, to: 100 })
        );
        assert_eq!(
            days_for("custom", "2026-12-01", "2026-12-04", 0),
            Some(Days {
                from: 20_788,
                to: 20_791
            })
        );
        // Backwards, too long, or unknown: refused.
        assert_eq!(days_for("custom", "2026-12-04", "2026-12-01", 0), None);
        assert_eq!(days_for("custom", "2024-01-01", "2026-01-01", 0), None);
        assert_eq!(days_for("week", "", "", 0), None);
    }

    #[test]
    fn a_view_is_two_minutes_or_half_a_short_film() {
        assert_eq!(view_threshold(0), VIEW_MS);
        assert_eq!(view_threshold(90 * 60 * 1000), VIEW_MS);
        assert_eq!(view_threshold(40_000), 20_000);
        assert_eq!(view_threshold(SHORT_FILM_MS), VIEW_MS);
    }

    #[test]
    fn play_counts_the_reports_and_not_the_seeks() {
        let reports = [
            report("open", 0, 100),
            report("progress", 10, 110),
            report("progress", 20, 120),
            // jumped ahead: a seek
            report("seek", 300, 121),
            report("progress", 310, 131),
            report("pause", 315, 136),
            // a jump no seek was reported for: 200 s forward in 5 s
            report("progress", 515, 141),
        ];
        let played = played_alone(&reports, 0);
        assert_eq!(played.played_ms, 35_000);
        assert!(!played.completed);
        assert!(!played.viewed());
        // From a later instant only the later reports count.
        assert_eq!(played_alone(&reports, 125_000).played_ms, 15_000);
    }

    #[test]
    fn the_end_completes() {
        let reports = [report("progress", 530, 100), report("end", 600, 170)];
        let played = played_alone(&reports, 0);
        assert_eq!(played.played_ms, 70_000);
        assert!(played.completed);
    }

    fn at(at_s: i64, user: Option<&str>, step: RoomStep) -> RoomEntry {
        RoomEntry {
            at: at_s * 1000,
            user: user.map(str::to_owned),
            step,
        }
    }

    #[test]
    fn everyone_present_plays_what_the_room_plays() {
        let lengths = HashMap::from([("a".to_owned(), 600_000), ("b".to_owned(), 40_000)]);
        let log = [
            at(0, Some("ann"), RoomStep::Join),
            at(10, Some("bob"), RoomStep::Join),
            at(20, Some("ann"), RoomStep::Play(0.0)),
            // bob leaves after 30 s of play
            at(50, Some("bob"), RoomStep::Leave),
            at(80, Some("ann"), RoomStep::Seek(500_000.0)),
            at(90, Some("ann"), RoomStep::Pause(510_000.0)),
            at(100, Some("ann"), RoomStep::Film("b".to_owned())),
            // b is 40 s long: it stands at its end after that
            at(200, Some("ann"), RoomStep::Leave),
        ];
        let played = played_in_room("a", &lengths, &log, 0, 1_000_000);
        let ann_a = played[&("u:ann".to_owned(), "a".to_owned())];
        assert_eq!(ann_a.played_ms, 70_000);
        assert_eq!(ann_a.room_ms, 70_000);
        assert!(!ann_a.completed);
        assert_eq!(
            played[&("u:bob".to_owned(), "a".to_owned())].played_ms,
            30_000
        );
        let ann_b = played[&("u:ann".to_owned(), "b".to_owned())];
        assert_eq!(ann_b.played_ms, 40_000);
        assert!(ann_b.completed && ann_b.viewed());
        // A window counts only its part: 20..50 s of wall time is 30 s of play for both.
        let part = played_in_room("a", &lengths, &log, 0, 50_000);
        assert_eq!(
            part[&("u:ann".to_owned(), "a".to_owned())].played_ms,
            30_000
        );
        let later = played_in_room("a", &lengths, &log, 40_000, 60_000);
        assert_eq!(
            later[&("u:ann".to_owned(), "a".to_owned())].played_ms,
            20_000
        );
        assert_eq!(
            later[&("u:bob".to_owned(), "a".to_owned())].played_ms,
            10_000
        );
    }
}

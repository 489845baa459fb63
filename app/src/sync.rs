//! Keeping browsers in sync (DESIGN.md, "Keeping browsers in sync"): the offset of this
//! browser's clock from the server's (NTP-style), where the room's film should be at a given
//! server time, and what a player should do about a difference. Pure arithmetic, no I/O, so the
//! browser and the tests run exactly the same code; every threshold lives in [`Tuning`].

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// One exchange of the clock protocol: the client sent at `t0` (its clock), the server received
/// at `t1` and answered at `t2` (server clock), the answer arrived at `t3` (client clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Server clock minus client clock, in ms.
    pub offset: f64,
    /// The round trip less the server's own time, in ms.
    pub delay: f64,
}

impl Sample {
    pub fn new(t0: f64, t1: f64, t2: f64, t3: f64) -> Self {
        Self {
            offset: ((t1 - t0) + (t2 - t3)) / 2.0,
            delay: (t3 - t0) - (t2 - t1),
        }
    }
}

/// The estimate of the server's clock: the last few samples, trusting the one with the least
/// delay (the one least disturbed by queueing on the way).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    samples: VecDeque<Sample>,
}

impl Clock {
    /// How many recent samples are kept.
    pub const KEEP: usize = 8;

    pub fn add(&mut self, sample: Sample) {
        if !(sample.offset.is_finite() && sample.delay.is_finite()) || sample.delay < 0.0 {
            return;
        }
        if self.samples.len() == Self::KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    /// The best sample so far, if any.
    pub fn best(&self) -> Option<Sample> {
        self.samples
            .iter()
            .copied()
            .min_by(|a, b| a.delay.total_cmp(&b.delay))
    }

    /// Server clock minus this clock, in ms (0 before the first sample).
    pub fn offset(&self) -> f64 {
        self.best().map_or(0.0, |s| s.offset)
    }

    /// The server's time now, given this clock's `local` time.
    pub fn server_time(&self, local: f64) -> f64 {
        local + self.offset()
    }

    pub fn samples(&self) -> usize {
        self.samples.len()
    }
}

/// The room's playback state as the server orders it: at server time `anchor` the film was at
/// `position` and, unless paused, moves on at `rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Playback {
    pub paused: bool,
    /// ms into the film at `anchor`.
    pub position: f64,
    /// Server time (ms since the epoch).
    pub anchor: f64,
    pub rate: f64,
}

impl Playback {
    /// Where the film should be at server time `now`, in ms (never before the start).
    pub fn expected(&self, now: f64) -> f64 {
        let at = if self.paused {
            self.position
        } else {
            self.position + (now - self.anchor) * self.rate
        };
        at.max(0.0)
    }
}

/// How hard to steer. Positions in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Errors this small are left alone (no oscillation around zero).
    pub dead_band: f64,
    /// Errors this large are fixed by seeking, not by changing speed.
    pub seek_above: f64,
    /// A paused player further off than this is moved to the right frame.
    pub paused_tolerance: f64,
    /// The speed change that removes the whole error in this many ms...
    pub catch_up_over: f64,
    /// ...but never more than this far from the room's rate (0.05 = ±5 %).
    pub max_nudge: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            // Measured (bench-sync): with 10 ms and 40 ms here, the spread between pages was
            // p95 34 ms — players parked anywhere inside the bands. A paused seek lands exactly,
            // so it can be strict; a playing one is steered gently within a few ms.
            dead_band: 5.0,
            seek_above: 1000.0,
            paused_tolerance: 5.0,
            // With 2 s and ±5 % a seek's leftover error took ~4 s to fade (p95 49 ms one second
            // after a command); 1 s and ±8 % fade it three times as fast.
            catch_up_over: 1000.0,
            max_nudge: 0.08,
        }
    }
}

/// What a player does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Correction {
    /// Play at the room's rate.
    Rate(f64),
    /// Jump to this position (ms) and play at the room's rate.
    Seek(f64),
}

/// Compares where the local player is (`actual`) with where the room says it should be
/// (`expected`) and decides: a small speed nudge for a small error, a seek for a large one.
pub fn correct(state: &Playback, expected: f64, actual: f64, tuning: &Tuning) -> Correction {
    let error = expected - actual;
    if !error.is_finite() {
        return Correction::Seek(expected.max(0.0));
    }
    if state.paused {
        return if error.abs() > tuning.paused_tolerance {
            Correction::Seek(expected)
        } else {
            Correction::Rate(state.rate)
        };
    }
    if error.abs() >= tuning.seek_above {
        return Correction::Seek(expected);
    }
    if error.abs() <= tuning.dead_band {
        return Correction::Rate(state.rate);
    }
    let nudge = (error / tuning.catch_up_over).clamp(-tuning.max_nudge, tuning.max_nudge);
    Correction::Rate(state.rate * (1.0 + nudge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_separates_offset_from_delay() {
        // Client 100 ms behind the server; 20 ms each way; the server took 5 ms.
        let s = Sample::new(1000.0, 1120.0, 1125.0, 1045.0);
        assert_eq!(s.offset, 100.0);
        assert_eq!(s.delay, 40.0);
    }

    #[test]
    fn the_clock_trusts_the_least_delayed_of_the_last_eight() {
        let mut clock = Clock::default();
        assert_eq!(clock.offset(), 0.0);
        clock.add(Sample {
            offset: 130.0,
            delay: 90.0,
        });
        clock.add(Sample {
            offset: 101.0,
            delay: 4.0,
        });
        clock.add(Sample {
            offset: 120.0,
            delay: 50.0,
        });
        assert_eq!(clock.offset(), 101.0);
        assert_eq!(clock.server_time(5000.0), 5101.0);
        // Eight later samples push the good one out.
        for _ in 0..Clock::KEEP {
            clock.add(Sample {
                offset: 110.0,
                delay: 30.0,
            });
        }
        assert_eq!(clock.offset(), 110.0);
        assert_eq!(clock.samples(), Clock::KEEP);
        // Nonsense is ignored.
        clock.add(Sample {
            offset: f64::NAN,
            delay: 1.0,
        });
        clock.add(Sample {
            offset: 0.0,
            delay: -1.0,
        });
        assert_eq!(clock.offset(), 110.0);
    }

    #[test]
    fn the_expected_position_moves_only_while_playing() {
        let playing = Playback {
            paused: false,
            position: 60_000.0,
            anchor: 1_000.0,
            rate: 1.0,
        };
        assert_eq!(playing.expected(3_500.0), 62_500.0);
        let fast = Playback {
            rate: 2.0,
            ..playing
        };
        assert_eq!(fast.expected(2_000.0), 62_000.0);
        let paused = Playback {
            paused: true,
            ..playing
        };
        assert_eq!(paused.expected(99_000.0), 60_000.0);
        let start = Playback {
            position: 0.0,
            anchor: 10_000.0,
            ..playing
        };
        assert_eq!(start.expected(5_000.0), 0.0, "never before the start");
    }

    #[test]
    fn small_errors_are_left_medium_ones_nudged_large_ones_seeked() {
        let t = Tuning::default();
        let s = Playback {
            paused: false,
            position: 0.0,
            anchor: 0.0,
            rate: 1.0,
        };
        assert_eq!(correct(&s, 10_000.0, 9_995.0, &t), Correction::Rate(1.0));
        assert_eq!(correct(&s, 10_000.0, 10_004.0, &t), Correction::Rate(1.0));
        // 50 ms behind: made up over the 1 s catch-up → 1.05.
        assert_eq!(correct(&s, 10_000.0, 9_950.0, &t), Correction::Rate(1.05));
        // 20 ms ahead: slow down by 2 %.
        assert_eq!(correct(&s, 10_000.0, 10_020.0, &t), Correction::Rate(0.98));
        // 500 ms behind: capped at +8 %.
        assert_eq!(correct(&s, 10_000.0, 9_500.0, &t), Correction::Rate(1.08));
        assert_eq!(
            correct(&s, 10_000.0, 8_999.0, &t),
            Correction::Seek(10_000.0)
        );
        assert_eq!(
            correct(&s, 10_000.0, 11_000.0, &t),
            Correction::Seek(10_000.0)
        );
        let half = Playback { rate: 0.5, ..s };
        assert_eq!(
            correct(&half, 10_000.0, 9_950.0, &t),
            Correction::Rate(0.525)
        );
    }

    #[test]
    fn a_paused_player_is_moved_only_when_visibly_off() {
        let t = Tuning::default();
        let s = Playback {
            paused: true,
            position: 5_000.0,
            anchor: 0.0,
            rate: 1.0,
        };
        assert_eq!(correct(&s, 5_000.0, 5_004.0, &t), Correction::Rate(1.0));
        assert_eq!(correct(&s, 5_000.0, 5_030.0, &t), Correction::Seek(5_000.0));
        assert_eq!(correct(&s, 5_000.0, 5_100.0, &t), Correction::Seek(5_000.0));
        assert_eq!(
            correct(&s, 5_000.0, f64::NAN, &t),
            Correction::Seek(5_000.0)
        );
    }
}

//! "Lower the film while people talk": while anyone else in the call speaks, the film's volume
//! goes down to [`DUCKED`] of what the person chose — quickly, so the first word is heard — and
//! comes back over [`RELEASE_MS`] after they stop (the server already waits a moment of silence
//! before it says someone stopped, so a pause between words does not pump the film up and down).

/// The film's share of its chosen volume while someone talks.
pub const DUCKED: f64 = 0.3;
/// From full to ducked, in ms.
pub const ATTACK_MS: f64 = 80.0;
/// From ducked back to full, in ms.
pub const RELEASE_MS: f64 = 500.0;

/// The film's gain (1 = as chosen, [`DUCKED`] = lowered) `dt_ms` later than `gain`, moving
/// toward lowered while `talking` and back toward full otherwise, in straight lines: the whole
/// way down takes [`ATTACK_MS`], the whole way up [`RELEASE_MS`]. Never overshoots; a gain out
/// of range or a negative or NaN step is put right.
pub fn duck_step(gain: f64, talking: bool, dt_ms: f64) -> f64 {
    let gain = if gain.is_finite() {
        gain.clamp(DUCKED, 1.0)
    } else {
        1.0
    };
    let dt = if dt_ms.is_finite() {
        dt_ms.max(0.0)
    } else {
        0.0
    };
    let span = 1.0 - DUCKED;
    if talking {
        (gain - span * dt / ATTACK_MS).max(DUCKED)
    } else {
        (gain + span * dt / RELEASE_MS).min(1.0)
    }
}

/// Has the gain arrived where it is going?
pub fn settled(gain: f64, talking: bool) -> bool {
    if talking {
        gain <= DUCKED
    } else {
        gain >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mut gain: f64, talking: bool, ms: f64, step: f64) -> f64 {
        let mut t = 0.0;
        while t < ms {
            gain = duck_step(gain, talking, step);
            t += step;
        }
        gain
    }

    #[test]
    fn silence_leaves_the_film_alone() {
        assert_eq!(duck_step(1.0, false, 50.0), 1.0);
        assert!(settled(1.0, false));
    }

    #[test]
    fn a_voice_lowers_the_film_quickly_and_not_below_thirty_percent() {
        let after_40 = run(1.0, true, 40.0, 10.0);
        assert!((after_40 - 0.65).abs() < 1e-9, "{after_40}");
        let after_attack = run(1.0, true, ATTACK_MS, 10.0);
        assert!((after_attack - DUCKED).abs() < 1e-9);
        assert_eq!(run(1.0, true, 5_000.0, 50.0), DUCKED);
        assert!(settled(DUCKED, true));
    }

    #[test]
    fn the_film_comes_back_over_half_a_second() {
        let halfway = run(DUCKED, false, RELEASE_MS / 2.0, 10.0);
        assert!((halfway - 0.65).abs() < 1e-9, "{halfway}");
        assert!(!settled(halfway, false));
        assert_eq!(run(DUCKED, false, RELEASE_MS, 10.0), 1.0);
        // The step size does not change the curve.
        let coarse = run(DUCKED, false, 200.0, 50.0);
        let fine = run(DUCKED, false, 200.0, 1.0);
        assert!((coarse - fine).abs() < 1e-9);
    }

    #[test]
    fn a_new_word_during_the_release_lowers_it_again_from_where_it_is() {
        let rising = run(DUCKED, false, 250.0, 50.0);
        let next = duck_step(rising, true, 20.0);
        assert!(next < rising && next >= DUCKED);
    }

    #[test]
    fn nonsense_is_put_right() {
        assert_eq!(duck_step(f64::NAN, false, 10.0), 1.0);
        assert_eq!(duck_step(2.0, false, 10.0), 1.0);
        assert_eq!(duck_step(0.0, true, 10.0), DUCKED);
        assert_eq!(duck_step(0.5, true, -10.0), 0.5);
        assert_eq!(duck_step(0.5, false, f64::NAN), 0.5);
    }
}

//! Deciding whose camera is forwarded ("last-N").

use crate::PeerId;

/// The number of cameras forwarded to everyone when [`crate::Config::last_n`]
/// is not changed: a 3×3 grid is the most a watch-party sidebar shows.
pub const DEFAULT_LAST_N: usize = 9;

/// Picks at most `n` peers whose video is forwarded, in display order.
///
/// Cameras cost far more bandwidth than voices, so in a big call only the
/// people who spoke most recently are shown: first every video publisher in
/// `recent_speakers_order` (most recent speaker first), then, to fill the
/// remaining slots, the other video publishers in the order given by
/// `publishers_with_video` (the server passes join order, so the set is
/// stable while nobody talks). Speakers without a camera are skipped and no
/// peer appears twice. Audio is not limited by this: everyone who talks is
/// heard.
pub fn choose_video_senders(
    recent_speakers_order: &[PeerId],
    publishers_with_video: &[PeerId],
    n: usize,
) -> Vec<PeerId> {
    let mut chosen: Vec<PeerId> = Vec::with_capacity(n.min(publishers_with_video.len()));
    let candidates = recent_speakers_order
        .iter()
        .filter(|p| publishers_with_video.contains(p))
        .chain(publishers_with_video.iter());
    for peer in candidates {
        if chosen.len() >= n {
            break;
        }
        if !chosen.contains(peer) {
            chosen.push(peer.clone());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::choose_video_senders;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn everyone_fits() {
        let got = choose_video_senders(&ids(&["c"]), &ids(&["a", "b", "c"]), 9);
        assert_eq!(got, ids(&["c", "a", "b"]));
    }

    #[test]
    fn recent_speakers_win_slots() {
        let publishers = ids(&["a", "b", "c", "d", "e"]);
        let got = choose_video_senders(&ids(&["e", "d"]), &publishers, 3);
        assert_eq!(got, ids(&["e", "d", "a"]));
    }

    #[test]
    fn speakers_without_camera_are_skipped() {
        let got = choose_video_senders(&ids(&["x", "b", "y"]), &ids(&["a", "b"]), 1);
        assert_eq!(got, ids(&["b"]));
    }

    #[test]
    fn no_duplicates_and_zero_n() {
        let got = choose_video_senders(&ids(&["a", "a", "b"]), &ids(&["b", "a", "a"]), 9);
        assert_eq!(got, ids(&["a", "b"]));
        assert!(choose_video_senders(&ids(&["a"]), &ids(&["a"]), 0).is_empty());
        assert!(choose_video_senders(&ids(&["a"]), &[], 9).is_empty());
    }
}

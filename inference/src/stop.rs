//! Stop strings (the OpenAI `stop` parameter) over streamed text.
//!
//! Generated text arrives piece by piece; a stop string may span several pieces.
//! [`StopText`] emits text as soon as it cannot be the start of a stop string, holds
//! back the longest tail that still could be, and cuts the output right before the
//! first stop string found (the stop string itself is never emitted).

/// Most stop strings per request (as in the OpenAI API).
pub const MAX_STOP_STRINGS: usize = 4;
/// Longest accepted stop string, in bytes.
pub const MAX_STOP_BYTES: usize = 256;

/// Incremental stop-string matcher.
#[derive(Debug, Clone, Default)]
pub struct StopText {
    stops: Vec<String>,
    pending: String,
    hit: bool,
}

impl StopText {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
            hit: false,
        }
    }

    /// Whether a stop string has been seen (nothing more will be emitted).
    pub fn hit(&self) -> bool {
        self.hit
    }

    /// Feeds the next piece of text; returns what can be emitted now.
    pub fn push(&mut self, piece: &str) -> String {
        if self.hit {
            return String::new();
        }
        self.pending.push_str(piece);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = first {
            self.hit = true;
            let out = self.pending[..at].to_string();
            self.pending.clear();
            return out;
        }
        // Hold back the longest tail that is a prefix of some stop string.
        let keep = self
            .pending
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.pending[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.pending.len());
        let rest = self.pending.split_off(keep);
        std::mem::replace(&mut self.pending, rest)
    }

    /// Generation ended without a stop string: the held-back text.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (Vec<String>, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopText::new(&stops);
        let mut out: Vec<String> = pieces.iter().map(|p| m.push(p)).collect();
        let hit = m.hit();
        out.push(m.finish());
        (out, hit)
    }

    #[test]
    fn cuts_before_a_stop_string_spanning_pieces() {
        let (out, hit) = run(
            &["\n\nUser:"],
            &["Hello", " world\n", "\nUs", "er: hi", "more"],
        );
        assert!(hit);
        assert_eq!(out.concat(), "Hello world");
        // "Hello" is emitted at once; the "\n" that may start the stop is held back.
        assert_eq!(out[0], "Hello");
        assert_eq!(out[1], " world");
        assert_eq!(out[4], "");
    }

    #[test]
    fn releases_held_text_when_it_stops_matching() {
        let (out, hit) = run(&["END"], &["the E", "NVOY", " left"]);
        assert!(!hit);
        assert_eq!(out, vec!["the ", "ENVOY", " left", ""]);
    }

    #[test]
    fn earliest_of_several_stops_wins_and_unicode_is_safe() {
        let (out, hit) = run(&["ß!", "b"], &["aaß", "!b"]);
        assert!(hit);
        assert_eq!(out.concat(), "aa");
        let (out, hit) = run(&[], &["日本", "語"]);
        assert!(!hit);
        assert_eq!(out.concat(), "日本語");
        let (out, _) = run(&["", "x"], &["ab"]);
        assert_eq!(out.concat(), "ab");
    }
}

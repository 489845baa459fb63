//! Latency histograms per kind of request, merged across workers and printed as one table.

use hdrhistogram::Histogram;
use std::time::Duration;

/// How many failure messages per kind are kept to be shown.
const ERROR_SAMPLES: usize = 3;

pub struct KindStats {
    /// Latencies of successful requests, in microseconds.
    latencies: Histogram<u64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl KindStats {
    fn new() -> Self {
        Self {
            // 1 µs to 5 min with 3 significant digits.
            latencies: Histogram::new_with_bounds(1, 300_000_000, 3)
                .expect("constant histogram bounds are valid"),
            errors: 0,
            error_samples: Vec::new(),
        }
    }

    pub fn count(&self) -> u64 {
        self.latencies.len()
    }

    /// The latency at `quantile` (0.5, 0.99, 1.0 for the maximum) in milliseconds.
    pub fn millis(&self, quantile: f64) -> f64 {
        self.latencies.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn add(&mut self, other: &KindStats) {
        self.latencies
            .add(&other.latencies)
            .expect("histograms with the same bounds add up");
        self.errors += other.errors;
        for sample in &other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(sample.clone());
            }
        }
    }
}

/// One `KindStats` per kind of request, in the order the kinds were named.
pub struct Recorder {
    kinds: Vec<(&'static str, KindStats)>,
}

impl Recorder {
    pub fn new(kinds: &[&'static str]) -> Self {
        Self {
            kinds: kinds.iter().map(|&k| (k, KindStats::new())).collect(),
        }
    }

    /// Records a successful request of kind number `kind`.
    pub fn ok(&mut self, kind: usize, latency: Duration) {
        let micros = (latency.as_micros() as u64).max(1);
        self.kinds[kind].1.latencies.saturating_record(micros);
    }

    pub fn error(&mut self, kind: usize, message: impl FnOnce() -> String) {
        let stats = &mut self.kinds[kind].1;
        stats.errors += 1;
        if stats.error_samples.len() < ERROR_SAMPLES {
            stats.error_samples.push(message());
        }
    }

    pub fn merge(&mut self, other: &Recorder) {
        for ((_, mine), (_, theirs)) in self.kinds.iter_mut().zip(&other.kinds) {
            mine.add(theirs);
        }
    }

    pub fn kind(&self, kind: usize) -> &KindStats {
        &self.kinds[kind].1
    }

    /// All kinds together.
    pub fn total(&self) -> KindStats {
        let mut total = KindStats::new();
        for (_, stats) in &self.kinds {
            total.add(stats);
        }
        total.error_samples.clear();
        total
    }

    /// Prints kind, count, successful requests per second over `elapsed`, p50/p99/max in ms and
    /// errors; then a few error messages of each kind that had any.
    pub fn print_table(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        println!(
            "{:<12} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7}",
            "kind", "count", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
        );
        let row = |name: &str, s: &KindStats| {
            if s.count() == 0 {
                println!(
                    "{name:<12} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7}",
                    0, "-", "-", "-", "-", s.errors
                );
                return;
            }
            println!(
                "{name:<12} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.1} {:>7}",
                s.count(),
                s.count() as f64 / secs,
                s.millis(0.5),
                s.millis(0.99),
                s.millis(1.0),
                s.errors
            );
        };
        for (name, stats) in &self.kinds {
            row(name, stats);
        }
        row("total", &self.total());
        for (name, stats) in &self.kinds {
            for sample in &stats.error_samples {
                println!("  {name} error: {sample}");
            }
        }
    }
}

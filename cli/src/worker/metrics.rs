//! The worker's Prometheus metrics, appended to the compute server's
//! `/metrics`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use comrade_inference::server::MetricsHook;

/// Counters and gauges, shared by the worker and the metrics hook.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Latest chain height seen.
    pub(crate) height: AtomicU64,
    /// Beacon keys revealed (committed with code 0).
    pub(crate) reveals: AtomicU64,
    /// Capacity commitments committed.
    pub(crate) commits: AtomicU64,
    /// Row reveals committed.
    pub(crate) row_reveals: AtomicU64,
    /// Sprints that ended passed.
    pub(crate) passed: AtomicU64,
    /// Sprints that ended failed.
    pub(crate) failed: AtomicU64,
    /// Sprints that ended missed.
    pub(crate) missed: AtomicU64,
    /// Rows of the last commitment.
    pub(crate) last_rows: AtomicU64,
    /// Rows per second of the last sprint's proving.
    pub(crate) last_rows_per_s: AtomicU64,
    /// Failed chain reads and refused or failed transactions.
    pub(crate) errors: AtomicU64,
    /// Receipt batches committed.
    pub(crate) receipt_batches: AtomicU64,
    /// Selected receipts opened.
    pub(crate) receipts_opened: AtomicU64,
    /// Audit reports committed.
    pub(crate) audits_reported: AtomicU64,
}

impl Metrics {
    /// Adds one to `c`.
    pub(crate) fn inc(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// Renders the Prometheus text lines.
    pub(crate) fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &str, &AtomicU64); 13] = [
            (
                "comrade_worker_chain_height",
                "gauge",
                "Latest chain height the worker saw.",
                &self.height,
            ),
            (
                "comrade_worker_beacon_reveals_total",
                "counter",
                "Beacon keys revealed.",
                &self.reveals,
            ),
            (
                "comrade_worker_capacity_commits_total",
                "counter",
                "Capacity commitments committed.",
                &self.commits,
            ),
            (
                "comrade_worker_capacity_reveals_total",
                "counter",
                "Opened-row reveals committed.",
                &self.row_reveals,
            ),
            (
                "comrade_worker_sprints_passed_total",
                "counter",
                "Capacity sprints that passed.",
                &self.passed,
            ),
            (
                "comrade_worker_sprints_failed_total",
                "counter",
                "Capacity sprints that failed (wrong rows or paths).",
                &self.failed,
            ),
            (
                "comrade_worker_sprints_missed_total",
                "counter",
                "Capacity sprints missed (not revealed in time).",
                &self.missed,
            ),
            (
                "comrade_worker_last_sprint_rows",
                "gauge",
                "Rows of the last capacity commitment.",
                &self.last_rows,
            ),
            (
                "comrade_worker_last_sprint_rows_per_second",
                "gauge",
                "Proving speed of the last sprint, rows per second.",
                &self.last_rows_per_s,
            ),
            (
                "comrade_worker_errors_total",
                "counter",
                "Failed chain reads and refused or failed transactions.",
                &self.errors,
            ),
            (
                "comrade_worker_receipt_batches_total",
                "counter",
                "Receipt batches committed.",
                &self.receipt_batches,
            ),
            (
                "comrade_worker_receipts_opened_total",
                "counter",
                "Receipts selected for audit and opened.",
                &self.receipts_opened,
            ),
            (
                "comrade_worker_audit_reports_total",
                "counter",
                "Audit reports committed (as an auditor).",
                &self.audits_reported,
            ),
        ];
        for (name, kind, help, v) in rows {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {}", v.load(Relaxed));
        }
    }

    /// The hook the compute server calls on each scrape.
    pub(crate) fn hook(self: &Arc<Self>) -> MetricsHook {
        let m = self.clone();
        MetricsHook(Arc::new(move |out: &mut String| m.render(out)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counters_render_as_prometheus_lines() {
        let m = Arc::new(Metrics::default());
        Metrics::inc(&m.reveals);
        Metrics::inc(&m.reveals);
        m.height.store(42, Relaxed);
        let mut s = String::new();
        (m.hook().0)(&mut s);
        assert!(
            s.contains("\ncomrade_worker_beacon_reveals_total 2\n"),
            "{s}"
        );
        assert!(s.contains("\ncomrade_worker_chain_height 42\n"), "{s}");
        assert!(s.contains("# TYPE comrade_worker_errors_total counter\n"));
    }
}

//! What `/metrics` shows: counters and histograms this process keeps in
//! atomics (adapter calls by outcome, the waits tools asked for, HTTP
//! request latency by route), the database's counts of deliveries and sync
//! runs read at scrape time, and the Prometheus text format (0.0.4) they
//! are written in.
//!
//! It depends on nothing but the standard library: a handful of families
//! with fixed label names and fixed buckets need no metrics framework. The
//! families live in one [`Registry`] behind a global `OnceLock`, so the
//! outbox, the lander, the sync engine and the web layer count into the
//! same place without passing a handle around. In-process numbers are this
//! process's own: each `cophub serve` or `cophub worker` is scraped apart,
//! while the database's counts are the same from any of them.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, OnceLock, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{
    model::channel::ChannelKind,
    ports::{
        adapter::AdapterError,
        store::{Store, StoreError},
    },
};

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds, in seconds, of the request-latency buckets: from a page
/// served from memory to the 60 s the server allows a request.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Every family this process keeps.
#[derive(Debug)]
pub struct Registry {
    /// `cophub_adapter_calls_total{kind, operation, outcome}`: calls to a
    /// channel's tool, by what came of them (`ok` or the error's class).
    pub adapter_calls: Counter,
    /// `cophub_adapter_rate_limit_wait_seconds_total{kind}`: how long the
    /// tools asked us to wait, summed over their rate-limit answers.
    pub rate_limit_wait: Counter,
    /// `cophub_http_request_duration_seconds{method, route, status}`: how
    /// long requests took, by the route's pattern (not its path).
    pub http_requests: Histogram,
}

/// The process's registry.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        adapter_calls: Counter::new(
            "cophub_adapter_calls_total",
            "Calls to a channel's tool, by channel kind, operation and outcome (ok or the error's class).",
            &["kind", "operation", "outcome"],
        ),
        rate_limit_wait: Counter::new(
            "cophub_adapter_rate_limit_wait_seconds_total",
            "Seconds the channels' tools asked cophub to wait, by channel kind.",
            &["kind"],
        ),
        http_requests: Histogram::new(
            "cophub_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route pattern and status.",
            &["method", "route", "status"],
            LATENCY_BUCKETS,
        ),
    })
}

impl Registry {
    /// Writes every family.
    pub fn write(&self, out: &mut Exposition) {
        self.adapter_calls.write(out);
        self.rate_limit_wait.write(out);
        self.http_requests.write(out);
    }
}

/// Counts one call to a channel's tool by its outcome; a rate-limit answer
/// also adds the wait it asked for.
pub fn count_adapter_call<T>(kind: ChannelKind, operation: &str, result: &Result<T, AdapterError>) {
    let registry = registry();
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error_class(error),
    };
    registry
        .adapter_calls
        .inc(&[kind.as_str(), operation, outcome]);
    if let Err(AdapterError::RateLimited { retry_after }) = result {
        registry
            .rate_limit_wait
            .add(&[kind.as_str()], retry_after.as_secs_f64());
    }
}

/// The word for an error's class, as the `outcome` label shows it.
fn error_class(error: &AdapterError) -> &'static str {
    match error {
        AdapterError::RateLimited { .. } => "rate_limited",
        AdapterError::Transient(_) => "transient",
        AdapterError::Ambiguous(_) => "ambiguous",
        AdapterError::Auth(_) => "auth",
        AdapterError::Permanent(_) => "permanent",
        AdapterError::Unsupported(_) => "unsupported",
    }
}

/// The whole exposition: the database's counts, then this process's
/// families.
///
/// # Errors
/// The store's, when the counts cannot be read.
pub async fn render(store: &dyn Store) -> Result<String, StoreError> {
    let counts = store.work_counts().await?;
    let mut out = Exposition::default();
    out.family(
        "cophub_deliveries",
        "Deliveries in the database, by channel kind and state.",
        Kind::Gauge,
    );
    for ((kind, state), count) in &counts.deliveries {
        out.sample(
            "cophub_deliveries",
            &[("kind", kind), ("state", state)],
            *count as f64,
        );
    }
    out.family(
        "cophub_sync_runs",
        "Sync runs in the database, by channel kind and state (planned, held, applied, failed, discarded).",
        Kind::Gauge,
    );
    for ((kind, state), count) in &counts.sync_runs {
        out.sample(
            "cophub_sync_runs",
            &[("kind", kind), ("state", state)],
            *count as f64,
        );
    }
    registry().write(&mut out);
    Ok(out.into_text())
}

/// A family's type, as `# TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (until the process restarts).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in cumulative buckets, with their sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// Text in the Prometheus exposition format, written family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample line: `name{label="value",…} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    /// The text written so far.
    #[must_use]
    pub fn into_text(self) -> String {
        self.text
    }
}

/// `# HELP` text escapes backslashes and line breaks.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

/// Label values escape backslashes, double quotes and line breaks.
fn escape_label(text: &str) -> String {
    text.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// A sample value: Go's spelling of the special values, the shortest
/// decimal that reads back otherwise.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        value.to_string()
    }
}

/// A float kept in an atomic's bits, so it can be added to without a lock.
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn add(&self, amount: f64) {
        // The closure always answers `Some`, so the update cannot fail.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + amount).to_bits())
            });
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// A family's series, by their label values. The map is locked only to
/// find or add a series; counting itself is atomic.
#[derive(Debug)]
struct Series<T> {
    labels: &'static [&'static str],
    map: RwLock<BTreeMap<Vec<String>, Arc<T>>>,
}

impl<T> Series<T> {
    fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            map: RwLock::new(BTreeMap::new()),
        }
    }

    /// The series for these values (as many as the family has labels; a
    /// missing one reads as empty, an extra one is ignored).
    fn get(&self, values: &[&str], make: impl FnOnce() -> T) -> Arc<T> {
        let key: Vec<String> = (0..self.labels.len())
            .map(|i| values.get(i).copied().unwrap_or_default().to_owned())
            .collect();
        if let Some(found) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return found.clone();
        }
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }

    /// Every series, in label order, so a scrape reads the same each time.
    fn snapshot(&self) -> Vec<(Vec<String>, Arc<T>)> {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, series)| (key.clone(), series.clone()))
            .collect()
    }

    fn labelled<'a>(&'a self, values: &'a [String]) -> Vec<(&'a str, &'a str)> {
        self.labels
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect()
    }
}

/// A counter family.
#[derive(Debug)]
pub struct Counter {
    name: &'static str,
    help: &'static str,
    series: Series<AtomicF64>,
}

impl Counter {
    /// A family with these label names.
    #[must_use]
    pub fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            series: Series::new(labels),
        }
    }

    /// Adds one to the series of these label values.
    pub fn inc(&self, values: &[&str]) {
        self.add(values, 1.0);
    }

    /// Adds `amount` (never negative: a counter only goes up).
    pub fn add(&self, values: &[&str], amount: f64) {
        if amount >= 0.0 {
            self.series.get(values, AtomicF64::default).add(amount);
        }
    }

    /// The series' value so far.
    #[must_use]
    pub fn get(&self, values: &[&str]) -> f64 {
        self.series.get(values, AtomicF64::default).get()
    }

    /// Writes the family.
    pub fn write(&self, out: &mut Exposition) {
        out.family(self.name, self.help, Kind::Counter);
        for (values, value) in self.series.snapshot() {
            out.sample(self.name, &self.series.labelled(&values), value.get());
        }
    }
}

/// A histogram family with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    name: &'static str,
    help: &'static str,
    bounds: &'static [f64],
    series: Series<Buckets>,
}

/// One histogram series: a count per bucket (not cumulative; the last slot
/// is above every bound) and the sum. The count and the `+Inf` bucket are
/// both the total of the slots, so they always agree.
#[derive(Debug)]
struct Buckets {
    slots: Vec<AtomicU64>,
    sum: AtomicF64,
}

impl Histogram {
    /// A family with these label names and bucket bounds (ascending).
    #[must_use]
    pub fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Self {
            name,
            help,
            bounds,
            series: Series::new(labels),
        }
    }

    /// Records one observation.
    pub fn observe(&self, values: &[&str], value: f64) {
        let series = self.series.get(values, || Buckets {
            slots: (0..=self.bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicF64::default(),
        });
        let slot = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(slot) = series.slots.get(slot) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        series.sum.add(value);
    }

    /// Writes the family: `_bucket` lines with `le`, then `_sum` and `_count`.
    pub fn write(&self, out: &mut Exposition) {
        out.family(self.name, self.help, Kind::Histogram);
        let (bucket, sum, count) = (
            format!("{}_bucket", self.name),
            format!("{}_sum", self.name),
            format!("{}_count", self.name),
        );
        for (values, series) in self.series.snapshot() {
            let labels = self.series.labelled(&values);
            let mut cumulative = 0;
            for (i, slot) in series.slots.iter().enumerate() {
                cumulative += slot.load(Ordering::Relaxed);
                let le = self
                    .bounds
                    .get(i)
                    .map_or_else(|| "+Inf".into(), |b| number(*b));
                let mut with_le = labels.clone();
                with_le.push(("le", &le));
                out.sample(&bucket, &with_le, cumulative as f64);
            }
            out.sample(&sum, &labels, series.sum.get());
            out.sample(&count, &labels, cumulative as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_counter_writes_help_type_and_one_line_per_label_set_in_order() {
        let counter = Counter::new("t_calls_total", "Calls.", &["kind", "outcome"]);
        counter.inc(&["slack", "ok"]);
        counter.inc(&["slack", "ok"]);
        counter.add(&["email_list", "transient"], 3.0);
        counter.add(&["slack", "ok"], -5.0);
        let mut out = Exposition::default();
        counter.write(&mut out);
        assert_eq!(
            out.into_text(),
            "# HELP t_calls_total Calls.\n\
             # TYPE t_calls_total counter\n\
             t_calls_total{kind=\"email_list\",outcome=\"transient\"} 3\n\
             t_calls_total{kind=\"slack\",outcome=\"ok\"} 2\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let counter = Counter::new("t_total", "A \\ help\nline.", &["route"]);
        counter.inc(&["/a\"b\\c\nd"]);
        let mut out = Exposition::default();
        counter.write(&mut out);
        let text = out.into_text();
        assert!(
            text.starts_with("# HELP t_total A \\\\ help\\nline.\n"),
            "{text}"
        );
        assert!(
            text.contains("t_total{route=\"/a\\\"b\\\\c\\nd\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_histogram_writes_cumulative_buckets_then_sum_and_count() {
        let histogram = Histogram::new("t_seconds", "Time.", &["route"], &[0.1, 1.0]);
        for value in [0.05, 0.1, 0.5, 7.0] {
            histogram.observe(&["/x"], value);
        }
        let mut out = Exposition::default();
        histogram.write(&mut out);
        assert_eq!(
            out.into_text(),
            "# HELP t_seconds Time.\n\
             # TYPE t_seconds histogram\n\
             t_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n\
             t_seconds_bucket{route=\"/x\",le=\"1\"} 3\n\
             t_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n\
             t_seconds_sum{route=\"/x\"} 7.65\n\
             t_seconds_count{route=\"/x\"} 4\n"
        );
    }

    #[test]
    fn special_values_are_spelled_as_prometheus_reads_them() {
        let mut out = Exposition::default();
        out.sample("a", &[], f64::INFINITY);
        out.sample("b", &[], f64::NEG_INFINITY);
        out.sample("c", &[], f64::NAN);
        out.sample("d", &[], 0.25);
        assert_eq!(out.into_text(), "a +Inf\nb -Inf\nc NaN\nd 0.25\n");
    }

    #[test]
    fn an_adapter_call_is_counted_by_its_outcome_and_a_rate_limit_adds_its_wait() {
        let calls = &registry().adapter_calls;
        let wait = &registry().rate_limit_wait;
        // The registry is the process's: other tests may count too, so
        // compare with what was there before (the operation is unique).
        let op = "unit_test_operation";
        let before = wait.get(&["zoom"]);
        count_adapter_call::<()>(ChannelKind::Zoom, op, &Ok(()));
        count_adapter_call::<()>(
            ChannelKind::Zoom,
            op,
            &Err(AdapterError::RateLimited {
                retry_after: Duration::from_millis(1500),
            }),
        );
        count_adapter_call::<()>(ChannelKind::Zoom, op, &Err(AdapterError::Auth("x".into())));
        assert_eq!(calls.get(&["zoom", op, "ok"]), 1.0);
        assert_eq!(calls.get(&["zoom", op, "rate_limited"]), 1.0);
        assert_eq!(calls.get(&["zoom", op, "auth"]), 1.0);
        assert!(wait.get(&["zoom"]) - before >= 1.5);
        let mut out = Exposition::default();
        registry().write(&mut out);
        let text = out.into_text();
        assert!(text.contains(
            "cophub_adapter_calls_total{kind=\"zoom\",operation=\"unit_test_operation\",outcome=\"ok\"} 1\n"
        ));
        assert!(text.contains("# TYPE cophub_http_request_duration_seconds histogram\n"));
    }
}

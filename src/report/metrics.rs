//! The Prometheus exposition (text format 0.0.4) of a scan: what `serve`
//! answers on `/metrics` and what `scan --prometheus` writes for
//! node_exporter's textfile collector. Pure: data in, text out.
//!
//! The text is made in two parts, so that `serve` can render the part that
//! depends on the scan once per scan and the rest (age, counters, process
//! figures) on each scrape:
//! - [`snapshot_text`]: gauges computed from one [`Snapshot`];
//! - [`runtime_text`]: what accumulates across scans ([`ScanHistory`]),
//!   live-catch counters ([`LiveCounts`]), the age of the last scan and the
//!   exporter's own process figures.
//!
//! Metrics come out of `prometheus-client` collectors with constant
//! values, fed from sorted maps: the crate's `Family` keeps a hash map and
//! would print series in a different order on each run. Label values are
//! the exact strings (the crate escapes `\`, `"` and newlines), as in the
//! JSON output. No label carries a pid or an inode, so the number of
//! series is bounded by namespaces x states and by listening sockets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::core::snapshot::{Owner, ScanError, Snapshot};
use crate::core::socket::FindingKind;

/// The `Content-Type` of the text this module makes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The bounded set of values of `selfconn_scan_errors_total{source}`: a scan
/// error's own source is a path (with pids and namespace names in it), so
/// it is reduced to what was being read. `scan`: a scan that produced no
/// result at all.
pub const ERROR_SOURCES: [&str; 7] = [
    "scan",
    "sysctl",
    "tcp_table",
    "setns",
    "netns",
    "sock_diag",
    "other",
];

/// What live catch (kernel events of self-connects and refused retries)
/// has counted since `serve` started. Until that event source feeds it,
/// `serve` exports `selfconn_live_catch_enabled 0` and no counter series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCounts {
    pub enabled: bool,
    /// (netns, process) -> self-connects caught as they happened.
    pub self_connects_caught: BTreeMap<(String, String), u64>,
    /// (netns, process) -> retry storms seen (a stream of refused connects
    /// toward one in-range port: a client on its way to connecting to itself).
    pub retry_storms: BTreeMap<(String, String), u64>,
}

/// The exporter's own process, as the standard `process_*` metrics show it
/// (`prometheus-client` has no process collector; `serve` reads these from
/// `/proc/self`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_memory_bytes: u64,
    pub virtual_memory_bytes: u64,
    /// Since the Unix epoch.
    pub start_time_seconds: f64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
}

/// What accumulates over the scans of one run: their durations and errors.
/// Cloning shares the histogram (the crate's metrics are shared handles).
#[derive(Debug, Clone)]
pub struct ScanHistory {
    durations: Histogram,
    errors: BTreeMap<&'static str, u64>,
}

impl Default for ScanHistory {
    fn default() -> Self {
        ScanHistory {
            // 1 ms .. 8.2 s: a quiet host takes a few ms, 50k connections
            // over 50 namespaces a few hundred.
            durations: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            errors: ERROR_SOURCES.iter().map(|s| (*s, 0)).collect(),
        }
    }
}

impl ScanHistory {
    /// Counts one scan that produced `snapshot`.
    pub fn record_scan(&mut self, snapshot: &Snapshot) {
        self.durations.observe(snapshot.scan_micros as f64 / 1e6);
        self.count_errors(&snapshot.errors);
    }

    /// Counts one scan that produced nothing, with what it could not read.
    pub fn record_failure(&mut self, errors: &[ScanError], took: Duration) {
        self.durations.observe(took.as_secs_f64());
        *self.errors.entry("scan").or_default() += 1;
        self.count_errors(errors);
    }

    fn count_errors(&mut self, errors: &[ScanError]) {
        for e in errors {
            *self.errors.entry(error_source(&e.source)).or_default() += 1;
        }
    }

    /// Errors counted so far with this `source` label.
    pub fn errors(&self, source: &str) -> u64 {
        self.errors.get(source).copied().unwrap_or(0)
    }
}

/// The `source` label for a scan error's source (see [`ERROR_SOURCES`]).
pub fn error_source(source: &str) -> &'static str {
    // Errors from another namespace read `netns NAME: SOURCE`; the name may
    // hold anything, the source after the last ": " is ours.
    let s = match source.strip_prefix("netns ") {
        Some(rest) => rest.rsplit_once(": ").map_or(rest, |(_, s)| s),
        None => source,
    };
    if s.contains("ip_local_port_range") || s.contains("ip_local_reserved_ports") {
        "sysctl"
    } else if s.contains("/net/tcp") || s == "tables" {
        "tcp_table"
    } else if s.contains("setns") {
        "setns"
    } else if s.contains("ns/net") || s.contains("netns") {
        "netns"
    } else if s.contains("diag") {
        "sock_diag"
    } else {
        "other"
    }
}

/// One namespace's figures, keyed by its name.
#[derive(Debug, Clone, Default)]
struct NamespaceRow {
    range_low: u16,
    range_high: u16,
    reserved_ports: u64,
    sockets: u64,
    high_listeners: u64,
    medium_listeners: u64,
}

/// What a snapshot contributes, aggregated and sorted.
#[derive(Debug, Clone, Default)]
struct SnapshotMetrics {
    namespaces: BTreeMap<String, NamespaceRow>,
    /// (netns, family, state) -> sockets.
    self_connected: BTreeMap<(String, &'static str, &'static str), u64>,
    /// (netns, port, risk, process): the same port on IPv4 and IPv6 by one
    /// process is one series.
    listeners: BTreeSet<(String, u16, &'static str, String)>,
    taken_at_seconds: f64,
}

impl SnapshotMetrics {
    fn new(snapshot: &Snapshot) -> SnapshotMetrics {
        let mut m = SnapshotMetrics {
            taken_at_seconds: snapshot.taken_at.timestamp_millis() as f64 / 1e3,
            ..SnapshotMetrics::default()
        };
        for (_, ns) in snapshot.scanned_namespaces() {
            // Two namespaces with one name (rare) share their series.
            let row = m.namespaces.entry(ns.name.clone()).or_default();
            row.range_low = ns.policy.range.low;
            row.range_high = ns.policy.range.high;
            row.reserved_ports = ns
                .policy
                .reserved
                .spans()
                .iter()
                .map(|s| u64::from(s.high - s.low) + 1)
                .sum();
        }
        for socket in &snapshot.sockets {
            let ns = &snapshot.namespace_of(socket).name;
            let row = m.namespaces.entry(ns.clone()).or_default();
            row.sockets += 1;
            let Some(finding) = socket.finding else {
                continue;
            };
            let e = &socket.entry;
            if finding.kind == FindingKind::SelfConnect {
                *m.self_connected
                    .entry((ns.clone(), e.family.as_str(), e.state.as_str()))
                    .or_default() += 1;
                continue;
            }
            let risk = finding.risk.map_or("medium", |r| r.as_str());
            if risk == "high" {
                row.high_listeners += 1;
            } else {
                row.medium_listeners += 1;
            }
            let process = match &socket.owner {
                Owner::Process(p) => p.name.clone(),
                Owner::Unknown(why) => why.short().to_string(),
            };
            m.listeners
                .insert((ns.clone(), e.local.port(), risk, process));
        }
        m
    }
}

impl Collector for SnapshotMetrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        self.encode_findings(&mut enc)?;
        self.encode_policies(&mut enc)
    }
}

impl SnapshotMetrics {
    /// The findings: self-connected sockets and risky listeners.
    fn encode_findings(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        gauges(
            enc,
            "selfconn_self_connected_sockets",
            "Sockets connected to themselves (local address and port equal the remote ones): \
             a client that retried a local port got it as its own source port.",
            self.self_connected.iter().map(|((ns, family, state), n)| {
                (
                    [("netns", ns.as_str()), ("family", family), ("state", state)],
                    *n,
                )
            }),
        )?;
        let ns = &self.namespaces;
        gauges(
            enc,
            "selfconn_risky_listeners",
            "Listening sockets on a port inside the ephemeral range and not reserved: the \
             kernel can hand that port to a client as its source port while the service is \
             down. risk=high: the parity connect() tries first.",
            ns.iter().flat_map(|(name, r)| {
                [
                    (
                        [("netns", name.as_str()), ("risk", "high")],
                        r.high_listeners,
                    ),
                    (
                        [("netns", name.as_str()), ("risk", "medium")],
                        r.medium_listeners,
                    ),
                ]
            }),
        )?;
        gauges(
            enc,
            "selfconn_risky_listener_info",
            "1 for each risky listening port, with the program that holds it.",
            self.listeners.iter().map(|(ns, port, risk, process)| {
                (
                    vec![
                        ("netns", ns.clone()),
                        ("port", port.to_string()),
                        ("risk", risk.to_string()),
                        ("process", process.clone()),
                    ],
                    1,
                )
            }),
        )?;
        Ok(())
    }

    /// Each namespace's port policy and socket count, and when the scan
    /// was taken.
    fn encode_policies(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let ns = &self.namespaces;
        let per_ns = |f: fn(&NamespaceRow) -> u64| {
            ns.iter()
                .map(move |(name, r)| ([("netns", name.as_str())], f(r)))
        };
        gauges(
            enc,
            "selfconn_ephemeral_port_range_low",
            "Low end of net.ipv4.ip_local_port_range: the first port connect() may pick.",
            per_ns(|r| u64::from(r.range_low)),
        )?;
        gauges(
            enc,
            "selfconn_ephemeral_port_range_high",
            "High end of net.ipv4.ip_local_port_range: the last port connect() may pick.",
            per_ns(|r| u64::from(r.range_high)),
        )?;
        gauges(
            enc,
            "selfconn_reserved_ports",
            "Number of ports in net.ipv4.ip_local_reserved_ports (never picked as source ports).",
            per_ns(|r| r.reserved_ports),
        )?;
        gauges(
            enc,
            "selfconn_sockets_scanned",
            "TCP sockets (IPv4 and IPv6, all states) read in the last scan.",
            per_ns(|r| r.sockets),
        )?;
        gauge(
            enc,
            "selfconn_last_scan_timestamp_seconds",
            "When the last scan started, in seconds since the Unix epoch.",
            self.taken_at_seconds,
        )
    }
}

/// Everything that is not the snapshot: see [`runtime_text`].
#[derive(Debug)]
struct RuntimeMetrics {
    history: ScanHistory,
    live: LiveCounts,
    age_seconds: Option<f64>,
    process: Option<ProcessStats>,
}

impl Collector for RuntimeMetrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let m = enc.encode_descriptor(
            "selfconn_scan_duration_seconds",
            "How long each scan took (tables of every namespace, port policies, owners).",
            None,
            MetricType::Histogram,
        )?;
        self.history.durations.encode(m)?;
        counters(
            &mut enc,
            "selfconn_scan_errors",
            "Things a scan could not read, by what was being read (source=scan: a scan \
             that produced no result).",
            self.history
                .errors
                .iter()
                .map(|(source, n)| ([("source", *source)], *n)),
        )?;
        if let Some(age) = self.age_seconds {
            gauge(
                &mut enc,
                "selfconn_last_scan_age_seconds",
                "Seconds since the last successful scan finished: how old the findings and port \
                 policies shown are.",
                age,
            )?;
        }
        gauge(
            &mut enc,
            "selfconn_live_catch_enabled",
            "1 when kernel events are watched to catch self-connects and retry storms as they \
             happen, else 0 (the counters below then stay absent).",
            u64::from(self.live.enabled),
        )?;
        let live = |counts: &BTreeMap<(String, String), u64>| {
            counts
                .iter()
                .map(|((ns, p), n)| ([("netns", ns.clone()), ("process", p.clone())], *n))
                .collect::<Vec<_>>()
        };
        counters(
            &mut enc,
            "selfconn_self_connects_caught",
            "Self-connects caught as they happened, by the connecting program.",
            live(&self.live.self_connects_caught),
        )?;
        counters(
            &mut enc,
            "selfconn_retry_storms",
            "Retry storms seen: a stream of refused connects toward one in-range local port, \
             a client on its way to connecting to itself.",
            live(&self.live.retry_storms),
        )?;
        if let Some(p) = &self.process {
            encode_process(&mut enc, p)?;
        }
        Ok(())
    }
}

/// The standard process metrics, with the names client libraries use.
fn encode_process(enc: &mut DescriptorEncoder, p: &ProcessStats) -> fmt::Result {
    let m = enc.encode_descriptor(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(p.cpu_seconds).encode(m)?;
    let bytes = p.resident_memory_bytes;
    gauge(
        enc,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        bytes,
    )?;
    gauge(
        enc,
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        p.virtual_memory_bytes,
    )?;
    gauge(
        enc,
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    )?;
    gauge(
        enc,
        "process_open_fds",
        "Number of open file descriptors.",
        p.open_fds,
    )?;
    if let Some(max) = p.max_fds {
        gauge(
            enc,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            max,
        )?;
    }
    Ok(())
}

/// One gauge without labels.
fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> fmt::Result {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(m)
}

/// A gauge family: one series per label set, in the order given.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A counter family; `name` without `_total`, which the encoder adds.
fn counters<L: EncodeLabelSet, V: EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn encode(collector: impl Collector) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}

/// The gauges that one snapshot determines: findings, port policies and
/// socket counts per scanned namespace, and when the scan was taken.
pub fn snapshot_text(snapshot: &Snapshot) -> String {
    encode(SnapshotMetrics::new(snapshot))
}

/// The rest: scan durations and errors so far, live-catch counters, the
/// age of the last scan (`serve` only: a textfile's age is its mtime) and
/// the process figures (`serve` only: node_exporter has its own).
pub fn runtime_text(
    history: &ScanHistory,
    live: &LiveCounts,
    age: Option<Duration>,
    process: Option<&ProcessStats>,
) -> String {
    encode(RuntimeMetrics {
        history: history.clone(),
        live: live.clone(),
        age_seconds: age.map(|a| (a.as_millis() as f64) / 1e3),
        process: process.copied(),
    })
}

/// The whole exposition for one snapshot, as `scan --prometheus` writes it.
pub fn textfile(snapshot: &Snapshot, history: &ScanHistory, live: &LiveCounts) -> String {
    snapshot_text(snapshot) + &runtime_text(history, live, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_sources_are_few_and_fixed() {
        for (source, want) in [
            ("/proc/sys/net/ipv4/ip_local_port_range", "sysctl"),
            ("/proc/sys/net/ipv4/ip_local_reserved_ports", "sysctl"),
            ("/proc/thread-self/net/tcp6", "tcp_table"),
            ("/proc/thread-self/net/tcp line 7", "tcp_table"),
            ("netns blue: /proc/4242/net/tcp", "tcp_table"),
            ("netns pid 12 (a: setns): tables", "tcp_table"),
            ("netns blue: setns", "setns"),
            ("/proc/PID/ns/net", "netns"),
            ("netns x: sock_diag", "sock_diag"),
            ("something new", "other"),
        ] {
            assert_eq!(error_source(source), want, "{source}");
            assert!(ERROR_SOURCES.contains(&want));
        }
    }

    #[test]
    fn history_counts_errors_by_source_and_failures_as_scan() {
        let mut h = ScanHistory::default();
        h.record_failure(
            &[
                ScanError::new("/proc/thread-self/net/tcp", "permission denied"),
                ScanError::new("/proc/thread-self/net/tcp6", "permission denied"),
            ],
            Duration::from_millis(3),
        );
        assert_eq!(h.errors("scan"), 1);
        assert_eq!(h.errors("tcp_table"), 2);
        assert_eq!(h.errors("sysctl"), 0);
        let text = runtime_text(&h, &LiveCounts::default(), None, None);
        assert!(text.contains("selfconn_scan_errors_total{source=\"tcp_table\"} 2\n"));
        assert!(text.contains("selfconn_scan_duration_seconds_count 1\n"));
        assert!(text.contains("selfconn_live_catch_enabled 0\n"));
        assert!(!text.contains("selfconn_last_scan_age_seconds"));
        assert!(!text.contains("process_"));
    }
}

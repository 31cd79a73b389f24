//! The retry-storm aggregator: refused connects (`tcp_receive_reset`)
//! counted per (process, target address, port) over a sliding window. A
//! key with at least `threshold` refusals in the window is a storm: a
//! client on its way to connecting to itself when the port is inside the
//! ephemeral range. Memory is bounded: a fixed number of buckets per key
//! and a cap on the number of keys (the least recently seen go first).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::event::ResetReceived;
use super::walk::{TriesEstimate, tries_estimate};
use crate::core::ports::PortRange;

/// The window is counted in this many buckets.
const BUCKETS: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StormConfig {
    /// Refusals within `window` that make a storm.
    pub threshold: u32,
    pub window: Duration,
    /// Keys tracked at most; beyond, the least recently seen are dropped.
    pub max_keys: usize,
    /// How often an ongoing storm is reported again (with its live rate).
    pub update_every: Duration,
}

impl Default for StormConfig {
    fn default() -> Self {
        StormConfig {
            threshold: 100,
            window: Duration::from_secs(10),
            max_keys: 4096,
            update_every: Duration::from_secs(1),
        }
    }
}

/// Who was refused where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct StormKey {
    /// The process (or, when it could not be resolved, the thread) id.
    pub pid: i32,
    /// The address and port it tried to reach.
    pub target: SocketAddr,
}

/// A storm's numbers at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StormStats {
    pub key: StormKey,
    /// Refusals inside the window.
    pub refusals: u64,
    /// Refusals since the key was first seen.
    pub total: u64,
    /// Refusals per second over the window (or the storm's age if shorter).
    pub rate_per_sec: f64,
    /// Kernel timestamps of the first and the last refusal.
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// The source port of the last refused try.
    pub last_source_port: u16,
    /// Whether the port has the parity `connect()` tries first.
    pub connect_parity: bool,
    /// How many more tries until it connects to itself (see `walk`).
    pub estimate: Option<TriesEstimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", content = "stats", rename_all = "snake_case")]
pub enum StormChange {
    Started(StormStats),
    Ongoing(StormStats),
    Ended(StormStats),
}

impl StormChange {
    pub fn stats(&self) -> &StormStats {
        match self {
            StormChange::Started(s) | StormChange::Ongoing(s) | StormChange::Ended(s) => s,
        }
    }
}

#[derive(Debug)]
struct Series {
    /// (bucket index, refusals in it), oldest first, at most `BUCKETS`.
    buckets: VecDeque<(u64, u32)>,
    total: u64,
    first_seen: Duration,
    last_seen: Duration,
    last_source_port: u16,
    active: bool,
    last_report: Duration,
}

/// Counts refusals per key and says when storms start, go on and end.
#[derive(Debug)]
pub struct StormTracker {
    config: StormConfig,
    range: PortRange,
    series: HashMap<StormKey, Series>,
}

impl StormTracker {
    /// `range`: the ephemeral range; refusals on ports outside it are not
    /// on their way to a self-connect and are not counted.
    pub fn new(config: StormConfig, range: PortRange) -> StormTracker {
        StormTracker {
            config,
            range,
            series: HashMap::new(),
        }
    }

    pub fn config(&self) -> &StormConfig {
        &self.config
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn bucket_width(&self) -> Duration {
        (self.config.window / BUCKETS as u32).max(Duration::from_millis(1))
    }

    fn bucket_of(&self, t: Duration) -> u64 {
        (t.as_nanos() / self.bucket_width().as_nanos()) as u64
    }

    /// Counts one refused connect of process `pid`. Returns `Started` when
    /// this refusal makes the key a storm.
    pub fn observe(&mut self, pid: i32, reset: &ResetReceived) -> Option<StormChange> {
        if !self.range.contains(reset.remote.port()) {
            return None;
        }
        let key = StormKey {
            pid,
            target: reset.remote,
        };
        if !self.series.contains_key(&key) && self.series.len() >= self.config.max_keys {
            self.evict_oldest();
        }
        let now = reset.time;
        let bucket = self.bucket_of(now);
        let s = self.series.entry(key).or_insert_with(|| Series {
            buckets: VecDeque::new(),
            total: 0,
            first_seen: now,
            last_seen: now,
            last_source_port: 0,
            active: false,
            last_report: now,
        });
        match s.buckets.back_mut() {
            Some((b, n)) if *b >= bucket => *n += 1,
            _ => s.buckets.push_back((bucket, 1)),
        }
        while s.buckets.len() as u64 > BUCKETS {
            s.buckets.pop_front();
        }
        s.total += 1;
        s.last_seen = s.last_seen.max(now);
        s.last_source_port = reset.local.port();
        if s.active || in_window(s, bucket) < u64::from(self.config.threshold) {
            return None;
        }
        let s = self.series.get_mut(&key)?;
        s.active = true;
        s.last_report = now;
        Some(StormChange::Started(self.stats(&key, now)?))
    }

    /// Advances the clock to `now` (kernel time): ends storms whose window
    /// count fell under half the threshold (so that a storm hovering at the
    /// threshold does not flap), reports ongoing ones every
    /// `update_every`, and forgets quiet keys.
    pub fn tick(&mut self, now: Duration) -> Vec<StormChange> {
        let bucket = self.bucket_of(now);
        let end_below = u64::from(self.config.threshold).div_ceil(2);
        let mut changes = Vec::new();
        let keys: Vec<StormKey> = self.series.keys().copied().collect();
        for key in keys {
            let Some(s) = self.series.get_mut(&key) else {
                continue;
            };
            let count = in_window(s, bucket);
            if s.active && count < end_below {
                s.active = false;
                changes.extend(self.stats(&key, now).map(StormChange::Ended));
            } else if s.active && now.saturating_sub(s.last_report) >= self.config.update_every {
                s.last_report = now;
                changes.extend(self.stats(&key, now).map(StormChange::Ongoing));
            } else if !s.active && count == 0 {
                self.series.remove(&key);
            }
        }
        changes
    }

    /// The numbers of one key as of `now`.
    fn stats(&self, key: &StormKey, now: Duration) -> Option<StormStats> {
        let s = self.series.get(key)?;
        let refusals = in_window(s, self.bucket_of(now));
        let span = now
            .saturating_sub(s.first_seen)
            .clamp(self.bucket_width(), self.config.window);
        let port = key.target.port();
        Some(StormStats {
            key: *key,
            refusals,
            total: s.total,
            rate_per_sec: refusals as f64 / span.as_secs_f64(),
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            last_source_port: s.last_source_port,
            connect_parity: self.range.has_connect_parity(port),
            estimate: tries_estimate(self.range, port),
        })
    }

    /// Drops the least recently seen quarter of the keys, storms or not:
    /// a flood of distinct keys costs one sort per quarter, not one scan
    /// per refusal.
    fn evict_oldest(&mut self) {
        let mut by_age: Vec<(Duration, StormKey)> =
            self.series.iter().map(|(k, s)| (s.last_seen, *k)).collect();
        by_age.sort_unstable_by_key(|(t, _)| *t);
        let drop = (self.series.len() / 4).max(1);
        for (_, key) in by_age.into_iter().take(drop) {
            self.series.remove(&key);
        }
    }
}

/// Refusals in the window that ends with bucket `now`.
fn in_window(s: &Series, now: u64) -> u64 {
    let oldest = now.saturating_sub(BUCKETS - 1);
    s.buckets
        .iter()
        .filter(|(b, _)| *b >= oldest && *b <= now)
        .map(|(_, n)| u64::from(*n))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::live::event::Task;
    use crate::core::socket::Family;

    const RANGE: PortRange = PortRange {
        low: 40000,
        high: 49999,
    };

    fn reset(ms: u64, sport: u16, target: &str) -> ResetReceived {
        ResetReceived {
            time: Duration::from_millis(ms),
            task: Task { tid: 7, comm: None },
            family: Family::Ipv4,
            local: SocketAddr::new("127.0.0.1".parse().unwrap(), sport),
            remote: target.parse().unwrap(),
        }
    }

    fn tracker(threshold: u32) -> StormTracker {
        let config = StormConfig {
            threshold,
            window: Duration::from_secs(10),
            max_keys: 16,
            update_every: Duration::from_secs(1),
        };
        StormTracker::new(config, RANGE)
    }

    #[test]
    fn a_storm_starts_at_the_threshold_with_parity_and_rate() {
        let mut t = tracker(100);
        let mut started = Vec::new();
        for i in 0..150u64 {
            // 150 refusals in 1.5 s.
            started.extend(t.observe(
                42,
                &reset(1000 + i * 10, 40000 + i as u16 * 2, "127.0.0.1:45000"),
            ));
        }
        assert_eq!(started.len(), 1, "{started:?}");
        let StormChange::Started(s) = &started[0] else {
            panic!()
        };
        assert_eq!(s.key.pid, 42);
        assert_eq!(s.key.target, "127.0.0.1:45000".parse().unwrap());
        assert_eq!((s.refusals, s.total), (100, 100));
        assert!(s.connect_parity);
        assert_eq!(s.estimate.map(|e| e.expected), Some(5000));
        // 100 refusals in 0.99 s: about 100/s.
        assert!(
            (90.0..=110.0).contains(&s.rate_per_sec),
            "{}",
            s.rate_per_sec
        );
        assert_eq!(s.first_seen, Duration::from_millis(1000));
        assert_eq!(s.last_source_port, 40198);
    }

    #[test]
    fn below_the_threshold_or_outside_the_range_nothing() {
        let mut t = tracker(100);
        for i in 0..99u64 {
            assert_eq!(t.observe(42, &reset(i, 40001, "127.0.0.1:45001")), None);
        }
        // 99 in the window, spread over keys that differ by pid or address.
        assert_eq!(t.observe(43, &reset(99, 40001, "127.0.0.1:45001")), None);
        assert_eq!(t.observe(42, &reset(99, 40001, "127.0.0.2:45001")), None);
        for i in 0..500u64 {
            assert_eq!(t.observe(42, &reset(i, 40001, "127.0.0.1:8080")), None);
        }
        assert_eq!(t.len(), 3);
        assert!(t.tick(Duration::from_secs(1)).is_empty());
        // An other-parity storm is one, with no estimate.
        let s = (0..100u64)
            .filter_map(|i| t.observe(42, &reset(i, 40001, "127.0.0.1:45001")))
            .last()
            .expect("a storm");
        assert!(!s.stats().connect_parity);
        assert_eq!(s.stats().estimate, None);
    }

    #[test]
    fn refusals_spread_wider_than_the_window_are_no_storm() {
        let mut t = tracker(100);
        // 300 refusals, one every 200 ms: 50 per 10 s window.
        let storms = (0..300u64)
            .filter_map(|i| t.observe(1, &reset(i * 200, 40002, "127.0.0.1:45002")))
            .count();
        assert_eq!(storms, 0);
    }

    #[test]
    fn ongoing_reports_then_the_end() {
        let mut t = tracker(10);
        for i in 0..20u64 {
            t.observe(5, &reset(i * 50, 40000, "[::1]:45000"));
        }
        let on = t.tick(Duration::from_millis(2000));
        assert!(
            matches!(on.as_slice(), [StormChange::Ongoing(s)] if s.refusals == 20),
            "{on:?}"
        );
        // Nothing new within update_every.
        assert!(t.tick(Duration::from_millis(2500)).is_empty());
        // The window has moved past every refusal: ended, with the totals.
        let end = t.tick(Duration::from_millis(11_500));
        let [StormChange::Ended(s)] = end.as_slice() else {
            panic!("{end:?}")
        };
        assert_eq!((s.refusals, s.total), (0, 20));
        assert_eq!(s.last_seen, Duration::from_millis(950));
        // Ended and quiet: forgotten at the next tick.
        assert!(t.tick(Duration::from_millis(12_000)).is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn the_number_of_keys_is_capped_oldest_first() {
        let mut t = tracker(1000);
        for i in 0..100u16 {
            t.observe(i32::from(i), &reset(u64::from(i), 40000, "127.0.0.1:45000"));
            assert!(t.len() <= 16);
        }
        // The most recent key survived, the first one is gone.
        assert!(t.series.contains_key(&StormKey {
            pid: 99,
            target: "127.0.0.1:45000".parse().unwrap()
        }));
        assert!(!t.series.contains_key(&StormKey {
            pid: 0,
            target: "127.0.0.1:45000".parse().unwrap()
        }));
    }
}

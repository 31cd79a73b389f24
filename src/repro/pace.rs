//! The pace of attempts: as fast as possible, or N per second.
//!
//! A schedule of due times, `start + k / rate`. When the loop runs late (a
//! sleep overshoots, an attempt takes long) it catches up by skipping the
//! sleep, but never by more than [`MAX_LAG`]: after a longer stall the
//! schedule restarts from now instead of bursting.
//!
//! Nothing here can overflow: a rate so low that its interval does not fit
//! a `Duration` (or a due time that does not fit an `Instant`) saturates at
//! [`MAX_INTERVAL`], which is longer than any run may last.

use std::time::{Duration, Instant};

/// How far behind the schedule the loop may catch up.
pub const MAX_LAG: Duration = Duration::from_millis(100);

/// The highest rate accepted; above this, ask for "as fast as possible".
pub const MAX_RATE: f64 = 1_000_000.0;

/// The lowest rate the command line accepts: one attempt every 100 s.
pub const MIN_RATE: f64 = 0.01;

/// The longest interval between two attempts. Lower rates saturate here
/// (a day: longer than the longest run, so such a rate means "one attempt").
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Instant,
}

impl Pacer {
    /// `rate` in attempts per second; `None` for no limit. A rate that is
    /// not a positive finite number is treated as no limit (the config is
    /// checked before a run starts). A rate below one per
    /// [`MAX_INTERVAL`] saturates there.
    pub fn new(rate: Option<f64>, start: Instant) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| interval_of(r.min(MAX_RATE)));
        Pacer {
            interval,
            next: start,
        }
    }

    pub fn is_limited(&self) -> bool {
        self.interval.is_some()
    }

    /// Called before each attempt: returns when the attempt is due (`now`
    /// or later) and books the next slot.
    pub fn next_due(&mut self, now: Instant) -> Instant {
        let Some(interval) = self.interval else {
            return now;
        };
        let due = if now.saturating_duration_since(self.next) > MAX_LAG {
            now // too far behind: restart the schedule, no burst
        } else {
            self.next
        };
        self.next = saturating_add(due, interval);
        due.max(now)
    }
}

/// `1 / rate` seconds, at most [`MAX_INTERVAL`] (`1 / 5e-324` is infinite,
/// and `1 / 1e-19` does not fit a `Duration`).
fn interval_of(rate: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / rate).map_or(MAX_INTERVAL, |d| d.min(MAX_INTERVAL))
}

/// `t + d`, or the latest instant reachable from `t` toward it when the sum
/// does not fit an `Instant`. Bounded: the step halves at most 94 times (a
/// `Duration`'s bits) with at most one addition per size, under 256 rounds.
fn saturating_add(t: Instant, d: Duration) -> Instant {
    let mut reached = t;
    let mut step = d;
    let mut left = d;
    for _ in 0..256 {
        if left.is_zero() || step.is_zero() {
            break;
        }
        let take = step.min(left);
        match reached.checked_add(take) {
            Some(next) => {
                reached = next;
                left -= take;
            }
            None => step /= 2,
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_is_always_due() {
        let t0 = Instant::now();
        let mut p = Pacer::new(None, t0);
        assert!(!p.is_limited());
        assert_eq!(p.next_due(t0), t0);
        assert_eq!(p.next_due(t0), t0);
        assert!(!Pacer::new(Some(0.0), t0).is_limited());
        assert!(!Pacer::new(Some(f64::NAN), t0).is_limited());
        assert!(!Pacer::new(Some(f64::INFINITY), t0).is_limited());
        assert!(!Pacer::new(Some(f64::NEG_INFINITY), t0).is_limited());
        assert!(!Pacer::new(Some(-1.0), t0).is_limited());
        assert!(!Pacer::new(Some(-0.0), t0).is_limited());
    }

    #[test]
    fn tiny_rates_saturate_instead_of_overflowing() {
        let t0 = Instant::now();
        // 1e-19 overflowed `Duration::from_secs_f64`; 5e-324 makes 1/r infinite.
        for rate in [1e-19, 1.2e-19, 1e-300, f64::MIN_POSITIVE, 5e-324, 1e-5] {
            let mut p = Pacer::new(Some(rate), t0);
            assert!(p.is_limited(), "{rate}");
            assert_eq!(
                p.next_due(t0),
                t0,
                "{rate}: the first attempt is due at once"
            );
            let second = p.next_due(t0 + Duration::from_millis(1));
            assert_eq!(second, t0 + MAX_INTERVAL, "{rate}");
            // Still no overflow when asked again and again.
            for _ in 0..3 {
                assert!(p.next_due(t0) >= t0 + MAX_INTERVAL, "{rate}");
            }
        }
        // The lowest rate the command line accepts is paced exactly.
        let mut p = Pacer::new(Some(MIN_RATE), t0);
        p.next_due(t0);
        assert_eq!(p.next_due(t0), t0 + Duration::from_secs(100));
    }

    #[test]
    fn huge_rates_are_capped() {
        let t0 = Instant::now();
        for rate in [1e7, 1e300, f64::MAX] {
            let mut p = Pacer::new(Some(rate), t0);
            p.next_due(t0);
            assert_eq!(p.next_due(t0), t0 + Duration::from_micros(1), "{rate}");
        }
    }

    #[test]
    fn adding_saturates_at_the_latest_instant() {
        let t0 = Instant::now();
        assert_eq!(
            saturating_add(t0, Duration::from_secs(5)),
            t0 + Duration::from_secs(5)
        );
        assert_eq!(saturating_add(t0, Duration::ZERO), t0);
        // Duration::MAX does not fit after t0 (an Instant's seconds are an
        // i64): the sum stops at the latest representable instant.
        let far = saturating_add(t0, Duration::MAX);
        assert!(far > t0 + Duration::from_secs(1 << 40));
        assert!(far.checked_add(Duration::from_secs(1)).is_none());
    }

    #[test]
    fn slots_are_spaced_by_the_interval() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(100.0), t0);
        let ms = Duration::from_millis;
        assert_eq!(p.next_due(t0), t0);
        assert_eq!(p.next_due(t0 + ms(1)), t0 + ms(10));
        assert_eq!(p.next_due(t0 + ms(11)), t0 + ms(20));
        // A little late: catch up without waiting.
        assert_eq!(p.next_due(t0 + ms(45)), t0 + ms(45));
        assert_eq!(p.next_due(t0 + ms(46)), t0 + ms(46));
        assert_eq!(p.next_due(t0 + ms(47)), t0 + ms(50));
    }

    #[test]
    fn a_long_stall_restarts_the_schedule_instead_of_bursting() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(100.0), t0);
        let ms = Duration::from_millis;
        p.next_due(t0);
        let late = t0 + ms(1000);
        assert_eq!(p.next_due(late), late);
        // The next slot is one interval later, not due at once.
        assert_eq!(p.next_due(late), late + ms(10));
    }
}

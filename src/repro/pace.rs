//! The pace of attempts: as fast as possible, or N per second.
//!
//! A schedule of due times, `start + k / rate`. When the loop runs late (a
//! sleep overshoots, an attempt takes long) it catches up by skipping the
//! sleep, but never by more than [`MAX_LAG`]: after a longer stall the
//! schedule restarts from now instead of bursting.

use std::time::{Duration, Instant};

/// How far behind the schedule the loop may catch up.
pub const MAX_LAG: Duration = Duration::from_millis(100);

/// The highest rate accepted; above this, ask for "as fast as possible".
pub const MAX_RATE: f64 = 1_000_000.0;

#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Instant,
}

impl Pacer {
    /// `rate` in attempts per second; `None` for no limit. A rate that is
    /// not a positive finite number is treated as no limit (the config is
    /// checked before a run starts).
    pub fn new(rate: Option<f64>, start: Instant) -> Pacer {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r.min(MAX_RATE)));
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
        self.next = due + interval;
        due.max(now)
    }
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

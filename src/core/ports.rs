//! The kernel's port policy for automatic source ports: the ephemeral range
//! (`net.ipv4.ip_local_port_range`) and the reserved list
//! (`net.ipv4.ip_local_reserved_ports`), and the risk of a listening port.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::quote::excerpt;
use super::words::group;

/// How much of a bad value a parse error quotes back.
const ECHO_CHARS: usize = 40;

/// `net.ipv4.ip_local_port_range`: the ports `connect()` and `bind(0)` may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    /// The kernel's default, used when the sysctl cannot be read.
    pub const KERNEL_DEFAULT: PortRange = PortRange {
        low: 32768,
        high: 60999,
    };

    /// Parses the sysctl's text: two numbers separated by white space.
    pub fn parse(text: &str) -> Result<PortRange, String> {
        let mut parts = text.split_whitespace();
        let (Some(low), Some(high), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "expected two ports, found {}",
                excerpt(text.trim(), ECHO_CHARS)
            ));
        };
        let port = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| format!("{} is not a port number", excerpt(s, ECHO_CHARS)))
        };
        let (low, high) = (port(low)?, port(high)?);
        if low == 0 || low > high {
            return Err(format!("{low} {high} is not a valid range"));
        }
        Ok(PortRange { low, high })
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    /// Whether `connect()` without bind tries this port in its first pass:
    /// since Linux 4.6 that pass walks the ports with the parity of `low`.
    pub fn has_connect_parity(&self, port: u16) -> bool {
        (port.wrapping_sub(self.low)) % 2 == 0
    }

    /// A port inside the range with the parity `connect()` picks first, near
    /// the middle of the range, that `is_free` accepts: the best target for a
    /// demonstration.
    pub fn suggest_target(&self, is_free: impl Fn(u16) -> bool) -> Option<u16> {
        let span = u32::from(self.high - self.low);
        let mid = u32::from(self.low) + span / 2;
        let mid = mid - (mid - u32::from(self.low)) % 2;
        // Walk outward from the middle, two ports at a time, within the range.
        (0..=span / 2 + 1)
            .flat_map(|step| [mid + 2 * step, mid.wrapping_sub(2 * step)])
            .filter(|&p| p >= u32::from(self.low) && p <= u32::from(self.high))
            .map(|p| p as u16)
            .find(|&p| is_free(p))
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// One entry of the reserved list: a single port or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PortSpan {
    pub low: u16,
    pub high: u16,
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// `net.ipv4.ip_local_reserved_ports`: ports never picked automatically.
/// Kept sorted and merged, so that the sysctl line we suggest is canonical.
/// Serde: as the sysctl's text, parsed back (so the spans stay sorted and merged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ReservedPorts {
    spans: Vec<PortSpan>,
}

impl ReservedPorts {
    /// Parses the sysctl's text: a comma list of ports and `a-b` ranges
    /// (`1,2-4,44600`); an empty list is valid.
    pub fn parse(text: &str) -> Result<ReservedPorts, String> {
        let mut spans = Vec::new();
        for item in text.trim().split(',').map(str::trim) {
            if item.is_empty() {
                continue;
            }
            let port = |s: &str| {
                s.trim().parse::<u16>().map_err(|_| {
                    format!(
                        "{} in the reserved list is not a port number",
                        excerpt(s.trim(), ECHO_CHARS)
                    )
                })
            };
            let span = match item.split_once('-') {
                Some((a, b)) => PortSpan {
                    low: port(a)?,
                    high: port(b)?,
                },
                None => {
                    let p = port(item)?;
                    PortSpan { low: p, high: p }
                }
            };
            if span.low > span.high {
                return Err(format!(
                    "{} in the reserved list is an empty range",
                    excerpt(item, ECHO_CHARS)
                ));
            }
            spans.push(span);
        }
        Ok(ReservedPorts::from_spans(spans))
    }

    fn from_spans(mut spans: Vec<PortSpan>) -> ReservedPorts {
        spans.sort();
        let mut merged: Vec<PortSpan> = Vec::with_capacity(spans.len());
        for s in spans {
            match merged.last_mut() {
                Some(last) if u32::from(s.low) <= u32::from(last.high) + 1 => {
                    last.high = last.high.max(s.high);
                }
                _ => merged.push(s),
            }
        }
        ReservedPorts { spans: merged }
    }

    pub fn spans(&self) -> &[PortSpan] {
        &self.spans
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn contains(&self, port: u16) -> bool {
        // Few spans in practice; a binary search keeps a 65535-entry list cheap.
        self.spans
            .binary_search_by(|s| {
                if s.high < port {
                    std::cmp::Ordering::Less
                } else if s.low > port {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    /// The list with `port` added, keeping everything already reserved
    /// (writing the sysctl replaces the whole list).
    pub fn with_port(&self, port: u16) -> ReservedPorts {
        let mut spans = self.spans.clone();
        spans.push(PortSpan {
            low: port,
            high: port,
        });
        ReservedPorts::from_spans(spans)
    }

    /// The value to write to the sysctl, e.g. `1-4,44600`: always whole.
    pub fn to_sysctl_value(&self) -> String {
        let parts: Vec<String> = self.spans.iter().map(ToString::to_string).collect();
        parts.join(",")
    }

    /// How many ports the list holds.
    pub fn port_count(&self) -> u32 {
        self.spans
            .iter()
            .map(|s| u32::from(s.high) - u32::from(s.low) + 1)
            .sum()
    }
}

/// How many spans a summary names before it counts the rest.
const SUMMARY_SPANS: usize = 4;

/// For people: the list as the sysctl shows it when short (`1-4,44600`);
/// a long one (up to 32,768 spans) as its first spans, its last, and a
/// count: `1,3,5,7,…,65535 (32,768 ports in 32,768 ranges)`.
impl From<ReservedPorts> for String {
    fn from(r: ReservedPorts) -> String {
        r.to_sysctl_value()
    }
}

impl TryFrom<String> for ReservedPorts {
    type Error = String;
    fn try_from(text: String) -> Result<ReservedPorts, String> {
        ReservedPorts::parse(&text)
    }
}

impl fmt::Display for ReservedPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.spans.is_empty() {
            return f.write_str("none");
        }
        if self.spans.len() <= SUMMARY_SPANS + 2 {
            return f.write_str(&self.to_sysctl_value());
        }
        for s in &self.spans[..SUMMARY_SPANS] {
            write!(f, "{s},")?;
        }
        write!(
            f,
            "…,{} ({} ports in {} ranges)",
            self.spans[self.spans.len() - 1],
            group(u64::from(self.port_count())),
            group(self.spans.len() as u64)
        )
    }
}

/// How likely a listener's port is to be taken as a source port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Other parity: reached by bind-then-connect clients, clients with
    /// `IP_LOCAL_PORT_RANGE` (6.8+), kernels before 4.6, or a busy range.
    Medium,
    /// Same parity as the range's low end: a plain `connect()` loop reaches it.
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::High => "high",
            Risk::Medium => "medium",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The range and the reserved list of one network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortPolicy {
    pub range: PortRange,
    pub reserved: ReservedPorts,
}

impl Default for PortPolicy {
    fn default() -> Self {
        PortPolicy {
            range: PortRange::KERNEL_DEFAULT,
            reserved: ReservedPorts::default(),
        }
    }
}

impl PortPolicy {
    /// Whether the kernel may pick `port` as an automatic source port.
    pub fn is_ephemeral(&self, port: u16) -> bool {
        self.range.contains(port) && !self.reserved.contains(port)
    }

    /// The risk of a service listening on `port`; `None` when the kernel
    /// never picks it (outside the range, or reserved).
    pub fn listener_risk(&self, port: u16) -> Option<Risk> {
        if !self.is_ephemeral(port) {
            None
        } else if self.range.has_connect_parity(port) {
            Some(Risk::High)
        } else {
            Some(Risk::Medium)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_range_sysctl() {
        assert_eq!(
            PortRange::parse("32768\t60999\n").unwrap(),
            PortRange {
                low: 32768,
                high: 60999
            }
        );
        assert!(PortRange::parse("60999 32768").is_err());
        assert!(PortRange::parse("1").is_err());
        assert!(PortRange::parse("1 2 3").is_err());
        assert!(PortRange::parse("a b").is_err());
        assert!(PortRange::parse("0 100").is_err());
    }

    #[test]
    fn parses_merges_and_prints_reserved_lists() {
        let r = ReservedPorts::parse("44600,1,2-4,3,5\n").unwrap();
        assert_eq!(r.to_sysctl_value(), "1-5,44600");
        assert!(r.contains(1) && r.contains(4) && r.contains(44600));
        assert!(!r.contains(6) && !r.contains(44601) && !r.contains(0));
        assert!(ReservedPorts::parse("").unwrap().is_empty());
        assert!(ReservedPorts::parse("\n").unwrap().is_empty());
        assert!(ReservedPorts::parse("5-3").is_err());
        assert!(ReservedPorts::parse("x").is_err());
        assert!(ReservedPorts::parse("70000").is_err());
    }

    #[test]
    fn long_reserved_lists_are_summarised_for_people_and_whole_for_the_sysctl() {
        let short = ReservedPorts::parse("1,3,5,7,9,11").unwrap();
        assert_eq!(short.to_string(), "1,3,5,7,9,11");
        let odd: Vec<String> = (0..32_768u32).map(|i| (2 * i + 1).to_string()).collect();
        let all_odd = ReservedPorts::parse(&odd.join(",")).unwrap();
        assert_eq!(
            all_odd.to_string(),
            "1,3,5,7,…,65535 (32,768 ports in 32,768 ranges)"
        );
        assert_eq!(
            all_odd.to_sysctl_value(),
            odd.join(","),
            "the sysctl value stays whole"
        );
        let mixed = ReservedPorts::parse("1-4,10,20,30,40,50,60-69").unwrap();
        assert_eq!(mixed.port_count(), 19);
        assert_eq!(
            mixed.to_string(),
            "1-4,10,20,30,…,60-69 (19 ports in 7 ranges)"
        );
    }

    #[test]
    fn bad_values_are_quoted_briefly() {
        let huge = "x".repeat(1 << 20);
        let e = PortRange::parse(&huge).unwrap_err();
        assert!(e.len() < 100 && e.contains("1,048,576 bytes"), "{e}");
        let e = PortRange::parse(&format!("1 {huge}")).unwrap_err();
        assert!(e.len() < 100 && e.ends_with("is not a port number"), "{e}");
        let e = ReservedPorts::parse(&format!("1,{huge}")).unwrap_err();
        assert!(e.len() < 120 && e.contains("reserved list"), "{e}");
    }

    #[test]
    fn adding_a_port_keeps_the_existing_list() {
        let r = ReservedPorts::parse("1,2-4").unwrap();
        assert_eq!(r.with_port(44600).to_sysctl_value(), "1-4,44600");
        assert_eq!(r.with_port(5).to_sysctl_value(), "1-5");
        assert_eq!(r.with_port(3).to_sysctl_value(), "1-4");
        assert_eq!(
            ReservedPorts::default().with_port(44600).to_sysctl_value(),
            "44600"
        );
    }

    #[test]
    fn risk_follows_range_parity_and_reservation() {
        let default = PortPolicy::default();
        assert_eq!(default.listener_risk(44600), Some(Risk::High));
        assert_eq!(default.listener_risk(44601), Some(Risk::Medium));
        assert_eq!(default.listener_risk(32768), Some(Risk::High));
        assert_eq!(default.listener_risk(60999), Some(Risk::Medium));
        assert_eq!(default.listener_risk(8080), None);
        assert_eq!(default.listener_risk(61000), None);

        // An odd low end flips which parity connect() uses.
        let odd = PortPolicy {
            range: PortRange::parse("40001 50000").unwrap(),
            reserved: ReservedPorts::parse("45001").unwrap(),
        };
        assert_eq!(odd.listener_risk(40001), Some(Risk::High));
        assert_eq!(odd.listener_risk(44601), Some(Risk::High));
        assert_eq!(odd.listener_risk(44600), Some(Risk::Medium));
        assert_eq!(odd.listener_risk(45001), None, "reserved");
        assert_eq!(odd.listener_risk(40000), None, "below the range");
    }

    #[test]
    fn suggested_target_has_connect_parity_and_is_free() {
        let range = PortRange::KERNEL_DEFAULT;
        let p = range.suggest_target(|_| true).unwrap();
        assert!(range.contains(p) && range.has_connect_parity(p));
        let q = range.suggest_target(|x| x != p).unwrap();
        assert_ne!(p, q);
        assert!(range.has_connect_parity(q));
        let tiny = PortRange { low: 7, high: 7 };
        assert_eq!(tiny.suggest_target(|_| true), Some(7));
        assert_eq!(tiny.suggest_target(|_| false), None);
    }
}

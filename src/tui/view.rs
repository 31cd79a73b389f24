//! Which sockets the table lists, in which order: filtered and sorted once
//! per snapshot or per key, never per frame. The view holds indices into
//! the snapshot, so nothing is cloned.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::core::ports::Risk;
use crate::core::snapshot::{Owner, Snapshot, Socket};
use crate::core::socket::{FindingKind, TcpState};

/// The table's columns, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Finding,
    Family,
    Local,
    Remote,
    State,
    Pid,
    Process,
    User,
    Netns,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Finding,
        Column::Family,
        Column::Local,
        Column::Remote,
        Column::State,
        Column::Pid,
        Column::Process,
        Column::User,
        Column::Netns,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Finding => "FINDING",
            Column::Family => "FAM",
            Column::Local => "LOCAL",
            Column::Remote => "REMOTE",
            Column::State => "STATE",
            Column::Pid => "PID",
            Column::Process => "PROCESS",
            Column::User => "USER",
            Column::Netns => "NETNS",
        }
    }

    /// The column `s` sorts by after this one.
    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|&c| c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

/// The sort: a column in its natural order (findings: most urgent first;
/// others ascending), or reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub reversed: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Finding,
            reversed: false,
        }
    }
}

impl Sort {
    /// `▼` when the column's first row is its "largest" (findings: most urgent).
    pub fn arrow(&self) -> &'static str {
        let natural_desc = self.column == Column::Finding;
        if natural_desc != self.reversed {
            "▼"
        } else {
            "▲"
        }
    }
}

/// The finding column's text.
pub fn finding_label(s: &Socket) -> &'static str {
    match s.finding.map(|f| (f.kind, f.risk)) {
        Some((FindingKind::SelfConnect, _)) => "SELF-CONNECT",
        Some((_, Some(Risk::High))) => "high",
        Some(_) => "medium",
        None => "",
    }
}

/// The process column's text: the name, or why it is unknown.
pub fn process_label(owner: &Owner) -> &str {
    match owner {
        Owner::Process(p) => &p.name,
        Owner::Unknown(why) => why.short(),
    }
}

/// The text of one cell.
pub fn cell_text(snap: &Snapshot, s: &Socket, c: Column) -> String {
    match c {
        Column::Finding => finding_label(s).to_string(),
        Column::Family => match s.entry.family {
            crate::core::socket::Family::Ipv4 => "v4".into(),
            crate::core::socket::Family::Ipv6 => "v6".into(),
        },
        Column::Local => s.entry.local.to_string(),
        Column::Remote => s.entry.remote.to_string(),
        Column::State => s.entry.state.as_str().to_string(),
        Column::Pid => s
            .owner
            .process()
            .map(|p| p.pid.to_string())
            .unwrap_or_else(|| "-".into()),
        Column::Process => process_label(&s.owner).to_string(),
        Column::User => s.user.to_string(),
        Column::Netns => snap.namespace_of(s).name.clone(),
    }
}

/// A socket's identity across snapshots, to keep the selection on it.
/// A self-connect's state changes (ESTABLISHED, then TIME_WAIT), so the
/// state is not part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketKey {
    pub ns: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl SocketKey {
    pub fn of(snap: &Snapshot, s: &Socket) -> SocketKey {
        SocketKey {
            ns: snap.namespace_of(s).id,
            local: s.entry.local,
            remote: s.entry.remote,
        }
    }
}

/// The filter: whitespace-separated words, all of which must occur
/// (case-insensitively) in a socket's port, addresses, state, process,
/// pid, user, namespace or finding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    text: String,
    terms: Vec<String>,
}

impl Filter {
    pub fn new(text: &str) -> Filter {
        Filter {
            text: text.to_string(),
            terms: text.split_whitespace().map(str::to_lowercase).collect(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_active(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Whether `s` matches; `buf` is reused between calls to avoid an
    /// allocation per socket.
    pub fn matches(&self, snap: &Snapshot, s: &Socket, buf: &mut String) -> bool {
        if self.terms.is_empty() {
            return true;
        }
        search_text(snap, s, buf);
        self.matches_text(buf)
    }

    /// Whether a socket's search text (see [`SearchIndex`]) matches.
    pub fn matches_text(&self, text: &str) -> bool {
        self.terms.iter().all(|t| text.contains(t.as_str()))
    }
}

/// The lower-case text a filter searches in, for one socket.
fn search_text(snap: &Snapshot, s: &Socket, buf: &mut String) {
    {
        buf.clear();
        let e = &s.entry;
        let _ = write!(
            buf,
            "{} {} {} {} {} {} {} {}",
            finding_label(s),
            if s.finding.is_some() { "finding" } else { "" },
            e.family.as_str(),
            e.local,
            e.remote,
            e.state.as_str(),
            s.user,
            snap.namespace_of(s).name,
        );
        if let Owner::Process(p) = &s.owner {
            let _ = write!(buf, " {} {}", p.pid, p.name);
        } else {
            let _ = write!(buf, " {}", process_label(&s.owner));
        }
        buf.make_ascii_lowercase();
    }
}

/// The search texts of a snapshot's sockets, built once per snapshot when
/// a filter is used on many sockets: then each key typed into the filter
/// costs substring searches only, not formatting every address again.
#[derive(Debug, Default)]
pub struct SearchIndex {
    texts: Vec<Box<str>>,
}

impl SearchIndex {
    pub fn build(snap: &Snapshot) -> SearchIndex {
        let mut buf = String::with_capacity(160);
        SearchIndex {
            texts: snap
                .sockets
                .iter()
                .map(|s| {
                    search_text(snap, s, &mut buf);
                    buf.as_str().into()
                })
                .collect(),
        }
    }
}

/// An address as one sortable number: IPv4 before IPv6, then the address.
fn ip_key(a: &SocketAddr) -> (u8, u128) {
    match a.ip() {
        std::net::IpAddr::V4(v4) => (0, u128::from(u32::from(v4))),
        std::net::IpAddr::V6(v6) => (1, u128::from(v6)),
    }
}

/// The order of the findings column, also the tie-break of every other
/// column: most urgent first (a live self-connection before the TIME_WAIT
/// remnant of a closed one), then by port, family and addresses. Computed
/// once per socket and sorted as plain numbers: sorting 50k sockets is
/// then a matter of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Urgency {
    severity: std::cmp::Reverse<u8>,
    closed: bool,
    local_port: u16,
    local: (u8, u128),
    remote_port: u16,
    remote: (u8, u128),
    state: &'static str,
    netns: usize,
}

impl Urgency {
    fn of(s: &Socket) -> Urgency {
        let e = &s.entry;
        Urgency {
            severity: std::cmp::Reverse(s.finding.map_or(0, |f| f.severity())),
            closed: matches!(e.state, TcpState::TimeWait | TcpState::Close),
            local_port: e.local.port(),
            local: ip_key(&e.local),
            remote_port: e.remote.port(),
            remote: ip_key(&e.remote),
            state: e.state.as_str(),
            netns: s.netns,
        }
    }
}

/// A socket's value in the sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColumnKey<'a> {
    None,
    Number(i64),
    Address(u16, (u8, u128)),
    Text(&'a str),
}

fn column_key<'a>(snap: &'a Snapshot, c: Column, s: &'a Socket) -> ColumnKey<'a> {
    match c {
        Column::Finding => ColumnKey::None,
        Column::Family => ColumnKey::Number(s.entry.family as i64),
        Column::Local => ColumnKey::Address(s.entry.local.port(), ip_key(&s.entry.local)),
        Column::Remote => ColumnKey::Address(s.entry.remote.port(), ip_key(&s.entry.remote)),
        Column::State => ColumnKey::Text(s.entry.state.as_str()),
        // Known pids first, ascending; unknown owners after.
        Column::Pid => ColumnKey::Number(s.owner.process().map_or(i64::MAX, |p| i64::from(p.pid))),
        Column::Process => ColumnKey::Text(process_label(&s.owner)),
        Column::User => ColumnKey::Text(&s.user),
        Column::Netns => ColumnKey::Text(&snap.namespace_of(s).name),
    }
}

/// The rows of the table and the selection within them.
#[derive(Debug, Clone, Default)]
pub struct TableView {
    /// Indices into the snapshot's sockets, in display order.
    pub rows: Vec<u32>,
    /// The candidates (findings, or all sockets) sorted, before the filter.
    sorted: Vec<u32>,
    /// Index into `rows`.
    pub selected: usize,
    /// The first row on screen.
    pub offset: usize,
    /// The selected socket, to find it again in the next snapshot.
    pub selected_key: Option<SocketKey>,
    /// How many sockets the view chose from (findings, or all).
    pub candidates: usize,
}

impl TableView {
    /// Recomputes the rows for a snapshot, filter and sort, keeping the
    /// selection on the same socket when it is still there. `index`, when
    /// given, must have been built from `snap`.
    pub fn rebuild(
        &mut self,
        snap: &Snapshot,
        all: bool,
        filter: &Filter,
        sort: Sort,
        index: Option<&SearchIndex>,
    ) {
        let mut keyed: Vec<(ColumnKey, Urgency, u32)> = snap
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, s)| all || s.finding.is_some())
            .map(|(i, s)| (column_key(snap, sort.column, s), Urgency::of(s), i as u32))
            .collect();
        keyed.sort_unstable_by(|a, b| {
            let primary = if sort.column == Column::Finding {
                a.1.cmp(&b.1)
            } else {
                a.0.cmp(&b.0)
            };
            let primary = if sort.reversed {
                primary.reverse()
            } else {
                primary
            };
            primary.then_with(|| a.1.cmp(&b.1))
        });
        let sorted: Vec<u32> = keyed.into_iter().map(|(_, _, i)| i).collect();
        self.candidates = sorted.len();
        self.sorted = sorted;
        self.refilter(snap, filter, index);
    }

    /// Applies a new filter to the sorted candidates: no sorting, so each
    /// key typed into the filter costs one pass of substring searches.
    pub fn refilter(&mut self, snap: &Snapshot, filter: &Filter, index: Option<&SearchIndex>) {
        let mut buf = String::with_capacity(160);
        self.rows = if filter.is_active() {
            self.sorted
                .iter()
                .copied()
                .filter(|&i| match index {
                    Some(ix) => filter.matches_text(&ix.texts[i as usize]),
                    None => filter.matches(snap, &snap.sockets[i as usize], &mut buf),
                })
                .collect()
        } else {
            self.sorted.clone()
        };
        let found = self.selected_key.and_then(|k| {
            self.rows
                .iter()
                .position(|&i| SocketKey::of(snap, &snap.sockets[i as usize]) == k)
        });
        match found {
            Some(pos) => self.selected = pos,
            None => {
                self.selected = self.selected.min(self.rows.len().saturating_sub(1));
            }
        }
        self.remember(snap);
    }

    fn remember(&mut self, snap: &Snapshot) {
        self.selected_key = self.selected_socket(snap).map(|s| SocketKey::of(snap, s));
    }

    /// Moves the selection by `delta` rows (clamped).
    pub fn move_by(&mut self, snap: &Snapshot, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        self.remember(snap);
    }

    pub fn select(&mut self, snap: &Snapshot, index: usize) {
        if self.rows.is_empty() {
            return;
        }
        self.selected = index.min(self.rows.len() - 1);
        self.remember(snap);
    }

    /// Adjusts `offset` so that the selection is on screen with `height` rows.
    pub fn scroll_into_view(&mut self, height: usize) {
        self.offset = visible_offset(self.offset, self.selected, self.rows.len(), height);
    }

    pub fn selected_socket<'a>(&self, snap: &'a Snapshot) -> Option<&'a Socket> {
        self.rows
            .get(self.selected)
            .and_then(|&i| snap.sockets.get(i as usize))
    }
}

/// The first row to show so that `selected` is visible, moving as little
/// as possible from `offset`, and never leaving empty rows at the end.
pub fn visible_offset(offset: usize, selected: usize, len: usize, height: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let mut off = offset.min(len.saturating_sub(height));
    if selected < off {
        off = selected;
    } else if selected >= off + height {
        off = selected + 1 - height;
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_selection() {
        assert_eq!(visible_offset(0, 0, 100, 10), 0);
        assert_eq!(visible_offset(0, 9, 100, 10), 0);
        assert_eq!(visible_offset(0, 10, 100, 10), 1);
        assert_eq!(visible_offset(50, 40, 100, 10), 40);
        assert_eq!(visible_offset(95, 99, 100, 10), 90);
        assert_eq!(visible_offset(5, 2, 3, 10), 0);
        assert_eq!(visible_offset(5, 2, 3, 0), 0);
    }

    #[test]
    fn sort_columns_cycle_through_all() {
        let mut c = Column::Finding;
        for _ in 0..Column::ALL.len() {
            c = c.next();
        }
        assert_eq!(c, Column::Finding);
    }
}

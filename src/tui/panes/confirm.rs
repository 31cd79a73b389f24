//! Freeing a port from the dashboard (`K`): the confirmation overlay, its
//! state and its words. `K` on a selected self-connected socket asks
//! "Destroy A ⇄ A held by pid N (name)? y/n"; `y` sends one
//! [`crate::tui::app::Request::FreePort`] (the event loop destroys that
//! socket through `sock_diag`, see [`crate::tui::destroy`]); the answer
//! comes back as a [`DestroyOutcome`] and the overlay says what happened,
//! or, when the kernel refused (not root, no CONFIG_INET_DIAG_DESTROY),
//! why, with the `ss -K` line that does the same by hand.
//!
//! Only a self-connected socket the user selected is ever a target:
//! [`target_of`] refuses anything else, with the reason, and the destroyer
//! checks again against the kernel (same 4-tuple, same inode).

use std::net::SocketAddr;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::core::advice::free_port_fix;
use crate::core::sanitize::terminal_safe_cut;
use crate::core::snapshot::{Namespace, Owner, Socket};
use crate::core::socket::{FindingKind, TcpState};
use crate::tui::app::{App, Effect};
use crate::tui::text::wrap;

/// Process and namespace names are cut to this many cells.
const NAME_WIDTH: usize = 40;
/// The overlay's widest and narrowest (borders included).
const MAX_WIDTH: u16 = 76;
const MIN_WIDTH: u16 = 40;

/// The network namespace a target lives in, as the destroyer opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsHandle {
    /// Its inode: a handle that opens to another namespace is refused.
    pub id: u64,
    pub name: String,
    /// The dashboard's own: no namespace to enter.
    pub own: bool,
    /// A process inside it (`/proc/PID/ns/net`).
    pub pid: Option<i32>,
    /// Its `ip netns` name (`/run/netns/NAME`).
    pub ip_netns: Option<String>,
}

/// The one socket `K` would destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestroyTarget {
    /// Its local address, which is also its remote one.
    pub addr: SocketAddr,
    /// As the scan saw it (0 in TIME_WAIT): a socket made since on the
    /// same address is not touched.
    pub inode: u64,
    pub state: TcpState,
    pub owner: Owner,
    pub netns: NsHandle,
    /// The `ss -K` line that does the same by hand (run inside the
    /// namespace when it is not the own one).
    pub ss_line: String,
}

/// What the kernel answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestroyOutcome {
    Destroyed,
    /// Not root (no CAP_NET_ADMIN in the socket's namespace).
    NotPermitted,
    /// A kernel built without CONFIG_INET_DIAG_DESTROY.
    NotSupported,
    /// The socket is gone already.
    Gone,
    /// Refused for another reason (replaced since, namespace gone, ...).
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Asking,
    /// `y` was pressed; the answer is on its way.
    Destroying,
    Done(DestroyOutcome),
}

/// The overlay's state, held by [`App`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub target: DestroyTarget,
    pub stage: Stage,
}

/// The target for `K` on `socket`, or why there is none (a line for the
/// status line). Only a self-connected socket qualifies.
pub fn target_of(socket: &Socket, ns: &Namespace) -> Result<DestroyTarget, String> {
    let e = &socket.entry;
    let self_connected = socket
        .finding
        .is_some_and(|f| f.kind == FindingKind::SelfConnect)
        && e.local == e.remote;
    if !self_connected {
        let what = match (socket.finding.map(|f| f.kind), e.state) {
            (_, TcpState::Listen) => "a listener".to_string(),
            _ => format!("{} -> {}", e.local, e.remote),
        };
        return Err(format!(
            "{} frees only a port held by a self-connected socket; this row is {what}: nothing done",
            crate::tui::keymap::key_label(crate::tui::keymap::Action::FreePort)
        ));
    }
    if e.state == TcpState::Close {
        return Err(format!(
            "{} is closed already: it holds no port; nothing done",
            e.local
        ));
    }
    let fix = free_port_fix(socket, ns);
    Ok(DestroyTarget {
        addr: e.local,
        inode: e.inode,
        state: e.state,
        owner: socket.owner.clone(),
        netns: NsHandle {
            id: ns.id,
            name: ns.name.clone(),
            own: ns.is_own,
            pid: ns.pid,
            ip_netns: ns.ip_netns.clone(),
        },
        ss_line: fix.commands.last().cloned().unwrap_or_default(),
    })
}

/// "pid 4410 (java)", terminal-safe; the kernel holds a TIME_WAIT socket.
pub fn holder_words(t: &DestroyTarget) -> String {
    match &t.owner {
        Owner::Process(p) => format!("pid {} ({})", p.pid, terminal_safe_cut(&p.name, NAME_WIDTH)),
        _ if t.state == TcpState::TimeWait => "the kernel (TIME_WAIT)".to_string(),
        Owner::Unknown(why) => format!("a process not known ({})", why.reason()),
    }
}

/// The question, as the overlay asks it.
pub fn question(t: &DestroyTarget) -> String {
    format!(
        "Destroy {a} ⇄ {a} held by {}? y/n",
        holder_words(t),
        a = t.addr
    )
}

/// One line for the status line once the kernel answered.
pub fn outcome_notice(t: &DestroyTarget, outcome: &DestroyOutcome) -> String {
    let port = t.addr.port();
    match outcome {
        DestroyOutcome::Destroyed => format!(
            "port {port} freed: destroyed {} ⇄ itself, held by {}",
            t.addr,
            holder_words(t)
        ),
        DestroyOutcome::NotPermitted => {
            format!("not destroyed: needs root; as root: {}", t.ss_line)
        }
        DestroyOutcome::NotSupported => format!(
            "not destroyed: kernel without CONFIG_INET_DIAG_DESTROY; restart {}",
            holder_words(t)
        ),
        DestroyOutcome::Gone => format!("{} is gone already: port {port} not held by it", t.addr),
        DestroyOutcome::Refused(why) => format!("not destroyed: {why}"),
    }
}

/// The overlay's text: what happened and what to do, before the keys.
fn body(c: &Confirm) -> Vec<(String, Kind)> {
    let t = &c.target;
    let port = t.addr.port();
    let ns = if t.netns.own {
        String::new()
    } else {
        format!(
            " (network namespace {})",
            terminal_safe_cut(&t.netns.name, NAME_WIDTH)
        )
    };
    match &c.stage {
        Stage::Asking => vec![
            (question(t), Kind::Value),
            (String::new(), Kind::Plain),
            (
                format!(
                    "Only this one socket{ns} is aborted, as `ss -K` does: its holder gets \
                     ECONNABORTED, and a service can bind {port} again at once (unless the \
                     client bound {port} itself)."
                ),
                Kind::Plain,
            ),
        ],
        Stage::Destroying => vec![(format!("Destroying {} …", t.addr), Kind::Value)],
        Stage::Done(outcome) => outcome_body(t, outcome, &ns),
    }
}

/// What came of the destroy, and (when it was not done) how to do it by
/// hand. `ns` names the namespace when it is not the dashboard's own.
fn outcome_body(t: &DestroyTarget, outcome: &DestroyOutcome, ns: &str) -> Vec<(String, Kind)> {
    let port = t.addr.port();
    let ss = (format!("$ {}", t.ss_line), Kind::Command);
    match outcome {
        DestroyOutcome::Destroyed => vec![
            (
                format!("Destroyed {a} ⇄ {a}{ns}: port {port} is free.", a = t.addr),
                Kind::Value,
            ),
            (
                format!(
                    "Its holder, {}, gets ECONNABORTED on its next read or write. Reserve {port} \
                     or move the service so that it does not happen again (see the details).",
                    holder_words(t)
                ),
                Kind::Plain,
            ),
        ],
        DestroyOutcome::NotPermitted => vec![
            (
                "Not destroyed: destroying a socket needs root (CAP_NET_ADMIN in its network \
                 namespace)."
                    .to_string(),
                Kind::Alert,
            ),
            (format!("As root, this does the same{ns}:"), Kind::Plain),
            ss,
        ],
        DestroyOutcome::NotSupported => vec![
            (
                "Not destroyed: this kernel cannot destroy sockets (built without \
                 CONFIG_INET_DIAG_DESTROY)."
                    .to_string(),
                Kind::Alert,
            ),
            (
                format!(
                    "Restart the client that holds {port}, {}; on a kernel with it, as root:",
                    holder_words(t)
                ),
                Kind::Plain,
            ),
            ss,
        ],
        DestroyOutcome::Gone => vec![(
            format!(
                "Nothing to do: {} is gone already; port {port} is not held through it any more.",
                t.addr
            ),
            Kind::Value,
        )],
        DestroyOutcome::Refused(why) => vec![
            (format!("Not destroyed: {why}"), Kind::Alert),
            (format!("By hand, as root{ns}:"), Kind::Plain),
            ss,
        ],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Value,
    Alert,
    Command,
}

/// The keys the overlay takes; every other key is ignored while it asks
/// (it is modal: nothing is destroyed by a stray key, nothing else runs).
pub fn handle_key(key: &KeyEvent, c: &Confirm) -> Option<Effect> {
    match (&c.stage, key.code) {
        (Stage::Asking, KeyCode::Char('y' | 'Y')) => Some(Effect::FreePortAnswer(true)),
        (Stage::Asking, KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc) => {
            Some(Effect::FreePortAnswer(false))
        }
        (Stage::Done(_), _) => Some(Effect::FreePortAnswer(false)),
        _ => None,
    }
}

fn keys_line(stage: &Stage) -> &'static str {
    match stage {
        Stage::Asking => "y destroy · n or Esc cancel",
        Stage::Destroying => "",
        Stage::Done(_) => "any key closes",
    }
}

/// Draws the overlay centred over `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(c) = app.confirm() else { return };
    let t = app.theme();
    let w = area.width.saturating_sub(4).clamp(MIN_WIDTH, MAX_WIDTH);
    let w = w.min(area.width);
    let text_w = w.saturating_sub(4) as usize;
    let mut lines: Vec<Line> = Vec::new();
    for (text, kind) in body(c) {
        let style = match kind {
            Kind::Plain => t.plain,
            Kind::Value => t.value,
            Kind::Alert => t.high,
            Kind::Command => t.command,
        };
        let (first, rest) = if kind == Kind::Command {
            ("", "    ")
        } else {
            ("", "")
        };
        if text.is_empty() {
            lines.push(Line::raw(""));
            continue;
        }
        for l in wrap(&text, text_w, first, rest) {
            lines.push(Line::styled(l, style));
        }
    }
    let keys = keys_line(&c.stage);
    if !keys.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(keys, t.key)));
    }
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + area.height.saturating_sub(h) / 2,
        w,
        h,
    );
    let title = format!(" Free port {} ", c.target.addr.port());
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(t.border(true))
        .title(Span::styled(title, t.heading));
    let inner = block.inner(rect).inner(ratatui::layout::Margin::new(1, 0));
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::{ProcessInfo, UnknownOwner};
    use crate::core::socket::{Family, SocketEntry, classify};

    fn ns(own: bool) -> Namespace {
        Namespace {
            id: 7,
            name: if own { "host" } else { "blue" }.into(),
            is_own: own,
            ip_netns: (!own).then(|| "blue".to_string()),
            ..Namespace::default()
        }
    }

    fn sock(local: &str, remote: &str, state: TcpState, n: &Namespace) -> Socket {
        let entry = SocketEntry {
            family: Family::Ipv4,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 99,
            uid: 0,
        };
        Socket {
            finding: classify(&entry, &n.policy),
            entry,
            owner: Owner::Process(std::sync::Arc::new(ProcessInfo {
                pid: 4410,
                name: "ja\x1bva".into(),
                cmdline: "java".into(),
                user: "kafka".into(),
            })),
            user: "kafka".into(),
            netns: 0,
        }
    }

    const A: &str = "127.0.0.1:44600";

    #[test]
    fn only_a_self_connected_socket_is_a_target() {
        let n = ns(true);
        let t = target_of(&sock(A, A, TcpState::Established, &n), &n).unwrap();
        assert_eq!(t.inode, 99);
        assert_eq!(
            t.ss_line,
            "ss -K -tn 'src 127.0.0.1:44600 and dst 127.0.0.1:44600'"
        );
        assert_eq!(
            question(&t),
            "Destroy 127.0.0.1:44600 ⇄ 127.0.0.1:44600 held by pid 4410 (ja\\x1bva)? y/n"
        );
        let l = sock("0.0.0.0:44600", "0.0.0.0:0", TcpState::Listen, &n);
        let why = target_of(&l, &n).unwrap_err();
        assert!(why.contains("this row is a listener"), "{why}");
        let other = sock(A, "127.0.0.1:80", TcpState::Established, &n);
        assert!(
            target_of(&other, &n)
                .unwrap_err()
                .contains("-> 127.0.0.1:80")
        );
    }

    #[test]
    fn another_namespace_and_time_wait_get_their_own_ss_line() {
        let n = ns(false);
        let mut s = sock(A, A, TcpState::TimeWait, &n);
        s.owner = Owner::Unknown(UnknownOwner::KernelHeld);
        let t = target_of(&s, &n).unwrap();
        assert_eq!(
            t.ss_line,
            "ip netns exec blue ss -K -tn state time-wait 'src 127.0.0.1:44600 and dst \
             127.0.0.1:44600'"
        );
        assert_eq!(holder_words(&t), "the kernel (TIME_WAIT)");
        let c = Confirm {
            target: t.clone(),
            stage: Stage::Done(DestroyOutcome::NotPermitted),
        };
        let text: Vec<String> = body(&c).into_iter().map(|(s, _)| s).collect();
        assert!(text[0].contains("needs root"), "{text:?}");
        assert_eq!(text[2], format!("$ {}", t.ss_line));
        assert!(outcome_notice(&t, &DestroyOutcome::NotPermitted).ends_with(&t.ss_line));
    }

    #[test]
    fn keys_answer_only_while_asking_and_any_key_closes_the_result() {
        let n = ns(true);
        let target = target_of(&sock(A, A, TcpState::Established, &n), &n).unwrap();
        let mut c = Confirm {
            target,
            stage: Stage::Asking,
        };
        let k = |code| KeyEvent::from(code);
        assert_eq!(
            handle_key(&k(KeyCode::Char('y')), &c),
            Some(Effect::FreePortAnswer(true))
        );
        assert_eq!(
            handle_key(&k(KeyCode::Esc), &c),
            Some(Effect::FreePortAnswer(false))
        );
        assert_eq!(handle_key(&k(KeyCode::Char('j')), &c), None);
        c.stage = Stage::Destroying;
        assert_eq!(handle_key(&k(KeyCode::Char('y')), &c), None);
        c.stage = Stage::Done(DestroyOutcome::Destroyed);
        assert_eq!(
            handle_key(&k(KeyCode::Char('y')), &c),
            Some(Effect::FreePortAnswer(false))
        );
    }
}

//! Plain words for an incident (a listener gone, then a self-connection
//! holding its port): one sentence for an event log, what is known and
//! what is inferred, and its timeline. The fixes are those of the
//! self-connected socket ([`super::advice::free_port_fix`] first).

use super::changes::{Fact, Incident, Inference, Timeline, TimelineStep};
use super::snapshot::Owner;
use super::socket::TcpState;
use super::words::time_of_day;

/// A duration in ms as people say it: `850 ms`, `3.2 s`, `4 min 10 s`.
fn delay_words(ms: i64) -> String {
    match ms {
        ..1000 => format!("{} ms", ms.max(0)),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// "pid 3121, java, user kafka", or why the owner is unknown.
fn owner_short(owner: &Owner, with_user: bool) -> String {
    match owner {
        Owner::Process(p) if with_user => format!("pid {}, {}, user {}", p.pid, p.name, p.user),
        Owner::Process(p) => format!("pid {} ({})", p.pid, p.name),
        Owner::Unknown(why) => format!("owner unknown: {}", why.reason()),
    }
}

/// An incident in one sentence: the listener gone, the self-connection
/// that took its port, and what follows. Names from other processes are
/// not made terminal-safe here: the screen that shows it does that.
pub fn incident_summary(i: &Incident) -> String {
    let l = &i.listener;
    let h = &i.self_connect;
    let port = i.port;
    let when = if i.delay_ms == 0 {
        "by the next scan".to_string()
    } else {
        format!("{} later", delay_words(i.delay_ms))
    };
    let holder = match &h.owner {
        Owner::Process(_) => owner_short(&h.owner, false),
        Owner::Unknown(_) => "a process".to_string(),
    };
    let tail = if i.inferred.contains(&Inference::ServiceCannotBind) {
        let until = if h.state == TcpState::TimeWait {
            "that socket leaves TIME_WAIT (up to 60 s)"
        } else {
            "that socket closes"
        };
        format!(
            " and now holds the port: the service cannot bind {port} again (EADDRINUSE) until \
             {until}"
        )
    } else if !i.known.contains(&Fact::NoListenerOnPort) {
        format!("; a listener is on {port} again")
    } else {
        format!(
            "; the socket is closing ({}) and frees the port within 60 s",
            h.state
        )
    };
    format!(
        "{port}: the listener ({}) went away at {}; {when} {holder} connected to itself on \
         {port}{tail}.",
        owner_short(&l.owner, true),
        time_of_day(&l.gone_at),
    )
}

/// What the scans showed, and what is inferred from it, one line each.
pub fn incident_known_and_inferred(i: &Incident) -> (Vec<String>, Vec<String>) {
    let port = i.port;
    let l = &i.listener;
    let known = i
        .known
        .iter()
        .map(|f| match f {
            Fact::ListenerGone => format!(
                "A listener on {} was seen until {} and was gone at {}.",
                l.addr,
                time_of_day(&l.last_seen),
                time_of_day(&l.gone_at)
            ),
            Fact::SelfConnectOnPort => format!(
                "{} is connected to itself ({}) since {}, {} after the listener was gone (at \
                 most {} after its last sighting).",
                i.self_connect.addr,
                i.self_connect.state,
                time_of_day(&i.self_connect.first_seen),
                delay_words(i.delay_ms),
                delay_words(i.delay_at_most_ms)
            ),
            Fact::NoListenerOnPort => format!("Nothing listens on {port}."),
            Fact::PortHeld => format!(
                "The self-connected socket is {}: it holds {port}.",
                if i.self_connect.state == TcpState::TimeWait {
                    "in TIME_WAIT (up to 60 s)"
                } else {
                    "open"
                }
            ),
        })
        .collect();
    let inferred = i
        .inferred
        .iter()
        .map(|f| match f {
            Inference::PortTakenByRetryingClient => format!(
                "A client kept connecting to {port} after the service stopped, and the kernel \
                 gave it {port} as its own source port."
            ),
            Inference::ServiceCannotBind => {
                "The service has not come back: its port is held (a bind() fails with \
                 EADDRINUSE until that socket closes)."
                    .to_string()
            }
        })
        .collect();
    (known, inferred)
}

/// An incident's timeline, one line per step that happened, oldest first
/// (the listener's last sighting only when it differs from its first).
pub fn timeline_lines(t: &Timeline) -> Vec<String> {
    t.steps()
        .into_iter()
        .filter(|(at, step)| !(*step == TimelineStep::ListenerLastSeen && *at == t.listener_seen))
        .map(|(at, step)| {
            let what = match step {
                TimelineStep::ListenerSeen => "listener seen".to_string(),
                TimelineStep::ListenerLastSeen => "listener last seen".to_string(),
                TimelineStep::ListenerGone => "listener gone".to_string(),
                TimelineStep::Retries => match &t.retries {
                    Some(r) => format!(
                        "{} failed connects to the port, until {}",
                        r.count,
                        time_of_day(&r.last)
                    ),
                    None => "failed connects to the port".to_string(),
                },
                TimelineStep::SelfConnect => "a client connected to itself on the port".to_string(),
                TimelineStep::BindFailure => match &t.bind_failure {
                    Some(b) => {
                        let by = match (b.pid, &b.name) {
                            (Some(p), Some(n)) => format!(" (pid {p} {n})"),
                            (Some(p), None) => format!(" (pid {p})"),
                            _ => String::new(),
                        };
                        format!("bind() of the port failed with {}{by}", b.errno)
                    }
                    None => "bind() of the port failed".to_string(),
                },
                TimelineStep::PortFreed => {
                    "the self-connected socket is gone: the port is free".to_string()
                }
                TimelineStep::ListenerBack => "a listener is on the port again".to_string(),
            };
            format!("{} {what}", time_of_day(&at))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changes::fixtures::{host, listener, snap, sock, t};
    use crate::core::changes::{ChangeKind, ChangeTracker};
    use crate::core::socket::TcpState;

    fn incident(state: TcpState, back: bool) -> (Incident, Timeline) {
        let mut tr = ChangeTracker::new();
        tr.observe(&snap(
            0,
            host(),
            vec![listener(44600, Some((3121, "java")))],
        ));
        tr.observe(&snap(2, host(), vec![]));
        let a = "127.0.0.1:44600";
        let mut socks = vec![sock(a, a, state, Some((4410, "java")))];
        if back {
            let mut l = listener(44600, None);
            l.entry.local = "10.0.0.1:44600".parse().unwrap();
            socks.push(l);
        }
        let changes = tr.observe(&snap(5, host(), socks));
        let Some(ChangeKind::PortStolen(i)) = changes.into_iter().map(|c| c.kind).last() else {
            panic!("an incident expected");
        };
        (*i, tr.incidents()[0].timeline.clone())
    }

    #[test]
    fn the_summary_links_the_listener_and_the_socket_that_holds_its_port() {
        let (i, _) = incident(TcpState::Established, false);
        assert_eq!(
            incident_summary(&i),
            format!(
                "44600: the listener (pid 3121, java, user alice) went away at {}; 3.0 s later \
                 pid 4410 (java) connected to itself on 44600 and now holds the port: the \
                 service cannot bind 44600 again (EADDRINUSE) until that socket closes.",
                time_of_day(&t(2))
            )
        );
        let (known, inferred) = incident_known_and_inferred(&i);
        assert_eq!(known.len(), 4);
        assert!(known[1].contains("3.0 s after the listener was gone (at most 5.0 s"));
        assert_eq!(known[2], "Nothing listens on 44600.");
        assert!(inferred[1].starts_with("The service has not come back: its port is held"));
    }

    #[test]
    fn the_summary_says_when_a_listener_is_back_or_the_socket_is_in_time_wait() {
        let (i, timeline) = incident(TcpState::Established, true);
        assert!(incident_summary(&i).ends_with("; a listener is on 44600 again."));
        assert!(
            timeline_lines(&timeline)
                .last()
                .unwrap()
                .ends_with("a listener is on the port again")
        );
        let (i, _) = incident(TcpState::TimeWait, false);
        assert!(
            incident_summary(&i).ends_with("until that socket leaves TIME_WAIT (up to 60 s)."),
            "{}",
            incident_summary(&i)
        );
    }

    #[test]
    fn the_timeline_lists_what_happened_in_order() {
        let (_, mut timeline) = incident(TcpState::Established, false);
        timeline.bind_failure = Some(crate::core::changes::BindFailure {
            at: t(6),
            pid: Some(3121),
            name: Some("java".into()),
            errno: "EADDRINUSE".into(),
        });
        let lines = timeline_lines(&timeline);
        let words: Vec<&str> = lines.iter().map(|l| &l[9..]).collect();
        assert_eq!(
            words,
            vec![
                "listener seen",
                "listener gone",
                "a client connected to itself on the port",
                "bind() of the port failed with EADDRINUSE (pid 3121 java)"
            ]
        );
        assert!(lines[1].starts_with(&time_of_day(&t(2))));
        // Seen in several scans: its last sighting is a step of its own.
        timeline.listener_last_seen = t(1);
        assert_eq!(&timeline_lines(&timeline)[1][9..], "listener last seen");
        assert_eq!(delay_words(850), "850 ms");
        assert_eq!(delay_words(250_000), "4 min 10 s");
    }
}

//! Key and mouse handling on fixed data: filter, sort, pause, selection,
//! panes, help, quitting.

mod dashboard_fixture;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use dashboard_fixture::*;
use selfconn_tui::tui::app::Request;
use selfconn_tui::tui::event::Event;
use selfconn_tui::tui::pane::PaneId;
use selfconn_tui::tui::theme::Theme;
use selfconn_tui::tui::view::Column;

fn dash() -> selfconn_tui::tui::dashboard::Dashboard {
    let mut d = busy_dashboard(Theme::default_dark());
    render(&mut d, 120, 40);
    d
}

const FINDINGS: [&str; 4] = [
    "127.0.0.1:44600",
    "127.0.0.1:45002",
    "0.0.0.0:40000",
    "[::]:40001",
];

#[test]
fn findings_come_first_by_urgency_and_a_shows_everything() {
    let mut d = dash();
    assert_eq!(rows(&d), FINDINGS);
    d.handle(ch('a'));
    let all = rows(&d);
    assert_eq!(all.len(), 8);
    assert_eq!(all[..4], FINDINGS);
    d.handle(ch('a'));
    assert_eq!(rows(&d), FINDINGS);
    // The scanner is asked for every socket's owner only while they are listed.
    assert_eq!(
        d.app.requests(),
        vec![Request::AllOwners(true), Request::AllOwners(false)]
    );
}

#[test]
fn filter_applies_while_typing_and_matches_port_address_state_process_user() {
    let mut d = dash();
    d.handle(ch('a'));
    d.handle(ch('/'));
    assert!(d.app.filter_being_typed().is_some());
    typed(&mut d, "4000");
    assert_eq!(
        rows(&d),
        vec!["0.0.0.0:40000", "[::]:40001", "127.0.0.1:38000"],
        "port, as typed so far"
    );
    d.handle(ch('1'));
    assert_eq!(rows(&d), vec!["[::]:40001"]);
    d.handle(key(KeyCode::Enter));
    assert!(
        d.app.filter_being_typed().is_none(),
        "Enter keeps the filter"
    );
    assert_eq!(d.app.filter().text(), "40001");
    assert_eq!(rows(&d), vec!["[::]:40001"]);
    // Esc clears it.
    d.handle(key(KeyCode::Esc));
    assert_eq!(rows(&d).len(), 8);

    let only = |d: &mut selfconn_tui::tui::dashboard::Dashboard, text: &str| {
        d.handle(ch('/'));
        d.handle(ctrl('u'));
        typed(d, text);
        d.handle(key(KeyCode::Enter));
        rows(d)
    };
    assert_eq!(only(&mut d, "POSTGRES"), vec!["0.0.0.0:40000"]);
    assert_eq!(only(&mut d, "time_wait"), vec!["127.0.0.1:45002"]);
    assert_eq!(only(&mut d, "10.0.0.9"), vec!["10.0.0.5:22"]);
    assert_eq!(only(&mut d, "mysql"), vec!["[::]:40001"]);
    assert_eq!(only(&mut d, "4242"), vec!["127.0.0.1:44600"]);
    assert_eq!(only(&mut d, "need root"), vec!["[::]:40001"]);
    assert_eq!(
        only(&mut d, "listen 127.0.0.1"),
        vec!["127.0.0.1:44700"],
        "every word must match"
    );
    assert_eq!(only(&mut d, "host").len(), 8, "the namespace name");
    assert!(only(&mut d, "nothing-like-this").is_empty());
}

#[test]
fn esc_while_typing_clears_and_backspace_edits() {
    let mut d = dash();
    d.handle(ch('/'));
    typed(&mut d, "45002x");
    assert!(rows(&d).is_empty());
    d.handle(key(KeyCode::Backspace));
    assert_eq!(rows(&d), vec!["127.0.0.1:45002"]);
    d.handle(key(KeyCode::Esc));
    assert!(d.app.filter_being_typed().is_none());
    assert!(!d.app.filter().is_active());
    assert_eq!(rows(&d), FINDINGS);
    // Keys typed into the filter are not commands.
    d.handle(ch('/'));
    typed(&mut d, "q a s");
    assert!(!d.app.wants_quit());
    assert!(!d.app.shows_all());
}

#[test]
fn s_cycles_the_sort_column_and_capital_s_reverses_it() {
    let mut d = dash();
    assert_eq!(d.app.sort().column, Column::Finding);
    d.handle(ch('s'));
    assert_eq!(d.app.sort().column, Column::Family);
    // IPv4 first, ties by urgency.
    assert_eq!(
        rows(&d),
        vec![
            "127.0.0.1:44600",
            "127.0.0.1:45002",
            "0.0.0.0:40000",
            "[::]:40001"
        ]
    );
    d.handle(ch('s'));
    assert_eq!(d.app.sort().column, Column::Local);
    assert_eq!(
        rows(&d),
        vec![
            "0.0.0.0:40000",
            "[::]:40001",
            "127.0.0.1:44600",
            "127.0.0.1:45002"
        ]
    );
    d.handle(ch('S'));
    assert!(d.app.sort().reversed);
    assert_eq!(
        rows(&d),
        vec![
            "127.0.0.1:45002",
            "127.0.0.1:44600",
            "[::]:40001",
            "0.0.0.0:40000"
        ]
    );
    for _ in 0..Column::ALL.len() - 2 {
        d.handle(ch('s'));
    }
    assert_eq!(d.app.sort().column, Column::Finding, "wraps around");
    assert!(
        !d.app.sort().reversed,
        "a new column starts in its natural order"
    );
    assert_eq!(rows(&d), FINDINGS);
}

#[test]
fn selection_moves_and_follows_its_socket_across_refreshes() {
    let mut d = dash();
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));
    d.handle(ch('j'));
    d.handle(key(KeyCode::Down));
    assert_eq!(selected(&d).as_deref(), Some("0.0.0.0:40000"));
    d.handle(ch('k'));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:45002"));
    d.handle(ch('G'));
    assert_eq!(selected(&d).as_deref(), Some("[::]:40001"));
    d.handle(ch('j'));
    assert_eq!(
        selected(&d).as_deref(),
        Some("[::]:40001"),
        "stays at the end"
    );
    d.handle(ch('g'));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));
    d.handle(key(KeyCode::PageDown));
    assert_eq!(selected(&d).as_deref(), Some("[::]:40001"));
    d.handle(key(KeyCode::PageUp));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));

    // Select the listener, then the self-connect at 44600 goes away: the
    // selection stays on the listener although its row moved up.
    d.handle(ch('j'));
    d.handle(ch('j'));
    assert_eq!(selected(&d).as_deref(), Some("0.0.0.0:40000"));
    let mut s = busy_snapshot(at(12, 0, 6));
    s.sockets.retain(|s| s.entry.local.port() != 44600);
    d.handle(scan(s));
    assert_eq!(rows(&d)[1], "0.0.0.0:40000");
    assert_eq!(selected(&d).as_deref(), Some("0.0.0.0:40000"));
    // ... and it is on record in the log.
    let log: Vec<String> = d
        .app
        .tracker()
        .entries()
        .iter()
        .map(|e| e.message())
        .collect();
    assert!(
        log.iter()
            .any(|m| m.starts_with("self-connect 127.0.0.1:44600 gone")),
        "{log:#?}"
    );
}

#[test]
fn space_pauses_the_view_but_not_the_log() {
    let mut d = dash();
    d.set_now(at(12, 0, 10));
    d.handle(ch(' '));
    assert_eq!(d.app.paused_since(), Some(at(12, 0, 10)));
    let entries = d.app.tracker().len();
    let mut s = busy_snapshot(at(12, 0, 11));
    s.sockets.retain(|s| s.entry.local.port() != 40000);
    d.handle(scan(s));
    assert_eq!(rows(&d), FINDINGS, "the view is frozen");
    assert_eq!(
        d.app.snapshot().unwrap().taken_at,
        at(12, 0, 4),
        "still the old scan"
    );
    assert_eq!(
        d.app.tracker().len(),
        entries + 1,
        "the log saw the listener go"
    );
    let last = d.app.tracker().entries().back().unwrap().message();
    assert!(
        last.starts_with("nothing listens on 40000 any more"),
        "{last}"
    );
    // The frozen view still answers keys.
    d.handle(ch('j'));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:45002"));
    d.handle(ch(' '));
    assert!(d.app.paused_since().is_none());
    assert_eq!(d.app.snapshot().unwrap().taken_at, at(12, 0, 11));
    assert_eq!(
        rows(&d),
        vec!["127.0.0.1:44600", "127.0.0.1:45002", "[::]:40001"]
    );
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:45002"));
}

#[test]
fn tab_cycles_panes_and_enter_shows_details_full_size() {
    let mut d = dash();
    assert_eq!(d.app.focus(), PaneId::Sockets);
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.focus(), PaneId::Details);
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.focus(), PaneId::Events);
    d.handle(key(KeyCode::BackTab));
    assert_eq!(d.app.focus(), PaneId::Details);
    d.handle(key(KeyCode::Tab));
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.focus(), PaneId::Sockets);

    d.handle(key(KeyCode::Enter));
    assert_eq!(d.app.zoomed(), Some(PaneId::Details));
    assert_eq!(d.app.focus(), PaneId::Details);
    let areas = d.areas();
    assert_eq!(areas.panes.len(), 1);
    assert_eq!(areas.panes[0].0, PaneId::Details);
    // In the details, j scrolls the text, not the table.
    d.handle(ch('j'));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));
    d.handle(key(KeyCode::Esc));
    assert_eq!(d.app.zoomed(), None);
    assert_eq!(d.app.focus(), PaneId::Sockets);
    d.handle(key(KeyCode::Enter));
    d.handle(key(KeyCode::Enter));
    assert_eq!(d.app.zoomed(), None, "Enter again goes back");
}

#[test]
fn help_opens_scrolls_and_closes_and_swallows_other_keys() {
    let mut d = dash();
    d.handle(ch('?'));
    assert!(d.app.help_open());
    d.handle(ch('a'));
    assert!(!d.app.shows_all(), "keys under help do nothing");
    d.handle(key(KeyCode::Esc));
    assert!(!d.app.help_open());
    d.handle(ch('?'));
    d.handle(ch('?'));
    assert!(!d.app.help_open());
    d.handle(ch('?'));
    d.handle(ch('q'));
    assert!(d.app.wants_quit(), "q quits from help too");
}

#[test]
fn q_and_ctrl_c_quit_even_while_typing_a_filter() {
    let mut d = dash();
    d.handle(ch('q'));
    assert!(d.app.wants_quit());
    let mut d = dash();
    d.handle(ctrl('c'));
    assert!(d.app.wants_quit());
    let mut d = dash();
    d.handle(ch('/'));
    d.handle(ctrl('c'));
    assert!(d.app.wants_quit());
}

#[test]
fn r_opens_the_repro_pane_and_esc_closes_it() {
    let mut d = dash();
    assert!(
        !d.app.tab_order().contains(&PaneId::Repro),
        "not in Tab order yet"
    );
    assert!(d.handle(ch('r')));
    assert!(d.app.repro().is_open());
    assert_eq!(d.app.focus(), PaneId::Repro);
    assert_eq!(d.areas().of(PaneId::Repro).map(|r| r.width), Some(120));
    assert!(
        matches!(d.app.requests(), [Request::Repro(_)]),
        "a port is asked for: {:?}",
        d.app.requests()
    );
    // In the pane, `s` starts (here: no port yet, so it says so) instead of sorting.
    d.handle(ch('s'));
    assert_eq!(d.app.sort().column, Column::Finding);
    d.handle(key(KeyCode::Esc));
    assert!(!d.app.repro().is_open());
    assert_eq!(d.app.focus(), PaneId::Sockets);
    assert!(!d.app.tab_order().contains(&PaneId::Repro));
    assert!(d.areas().of(PaneId::Details).is_some());
}

#[test]
fn key_releases_and_alt_keys_are_ignored() {
    let mut d = dash();
    let mut release = crossterm::event::KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = crossterm::event::KeyEventKind::Release;
    d.handle(Event::Key(release));
    assert!(!d.app.wants_quit());
    d.handle(Event::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::ALT,
    )));
    assert!(!d.app.wants_quit());
}

fn mouse(kind: MouseEventKind, column: u16, row: u16) -> Event {
    Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn clicks_select_rows_and_focus_panes_and_the_wheel_scrolls() {
    let mut d = dash();
    let table = d.areas().of(PaneId::Sockets).unwrap();
    // Border, header row, then the rows: the third row is the 40000 listener.
    d.handle(mouse(
        MouseEventKind::Down(MouseButton::Left),
        table.x + 5,
        table.y + 2 + 2,
    ));
    assert_eq!(selected(&d).as_deref(), Some("0.0.0.0:40000"));
    d.handle(mouse(MouseEventKind::ScrollUp, table.x + 5, table.y + 3));
    assert_eq!(selected(&d).as_deref(), Some("127.0.0.1:44600"));
    d.handle(mouse(MouseEventKind::ScrollDown, table.x + 5, table.y + 3));
    assert_eq!(selected(&d).as_deref(), Some("[::]:40001"));

    let events = d.areas().of(PaneId::Events).unwrap();
    d.handle(mouse(
        MouseEventKind::Down(MouseButton::Left),
        events.x + 3,
        events.y + 3,
    ));
    assert_eq!(d.app.focus(), PaneId::Events);
    // Moving the pointer does nothing (and asks for no redraw).
    assert!(!d.handle(mouse(MouseEventKind::Moved, 3, 3)));
}

#[test]
fn a_failed_scan_keeps_the_last_view_and_is_logged_once() {
    let mut d = dash();
    d.handle(failed_scan(
        at(12, 0, 6),
        "/proc/net/tcp",
        "permission denied",
    ));
    d.handle(failed_scan(
        at(12, 0, 7),
        "/proc/net/tcp",
        "permission denied",
    ));
    assert_eq!(rows(&d), FINDINGS, "the last good scan stays on screen");
    assert!(d.app.failure().is_some());
    let failures = d
        .app
        .tracker()
        .entries()
        .iter()
        .filter(|e| e.message().starts_with("scan failed"))
        .count();
    assert_eq!(failures, 1);
    d.handle(scan(busy_snapshot(at(12, 0, 8))));
    assert!(d.app.failure().is_none());
    let text = screen(&render(&mut d, 120, 40)).join("\n");
    assert!(text.contains("scanning works again"), "{text}");
}

#[test]
fn many_sockets_are_filtered_and_sorted_per_key_not_per_frame() {
    // 60k sockets: keys and frames stay fast because only the visible rows
    // are built and the view is rebuilt once per snapshot or key.
    let mut sockets = busy_sockets();
    for i in 0..60_000u32 {
        let a = 10 + (i / 50_000) as u8;
        sockets.push(socket(
            &format!(
                "10.{a}.{}.{}:{}",
                (i / 250) % 200,
                i % 250,
                1024 + (i % 30_000)
            ),
            "10.9.9.9:443",
            selfconn_tui::core::socket::TcpState::Established,
            process(5000 + (i % 100) as i32, "worker", "worker", "root"),
            "root",
            100_000 + u64::from(i),
        ));
    }
    let mut d = busy_dashboard(Theme::default_dark());
    d.handle(scan(snapshot_of(at(12, 0, 8), vec![host()], sockets)));
    d.handle(ch('a'));
    let started = std::time::Instant::now();
    let mut t = terminal(120, 40);
    for _ in 0..20 {
        d.handle(ch('j'));
        t.draw(|f| d.draw(f)).unwrap();
    }
    let per_key = started.elapsed() / 20;
    assert_eq!(rows(&d).len(), 60_008);
    let started = std::time::Instant::now();
    d.handle(ch('/'));
    typed(&mut d, "10.10.3.");
    let filter = started.elapsed();
    assert!(!rows(&d).is_empty());
    d.handle(key(KeyCode::Esc));
    let started = std::time::Instant::now();
    d.handle(ch('s'));
    d.handle(ch('s'));
    d.handle(ch('S'));
    let sort = started.elapsed() / 3;
    assert_eq!(rows(&d).len(), 60_008);
    println!("60k sockets: key + frame {per_key:?}, 8 filter keys {filter:?}, sort {sort:?}");
    assert!(sort.as_millis() < 1000, "sorting 60k sockets took {sort:?}");
    // Generous bounds: debug build, shared CI machine.
    assert!(per_key.as_millis() < 100, "key + frame took {per_key:?}");
    assert!(
        filter.as_millis() < 8 * 1000,
        "8 filter keys took {filter:?}"
    );
}

#[test]
fn the_filter_and_the_repro_fields_take_the_same_editing_keys() {
    let mut d = dash();
    d.handle(ch('a'));
    d.handle(ch('/'));
    typed(&mut d, "listen 127.0.0.1");
    assert_eq!(rows(&d), vec!["127.0.0.1:44700"]);
    // Ctrl-W: the last word goes; Delete deletes like Backspace.
    d.handle(ctrl('w'));
    assert_eq!(d.app.filter_being_typed(), Some("listen "));
    assert_eq!(rows(&d).len(), 4, "every listener: {:?}", rows(&d));
    d.handle(key(KeyCode::Delete));
    assert_eq!(d.app.filter_being_typed(), Some("listen"));
    // Tab means nothing while typing: the filter stays open, focus stays.
    d.handle(key(KeyCode::Tab));
    assert_eq!(d.app.filter_being_typed(), Some("listen"));
    assert_eq!(d.app.focus(), PaneId::Sockets);
    d.handle(key(KeyCode::Enter));
    assert_eq!(d.app.filter().text(), "listen");

    // The repro form's host field: the same keys.
    d.handle(ch('r'));
    d.handle(key(KeyCode::Tab));
    typed(&mut d, "::1");
    assert_eq!(d.app.repro().slot(0).host(), "::1");
    d.handle(key(KeyCode::Delete));
    assert_eq!(d.app.repro().slot(0).host(), "::");
    d.handle(ctrl('u'));
    assert_eq!(d.app.repro().slot(0).host(), "");
}

#[test]
fn repro_keys_mean_nothing_outside_their_pane() {
    let mut d = dash();
    for c in ['x', 'c', 'd', 'p'] {
        assert!(!d.handle(ch(c)), "{c} changed something outside the pane");
    }
    assert!(!d.app.repro().is_open() && !d.app.repro().is_duel());
    assert!(d.app.requests().is_empty(), "{:?}", d.app.requests());
    // g is a global key (first line), not the guard duel.
    d.handle(ch('g'));
    assert!(!d.app.repro().is_duel());
}

#[test]
fn help_lists_the_typing_keys_from_the_table() {
    let d = dash();
    let help: Vec<String> = selfconn_tui::tui::panes::help::content(&d.app)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    let has = |keys: &str, does: &str| {
        help.iter()
            .any(|l| l.trim_start().starts_with(keys) && l.contains(does))
    };
    assert!(has("Ctrl-W", "delete the last word"), "{help:#?}");
    assert!(has("Backspace Delete", "delete a character"), "{help:#?}");
    assert!(has("Enter", "keep the filter"), "{help:#?}");
    assert!(has("0-9", "type the repro port"), "{help:#?}");
}

#[test]
fn the_repro_pane_and_the_footer_show_the_same_keys_with_the_same_words() {
    let mut d = dash();
    d.handle(ch('r'));
    let lines = screen(&render(&mut d, 160, 40));
    let footer = lines.last().unwrap().clone();
    let border = lines
        .iter()
        .rev()
        .find(|l| l.starts_with('┗'))
        .unwrap()
        .clone();
    let available = selfconn_tui::tui::repro::keys::available(d.app.repro());
    assert!(available.len() >= 5, "{available:?}");
    for (action, words) in available {
        let label = format!("{} {words}", selfconn_tui::tui::keymap::key_label(action));
        assert!(footer.contains(&label), "{label:?} in the footer: {footer}");
        assert!(border.contains(&label), "{label:?} on the border: {border}");
    }
    assert!(
        footer.contains("p parity duel") && footer.contains("q quit"),
        "{footer}"
    );
}

//! The bottom line: the filter being typed (with its keys), or the main
//! keys, as many as fit: in the repro pane its keys first, the same list
//! its border shows ([`crate::tui::repro::keys::available`]); then the
//! global keys of the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::keymap::{self, Action, Binding, Command, Scope};
use crate::tui::pane::PaneId;
use crate::tui::repro::keys;
use crate::tui::text::{truncate_end, truncate_start, width};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let max = area.width as usize;
    if let Some(text) = app.filter_being_typed() {
        let help = filter_keys();
        let room = max.saturating_sub(width(&help) + 10);
        let spans = vec![
            Span::styled(" filter: ", t.key),
            Span::styled(truncate_start(text, room), t.value),
            Span::styled("▏", t.key),
            Span::styled(help, t.dim),
        ];
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0;
    if let Some(notice) = app.notice() {
        // Our own words, with addresses only; cut to leave room for help.
        let s = truncate_end(&format!(" {notice} "), max.saturating_sub(8));
        used += width(&s) + 2;
        spans.push(Span::styled(s, t.paused));
        spans.push(Span::raw("  "));
    }
    if app.filter().is_active() {
        let s = format!(" filter “{}” ", app.filter().text());
        used += width(&s) + 2;
        spans.push(Span::styled(s, t.paused));
        spans.push(Span::raw("  "));
    }
    for (keys, hint) in hints(app) {
        let w = width(&keys) + 1 + width(hint) + 2;
        if used + w > max {
            break;
        }
        used += w;
        spans.push(Span::styled(keys, t.key));
        spans.push(Span::styled(format!(" {hint}  "), t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `  Enter keeps it · Esc clears · ↑↓ move`: the filter scope's keys;
/// bindings with the same words share them.
fn filter_keys() -> String {
    let mut groups: Vec<(String, &str)> = Vec::new();
    for b in keymap::bindings()
        .iter()
        .filter(|b| b.scope() == Scope::Filter)
    {
        let Some(hint) = b.hint else { continue };
        let key = b.keys[0].label();
        match groups.last_mut() {
            Some((keys, h)) if *h == hint => keys.push_str(&key),
            _ => groups.push((key, hint)),
        }
    }
    let parts: Vec<String> = groups.iter().map(|(k, h)| format!("{k} {h}")).collect();
    format!("  {}", parts.join(" · "))
}

/// The keys to show, with their words, in order.
fn hints(app: &App) -> Vec<(String, &'static str)> {
    let repro = app.focus() == PaneId::Repro && !app.help_open();
    let mut out: Vec<(String, &'static str)> = Vec::new();
    if repro {
        // Its own keys first; global keys it takes over are left out.
        out.extend(
            keys::available(app.repro())
                .into_iter()
                .map(|(a, words)| (keymap::key_label(a), words)),
        );
    }
    for b in keymap::bindings()
        .iter()
        .filter(|b| b.scope() == Scope::Global)
    {
        if repro && (keymap::shadowed(b, Scope::Repro) || b.command == Action::OpenRepro.into()) {
            continue;
        }
        if let Some(hint) = hint(b, app, repro) {
            out.push((b.keys[0].label(), hint));
        }
    }
    out
}

/// A global binding's footer word, as it applies now.
fn hint(b: &Binding, app: &App, repro: bool) -> Option<&'static str> {
    let h = b.hint?;
    let Command::Global(action) = b.command else {
        return None;
    };
    Some(match action {
        Action::Pause if app.is_paused() => "resume",
        Action::Details if app.zoomed().is_some() => "back",
        Action::ToggleAll if app.shows_all() => "findings",
        // Only where it applies: on a self-connected socket, outside the
        // repro pane (its own keys come first there).
        Action::FreePort if repro || !selection_is_self_connect(app) => return None,
        _ => h,
    })
}

fn selection_is_self_connect(app: &App) -> bool {
    app.selected().is_some_and(|(s, _)| {
        s.finding
            .is_some_and(|f| f.kind == crate::core::socket::FindingKind::SelfConnect)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_keys_come_from_the_table() {
        assert_eq!(filter_keys(), "  Enter keeps it · Esc clears · ↑↓ move");
    }
}

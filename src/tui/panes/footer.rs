//! The bottom line: the filter being typed, or the main keys (from the
//! key table), as many as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::App;
use crate::tui::keymap::{self, Action, Binding, Scope};
use crate::tui::pane::PaneId;
use crate::tui::text::{truncate_start, width};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let max = area.width as usize;
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0;
    if let Some(text) = &app.filter_input {
        let help = "  Enter keeps it · Esc clears · ↑↓ move";
        let room = max.saturating_sub(width(help) + 10);
        spans.push(Span::styled(" filter: ", t.key));
        spans.push(Span::styled(truncate_start(text, room), t.value));
        spans.push(Span::styled("▏", t.key));
        spans.push(Span::styled(help, t.dim));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    if app.filter.is_active() {
        let s = format!(" filter “{}” ", app.filter.text());
        used += width(&s) + 2;
        spans.push(Span::styled(s, t.paused));
        spans.push(Span::raw("  "));
    }
    // In the repro pane its own keys come first, and global keys it takes
    // over are left out.
    let scope = if app.focus == PaneId::Repro && !app.help {
        Scope::Repro
    } else {
        Scope::Global
    };
    let table = keymap::bindings();
    let ordered = table
        .iter()
        .filter(|b| b.scope == scope)
        .chain(table.iter().filter(|b| {
            scope != Scope::Global && b.scope == Scope::Global && !keymap::shadowed(b, scope)
        }));
    for b in ordered {
        if scope == Scope::Repro && b.action == Action::Repro {
            continue;
        }
        let Some(hint) = hint(b, app) else { continue };
        let keys = b.keys[0].label();
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

/// A binding's footer word, as it applies now.
fn hint(b: &Binding, app: &App) -> Option<&'static str> {
    let h = b.hint?;
    Some(match b.action {
        Action::Pause if app.is_paused() => "resume",
        Action::Details if app.zoom.is_some() => "back",
        Action::ToggleAll if app.show_all => "findings",
        Action::ReproStart if app.repro.any_busy() => return None,
        Action::ReproStop if !app.repro.any_busy() => return None,
        Action::ReproCloseSocket if !app.repro.any_held() => return None,
        Action::ReproDuel | Action::ReproParityDuel | Action::ReproGuardDuel
            if app.repro.any_busy() =>
        {
            return None;
        }
        Action::ReproDuel if app.repro.duel => "one loop",
        _ => h,
    })
}

//! The help overlay (`?`): printed from the key table, so it always says
//! what the keys do (the typing keys of the filter and the repro form
//! included). A key named inside a help text is written `{action}` in the
//! table and printed as the keys in force ([`worded`]), so that a rebinding
//! in the configuration never leaves help naming the old key.

use std::cell::Cell;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::config::keys::action_name;
use crate::tui::app::{App, Effect};
use crate::tui::keymap::{self, Action, Binding, MOUSE_HELP, Section, TYPING_HELP};
use crate::tui::text::{truncate_end, width};

#[derive(Debug, Default)]
pub struct HelpOverlay {
    scroll: usize,
    max_scroll: Cell<usize>,
    page: Cell<usize>,
}

const KEY_COL: usize = 12;

/// One help line: the keys in their column, then what they do.
fn key_line(keys: String, does: &str, style: ratatui::style::Style) -> Line<'static> {
    let pad = KEY_COL.saturating_sub(width(&keys)).max(1);
    Line::from(vec![
        Span::raw("  "),
        Span::styled(keys, style),
        Span::raw(" ".repeat(pad)),
        Span::raw(worded(does, keymap::bindings())),
    ])
}

/// `text` with each `{action}` (an action's name as the configuration
/// spells it: `{help}`, `{down}`) replaced by its keys in `table`, as the
/// key column prints them. A name the table does not know is left as it
/// is (a test checks that the table's own texts have none).
pub fn worded(text: &str, table: &[Binding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}');
        let binding =
            close.and_then(|c| table.iter().find(|b| action_name(b.command) == after[..c]));
        match (close, binding) {
            (Some(c), Some(b)) => {
                out.push_str(&keymap::keys_label(b));
                rest = &after[c + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Scrolling, in the overlay's bottom border: the letter keys of up and
/// down (the last of each binding: the table lists the arrow first).
fn scroll_keys() -> String {
    let last = |a: Action| {
        keymap::binding_of(a)
            .and_then(|b| b.keys.last())
            .map(|k| k.label())
            .unwrap_or_default()
    };
    format!(" {}/{} scroll · ", last(Action::Down), last(Action::Up))
}

/// The help text, one line per binding, grouped by section.
pub fn content(app: &App) -> Vec<Line<'static>> {
    let t = app.theme();
    let mut out = Vec::new();
    for section in Section::ALL {
        if !out.is_empty() {
            out.push(Line::raw(""));
        }
        out.push(Line::styled(
            worded(section.title(), keymap::bindings()),
            t.heading,
        ));
        for b in keymap::bindings().iter().filter(|b| b.section == section) {
            out.push(key_line(keymap::keys_label(b), b.help, t.key));
        }
        if section == Section::Typing {
            for (what, does) in TYPING_HELP {
                out.push(key_line(what.to_string(), does, t.key));
            }
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Mouse", t.heading));
    for (what, does) in MOUSE_HELP {
        out.push(key_line(what.to_string(), does, t.key));
    }
    out.push(Line::raw(""));
    out.push(Line::styled("Colours", t.heading));
    out.push(Line::from(vec![
        Span::raw("  "),
        Span::styled(" SELF-CONNECT ", t.self_connect),
        Span::raw(" connected to itself  "),
        Span::styled(" high ", t.high),
        Span::raw(" "),
        Span::styled(" medium ", t.medium),
        Span::raw(" risky listeners"),
    ]));
    out.push(Line::from(vec![
        Span::raw("  "),
        Span::styled(" ◆ repro ", t.repro),
        Span::raw(" made by the repro pane (held open, or closed and in TIME_WAIT)"),
    ]));
    out.push(Line::styled(
        "  --theme high-contrast for projectors; NO_COLOR=1 for none",
        t.dim,
    ));
    out
}

impl HelpOverlay {
    pub fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let lines = content(app);
        let want_w = lines.iter().map(Line::width).max().unwrap_or(40) as u16 + 4;
        let w = want_w
            .min(area.width.saturating_sub(2))
            .max(20.min(area.width));
        let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2).max(3));
        let r = area.centered(Constraint::Length(w), Constraint::Length(h));
        let inner_h = h.saturating_sub(2) as usize;
        self.max_scroll.set(lines.len().saturating_sub(inner_h));
        self.page.set(inner_h.max(1));
        let scroll = self.scroll.min(self.max_scroll.get());
        let t = app.theme();
        let more = if self.max_scroll.get() > 0 {
            scroll_keys()
        } else {
            " ".to_string()
        };
        let block = Block::bordered()
            .border_type(BorderType::Double)
            .border_style(t.border_focused)
            .title(Line::styled(" Keys ", t.value))
            .title_bottom(
                Line::styled(
                    format!(
                        "{more}{} or {} closes ",
                        keymap::key_label(Action::Help),
                        keymap::key_label(Action::Clear)
                    ),
                    t.dim,
                )
                .right_aligned(),
            );
        let inner = block.inner(r);
        let shown: Vec<Line> = lines
            .into_iter()
            .skip(scroll)
            .take(inner_h)
            .map(|l| {
                // Cut long lines rather than wrap them: keys stay aligned.
                if l.width() > inner.width as usize {
                    let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
                    Line::raw(truncate_end(&text, inner.width as usize))
                } else {
                    l
                }
            })
            .collect();
        frame.render_widget(Clear, r);
        frame.render_widget(block, r);
        frame.render_widget(Paragraph::new(shown), inner);
    }

    /// Keys while help is open: scrolling, closing, quitting; others do nothing.
    pub fn handle_key(&mut self, action: Action) -> Option<Effect> {
        let page = self.page.get().max(1);
        let max = self.max_scroll.get();
        let cur = self.scroll.min(max);
        self.scroll = match action {
            Action::Help | Action::Clear | Action::Details => {
                self.scroll = 0;
                return Some(Effect::ShowHelp(false));
            }
            Action::Quit => return Some(Effect::Quit),
            Action::Redraw => return Some(Effect::FullRedraw),
            Action::Up => cur.saturating_sub(1),
            Action::Down => (cur + 1).min(max),
            Action::PageUp => cur.saturating_sub(page),
            Action::PageDown => (cur + page).min(max),
            Action::Top => 0,
            Action::Bottom => max,
            _ => return None,
        };
        Some(Effect::Redraw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::KEYMAP;

    #[test]
    fn keys_named_in_help_texts_come_from_the_table() {
        assert_eq!(
            worded("this help ({help} or {clear} closes it)", KEYMAP),
            "this help (? or Esc closes it)"
        );
        assert_eq!(worded("next ({down} too)", KEYMAP), "next (↓ j too)");
        // Not a name: left alone, braces and all.
        assert_eq!(worded("{nope} {x", KEYMAP), "{nope} {x");
        let texts = KEYMAP
            .iter()
            .map(|b| b.help)
            .chain(TYPING_HELP.iter().map(|(_, does)| *does))
            .chain(Section::ALL.iter().map(|s| s.title()));
        for text in texts {
            let out = worded(text, KEYMAP);
            assert!(!out.contains('{'), "an unknown key name in {text:?}");
        }
    }
}

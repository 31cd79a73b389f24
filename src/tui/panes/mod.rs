//! One module per part of the screen. The panes in the Tab order
//! implement [`super::pane::Pane`]; the header, footer, help overlay and
//! the too-small message are drawn around them. The repro pane, which has
//! its own state and thread, lives in [`super::repro`].

pub mod confirm;
pub mod details;
pub mod events;
pub mod footer;
pub mod header;
pub mod help;
pub mod sockets;
pub mod too_small;

use ratatui::text::Span;
use ratatui::widgets::{Block, BorderType};

use super::app::App;
use super::pane::PaneId;

/// The frame of a pane: a rounded border, bold and coloured when focused.
pub fn pane_block<'a>(app: &App, id: PaneId, title: Vec<Span<'a>>) -> Block<'a> {
    let focused = app.focus() == id;
    let t = app.theme();
    let mut spans = vec![Span::styled(
        if focused { "▶ " } else { " " },
        t.border(focused),
    )];
    spans.extend(title);
    spans.push(Span::raw(" "));
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(t.border(focused))
        .title(ratatui::text::Line::from(spans))
}

//! What a terminal below the minimum size shows instead of the layout.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::app::App;
use crate::tui::keymap::{Action, key_label};
use crate::tui::layout::{MIN_HEIGHT, MIN_WIDTH};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let mut lines = vec![
        Line::styled(
            format!("Terminal too small: {}×{}", area.width, area.height),
            t.value,
        ),
        Line::raw(format!("selfconn-tui needs {MIN_WIDTH}×{MIN_HEIGHT}.")),
        Line::styled(
            format!("Enlarge it, or press {} to quit.", key_label(Action::Quit)),
            t.dim,
        ),
    ];
    if let Some(c) = app.counts()
        && c.self_connects > 0
    {
        lines.push(Line::styled(
            format!("{} self-connected!", c.self_connects),
            t.self_connect,
        ));
    }
    let h = lines.len() as u16;
    let top = area.y + area.height.saturating_sub(h) / 2;
    let r = Rect::new(area.x, top, area.width, area.bottom().saturating_sub(top));
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

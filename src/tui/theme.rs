//! Colours and attributes. Three themes: the default one for dark
//! terminals, a high-contrast one for projectors and light backgrounds, and
//! a monochrome one for `NO_COLOR` that marks findings with attributes only
//! (reversed, bold), so they still stand out.

use clap::ValueEnum;
use ratatui::style::{Color, Modifier, Style};

use crate::core::ports::Risk;
use crate::core::socket::{Finding, FindingKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ThemeName {
    /// Colours for a dark terminal
    #[default]
    Default,
    /// Strong backgrounds, no dim text: projectors, light terminals
    HighContrast,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub name: &'static str,
    /// The top line.
    pub title_bar: Style,
    /// Labels and secondary text.
    pub dim: Style,
    /// Numbers and values worth reading.
    pub value: Style,
    pub border: Style,
    pub border_focused: Style,
    pub table_header: Style,
    pub self_connect: Style,
    pub high: Style,
    pub medium: Style,
    pub plain: Style,
    /// Patched over the selected row.
    pub selected: Style,
    pub warning: Style,
    pub error: Style,
    /// Shell commands in the details pane.
    pub command: Style,
    /// Key names in help and the footer.
    pub key: Style,
    pub live: Style,
    pub paused: Style,
    pub heading: Style,
    /// A self-connection made by the repro pane, in the sockets table.
    pub repro: Style,
    /// The repro pane's sparkline.
    pub chart: Style,
}

impl Theme {
    /// The theme for the options: `NO_COLOR` wins over `--theme`.
    pub fn pick(name: ThemeName, no_color: bool) -> Theme {
        match (no_color, name) {
            (true, _) => Theme::monochrome(),
            (false, ThemeName::Default) => Theme::default_dark(),
            (false, ThemeName::HighContrast) => Theme::high_contrast(),
        }
    }

    pub fn default_dark() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            name: "default",
            title_bar: Style::new().fg(Color::Black).bg(Color::Cyan),
            dim: Style::new().fg(Color::Gray),
            value: Style::new().add_modifier(bold),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan).add_modifier(bold),
            table_header: Style::new()
                .fg(Color::Cyan)
                .add_modifier(bold | Modifier::UNDERLINED),
            self_connect: Style::new().fg(Color::LightRed).add_modifier(bold),
            high: Style::new().fg(Color::Yellow),
            medium: Style::new().fg(Color::Cyan),
            plain: Style::new(),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            warning: Style::new().fg(Color::Yellow),
            error: Style::new().fg(Color::LightRed).add_modifier(bold),
            command: Style::new().fg(Color::LightGreen).add_modifier(bold),
            key: Style::new().fg(Color::Cyan).add_modifier(bold),
            live: Style::new().fg(Color::Green).add_modifier(bold),
            paused: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(bold),
            heading: Style::new().add_modifier(bold | Modifier::UNDERLINED),
            repro: Style::new()
                .fg(Color::Black)
                .bg(Color::LightRed)
                .add_modifier(bold),
            chart: Style::new().fg(Color::Cyan),
        }
    }

    pub fn high_contrast() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            name: "high-contrast",
            title_bar: Style::new()
                .fg(Color::White)
                .bg(Color::Blue)
                .add_modifier(bold),
            dim: Style::new(),
            value: Style::new().add_modifier(bold),
            border: Style::new(),
            border_focused: Style::new().fg(Color::Blue).add_modifier(bold),
            table_header: Style::new().add_modifier(bold | Modifier::UNDERLINED),
            self_connect: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(bold),
            high: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(bold),
            medium: Style::new().fg(Color::Black).bg(Color::Cyan),
            plain: Style::new(),
            selected: Style::new().add_modifier(Modifier::REVERSED | bold),
            warning: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(bold),
            error: Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(bold),
            command: Style::new().add_modifier(bold),
            key: Style::new().add_modifier(bold | Modifier::REVERSED),
            live: Style::new()
                .fg(Color::White)
                .bg(Color::Green)
                .add_modifier(bold),
            paused: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(bold),
            heading: Style::new().add_modifier(bold | Modifier::UNDERLINED),
            repro: Style::new()
                .fg(Color::White)
                .bg(Color::Magenta)
                .add_modifier(bold),
            chart: Style::new().fg(Color::Blue).add_modifier(bold),
        }
    }

    /// No colour at all: attributes only.
    pub fn monochrome() -> Theme {
        let bold = Modifier::BOLD;
        Theme {
            name: "monochrome",
            title_bar: Style::new().add_modifier(Modifier::REVERSED),
            dim: Style::new(),
            value: Style::new().add_modifier(bold),
            border: Style::new(),
            border_focused: Style::new().add_modifier(bold),
            table_header: Style::new().add_modifier(bold | Modifier::UNDERLINED),
            self_connect: Style::new().add_modifier(bold | Modifier::REVERSED),
            high: Style::new().add_modifier(bold),
            medium: Style::new().add_modifier(Modifier::ITALIC),
            plain: Style::new(),
            selected: Style::new().add_modifier(Modifier::UNDERLINED),
            warning: Style::new().add_modifier(bold),
            error: Style::new().add_modifier(bold | Modifier::REVERSED),
            command: Style::new().add_modifier(bold),
            key: Style::new().add_modifier(bold),
            live: Style::new().add_modifier(bold),
            paused: Style::new().add_modifier(bold | Modifier::REVERSED),
            heading: Style::new().add_modifier(bold | Modifier::UNDERLINED),
            repro: Style::new().add_modifier(bold | Modifier::REVERSED | Modifier::UNDERLINED),
            chart: Style::new(),
        }
    }

    /// The style of a socket's row.
    pub fn finding(&self, finding: Option<Finding>) -> Style {
        match finding.map(|f| (f.kind, f.risk)) {
            Some((FindingKind::SelfConnect, _)) => self.self_connect,
            Some((_, Some(Risk::High))) => self.high,
            Some(_) => self.medium,
            None => self.plain,
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.border_focused
        } else {
            self.border
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colours(s: Style) -> bool {
        s.fg.is_some() || s.bg.is_some() || s.underline_color.is_some()
    }

    #[test]
    fn monochrome_has_no_colour_but_findings_stand_out() {
        let t = Theme::pick(ThemeName::HighContrast, true);
        assert_eq!(t.name, "monochrome");
        for s in [
            t.title_bar,
            t.dim,
            t.value,
            t.border,
            t.border_focused,
            t.table_header,
            t.self_connect,
            t.high,
            t.medium,
            t.plain,
            t.selected,
            t.warning,
            t.error,
            t.command,
            t.key,
            t.live,
            t.paused,
            t.heading,
            t.repro,
            t.chart,
        ] {
            assert!(!colours(s), "{s:?}");
        }
        assert_ne!(t.self_connect, t.plain);
        assert_ne!(t.high, t.plain);
        assert_ne!(t.medium, t.plain);
        assert_ne!(t.selected, Style::new());
        assert_ne!(t.repro, t.self_connect);
    }
}

//! `[colours]`: a theme's styles, changed one by one. A value is a colour,
//! optionally `on` a background, after optional attributes:
//! `"bold white on red"`, `"#ffaf00"`, `"underlined 208"`. They apply over
//! the theme picked with `--theme`; with `NO_COLOR` they are left out.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

use crate::tui::theme::Theme;

/// One `[colours]` entry, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ColourSetting {
    pub element: String,
    /// As written (printed back by `config`).
    pub spec: String,
    pub style: Style,
    pub line: usize,
}

/// The colour changes to make to the dashboard's theme (empty: none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColourOverrides(pub Vec<ColourSetting>);

impl ColourOverrides {
    /// The theme with these changes, unless it is the monochrome one.
    pub fn apply(&self, mut theme: Theme) -> Theme {
        if theme == Theme::monochrome() {
            return theme;
        }
        for c in &self.0 {
            if let Some(slot) = element(&mut theme, &c.element) {
                *slot = c.style;
            }
        }
        theme
    }
}

/// The theme's elements that a file may change, with what each colours.
pub const ELEMENTS: &[(&str, &str)] = &[
    ("title_bar", "the top line"),
    ("dim", "labels and secondary text"),
    ("value", "numbers and values worth reading"),
    ("border", "pane borders"),
    ("border_focused", "the border of the focused pane"),
    ("table_header", "column headings"),
    ("self_connect", "a socket connected to itself"),
    ("high", "a high-risk listener"),
    ("medium", "a medium-risk listener"),
    ("plain", "other sockets"),
    ("selected", "the selected row"),
    ("warning", "warnings"),
    ("error", "errors"),
    ("command", "shell commands in the details pane"),
    ("key", "key names in help and the footer"),
    ("live", "the live mark"),
    ("paused", "the paused mark"),
    ("heading", "headings"),
    ("repro", "a self-connection made by the repro pane"),
    ("chart", "the repro pane's chart"),
];

fn element<'a>(t: &'a mut Theme, name: &str) -> Option<&'a mut Style> {
    Some(match name {
        "title_bar" => &mut t.title_bar,
        "dim" => &mut t.dim,
        "value" => &mut t.value,
        "border" => &mut t.border,
        "border_focused" => &mut t.border_focused,
        "table_header" => &mut t.table_header,
        "self_connect" => &mut t.self_connect,
        "high" => &mut t.high,
        "medium" => &mut t.medium,
        "plain" => &mut t.plain,
        "selected" => &mut t.selected,
        "warning" => &mut t.warning,
        "error" => &mut t.error,
        "command" => &mut t.command,
        "key" => &mut t.key,
        "live" => &mut t.live,
        "paused" => &mut t.paused,
        "heading" => &mut t.heading,
        "repro" => &mut t.repro,
        "chart" => &mut t.chart,
        _ => return None,
    })
}

/// Checks one `[colours]` entry.
pub fn parse_entry(name: &str, spec: &str, line: usize) -> Result<ColourSetting, String> {
    if !ELEMENTS.iter().any(|(n, _)| *n == name) {
        let names: Vec<&str> = ELEMENTS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown element (expected one of: {})",
            names.join(", ")
        ));
    }
    Ok(ColourSetting {
        element: name.to_string(),
        spec: spec.to_string(),
        style: parse_style(spec)?,
        line,
    })
}

const ATTRIBUTES: &[(&str, Modifier)] = &[
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
];

/// `[attributes] [colour] [on colour]`, at least one of them.
pub fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::new();
    let mut words = spec.split_whitespace().peekable();
    while let Some(m) = words.peek().and_then(|w| attribute(w)) {
        style = style.add_modifier(m);
        words.next();
    }
    let rest: Vec<&str> = words.collect();
    let (fg, bg) = match rest.iter().position(|w| w.eq_ignore_ascii_case("on")) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (&rest[..], None),
    };
    if let Some(c) = one_colour(fg, spec)? {
        style = style.fg(c);
    }
    if let Some(bg) = bg {
        match one_colour(bg, spec)? {
            Some(c) => style = style.bg(c),
            None => return Err(format!("{spec:?}: a colour must follow \"on\"")),
        }
    }
    if style == Style::new() {
        return Err(format!(
            "{spec:?} is empty: write a colour (\"red\", \"#ff8700\", \"208\"), \"on\" a background, \
             or attributes (bold, dim, italic, underlined, reversed)"
        ));
    }
    Ok(style)
}

fn attribute(word: &str) -> Option<Modifier> {
    ATTRIBUTES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(word))
        .map(|(_, m)| *m)
}

fn one_colour(words: &[&str], spec: &str) -> Result<Option<Color>, String> {
    match words {
        [] => Ok(None),
        [w] => Color::from_str(w).map(Some).map_err(|_| {
            format!(
                "{w:?} is not a colour (in {spec:?}): use a name (red, light-blue, dark-gray...), \
                 #rrggbb, or an index from 0 to 255"
            )
        }),
        _ => Err(format!(
            "{spec:?}: one colour, then optionally \"on\" and a background"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_read_like_words() {
        let s = parse_style("bold white on red").unwrap();
        assert_eq!(
            s,
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        );
        assert_eq!(
            parse_style("#ff8700").unwrap(),
            Style::new().fg(Color::Rgb(0xff, 0x87, 0x00))
        );
        assert_eq!(
            parse_style("208").unwrap(),
            Style::new().fg(Color::Indexed(208))
        );
        assert_eq!(
            parse_style("on blue").unwrap(),
            Style::new().bg(Color::Blue)
        );
        assert_eq!(
            parse_style("reversed").unwrap(),
            Style::new().add_modifier(Modifier::REVERSED)
        );
        assert!(
            parse_style("chartreuse-ish")
                .unwrap_err()
                .contains("not a colour")
        );
        assert!(parse_style("red on").unwrap_err().contains("must follow"));
        assert!(parse_style("red green").is_err());
        assert!(parse_style("").is_err());
    }

    #[test]
    fn every_element_is_a_field_of_the_theme_and_no_colour_stays_off() {
        let mut t = Theme::default_dark();
        for (name, _) in ELEMENTS {
            assert!(element(&mut t, name).is_some(), "{name}");
        }
        let o = ColourOverrides(vec![
            parse_entry("self_connect", "black on yellow", 1).unwrap(),
        ]);
        let dark = o.apply(Theme::default_dark());
        assert_eq!(
            dark.self_connect,
            Style::new().fg(Color::Black).bg(Color::Yellow)
        );
        assert_eq!(o.apply(Theme::monochrome()), Theme::monochrome());
        assert!(
            parse_entry("sparkles", "red", 1)
                .unwrap_err()
                .contains("unknown element")
        );
    }
}

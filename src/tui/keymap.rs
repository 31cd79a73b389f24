//! Every key binding, as data. The dispatcher looks keys up here and the
//! help overlay and the footer print this same table, so help cannot drift
//! from behaviour. A new binding is one more row (and, for a new kind of
//! action, one more [`Action`] variant).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. Panes interpret movement actions for themselves
/// (see [`super::pane::Pane::handle_key`]); the rest have global meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Help,
    Quit,
    Filter,
    /// Close what is open (help, zoom), else clear the filter.
    Clear,
    Pause,
    ToggleAll,
    SortNext,
    SortReverse,
    NextPane,
    PrevPane,
    Redraw,
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
    Details,
}

/// One key: a code and whether Ctrl is held. Shift is part of the
/// character (`S`), so it is not compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

impl Key {
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let ev_ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let same_code = match (self.code, ev.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) if self.ctrl => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        };
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        same_code && self.ctrl == ev_ctrl && !alt
    }

    /// How help and the footer print the key.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// Where a binding is listed in help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    General,
    View,
    Move,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::General, Section::View, Section::Move];

    pub fn title(self) -> &'static str {
        match self {
            Section::General => "General",
            Section::View => "What is shown",
            Section::Move => "Moving (in the focused pane)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub section: Section,
    /// One line for the help overlay.
    pub help: &'static str,
    /// A word or two for the footer; `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
}

/// The table. Order is the order of help and of the footer hints.
pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[key('q'), ctrl('c')],
        action: Action::Quit,
        section: Section::General,
        help: "quit (the terminal is restored)",
        hint: Some("quit"),
    },
    Binding {
        keys: &[key('?')],
        action: Action::Help,
        section: Section::General,
        help: "this help (? or Esc closes it)",
        hint: Some("help"),
    },
    Binding {
        keys: &[key(' ')],
        action: Action::Pause,
        section: Section::General,
        help: "pause / resume the view (events are still recorded)",
        hint: Some("pause"),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::Clear,
        section: Section::General,
        help: "close help or details, else clear the filter",
        hint: None,
    },
    Binding {
        keys: &[ctrl('l')],
        action: Action::Redraw,
        section: Section::General,
        help: "repaint the whole screen",
        hint: None,
    },
    Binding {
        keys: &[key('/')],
        action: Action::Filter,
        section: Section::View,
        help: "filter by port, address, state, process, user or namespace",
        hint: Some("filter"),
    },
    Binding {
        keys: &[key('a')],
        action: Action::ToggleAll,
        section: Section::View,
        help: "all sockets / findings only",
        hint: Some("all"),
    },
    Binding {
        keys: &[key('s')],
        action: Action::SortNext,
        section: Section::View,
        help: "sort by the next column",
        hint: Some("sort"),
    },
    Binding {
        keys: &[key('S')],
        action: Action::SortReverse,
        section: Section::View,
        help: "reverse the sort order",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        action: Action::NextPane,
        section: Section::View,
        help: "next pane (sockets, details, events)",
        hint: Some("pane"),
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        action: Action::PrevPane,
        section: Section::View,
        help: "previous pane",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::Details,
        section: Section::View,
        help: "details of the selected socket, full size (again: back)",
        hint: Some("details"),
    },
    Binding {
        keys: &[code(KeyCode::Up), key('k')],
        action: Action::Up,
        section: Section::Move,
        help: "up one line",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Down), key('j')],
        action: Action::Down,
        section: Section::Move,
        help: "down one line",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        action: Action::PageUp,
        section: Section::Move,
        help: "up one page",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        action: Action::PageDown,
        section: Section::Move,
        help: "down one page",
        hint: None,
    },
    Binding {
        keys: &[key('g'), code(KeyCode::Home)],
        action: Action::Top,
        section: Section::Move,
        help: "first line",
        hint: None,
    },
    Binding {
        keys: &[key('G'), code(KeyCode::End)],
        action: Action::Bottom,
        section: Section::Move,
        help: "last line",
        hint: None,
    },
];

/// What the mouse does; printed in help after the key table.
pub const MOUSE_HELP: &[(&str, &str)] = &[
    ("wheel", "scroll the pane under the pointer"),
    ("click", "select a row, or focus a pane"),
];

/// The action bound to a key press, if any.
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    KEYMAP
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// The binding of an action (for labels in messages: "press a to ...").
pub fn binding_of(action: Action) -> Option<&'static Binding> {
    KEYMAP.iter().find(|b| b.action == action)
}

/// The first key of an action, as printed.
pub fn key_label(action: Action) -> String {
    binding_of(action)
        .and_then(|b| b.keys.first())
        .map(Key::label)
        .unwrap_or_default()
}

/// All keys of a binding, as printed: `↑ k`.
pub fn keys_label(b: &Binding) -> String {
    b.keys.iter().map(Key::label).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn looks_up_keys_with_and_without_modifiers() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            action_for(&press(KeyCode::Char('q'), none)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action_for(&press(KeyCode::Char('c'), none)), None);
        // Terminals report `S` with or without SHIFT: both work.
        assert_eq!(
            action_for(&press(KeyCode::Char('S'), KeyModifiers::SHIFT)),
            Some(Action::SortReverse)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('S'), none)),
            Some(Action::SortReverse)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('s'), none)),
            Some(Action::SortNext)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(action_for(&press(KeyCode::Down, none)), Some(Action::Down));
    }

    #[test]
    fn no_key_is_bound_twice_and_every_binding_says_what_it_does() {
        let mut seen: Vec<Key> = Vec::new();
        for b in KEYMAP {
            assert!(!b.help.is_empty());
            assert!(!b.keys.is_empty());
            for k in b.keys {
                assert!(!seen.contains(k), "{} bound twice", k.label());
                seen.push(*k);
            }
        }
    }

    #[test]
    fn r_is_left_free_for_the_reproduction_pane() {
        assert_eq!(
            action_for(&press(KeyCode::Char('r'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn labels_read_like_keys() {
        assert_eq!(key_label(Action::Quit), "q");
        assert_eq!(key_label(Action::Pause), "space");
        assert_eq!(keys_label(binding_of(Action::Quit).unwrap()), "q Ctrl-C");
        assert_eq!(keys_label(binding_of(Action::Up).unwrap()), "↑ k");
    }
}

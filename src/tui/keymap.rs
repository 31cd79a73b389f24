//! Every key binding, as data. The dispatcher looks keys up here and the
//! help overlay and the footer print this same table, so help cannot drift
//! from behaviour. A new binding is one more row (and, for a new kind of
//! action, one more [`Action`] variant).
//!
//! A binding has a [`Scope`]: global keys work everywhere; the repro pane's
//! keys apply while that pane has the focus and win over global ones there
//! (`s` starts a run instead of sorting, `g` sets up the guard duel).

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
    /// Open (or focus) the reproduction pane.
    Repro,
    ReproStart,
    ReproStop,
    /// Stop what runs; when nothing runs, close the pane.
    ReproBack,
    /// Close the socket connected to itself.
    ReproCloseSocket,
    /// A second loop side by side, or back to one.
    ReproDuel,
    ReproParityDuel,
    ReproGuardDuel,
    ReproNextField,
    ReproPrevField,
    /// The previous or next value of the focused field.
    ReproLess,
    ReproMore,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// While the repro pane has the focus (looked up before global keys).
    Repro,
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
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::F(n) => format!("F{n}"),
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
    Repro,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::General,
        Section::View,
        Section::Move,
        Section::Repro,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::General => "General",
            Section::View => "What is shown",
            Section::Move => "Moving (in the focused pane)",
            Section::Repro => "Reproducing it live (r, then these keys in the repro pane)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    pub section: Section,
    pub scope: Scope,
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
        scope: Scope::Global,
        help: "quit (the terminal is restored)",
        hint: Some("quit"),
    },
    Binding {
        keys: &[key('?')],
        action: Action::Help,
        section: Section::General,
        scope: Scope::Global,
        help: "this help (? or Esc closes it)",
        hint: Some("help"),
    },
    Binding {
        keys: &[key('r')],
        action: Action::Repro,
        section: Section::Repro,
        scope: Scope::Global,
        // Early in the table: the footer shows it on narrow terminals too.
        help: "open the repro pane: make a client connect to itself, live",
        hint: Some("repro"),
    },
    Binding {
        keys: &[key(' ')],
        action: Action::Pause,
        section: Section::General,
        scope: Scope::Global,
        help: "pause / resume the view (events are still recorded)",
        hint: Some("pause"),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::Clear,
        section: Section::General,
        scope: Scope::Global,
        help: "close help or details, else clear the filter",
        hint: None,
    },
    Binding {
        keys: &[ctrl('l')],
        action: Action::Redraw,
        section: Section::General,
        scope: Scope::Global,
        help: "repaint the whole screen",
        hint: None,
    },
    Binding {
        keys: &[key('/')],
        action: Action::Filter,
        section: Section::View,
        scope: Scope::Global,
        help: "filter by port, address, state, process, user or namespace",
        hint: Some("filter"),
    },
    Binding {
        keys: &[key('a')],
        action: Action::ToggleAll,
        section: Section::View,
        scope: Scope::Global,
        help: "all sockets / findings only",
        hint: Some("all"),
    },
    Binding {
        keys: &[key('s')],
        action: Action::SortNext,
        section: Section::View,
        scope: Scope::Global,
        help: "sort by the next column",
        hint: Some("sort"),
    },
    Binding {
        keys: &[key('S')],
        action: Action::SortReverse,
        section: Section::View,
        scope: Scope::Global,
        help: "reverse the sort order",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        action: Action::NextPane,
        section: Section::View,
        scope: Scope::Global,
        help: "next pane (sockets, details, events, repro when open)",
        hint: Some("pane"),
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        action: Action::PrevPane,
        section: Section::View,
        scope: Scope::Global,
        help: "previous pane",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Enter)],
        action: Action::Details,
        section: Section::View,
        scope: Scope::Global,
        help: "details of the selected socket, full size (again: back)",
        hint: Some("details"),
    },
    Binding {
        keys: &[code(KeyCode::Up), key('k')],
        action: Action::Up,
        section: Section::Move,
        scope: Scope::Global,
        help: "up one line",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Down), key('j')],
        action: Action::Down,
        section: Section::Move,
        scope: Scope::Global,
        help: "down one line",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::PageUp)],
        action: Action::PageUp,
        section: Section::Move,
        scope: Scope::Global,
        help: "up one page",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::PageDown)],
        action: Action::PageDown,
        section: Section::Move,
        scope: Scope::Global,
        help: "down one page",
        hint: None,
    },
    Binding {
        keys: &[key('g'), code(KeyCode::Home)],
        action: Action::Top,
        section: Section::Move,
        scope: Scope::Global,
        help: "first line",
        hint: None,
    },
    Binding {
        keys: &[key('G'), code(KeyCode::End)],
        action: Action::Bottom,
        section: Section::Move,
        scope: Scope::Global,
        help: "last line",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Enter), key('s')],
        action: Action::ReproStart,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "start (in a duel, both loops)",
        hint: Some("start"),
    },
    Binding {
        keys: &[key('x')],
        action: Action::ReproStop,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "stop the loops",
        hint: Some("stop"),
    },
    Binding {
        keys: &[code(KeyCode::Esc)],
        action: Action::ReproBack,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "stop the loops; when nothing runs, close the pane",
        hint: None,
    },
    Binding {
        keys: &[key('c')],
        action: Action::ReproCloseSocket,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "close the socket connected to itself (it then sits in TIME_WAIT)",
        hint: Some("close socket"),
    },
    Binding {
        keys: &[key('d')],
        action: Action::ReproDuel,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "duel: a second loop side by side (again: back to one)",
        hint: Some("duel"),
    },
    Binding {
        keys: &[key('p')],
        action: Action::ReproParityDuel,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "parity duel: an even port against its odd neighbour, same mode",
        hint: Some("parity"),
    },
    Binding {
        keys: &[key('g')],
        action: Action::ReproGuardDuel,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "guard duel: fresh against guarded, on two free ports",
        hint: Some("guard"),
    },
    Binding {
        keys: &[code(KeyCode::Tab)],
        action: Action::ReproNextField,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "next field (↓ j too); after the last field, the next pane",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::BackTab)],
        action: Action::ReproPrevField,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "previous field (↑ k too); before the first, the previous pane",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Left)],
        action: Action::ReproLess,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "previous mode, slower pace, or another host",
        hint: None,
    },
    Binding {
        keys: &[code(KeyCode::Right)],
        action: Action::ReproMore,
        section: Section::Repro,
        scope: Scope::Repro,
        help: "next mode, faster pace, or another host",
        hint: None,
    },
];

/// What typing does in the repro pane; printed in help after its keys.
pub const REPRO_TYPING_HELP: &[(&str, &str)] = &[
    (
        "0-9",
        "type the port (in the port field; the first digit replaces it)",
    ),
    ("Backspace", "delete a character (Ctrl-U: the whole field)"),
    (
        "a-z . : [ ]",
        "type the host (in the host field, where letters are text)",
    ),
];

/// What the mouse does; printed in help after the key table.
pub const MOUSE_HELP: &[(&str, &str)] = &[
    ("wheel", "scroll the pane under the pointer"),
    ("click", "select a row, or focus a pane"),
];

/// The table in force: [`KEYMAP`] unless [`install`] replaced it (the
/// configuration file's `[keys]`). The dispatcher, help and the footer read
/// this, so a rebinding shows everywhere at once.
pub fn bindings() -> &'static [Binding] {
    let installed = INSTALLED.read().unwrap_or_else(|e| e.into_inner());
    installed.unwrap_or(KEYMAP)
}

static INSTALLED: std::sync::RwLock<Option<&'static [Binding]>> = std::sync::RwLock::new(None);

/// Replaces the table in force for the rest of the process (done once, at
/// start-up, with a table already checked for clashes: `crate::config::keys`).
pub fn install(table: Vec<Binding>) {
    let table: &'static [Binding] = Box::leak(table.into_boxed_slice());
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(table);
}

/// The action bound to a key press outside the repro pane, if any.
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    action_in(ev, Scope::Global)
}

/// The action bound to a key press in `scope`: the scope's own bindings
/// first, then the global ones.
pub fn action_in(ev: &KeyEvent, scope: Scope) -> Option<Action> {
    let find = |s: Scope| {
        bindings()
            .iter()
            .filter(|b| b.scope == s)
            .find(|b| b.keys.iter().any(|k| k.matches(ev)))
            .map(|b| b.action)
    };
    if scope != Scope::Global
        && let Some(a) = find(scope)
    {
        return Some(a);
    }
    find(Scope::Global)
}

/// Whether a global binding's first key is taken over in `scope`.
pub fn shadowed(b: &Binding, scope: Scope) -> bool {
    b.scope == Scope::Global
        && scope != Scope::Global
        && bindings()
            .iter()
            .filter(|o| o.scope == scope)
            .any(|o| o.keys.contains(&b.keys[0]))
}

/// The binding of an action (for labels in messages: "press a to ...").
pub fn binding_of(action: Action) -> Option<&'static Binding> {
    bindings().iter().find(|b| b.action == action)
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
    fn no_key_is_bound_twice_in_a_scope_and_every_binding_says_what_it_does() {
        for scope in [Scope::Global, Scope::Repro] {
            let mut seen: Vec<Key> = Vec::new();
            for b in KEYMAP.iter().filter(|b| b.scope == scope) {
                assert!(!b.help.is_empty());
                assert!(!b.keys.is_empty());
                for k in b.keys {
                    assert!(!seen.contains(k), "{} bound twice", k.label());
                    seen.push(*k);
                }
            }
        }
    }

    #[test]
    fn the_repro_pane_keys_win_there_and_global_keys_still_work() {
        let none = KeyModifiers::NONE;
        let r = press(KeyCode::Char('r'), none);
        assert_eq!(action_for(&r), Some(Action::Repro));
        let s = press(KeyCode::Char('s'), none);
        assert_eq!(action_for(&s), Some(Action::SortNext));
        assert_eq!(action_in(&s, Scope::Repro), Some(Action::ReproStart));
        let enter = press(KeyCode::Enter, none);
        assert_eq!(action_in(&enter, Scope::Repro), Some(Action::ReproStart));
        assert_eq!(action_for(&enter), Some(Action::Details));
        let x = press(KeyCode::Char('x'), none);
        assert_eq!(action_for(&x), None, "x means nothing elsewhere");
        let q = press(KeyCode::Char('q'), none);
        assert_eq!(action_in(&q, Scope::Repro), Some(Action::Quit));
        assert!(shadowed(
            binding_of(Action::SortNext).unwrap(),
            Scope::Repro
        ));
        assert!(!shadowed(binding_of(Action::Quit).unwrap(), Scope::Repro));
        assert_eq!(key_label(Action::ReproStart), "Enter");
        assert_eq!(keys_label(binding_of(Action::ReproLess).unwrap()), "←");
    }

    #[test]
    fn labels_read_like_keys() {
        assert_eq!(key_label(Action::Quit), "q");
        assert_eq!(key_label(Action::Pause), "space");
        assert_eq!(keys_label(binding_of(Action::Quit).unwrap()), "q Ctrl-C");
        assert_eq!(keys_label(binding_of(Action::Up).unwrap()), "↑ k");
    }
}

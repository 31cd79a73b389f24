//! Every key binding, as data. The dispatcher looks keys up here and the
//! help overlay and the footer print this same table, so help cannot drift
//! from behaviour. A new binding is one more row (and, for a new kind of
//! action, one more variant and its one handler).
//!
//! What a binding does is a [`Command`], and its variant is its [`Scope`]:
//! - [`Action`]s are global (a pane may give movement its own meaning);
//! - [`ReproAction`]s apply while the repro pane has the focus and win over
//!   global keys there (`s` starts a run instead of sorting); the global
//!   dispatcher never sees them;
//! - [`TextEdit`]s edit the text being typed (the filter, or the repro
//!   form's port and host), and [`FilterAction`]s end or steer the filter.
//!   While text is typed these come first, and a printable character the
//!   field takes is typed rather than looked up.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::text_input::TextEdit;

mod table;
pub use table::{KEYMAP, TYPING_HELP};

/// A global key: what it asks for anywhere. Panes interpret movement for
/// themselves (see [`super::pane::Pane::handle_key`]).
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
    OpenRepro,
    /// Free the port a selected self-connected socket holds (destroy it,
    /// after a confirmation).
    FreePort,
    /// Hide or show namespaces appearing and going in the event log.
    ToggleNamespaceEvents,
    /// Copy the selected finding's fix to the clipboard (OSC 52).
    CopyFix,
    /// Copy the line that reserves every risky listener of the selected
    /// socket's namespace.
    CopyReserveAll,
    /// Forget the self-connects caught live.
    ClearCaught,
}

/// A key of the repro pane, while it has the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReproAction {
    Start,
    Stop,
    /// Stop what runs; when nothing runs, close the pane.
    Back,
    /// Close the socket connected to itself.
    CloseSocket,
    /// A second loop side by side, or back to one.
    Duel,
    ParityDuel,
    GuardDuel,
    NextField,
    PrevField,
    /// The previous or next value of the focused field.
    Less,
    More,
    /// Save the last run's packet capture as a `.pcap` file.
    SavePcap,
    /// Play the "service restart" incident on the port.
    Incident,
}

/// A key while the filter is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterAction {
    /// Keep the filter and stop typing.
    Keep,
    /// Clear the filter and stop typing.
    Cancel,
    /// Move the table's selection while typing.
    Up,
    Down,
}

/// What a binding does; the variant says where it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Global(Action),
    Repro(ReproAction),
    Edit(TextEdit),
    Filter(FilterAction),
}

impl From<Action> for Command {
    fn from(a: Action) -> Command {
        Command::Global(a)
    }
}

impl From<ReproAction> for Command {
    fn from(a: ReproAction) -> Command {
        Command::Repro(a)
    }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// While the repro pane has the focus (looked up before global keys).
    Repro,
    /// While text is typed (the filter, a text field of the repro form).
    Edit,
    /// While the filter is typed.
    Filter,
}

impl Command {
    pub fn scope(self) -> Scope {
        match self {
            Command::Global(_) => Scope::Global,
            Command::Repro(_) => Scope::Repro,
            Command::Edit(_) => Scope::Edit,
            Command::Filter(_) => Scope::Filter,
        }
    }
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
    Typing,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::General,
        Section::View,
        Section::Move,
        Section::Repro,
        Section::Typing,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::General => "General",
            Section::View => "What is shown",
            Section::Move => "Moving (in the focused pane)",
            Section::Repro => {
                "Reproducing it live ({open_repro}, then these keys in the repro pane)"
            }
            Section::Typing => "Typing (the filter after {filter}, the repro form's port and host)",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub command: Command,
    pub section: Section,
    /// One line for the help overlay.
    pub help: &'static str,
    /// A word or two for the footer (and the repro pane's border);
    /// `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
}

impl Binding {
    pub fn scope(&self) -> Scope {
        self.command.scope()
    }
}

/// What the mouse does; printed in help after the key table.
pub const MOUSE_HELP: &[(&str, &str)] = &[
    ("wheel", "scroll the pane under the pointer"),
    ("click", "select a row, or focus a pane"),
];

/// What the dispatcher knows when it looks a key up.
#[derive(Clone, Copy, Default)]
pub struct KeyContext<'a> {
    /// Help is open: only global keys (help scrolls and closes with them).
    pub help: bool,
    /// The filter is being typed.
    pub filter: bool,
    /// The repro pane has the focus.
    pub repro: bool,
    /// A field of the focused pane takes typed text: which characters.
    pub typing: Option<&'a dyn Fn(char) -> bool>,
}

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

/// The global action bound to a key press, if any (outside any pane).
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    match find(ev, Scope::Global) {
        Some(Command::Global(a)) => Some(a),
        _ => None,
    }
}

/// The binding of a key press in one scope.
fn find(ev: &KeyEvent, scope: Scope) -> Option<Command> {
    bindings()
        .iter()
        .filter(|b| b.scope() == scope)
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.command)
}

/// A printable character typed without Ctrl or Alt.
fn typed_char(ev: &KeyEvent) -> Option<char> {
    let mods = ev.modifiers;
    match ev.code {
        KeyCode::Char(c)
            if !mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) && !c.is_control() =>
        {
            Some(c)
        }
        _ => None,
    }
}

/// What a key press means here: the innermost scope first (the filter,
/// the text being typed, the focused pane), then the global keys. While
/// the filter is typed, keys it does not bind mean nothing.
pub fn lookup(ev: &KeyEvent, ctx: &KeyContext) -> Option<Command> {
    if ctx.help {
        return find(ev, Scope::Global);
    }
    if ctx.filter {
        return find(ev, Scope::Filter)
            .or_else(|| find(ev, Scope::Edit))
            .or_else(|| typed_char(ev).map(|c| Command::Edit(TextEdit::Insert(c))));
    }
    if let Some(takes) = ctx.typing {
        let typed = typed_char(ev)
            .filter(|&c| takes(c))
            .map(|c| Command::Edit(TextEdit::Insert(c)));
        if let Some(cmd) = typed.or_else(|| find(ev, Scope::Edit)) {
            return Some(cmd);
        }
    }
    if ctx.repro
        && let Some(cmd) = find(ev, Scope::Repro)
    {
        return Some(cmd);
    }
    find(ev, Scope::Global)
}

/// Whether a global binding's first key is taken over in `scope`.
pub fn shadowed(b: &Binding, scope: Scope) -> bool {
    b.scope() == Scope::Global
        && scope != Scope::Global
        && bindings()
            .iter()
            .filter(|o| o.scope() == scope)
            .any(|o| o.keys.contains(&b.keys[0]))
}

/// The binding of a command (for labels in messages: "press a to ...").
pub fn binding_of(command: impl Into<Command>) -> Option<&'static Binding> {
    let command = command.into();
    bindings().iter().find(|b| b.command == command)
}

/// The first key of a command, as printed.
pub fn key_label(command: impl Into<Command>) -> String {
    binding_of(command)
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
        for scope in [Scope::Global, Scope::Repro, Scope::Edit, Scope::Filter] {
            let mut seen: Vec<Key> = Vec::new();
            for b in KEYMAP.iter().filter(|b| b.scope() == scope) {
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
        let repro = KeyContext {
            repro: true,
            ..KeyContext::default()
        };
        let r = press(KeyCode::Char('r'), none);
        assert_eq!(action_for(&r), Some(Action::OpenRepro));
        let s = press(KeyCode::Char('s'), none);
        assert_eq!(action_for(&s), Some(Action::SortNext));
        let start = Some(Command::Repro(ReproAction::Start));
        assert_eq!(lookup(&s, &repro), start);
        let enter = press(KeyCode::Enter, none);
        assert_eq!(lookup(&enter, &repro), start);
        assert_eq!(action_for(&enter), Some(Action::Details));
        let x = press(KeyCode::Char('x'), none);
        assert_eq!(action_for(&x), None, "x means nothing elsewhere");
        let q = press(KeyCode::Char('q'), none);
        assert_eq!(lookup(&q, &repro), Some(Command::Global(Action::Quit)));
        assert!(shadowed(
            binding_of(Action::SortNext).unwrap(),
            Scope::Repro
        ));
        assert!(!shadowed(binding_of(Action::Quit).unwrap(), Scope::Repro));
        assert_eq!(key_label(ReproAction::Start), "Enter");
        assert_eq!(keys_label(binding_of(ReproAction::Less).unwrap()), "←");
    }

    #[test]
    fn typed_text_comes_before_keys_only_where_the_field_takes_it() {
        let none = KeyModifiers::NONE;
        let digits = |c: char| c.is_ascii_digit();
        let port_field = KeyContext {
            repro: true,
            typing: Some(&digits),
            ..KeyContext::default()
        };
        let insert = |c| Some(Command::Edit(TextEdit::Insert(c)));
        assert_eq!(
            lookup(&press(KeyCode::Char('4'), none), &port_field),
            insert('4')
        );
        assert_eq!(
            lookup(&press(KeyCode::Char('d'), none), &port_field),
            Some(Command::Repro(ReproAction::Duel)),
            "a letter is a key in the port field"
        );
        assert_eq!(
            lookup(
                &press(KeyCode::Char('u'), KeyModifiers::CONTROL),
                &port_field
            ),
            Some(Command::Edit(TextEdit::Clear))
        );
        let filter = KeyContext {
            filter: true,
            ..KeyContext::default()
        };
        assert_eq!(
            lookup(&press(KeyCode::Char('q'), none), &filter),
            insert('q')
        );
        assert_eq!(
            lookup(&press(KeyCode::Enter, none), &filter),
            Some(Command::Filter(FilterAction::Keep))
        );
        assert_eq!(
            lookup(&press(KeyCode::Backspace, none), &filter),
            Some(Command::Edit(TextEdit::DeleteBack))
        );
        assert_eq!(lookup(&press(KeyCode::Tab, none), &filter), None);
        assert_eq!(
            lookup(&press(KeyCode::Char('x'), KeyModifiers::ALT), &filter),
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

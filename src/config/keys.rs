//! `[keys]`: rebinding the dashboard's actions. Action names come from the
//! key table itself (`sort_next` for `Action::SortNext`), so a new binding
//! can be rebound without touching this file. A rebinding replaces all keys
//! of that action; a key bound twice in one scope is refused, as an unknown
//! action or key name is.

use crossterm::event::KeyCode;

use crate::tui::keymap::{self, Binding, Command, KEYMAP, Key, Scope};

/// One `[keys]` entry, checked on its own (clashes are checked by [`check`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeySetting {
    pub action: Command,
    pub keys: Vec<Key>,
    pub line: usize,
}

/// The file's name for an action: its variant in snake case, prefixed by
/// its scope outside the global keys (`repro_start`, `filter_keep`).
pub fn action_name(action: Command) -> String {
    let (prefix, variant) = match action {
        Command::Global(a) => ("", format!("{a:?}")),
        Command::Repro(a) => ("repro_", format!("{a:?}")),
        Command::Edit(e) => ("edit_", format!("{e:?}")),
        Command::Filter(a) => ("filter_", format!("{a:?}")),
    };
    // `Insert('x')` and the like: only the variant's name.
    let variant = variant.split('(').next().unwrap_or_default();
    let mut out = prefix.to_string();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn action_named(name: &str) -> Option<&'static Binding> {
    KEYMAP.iter().find(|b| action_name(b.command) == name)
}

/// Checks one entry: `action = ["key", ...]`.
pub fn parse_entry(action: &str, keys: &[String], line: usize) -> Result<KeySetting, String> {
    let Some(binding) = action_named(action) else {
        let names: Vec<String> = KEYMAP.iter().map(|b| action_name(b.command)).collect();
        return Err(format!(
            "unknown action (expected one of: {})",
            names.join(", ")
        ));
    };
    if keys.is_empty() {
        return Err("give at least one key".to_string());
    }
    let mut parsed = Vec::new();
    for k in keys {
        let key = parse_key(k)?;
        if parsed.contains(&key) {
            return Err(format!("{k:?} is listed twice"));
        }
        parsed.push(key);
    }
    Ok(KeySetting {
        action: binding.command,
        keys: parsed,
        line,
    })
}

/// Refuses a key bound to two actions of one scope once the file's
/// changes are made: `(line, key, message)` of the file's entry at fault.
pub fn check(settings: &[KeySetting]) -> Result<(), (usize, String, String)> {
    let table = effective(settings);
    for (i, (b, keys)) in table.iter().enumerate() {
        for (other, other_keys) in &table[..i] {
            if other.scope() != b.scope() {
                continue;
            }
            let Some(k) = keys.iter().find(|k| other_keys.contains(k)) else {
                continue;
            };
            // Blame an entry of the file: the later one when both are.
            let mine = |a: Command| settings.iter().find(|s| s.action == a);
            let (culprit, victim) = match (mine(b.command), mine(other.command)) {
                (Some(s), Some(o)) if o.line > s.line => (o, b.command),
                (Some(s), _) => (s, other.command),
                (None, Some(o)) => (o, b.command),
                (None, None) => continue,
            };
            return Err((
                culprit.line,
                format!("keys.{}", action_name(culprit.action)),
                format!(
                    "{} is already bound to {}{}",
                    key_name(k),
                    action_name(victim),
                    if b.scope() == Scope::Repro {
                        " in the repro pane"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// Each binding of the table with its keys after the file's changes.
fn effective(settings: &[KeySetting]) -> Vec<(&'static Binding, Vec<Key>)> {
    KEYMAP
        .iter()
        .map(|b| {
            let keys = settings
                .iter()
                .rev()
                .find(|s| s.action == b.command)
                .map_or_else(|| b.keys.to_vec(), |s| s.keys.clone());
            (b, keys)
        })
        .collect()
}

/// The key table with the file's changes, for [`keymap::install`]
/// (checked first with [`check`]).
pub fn table(settings: &[KeySetting]) -> Vec<Binding> {
    effective(settings)
        .into_iter()
        .map(|(b, keys)| Binding {
            // Leaked once, at start-up: the table lives as long as the process.
            keys: Box::leak(keys.into_boxed_slice()),
            ..*b
        })
        .collect()
}

/// Installs the file's key bindings, if it has any.
pub fn install(settings: &[KeySetting]) {
    if !settings.is_empty() {
        keymap::install(table(settings));
    }
}

const NAMED: &[(&str, KeyCode)] = &[
    ("Esc", KeyCode::Esc),
    ("Enter", KeyCode::Enter),
    ("Tab", KeyCode::Tab),
    ("Shift-Tab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
];

/// `q`, `S`, `?`, `space`, `Ctrl-l`, `Esc`, `Shift-Tab`, `PgDn`, `F1`,
/// `Up` (and the arrows help prints: `↑`).
pub fn parse_key(text: &str) -> Result<Key, String> {
    let bad = || {
        format!(
            "{text:?} is not a key: use one character (\"h\", \"?\"), Ctrl- and a letter \
             (\"Ctrl-k\"), F1 to F12, or one of: {}",
            NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        )
    };
    if let Some(rest) = text
        .strip_prefix("Ctrl-")
        .or_else(|| text.strip_prefix("ctrl-"))
        .or_else(|| text.strip_prefix("C-"))
    {
        let mut chars = rest.chars();
        return match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => Ok(Key {
                code: KeyCode::Char(c.to_ascii_lowercase()),
                ctrl: true,
            }),
            _ => Err(bad()),
        };
    }
    let code = match text {
        "↑" => KeyCode::Up,
        "↓" => KeyCode::Down,
        "←" => KeyCode::Left,
        "→" => KeyCode::Right,
        "PageUp" | "pageup" => KeyCode::PageUp,
        "PageDown" | "pagedown" => KeyCode::PageDown,
        "BackTab" => KeyCode::BackTab,
        _ => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() && c != ' ' => KeyCode::Char(c),
                _ => named(text).ok_or_else(bad)?,
            }
        }
    };
    Ok(Key { code, ctrl: false })
}

fn named(text: &str) -> Option<KeyCode> {
    if let Some(n) = text.strip_prefix(['F', 'f'])
        && let Ok(n) = n.parse::<u8>()
    {
        return (1..=12).contains(&n).then_some(KeyCode::F(n));
    }
    NAMED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
        .map(|(_, c)| *c)
}

/// How the file writes a key (parsed back by [`parse_key`]).
pub fn key_name(key: &Key) -> String {
    if let KeyCode::Char(c) = key.code
        && key.ctrl
    {
        return format!("Ctrl-{c}");
    }
    if let KeyCode::F(n) = key.code {
        return format!("F{n}");
    }
    match NAMED.iter().find(|(_, c)| *c == key.code) {
        Some((n, _)) => n.to_string(),
        None => match key.code {
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_the_table_prints_as_a_name_that_parses_back() {
        for b in KEYMAP {
            for k in b.keys {
                assert_eq!(parse_key(&key_name(k)), Ok(*k), "{}", key_name(k));
                assert_eq!(parse_key(&k.label()), Ok(*k), "help's label {}", k.label());
            }
            let name = action_name(b.command);
            assert_eq!(action_named(&name).map(|b| b.command), Some(b.command));
        }
        assert_eq!(
            action_name(Command::Repro(keymap::ReproAction::ParityDuel)),
            "repro_parity_duel"
        );
        assert_eq!(
            parse_key("F5"),
            Ok(Key {
                code: KeyCode::F(5),
                ctrl: false
            })
        );
        assert!(parse_key("F13").is_err());
        assert!(parse_key("Ctrl-").is_err());
        assert!(parse_key("hello").unwrap_err().contains("not a key"));
        assert!(parse_key("").is_err());
    }

    #[test]
    fn a_clash_in_one_scope_is_refused_and_blames_the_files_entry() {
        let help_on_q = parse_entry("help", &["q".into()], 7).unwrap();
        let (line, key, msg) = check(std::slice::from_ref(&help_on_q)).unwrap_err();
        assert_eq!((line, key.as_str()), (7, "keys.help"));
        assert!(msg.contains("q is already bound to quit"), "{msg}");
        // Moving quit away first makes room.
        let quit_on_z = parse_entry("quit", &["Z".into()], 3).unwrap();
        assert_eq!(check(&[quit_on_z, help_on_q]), Ok(()));
        // The repro pane's keys may shadow global ones, as `s` does.
        let stop_on_a = parse_entry("repro_stop", &["a".into()], 2).unwrap();
        assert_eq!(check(&[stop_on_a]), Ok(()));
        assert!(
            parse_entry("fly", &["f".into()], 1)
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(parse_entry("help", &[], 1).is_err());
    }
}

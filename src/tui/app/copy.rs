//! `y` and `Y`: what the dashboard copies to the clipboard. The state only
//! asks ([`Request::Copy`] carries the text) and says so in the event log;
//! the event loop writes the OSC 52 sequence to the terminal.

use super::{App, Request};
use crate::core::advice::advise;
use crate::core::reserve::reserve_all;

/// The text `y` copies for the selection: the commands of its first fix
/// that has any, one per line, exactly as shown (no prompt, no trailing
/// newline, so that a paste does not run the last line by itself).
pub fn fix_text(app: &App) -> Option<String> {
    let (socket, ns) = app.selected()?;
    let advice = advise(socket, ns);
    let fix = advice.fixes.iter().find(|f| !f.commands.is_empty())?;
    Some(fix.commands.join("\n"))
}

/// The text `Y` copies: the one line that reserves every risky listener
/// of the selected socket's namespace (the tool's own when nothing is
/// selected), and the namespace's name.
pub fn reserve_all_text(app: &App) -> Result<String, String> {
    let snap = app.snapshot().ok_or("nothing scanned yet")?;
    let netns = match app.selected() {
        Some((s, _)) => s.netns,
        None => snap.namespaces.iter().position(|n| n.is_own).unwrap_or(0),
    };
    reserve_all(snap, netns).map(|r| r.command).ok_or_else(|| {
        let name = snap.namespaces.get(netns).map_or("", |n| n.name.as_str());
        format!("no risky listener in network namespace {name}: nothing to reserve")
    })
}

impl App {
    /// `y`: the selection's fix to the clipboard.
    pub(super) fn copy_fix(&mut self) {
        let copied = match fix_text(self) {
            Some(text) => Ok(text),
            None if self.selected().is_none() => Err("nothing selected".to_string()),
            None => Err("the selected socket has no fix to copy".to_string()),
        };
        self.copy("the fix", copied);
    }

    /// `Y`: the reserve-all line of the selection's namespace.
    pub(super) fn copy_reserve_all(&mut self) {
        let copied = reserve_all_text(self);
        self.copy("the reserve-all line", copied);
    }

    fn copy(&mut self, what: &str, text: Result<String, String>) {
        let note = match text {
            Ok(text) => {
                let first = text.lines().next().unwrap_or_default().to_string();
                let lines = text.lines().count();
                self.outbox.push(Request::Copy(text));
                let more = if lines > 1 {
                    format!(" (and {} more)", lines - 1)
                } else {
                    String::new()
                };
                format!("copied {what} to the clipboard (OSC 52): {first}{more}")
            }
            Err(why) => format!("nothing copied: {why}"),
        };
        self.tracker.note(self.now, note);
    }
}

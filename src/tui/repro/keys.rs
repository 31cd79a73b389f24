//! The repro pane's keys that apply in its current state, with the words
//! for them: computed here once, printed by the pane's bottom border and by
//! the footer alike. The words are the key table's hints, except where the
//! state changes what a key does ("start again", "one loop").

use crate::tui::keymap::{ReproAction, binding_of};

use super::state::ReproState;

/// The keys that do something now, in the order they are shown.
pub fn available(st: &ReproState) -> Vec<(ReproAction, &'static str)> {
    let busy = st.any_busy();
    let mut actions = Vec::new();
    actions.push(if busy {
        ReproAction::Stop
    } else {
        ReproAction::Start
    });
    if st.any_held() || st.incident_waits() {
        actions.push(ReproAction::CloseSocket);
    }
    if !busy && st.any_ran() {
        actions.push(ReproAction::SavePcap);
    }
    if !busy {
        actions.extend([
            ReproAction::Duel,
            ReproAction::ParityDuel,
            ReproAction::GuardDuel,
            ReproAction::Incident,
            ReproAction::More,
            ReproAction::Back,
        ]);
    }
    actions
        .into_iter()
        .filter_map(|a| words(st, a).map(|w| (a, w)))
        .collect()
}

/// What a key does in this state, in a word or two.
fn words(st: &ReproState, action: ReproAction) -> Option<&'static str> {
    match action {
        ReproAction::Start if st.any_ran() => Some("start again"),
        ReproAction::Duel if st.is_duel() => Some("one loop"),
        ReproAction::CloseSocket if st.incident_waits() => Some("free the port"),
        _ => binding_of(action).and_then(|b| b.hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::repro::{ReproEffect, ScanFacts};

    #[test]
    fn the_keys_follow_the_state() {
        let mut st = ReproState::default();
        let shown = |st: &ReproState| -> Vec<&'static str> {
            available(st).into_iter().map(|(_, w)| w).collect()
        };
        assert_eq!(
            shown(&st),
            [
                "start",
                "duel",
                "parity duel",
                "guard duel",
                "incident",
                "change",
                "close pane"
            ]
        );
        st.apply(ReproEffect::Duel, &ScanFacts::default());
        assert!(shown(&st).contains(&"one loop"));
        st.slots[0].starting = true;
        assert_eq!(shown(&st), ["stop"], "busy: only stop");
    }
}

//! Editing a line of typed text. The filter and the repro form's text
//! fields take the same edits, bound to keys in one scope of the key table
//! ([`super::keymap::Scope::Edit`]); printable characters are typed as
//! they come.

/// One edit of a line of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEdit {
    /// A printable character, typed.
    Insert(char),
    /// Delete the last character.
    DeleteBack,
    /// Delete the last word (and the blanks after it).
    DeleteWord,
    /// Delete everything.
    Clear,
}

/// Carries out `edit` on `text`.
pub fn apply(text: &mut String, edit: TextEdit) {
    match edit {
        TextEdit::Insert(c) => text.push(c),
        TextEdit::DeleteBack => {
            text.pop();
        }
        TextEdit::DeleteWord => {
            let keep = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
            text.truncate(keep);
        }
        TextEdit::Clear => text.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_a_line() {
        let mut t = String::new();
        for c in "listen 127.0.0.1 ".chars() {
            apply(&mut t, TextEdit::Insert(c));
        }
        apply(&mut t, TextEdit::DeleteWord);
        assert_eq!(t, "listen ");
        apply(&mut t, TextEdit::DeleteBack);
        assert_eq!(t, "listen");
        apply(&mut t, TextEdit::Clear);
        assert_eq!(t, "");
        apply(&mut t, TextEdit::DeleteBack);
        assert_eq!(t, "");
    }
}

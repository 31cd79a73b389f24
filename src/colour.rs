//! Whether to colour output: the one `NO_COLOR` policy, read by the
//! command line's reports and by the dashboard's theme alike.

/// Whether the environment asks for no colour: `NO_COLOR` set to anything
/// non-empty (<https://no-color.org>).
pub fn no_color_env() -> bool {
    no_color(std::env::var_os("NO_COLOR").as_deref())
}

/// Whether to colour text written to a stream: only on a terminal, and
/// never under `NO_COLOR`.
pub fn colour_wanted(is_terminal: bool) -> bool {
    is_terminal && !no_color_env()
}

/// The rule on the variable's value (`None` when unset), apart from the
/// environment so that it can be tested.
fn no_color(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_means_set_and_not_empty() {
        assert!(!no_color(None));
        assert!(!no_color(Some(OsStr::new(""))));
        assert!(no_color(Some(OsStr::new("1"))));
        assert!(no_color(Some(OsStr::new("0"))), "any value counts, even 0");
    }

    #[test]
    fn never_colour_off_a_terminal() {
        assert!(!colour_wanted(false));
        assert_eq!(colour_wanted(true), !no_color_env());
    }
}

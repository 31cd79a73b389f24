//! `--json` when a command fails: still exactly one object on stdout,
//! `{"error": {"kind": ..., "message": ...}}`, so that a script reads the
//! same kind of document whatever happened. `kind` is a stable word from
//! [`ErrorKind`]; `message` is the sentence also printed on stderr.

use serde::Serialize;

use crate::core::snapshot::ScanError;
use crate::repro::{ReproError, TargetError};
use crate::sys::scanner::ScanFailure;

/// What went wrong, as a script tests it. The README lists every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The command line: an unknown option, a bad value (`--port 0`,
    /// `--rate 1e-19`), a missing argument.
    Usage,
    /// `repro --host` is not a literal address or `localhost` (a name,
    /// `host:port`, the wildcard address), or cannot be reached from itself.
    BadHost,
    /// `repro --host` is an address, but not one of this machine's.
    NotLocal,
    /// The kernel has no route to the target.
    NoRoute,
    /// `scan --netns` matches no namespace, or several.
    UnknownNetns,
    /// `scan` could not read a single TCP table.
    TablesUnreadable,
    /// `repro`'s loop failed (a system call error stopped it).
    RunFailed,
    /// This machine refused something else the tool needs (listing its
    /// addresses, handling signals, starting a thread).
    System,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Usage,
        ErrorKind::BadHost,
        ErrorKind::NotLocal,
        ErrorKind::NoRoute,
        ErrorKind::UnknownNetns,
        ErrorKind::TablesUnreadable,
        ErrorKind::RunFailed,
        ErrorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::BadHost => "bad_host",
            ErrorKind::NotLocal => "not_local",
            ErrorKind::NoRoute => "no_route",
            ErrorKind::UnknownNetns => "unknown_netns",
            ErrorKind::TablesUnreadable => "tables_unreadable",
            ErrorKind::RunFailed => "run_failed",
            ErrorKind::System => "system",
        }
    }
}

impl From<&TargetError> for ErrorKind {
    fn from(e: &TargetError) -> ErrorKind {
        match e {
            TargetError::BadPort(_) => ErrorKind::Usage,
            TargetError::Unresolved { .. }
            | TargetError::NotAnAddress { .. }
            | TargetError::WithPort { .. }
            | TargetError::Unspecified { .. } => ErrorKind::BadHost,
            TargetError::NotLocal { .. } => ErrorKind::NotLocal,
            TargetError::NoRoute { .. } => ErrorKind::NoRoute,
            TargetError::Interfaces { .. } => ErrorKind::System,
        }
    }
}

impl From<&ReproError> for ErrorKind {
    fn from(e: &ReproError) -> ErrorKind {
        match e {
            ReproError::Config(_) => ErrorKind::Usage,
            ReproError::SourceAddress { .. } => ErrorKind::BadHost,
            ReproError::Syscall { .. } => ErrorKind::RunFailed,
        }
    }
}

impl From<&ScanFailure> for ErrorKind {
    fn from(e: &ScanFailure) -> ErrorKind {
        match e {
            ScanFailure::NoTables(_) => ErrorKind::TablesUnreadable,
            ScanFailure::NoSuchNamespace { .. } => ErrorKind::UnknownNetns,
        }
    }
}

/// The `error` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorJson {
    pub kind: ErrorKind,
    pub message: String,
}

impl ErrorJson {
    pub fn new(kind: impl Into<ErrorKind>, message: impl std::fmt::Display) -> ErrorJson {
        ErrorJson {
            kind: kind.into(),
            message: message.to_string(),
        }
    }
}

/// The whole document of a failed command.
#[derive(Debug, Serialize)]
pub struct ErrorDoc<'a> {
    pub error: ErrorJson,
    /// `scan` only: what could not be read, as in a scan's `errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [ScanError]>,
}

impl ErrorDoc<'_> {
    /// The document as one line of text, with its newline.
    pub fn to_line(&self) -> String {
        // Serialising strings and enums cannot fail; should it ever, the
        // fallback is still one object.
        let mut text = serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"error":{"kind":"system","message":"cannot serialise the error"}}"#.to_string()
        });
        text.push('\n');
        text
    }
}

impl<'a> From<&'a ScanFailure> for ErrorDoc<'a> {
    fn from(e: &'a ScanFailure) -> ErrorDoc<'a> {
        ErrorDoc {
            error: ErrorJson::new(e, e),
            errors: Some(e.errors()),
        }
    }
}

impl From<ErrorJson> for ErrorDoc<'_> {
    fn from(error: ErrorJson) -> Self {
        ErrorDoc {
            error,
            errors: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_stable_words() {
        for kind in ErrorKind::ALL {
            let v = serde_json::to_value(kind).unwrap();
            assert_eq!(v, kind.as_str(), "{kind:?}");
        }
    }

    #[test]
    fn an_error_document_is_one_line_with_kind_and_message() {
        let doc = ErrorDoc::from(ErrorJson::new(
            ErrorKind::NotLocal,
            "8.8.8.8 is \"not\" local\n",
        ));
        let line = doc.to_line();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"kind": "not_local", "message": "8.8.8.8 is \"not\" local\n"}})
        );
    }

    #[test]
    fn a_scan_failure_keeps_what_could_not_be_read() {
        let failure = ScanFailure::NoTables(vec![ScanError::new("/proc/net/tcp", "denied")]);
        let v: serde_json::Value =
            serde_json::from_str(&ErrorDoc::from(&failure).to_line()).unwrap();
        assert_eq!(v["error"]["kind"], "tables_unreadable");
        assert_eq!(v["errors"][0]["source"], "/proc/net/tcp");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cannot read the TCP tables")
        );
    }
}

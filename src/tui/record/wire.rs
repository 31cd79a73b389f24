//! How the repro runner's answers and a failed scan are written in a
//! recording: serde's remote definitions of the engine's types (so the
//! engine itself stays free of the file format), and the scan failure as
//! plain data. Strings read back go through the sanitiser: a recording
//! may come from anyone.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::sanitize::terminal_safe;
use crate::core::snapshot::ScanError;
use crate::repro::{
    Config, ECHO_MESSAGE, End, ErrorCounts, Mode, ReproError, Snapshot, Stage, Target,
};
use crate::sys::scanner::ScanFailure;
use crate::tui::repro::{Purpose, ReproUpdate};

#[derive(Serialize, Deserialize)]
#[serde(remote = "Purpose")]
enum PurposeDef {
    Open,
    Duel,
    ParityDuel,
    GuardDuel,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Mode")]
enum ModeDef {
    Fresh,
    Reuse,
    Bind,
    BindFirst,
    Guarded,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Stage")]
enum StageDef {
    Idle,
    Trying,
    KernelPickedTarget,
    SelfConnected,
    EchoProven,
    EchoFailed,
    ConnectedToOther,
    PortInUse,
    LimitReached,
    Stopped,
    Failed,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ErrorCounts")]
struct ErrorCountsDef(pub [u64; crate::repro::counters::ERROR_SLOTS]);

#[derive(Serialize, Deserialize)]
#[serde(remote = "Snapshot")]
struct SnapshotDef {
    #[serde(with = "StageDef")]
    stage: Stage,
    attempts: u64,
    refused: u64,
    #[serde(with = "ErrorCountsDef")]
    errors: ErrorCounts,
    last_other_errno: Option<i32>,
    elapsed: Duration,
    last_source_port: Option<u16>,
    even_source_ports: u64,
    odd_source_ports: u64,
    caught: u64,
}

/// A target as recorded: what the pane shows of it.
#[derive(Serialize, Deserialize)]
struct TargetWire {
    host: String,
    addr: SocketAddr,
    source_ip: IpAddr,
}

fn ser_target<S: Serializer>(t: &Target, s: S) -> Result<S::Ok, S::Error> {
    TargetWire {
        host: t.host().to_string(),
        addr: t.addr(),
        source_ip: t.source_ip(),
    }
    .serialize(s)
}

fn de_target<'de, D: Deserializer<'de>>(d: D) -> Result<Target, D::Error> {
    let w = TargetWire::deserialize(d)?;
    Ok(Target::as_recorded(
        terminal_safe(&w.host).into_owned(),
        w.addr,
        w.source_ip,
    ))
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Config")]
struct ConfigDef {
    #[serde(serialize_with = "ser_target", deserialize_with = "de_target")]
    target: Target,
    #[serde(with = "ModeDef")]
    mode: Mode,
    rate: Option<f64>,
    max_attempts: u64,
    max_time: Duration,
    echo_timeout: Duration,
    connect_timeout: Duration,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ReproError")]
enum ReproErrorDef {
    Config(String),
    SourceAddress {
        target: SocketAddr,
        from: IpAddr,
        #[serde(with = "ModeDef")]
        mode: Mode,
    },
    Syscall {
        call: String,
        errno: i32,
        name: String,
        message: String,
        hint: String,
    },
}

fn echo_message() -> &'static [u8] {
    ECHO_MESSAGE
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "crate::repro::Echo")]
struct EchoDef {
    #[serde(skip, default = "echo_message")]
    sent: &'static [u8],
    received: Vec<u8>,
    verified: bool,
    error: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "End")]
enum EndDef {
    SelfConnected {
        local: SocketAddr,
        peer: SocketAddr,
        #[serde(with = "EchoDef")]
        echo: crate::repro::Echo,
    },
    ConnectedToOther {
        local: SocketAddr,
        peer: SocketAddr,
    },
    PortInUse {
        addr: SocketAddr,
    },
    AttemptLimit,
    TimeLimit,
    Stopped,
    Failed(#[serde(with = "ReproErrorDef")] ReproError),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ReproUpdate")]
enum ReproUpdateDef {
    Suggested {
        #[serde(with = "PurposeDef")]
        purpose: Purpose,
        port: Option<u16>,
    },
    Started {
        slot: usize,
        #[serde(with = "ConfigDef")]
        config: Config,
    },
    Refused {
        slot: usize,
        message: String,
    },
    Cancelled {
        slot: usize,
    },
    Progress {
        slot: usize,
        #[serde(with = "SnapshotDef")]
        stats: Snapshot,
    },
    Ended {
        slot: usize,
        #[serde(with = "EndDef")]
        end: End,
        #[serde(with = "SnapshotDef")]
        stats: Snapshot,
        held: bool,
    },
    Closed {
        slot: usize,
    },
}

/// Writes a borrowed repro update.
pub fn ser_update<S: Serializer>(u: &&ReproUpdate, s: S) -> Result<S::Ok, S::Error> {
    ReproUpdateDef::serialize(u, s)
}

/// A repro update in a recording.
#[derive(Serialize, Deserialize)]
pub struct WireUpdate(#[serde(with = "ReproUpdateDef")] pub ReproUpdate);

impl WireUpdate {
    /// The update read back, checked: a slot the pane has, and strings
    /// safe for a terminal.
    pub fn checked(self) -> Result<ReproUpdate, String> {
        let mut u = self.0;
        let slot = match &mut u {
            ReproUpdate::Suggested { .. } => None,
            ReproUpdate::Refused { slot, message } => {
                *message = terminal_safe(message).into_owned();
                Some(*slot)
            }
            ReproUpdate::Ended { slot, end, .. } => {
                sanitise_end(end);
                Some(*slot)
            }
            ReproUpdate::Started { slot, .. }
            | ReproUpdate::Cancelled { slot }
            | ReproUpdate::Progress { slot, .. }
            | ReproUpdate::Closed { slot } => Some(*slot),
        };
        match slot {
            Some(s) if s >= crate::tui::repro::SLOTS => Err(format!("a repro update for slot {s}")),
            _ => Ok(u),
        }
    }
}

fn safe(s: &mut String) {
    *s = terminal_safe(s).into_owned();
}

fn sanitise_end(end: &mut End) {
    match end {
        End::SelfConnected { echo, .. } => {
            if let Some(e) = echo.error.as_mut() {
                safe(e);
            }
        }
        End::Failed(ReproError::Config(m)) => safe(m),
        End::Failed(ReproError::Syscall {
            call,
            name,
            message,
            hint,
            ..
        }) => {
            for s in [call, name, message, hint] {
                safe(s);
            }
        }
        _ => {}
    }
}

/// A scan that produced no snapshot, as recorded.
#[derive(Debug, Serialize, Deserialize)]
pub enum WireFailure {
    NoTables(Vec<ScanError>),
    NoSuchNamespace {
        wanted: String,
        known: Vec<String>,
        message: String,
    },
}

impl From<&ScanFailure> for WireFailure {
    fn from(f: &ScanFailure) -> WireFailure {
        match f {
            ScanFailure::NoTables(e) => WireFailure::NoTables(e.clone()),
            ScanFailure::NoSuchNamespace {
                wanted,
                known,
                message,
            } => WireFailure::NoSuchNamespace {
                wanted: wanted.clone(),
                known: known.clone(),
                message: message.clone(),
            },
        }
    }
}

impl From<WireFailure> for ScanFailure {
    fn from(f: WireFailure) -> ScanFailure {
        match f {
            WireFailure::NoTables(e) => ScanFailure::NoTables(e),
            WireFailure::NoSuchNamespace {
                wanted,
                known,
                message,
            } => ScanFailure::NoSuchNamespace {
                wanted,
                known,
                message,
            },
        }
    }
}

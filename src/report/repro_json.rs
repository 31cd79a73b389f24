//! `repro --json`: one object describing the run and its result.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::report::error_json::ErrorJson;
use crate::repro::counters::errno_name;
use crate::repro::explain::{Likelihood, TargetFacts, prospect};
use crate::repro::{Config, End, Outcome};

#[derive(Debug, Serialize)]
pub struct ReproJson {
    /// The host as given (name or address).
    pub host: String,
    /// The address connected to, `ip:port`.
    pub address: String,
    pub port: u16,
    pub mode: &'static str,
    /// `self_connected`, `connected_to_listener`, `port_in_use`,
    /// `attempt_limit`, `time_limit`, `stopped` or `failed`.
    pub result: &'static str,
    pub self_connected: bool,
    pub attempts: u64,
    pub refused: u64,
    /// Errors other than refusals: errno name -> count (`other` for the rest).
    pub errors: Map<String, Value>,
    /// The errno of the last error counted as "other".
    pub last_other_errno: Option<String>,
    pub elapsed_ms: u64,
    pub attempts_per_sec: f64,
    /// The socket's own address, `ip:port`, when it connected.
    pub local: Option<String>,
    pub peer: Option<String>,
    pub echo_verified: bool,
    pub echo_error: Option<String>,
    pub caught: u64,
    pub even_source_ports: u64,
    pub odd_source_ports: u64,
    pub last_source_port: Option<u16>,
    pub rate_limit: Option<f64>,
    pub max_attempts: u64,
    pub max_time_ms: u64,
    pub port_range: String,
    /// Whether the kernel may pick the port by itself (in the range, not reserved).
    pub port_ephemeral: bool,
    /// Whether the port has the parity `connect()` picks first.
    pub connect_parity: bool,
    /// `expected`, `unlikely` or `never`: what the mode could do on this port.
    pub expectation: &'static str,
    /// Why the run ended as it did, and what to do, one sentence each.
    pub notes: Vec<String>,
    /// Why the run failed (`result` is `failed`), as in every `--json`
    /// error: `{"kind": "run_failed", "message": ...}`; null otherwise.
    pub error: Option<ErrorJson>,
}

impl ReproJson {
    pub fn new(config: &Config, outcome: &Outcome, facts: &TargetFacts) -> ReproJson {
        let policy = &facts.policy;
        let port = config.target.port();
        let stats = &outcome.stats;
        let (local, peer, echo) = match &outcome.end {
            End::SelfConnected { local, peer, echo } => (Some(*local), Some(*peer), Some(echo)),
            End::ConnectedToOther { local, peer } => (Some(*local), Some(*peer), None),
            _ => (None, None, None),
        };
        let pros = prospect(facts, config.mode, port);
        ReproJson {
            host: config.target.host().to_string(),
            address: config.target.addr().to_string(),
            port,
            mode: config.mode.name(),
            result: outcome.end.name(),
            self_connected: outcome.is_self_connected(),
            attempts: stats.attempts,
            refused: stats.refused,
            errors: stats
                .errors
                .nonzero()
                .map(|(name, n)| (name.to_string(), Value::from(n)))
                .collect(),
            last_other_errno: stats.last_other_errno.map(errno_name),
            elapsed_ms: u64::try_from(stats.elapsed.as_millis()).unwrap_or(u64::MAX),
            attempts_per_sec: (stats.attempts_per_sec() * 10.0).round() / 10.0,
            local: local.map(|a| a.to_string()),
            peer: peer.map(|a| a.to_string()),
            echo_verified: echo.is_some_and(|e| e.verified),
            echo_error: echo.and_then(|e| e.error.clone()),
            caught: stats.caught,
            even_source_ports: stats.even_source_ports,
            odd_source_ports: stats.odd_source_ports,
            last_source_port: stats.last_source_port,
            rate_limit: config.rate,
            max_attempts: config.max_attempts,
            max_time_ms: u64::try_from(config.max_time.as_millis()).unwrap_or(u64::MAX),
            port_range: policy.range.to_string(),
            port_ephemeral: policy.is_ephemeral(port),
            connect_parity: policy.range.has_connect_parity(port),
            expectation: match pros.likelihood {
                Likelihood::Expected => "expected",
                Likelihood::Unlikely => "unlikely",
                Likelihood::Never => "never",
            },
            notes: super::repro_text::notes(config, outcome, facts),
            error: match &outcome.end {
                End::Failed(e) => Some(ErrorJson::new(e, e)),
                _ => None,
            },
        }
    }
}

/// The JSON text of a run.
pub fn to_json(config: &Config, outcome: &Outcome, facts: &TargetFacts) -> String {
    serde_json::to_string_pretty(&ReproJson::new(config, outcome, facts))
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"))
}

/// `repro --scenario ... --json`: the scenario, whether it went as told,
/// and each step with its time and result.
#[derive(Debug, Serialize)]
pub struct ScenarioJson<'a> {
    pub scenario: &'static str,
    pub address: String,
    pub port: u16,
    pub reproduced: bool,
    /// The client's loop: attempts and refusals before it connected to itself.
    pub attempts: u64,
    pub refused: u64,
    pub steps: &'a [crate::repro::scenario::StepEvent],
}

/// The JSON text of a scenario run.
pub fn scenario_to_json(
    name: &'static str,
    outcome: &crate::repro::scenario::ScenarioOutcome,
) -> String {
    let j = ScenarioJson {
        scenario: name,
        address: outcome.target.to_string(),
        port: outcome.target.port(),
        reproduced: outcome.reproduced,
        attempts: outcome.client.attempts,
        refused: outcome.client.refused,
        steps: &outcome.steps,
    };
    serde_json::to_string_pretty(&j)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repro::{Counters, Mode, ReproError, Target};

    #[test]
    fn a_failed_run_carries_the_same_error_object_as_every_json_error() {
        let config = Config::new(Target::resolve("127.0.0.1", 44600).unwrap(), Mode::Fresh);
        let error = ReproError::Syscall {
            call: "socket()".into(),
            errno: libc::EMFILE,
            name: "EMFILE".into(),
            message: "Too many open files".into(),
            hint: "; too many open files".into(),
        };
        let outcome = Outcome::failed(&config, error.clone(), &Counters::new());
        let doc: Value =
            serde_json::from_str(&to_json(&config, &outcome, &TargetFacts::default())).unwrap();
        assert_eq!(doc["result"], "failed");
        assert_eq!(
            doc["error"],
            serde_json::json!({"kind": "run_failed", "message": error.to_string()})
        );
    }
}

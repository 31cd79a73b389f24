//! `--netns`: which of the namespaces found one name picks.

use super::namespaces::Candidate;
use super::netns;
use super::scanner::ScanFailure;

/// Keeps only the namespace `wanted` names (the own one stays, marked not
/// scanned, unless it is the one). `ns_of_pid` reads a process's namespace;
/// `hidden` is said after the list of known namespaces when some cannot be
/// seen.
pub fn select(
    cands: &mut Vec<Candidate>,
    wanted: &str,
    ns_of_pid: impl Fn(i32) -> Option<u64>,
    hidden: &str,
) -> Result<(), ScanFailure> {
    let hits = matching(cands, wanted, ns_of_pid);
    if let [hit] = hits[..] {
        let hit_id = cands[hit].id;
        cands.retain(|c| c.is_own || c.id == hit_id);
        for c in cands.iter_mut() {
            c.scanned = c.id == hit_id;
        }
        return Ok(());
    }
    let listed = |idx: &mut dyn Iterator<Item = &Candidate>| -> Vec<String> {
        idx.map(|c| format!("{} [{}]", c.name, c.id)).collect()
    };
    let (known, message) = if hits.is_empty() {
        let known = listed(&mut cands.iter());
        let message = format!(
            "no network namespace matches {wanted:?}; known: {}{hidden}",
            known.join(", ")
        );
        (known, message)
    } else {
        let known = listed(&mut hits.iter().map(|&i| &cands[i]));
        let message = format!(
            "{wanted:?} matches several network namespaces: {}; give an id",
            known.join(", ")
        );
        (known, message)
    };
    Err(ScanFailure::NoSuchNamespace {
        wanted: wanted.to_string(),
        known,
        message,
    })
}

/// The candidates `wanted` names. Tried in order, the first rule with any
/// match wins: the name or `ip netns` name; `host` / `own`; the id (also
/// as `net:[ID]`); a container id (or its start); the pid of a process
/// inside (`ns_of_pid` reads its namespace).
fn matching(
    cands: &[Candidate],
    wanted: &str,
    ns_of_pid: impl Fn(i32) -> Option<u64>,
) -> Vec<usize> {
    let find = |pred: &dyn Fn(&Candidate) -> bool| -> Vec<usize> {
        cands
            .iter()
            .enumerate()
            .filter(|(_, c)| pred(c))
            .map(|(i, _)| i)
            .collect()
    };
    let wanted = wanted.trim();
    let id = netns::parse_ns_link(wanted).or_else(|| wanted.parse::<u64>().ok());
    let container = |c: &Candidate| {
        let Some((_, short)) = c.name.split_once(':') else {
            return false;
        };
        wanted.len() >= 4
            && wanted.bytes().all(|b| b.is_ascii_hexdigit())
            && (short.starts_with(wanted) || wanted.starts_with(short))
    };
    let rules: [&dyn Fn(&Candidate) -> bool; 4] = [
        &|c| c.name == wanted || c.ip_netns.as_deref() == Some(wanted),
        &|c| (wanted == "host" && c.is_host) || (wanted == "own" && c.is_own),
        &|c| id == Some(c.id),
        &container,
    ];
    for rule in rules {
        let hits = find(rule);
        if !hits.is_empty() {
            return hits;
        }
    }
    if let Some(ns) = wanted.parse::<i32>().ok().and_then(ns_of_pid) {
        return find(&|c| c.id == ns);
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: u64, name: &str, ip: Option<&str>, own: bool, host: bool) -> Candidate {
        Candidate {
            id,
            pids: vec![id as i32],
            ip_netns: ip.map(str::to_string),
            is_own: own,
            is_host: host,
            name: name.to_string(),
            scanned: true,
        }
    }

    #[test]
    fn netns_selection_rules() {
        let cands = vec![
            cand(10, "host", None, true, true),
            cand(20, "blue", Some("blue"), false, false),
            cand(30, "docker:3f2a1b4c5d6e", None, false, false),
            cand(40, "pid 4321 (nginx)", None, false, false),
            cand(50, "own", Some("own"), false, false),
        ];
        let pid_ns = |pid: i32| (pid == 4321).then_some(40);
        let m = |w: &str| matching(&cands, w, pid_ns);
        assert_eq!(m("blue"), vec![1]);
        assert_eq!(m("host"), vec![0]);
        // A namespace really named "own" wins over the keyword.
        assert_eq!(m("own"), vec![4]);
        assert_eq!(m("30"), vec![2]);
        assert_eq!(m("net:[20]"), vec![1]);
        assert_eq!(m("3f2a1b"), vec![2]);
        assert_eq!(
            m("3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"),
            vec![2]
        );
        assert_eq!(m("pid 4321 (nginx)"), vec![3]);
        assert_eq!(m("4321"), vec![3]);
        assert!(m("nope").is_empty());
        assert!(m("9999").is_empty());
        assert!(m("3f2").is_empty(), "too short for a container id");
    }

    #[test]
    fn selecting_keeps_the_own_namespace_unscanned() {
        let mut cands = vec![
            cand(10, "host", None, true, true),
            cand(20, "blue", Some("blue"), false, false),
            cand(30, "red", Some("red"), false, false),
        ];
        select(&mut cands, "red", |_| None, "").unwrap();
        let kept: Vec<(u64, bool, bool)> =
            cands.iter().map(|c| (c.id, c.is_own, c.scanned)).collect();
        assert_eq!(kept, vec![(10, true, false), (30, false, true)]);
        let mut cands = vec![
            cand(10, "host", None, true, true),
            cand(20, "blue", None, false, false),
        ];
        select(&mut cands, "own", |_| None, "").unwrap();
        assert_eq!(cands.len(), 1);
        assert!(cands[0].scanned && cands[0].is_own);
        let err = select(&mut cands, "green", |_| None, " (not root)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no network namespace matches \"green\"; known: host [10] (not root)"
        );
    }
}

//! assets/scan.schema.json against the real `scan --json` output, with a
//! maintained JSON Schema validator: scripts can rely on the format.

mod common;

use serde_json::{Value, json};

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/scan.schema.json"
    ))
    .expect("the schema file");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::meta::validate(&schema).expect("the schema is a valid JSON Schema");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the schema:\n{}",
        errors.join("\n")
    );
}

fn scan(extra: &[&str]) -> Value {
    let mut args = vec!["--no-config", "scan", "--json"];
    args.extend_from_slice(extra);
    let out = common::run(&args);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    common::json_of(&out)
}

#[test]
fn real_scan_output_matches_the_schema_with_and_without_all() {
    let v = validator();
    // A finding of each kind, so that both are checked, held during the scans.
    let listener = common::listener_in_range("127.0.0.1", true);
    let port = common::free_port("127.0.0.1");
    let me = common::self_connect(format!("127.0.0.1:{port}").parse().unwrap());

    let doc = scan(&[]);
    assert_valid(&v, &doc, "scan --json");
    let kinds: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"self_connect") && kinds.contains(&"ephemeral_listener"),
        "{kinds:?}"
    );
    assert!(doc.get("sockets").is_none());

    let all = scan(&["--all"]);
    assert_valid(&v, &all, "scan --json --all");
    let sockets = all["sockets"].as_array().expect("--all lists sockets");
    assert!(
        sockets.iter().any(|s| s["kind"].is_null()),
        "plain sockets too"
    );
    drop((listener, me));

    // The schema has teeth: a missing field, an unknown kind, a stray field.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("findings");
    assert!(!v.is_valid(&broken), "findings is required");
    let mut broken = doc.clone();
    broken["findings"][0]["kind"] = json!("bogus");
    assert!(!v.is_valid(&broken), "kind is an enumeration");
    let mut broken = all.clone();
    broken["sockets"][0]["surprise"] = json!(1);
    assert!(!v.is_valid(&broken), "no undocumented fields");
}

#[test]
fn an_error_object_is_allowed_alone_and_beside_a_scan() {
    let v = validator();
    let error = json!({"error": {"kind": "usage", "message": "unexpected argument '--jsn'"}});
    assert_valid(&v, &error, "an error document");
    assert!(
        !v.is_valid(&json!({"error": {"kind": "usage"}})),
        "message is required"
    );
    assert!(!v.is_valid(&json!({})), "an empty object is neither");
}

//! SARIF 2.1.0 for code-scanning services. Rule ids are the stable codes; rule metadata
//! (descriptions, help) comes from each rule's documentation; results point at the relative
//! file path and 1-based line. `partialFingerprints` hash the baseline key (code, file, image,
//! annotation, message) so that a moved line is recognised as the same result.

use crate::validate::registry::metas;
use crate::validate::{Finding, Severity};
use serde_json::{json, Value};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFO_URI: &str = "https://github.com/neutrostruct/neutrostruct";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The SARIF log as a value tree.
pub fn value(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = metas()
        .map(|m| {
            json!({
                "id": m.code,
                "name": m.name,
                "shortDescription": {"text": m.summary},
                "fullDescription": {"text": m.doc_text()},
                "help": {"text": m.doc_text(), "markdown": m.doc_text()},
                "defaultConfiguration": {"level": level(m.severity)},
            })
        })
        .collect();
    let index = |code: &str| metas().position(|m| m.code == code);
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": uri(&f.file)}}});
            if let Some(l) = f.line {
                loc["physicalLocation"]["region"] = json!({"startLine": l});
                if let Some(c) = f.column {
                    loc["physicalLocation"]["region"]["startColumn"] = json!(c);
                }
            }
            let mut r = json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [loc],
                "partialFingerprints": {
                    "neutrostruct/v1": super::fnv1a(&[
                        &f.code,
                        &f.file,
                        f.image.as_deref().unwrap_or(""),
                        &f.annotation_id.map(|a| a.to_string()).unwrap_or_default(),
                        &f.message,
                    ]),
                },
            });
            if let Some(i) = index(&f.code) {
                r["ruleIndex"] = json!(i);
            }
            let mut props = serde_json::Map::new();
            if let Some(im) = &f.image {
                props.insert("image".into(), json!(im));
            }
            if let Some(a) = f.annotation_id {
                props.insert("annotationId".into(), json!(a));
            }
            if !props.is_empty() {
                r["properties"] = Value::Object(props);
            }
            r
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "neutrostruct",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": INFO_URI,
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// A relative path as a URI reference: `/` separators, spaces and `%` escaped.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for ch in path.replace('\\', "/").chars() {
        match ch {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(ch),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// The SARIF 2.1.0 log (`--format sarif`).
pub fn render(findings: &[Finding]) -> String {
    let mut s = serde_json::to_string_pretty(&value(findings)).unwrap_or_default();
    s.push('\n');
    s
}

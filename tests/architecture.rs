//! The crate's layering, read from its source (issue 16): the top-level modules depend on one
//! another without a cycle, nothing but the command line uses `cli`, and clap stays in the
//! command line. A dependency is a `crate::module` path in code; comments, doc links and test
//! code (`#[cfg(test)]` items, test-only modules) do not count, since they never ship.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Modules compiled only for tests (declared `#[cfg(test)] mod …;` in `lib.rs`).
const TEST_ONLY_MODULES: &[&str] = &["test_mutations"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/coco/read.rs` → `coco`).
fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src");
    let first = rel.components().next().expect("a path component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The file's code without comments and without `#[cfg(test)]` items: the attribute and the
/// item after it, to its closing brace (or its `;`).
fn shipped_code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim() == "#[cfg(test)]" {
            // Skip further attributes, then the item.
            let mut depth = 0i64;
            let mut opened = false;
            for item_line in lines.by_ref() {
                let c = item_line.split("//").next().unwrap_or("");
                depth += c.matches('{').count() as i64 - c.matches('}').count() as i64;
                opened |= c.contains('{');
                let attribute = c.trim_start().starts_with("#[");
                if (opened && depth <= 0) || (!opened && !attribute && c.trim_end().ends_with(';'))
                {
                    break;
                }
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// `crate::name` references in code (also inside `use crate::{a, b::c}` groups).
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let body = group.split('}').next().unwrap_or("");
            // Only the first segment of each path in the group names a module.
            for part in body.split(',') {
                let name = word(part.trim());
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name = word(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| top_module(&src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = top_module(&src, file);
        if from == "lib" || from == "main" || TEST_ONLY_MODULES.contains(&from.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a UTF-8 source file");
        let deps = graph.entry(from.clone()).or_default();
        for to in referenced_modules(&shipped_code(&text)) {
            if to != from && modules.contains(&to) {
                deps.insert(to);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first, the path as found).
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = module_graph();
    // The scan must see the crate's real shape, or an empty graph would pass.
    assert!(graph["validate"].contains("model"), "{graph:#?}");
    assert!(graph["cli"].contains("validate"), "{graph:#?}");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_from(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn only_the_command_line_uses_cli() {
    let graph = module_graph();
    let users: Vec<&String> = graph
        .iter()
        .filter(|(from, deps)| from.as_str() != "cli" && deps.contains("cli"))
        .map(|(from, _)| from)
        .collect();
    assert!(users.is_empty(), "library modules using cli: {users:?}");
}

#[test]
fn the_model_depends_on_no_format() {
    let graph = module_graph();
    for low in ["model", "error", "escape", "geometry", "atomic", "labelset"] {
        let deps = &graph[low];
        for format in [
            "coco", "cvat", "masks", "training", "convert", "validate", "cli",
        ] {
            assert!(
                !deps.contains(format),
                "{low} depends on {format}: {deps:?}"
            );
        }
    }
}

#[test]
fn clap_stays_in_the_command_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut outside = Vec::new();
    for file in files {
        let top = top_module(&src, &file);
        if top == "cli" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a UTF-8 source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // A value enum may derive clap's trait when the `cli` feature is on; that
            // is a derive, not a use of the command line.
            if code.contains("clap") && !code.contains("cfg_attr(feature = \"cli\"") {
                outside.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        outside.is_empty(),
        "clap outside src/cli:\n{}",
        outside.join("\n")
    );
}

//! Test of the rule in `config`'s module paragraph: no file under `src/config/` reaches
//! into the rest of the crate except through the leaf modules it may use, and those leaves
//! import nothing from the crate themselves.

use std::path::{Path, PathBuf};

/// What a file under `src/config/` may name after `crate::`.
const ALLOWED: &[&str] = &["config", "ids", "secret", "catalog"];
/// The leaves `config` may import: files that must not mention `crate::` at all.
const LEAVES: &[&str] = &["ids.rs", "secret.rs", "catalog.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its module depth below `config` (`mod.rs` of
/// `config` is 0, `config/x.rs` and `config/v/mod.rs` are 1, `config/v/x.rs` is 2).
fn files(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, usize)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, depth + 1, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let d = if path.file_name().is_some_and(|n| n == "mod.rs") {
                depth
            } else {
                depth + 1
            };
            out.push((path, d));
        }
    }
}

/// The paths `text` names after `crate::` (the first segment).
fn crate_paths(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .filter(|(i, _)| {
            // `crate::` itself, not the tail of an identifier such as `my_crate::`.
            !text[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            if rest.starts_with('{') {
                return "{".to_owned();
            }
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn config_imports_only_itself_and_its_leaves() {
    let mut all = Vec::new();
    files(&src().join("config"), 0, &mut all);
    assert!(all.len() >= 8, "{all:?}");
    let mut bad = Vec::new();
    for (path, depth) in &all {
        if path.ends_with("config/isolation.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for p in crate_paths(&text) {
            if !ALLOWED.contains(&p.as_str()) {
                bad.push(format!("{}: crate::{p}", path.display()));
            }
        }
        // `super::` once more than the file is deep leaves `config` for the crate root (an
        // inline test module, one level deeper, is left out of this check).
        let escape = "super::".repeat(depth + 1);
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        if code.contains(&escape) {
            bad.push(format!("{}: {escape}", path.display()));
        }
    }
    for leaf in LEAVES {
        let path = src().join(leaf);
        let text = std::fs::read_to_string(&path).unwrap();
        if !crate_paths(&text).is_empty() || text.contains("super::super") {
            bad.push(format!("{}: a leaf imports from the crate", path.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "config reaches outside its leaves:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_should() {
    assert_eq!(
        crate_paths("use crate::records::x; use crate::{a, b}; my_crate::c; crate::config::X"),
        ["records", "{", "config"]
    );
}

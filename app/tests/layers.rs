//! The layers of `app/src` (docs/ARCHITECTURE.md), checked on the source: a module may use only
//! the layers below its own, so no two modules import each other, however indirectly. A new
//! feature goes into `FEATURES` at the level of what it builds on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Used by everything, uses no feature.
const BASE: &[&str] = &[
    "codes",
    "config",
    "context",
    "dates",
    "db",
    "error",
    "events",
    "i18n",
    "icons",
    "links",
    "ratelimit",
    "session_store",
    "sync",
    "text",
    "ui",
];

/// The features, lowest first; a feature may use the base and the features of lower levels,
/// never one of its own level or above.
const FEATURES: &[&[&str]] = &[
    // Who: every feature may ask who is signed in.
    &["accounts"],
    // What: every feature shows films.
    &["catalog"],
    // Others tell people things through it.
    &["notifications"],
    &["friends", "library", "opinions", "playback"],
    // Recommendations read the signals of all of those and score friends together.
    &["recs"],
    // A room is started with friends, for a film (or one of the group's ideas).
    &["rooms"],
    // Analytics reads every feature's raw events (the rooms' logs too); the status page reads
    // the rooms' hub and the library's queue.
    &["analytics", "status"],
];

/// Above the features: pages made of several, the header, the server's state, the app itself.
const TOP: &[&str] = &["pages", "layout", "state", "lib"];

fn level(module: &str) -> Option<usize> {
    if BASE.contains(&module) {
        return Some(0);
    }
    if let Some(i) = FEATURES.iter().position(|l| l.contains(&module)) {
        return Some(i + 1);
    }
    TOP.contains(&module).then_some(FEATURES.len() + 1)
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("app/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`rooms/channel/hub.rs` → `rooms`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under app/src");
    let first = rel.components().next().expect("a path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// Every `crate::<module>` a file names.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
        rest = after;
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = level(&module) else {
            wrong.push(format!(
                "{}: module `{module}` has no layer; add it to tests/layers.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for used in uses(&text) {
            if used == module {
                continue;
            }
            match level(&used) {
                Some(0) => {}
                Some(l) if l < own => {}
                _ => wrong.push(format!(
                    "{}: `{module}` uses `{used}`",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (docs/ARCHITECTURE.md):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_a_crossing() {
    let text = "use crate::rooms::channel::Hub;\nuse crate::error::AppError;";
    let used = uses(text);
    assert!(used.contains("rooms") && used.contains("error"));
    assert!(level("rooms") > level("accounts"));
    assert_eq!(level("ui"), Some(0));
    assert_eq!(level("nonexistent"), None);
}

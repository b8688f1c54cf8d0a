//! The crate's layers, held: every `crate::…` reference in `src/` must point to the same
//! layer or one below it, and no two files may depend on each other, directly or through
//! others. The table below is the one place the allowed order is written; change it here,
//! with a reason in the commit, when the design changes (see README, "Architecture").
//!
//! The scan is textual and small on purpose: comments and string literals are dropped, then
//! every `crate::a::b` path (with `{…}` groups expanded) and every `super::x` path is resolved
//! to the file that defines it. `pub use` re-exports in a module's own file are facades, not
//! dependencies of its code, and are skipped so a facade does not read as a cycle.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the top down; a module may use its own layer and any layer below it.
const LAYERS: &[(&str, &[&str])] = &[
    ("entry", &["main"]),
    ("commands", &["cmd"]),
    ("outputs", &["report", "web"]),
    ("studies", &["limit", "compare", "merge", "runner"]),
    ("run time", &["coordinator", "live", "timeline"]),
    ("engine", &["engine"]),
    ("plan", &["plan"]),
    (
        "foundations",
        &[
            "results", "gates", "load", "http", "stats", "scenario", "target", "tls", "tlsio",
            "shard", "os", "units",
        ],
    ),
];

/// Modules that stand apart: they may use nothing of the crate outside themselves, and
/// only the layers named in [`APART_USERS`] may use them (to start them).
const APART: &[&str] = &["serve"];
const APART_USERS: &[&str] = &["entry", "commands"];

/// Foundation leaves that use nothing of the crate, so an apart module may use them too:
/// `tlsio` is TLS over a monoio stream, the same for the client and the built-in server.
const SHARED_LEAVES: &[&str] = &["tlsio"];

/// `lib.rs` only declares the modules.
const EXEMPT: &[&str] = &["lib.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, relative to `src/`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p.strip_prefix(src()).unwrap().to_path_buf());
        }
    }
}

/// The module path a file defines: `engine/conn.rs` → [engine, conn]; `engine/mod.rs` →
/// [engine]; `main.rs` → [main].
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The source with comments, string and char literals blanked out.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                // A raw string r"…" or r#"…"# (an identifier ending in r is not one).
                let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
                let mut j = i + 1;
                while b.get(j) == Some(&b'#') {
                    j += 1;
                }
                if prev_ident || b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let hashes = j - i - 1;
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest = &text[j + 1..];
                i = j + 1 + rest.find(&close).map_or(rest.len(), |k| k + close.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('x' or '\n'); a lifetime ('a) has no closing quote.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                let ch = text[i..].chars().next().unwrap();
                if c.is_ascii() {
                    out.push(c as char);
                    i += 1;
                } else {
                    out.push(ch);
                    i += ch.len_utf8();
                }
            }
        }
    }
    out
}

/// Statements `pub use …;` (re-exports) removed.
fn without_reexports(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("pub use ") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |k| at + k + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands the path tree that starts at `s` (just after `root::`) into full paths.
fn expand(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    let mut i = 0;
    let chars: Vec<char> = s.chars().collect();
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '{' {
            i += 1;
            loop {
                while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                    i += 1;
                }
                if i >= chars.len() || chars[i] == '}' {
                    return i + 1;
                }
                let rest: String = chars[i..].iter().collect();
                i += expand(&path, &rest, out);
            }
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        if i == start {
            out.push(path);
            return i;
        }
        let seg: String = chars[start..i].iter().collect();
        if seg != "self" {
            path.push(seg);
        }
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            continue;
        }
        out.push(path);
        return i;
    }
}

/// Every module path `code` refers to through `crate::` or `super::`, absolute.
fn references(code: &str, module: &[String], is_mod_file: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (root, base) in [
        ("crate::", Vec::new()),
        ("super::", parent(module, is_mod_file)),
    ] {
        let mut from = 0;
        while let Some(k) = code[from..].find(root) {
            let at = from + k;
            from = at + root.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            let rest = &code[from..];
            if root == "super::" && rest.trim_start().starts_with('*') {
                continue; // `use super::*` in a test module: the file itself
            }
            expand(&base, rest, &mut out);
        }
    }
    // `use crate::report;` then `report::limit::render(…)`: follow module aliases one level.
    let aliases: BTreeSet<Vec<String>> = out
        .iter()
        .filter(|p| {
            p.last()
                .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_lowercase()))
        })
        .cloned()
        .collect();
    for path in aliases {
        let alias = format!("{}::", path.last().unwrap());
        let mut from = 0;
        while let Some(k) = code[from..].find(&alias) {
            let at = from + k;
            from = at + alias.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            expand(&path, &code[from..], &mut out);
        }
    }
    out
}

/// The module `super` names from a file (a `mod.rs` file is its directory's module).
fn parent(module: &[String], _is_mod_file: bool) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The file that defines the longest prefix of `path` that is a file of its own.
fn resolve(path: &[String], files: &BTreeSet<PathBuf>) -> Option<PathBuf> {
    for n in (1..=path.len()).rev() {
        let dir: PathBuf = path[..n].iter().collect();
        for candidate in [dir.with_extension("rs"), dir.join("mod.rs")] {
            if files.contains(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn top(file: &Path) -> String {
    module_of(file).first().cloned().unwrap_or_default()
}

fn rank(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, mods)| mods.contains(&module))
        .map(|i| LAYERS.len() - i)
}

fn layer_name(module: &str) -> &'static str {
    LAYERS
        .iter()
        .find(|(_, mods)| mods.contains(&module))
        .map_or("apart", |(name, _)| name)
}

/// Edges file → files it uses, and the `crate::` path behind each edge.
fn graph() -> BTreeMap<PathBuf, BTreeMap<PathBuf, String>> {
    let mut list = Vec::new();
    rust_files(&src(), &mut list);
    let files: BTreeSet<PathBuf> = list.iter().cloned().collect();
    let mut g = BTreeMap::new();
    for file in &list {
        if EXEMPT.contains(&file.to_str().unwrap()) {
            continue;
        }
        let text = std::fs::read_to_string(src().join(file)).unwrap();
        let mut code = without_reexports(&code_only(&text));
        if file == Path::new("main.rs") {
            code = code.replace("blast::", "crate::");
        }
        let module = module_of(file);
        let is_mod = file.ends_with("mod.rs");
        let mut edges = BTreeMap::new();
        for path in references(&code, &module, is_mod) {
            if let Some(to) = resolve(&path, &files) {
                if &to != file {
                    edges
                        .entry(to)
                        .or_insert_with(|| format!("crate::{}", path.join("::")));
                }
            }
        }
        g.insert(file.clone(), edges);
    }
    g
}

/// Imports that point up a layer or out of an apart module.
fn upward(g: &BTreeMap<PathBuf, BTreeMap<PathBuf, String>>) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, edges) in g {
        let fm = top(from);
        for (to, path) in edges {
            let tm = top(to);
            if fm == tm {
                continue;
            }
            let ok = match (rank(&fm), rank(&tm)) {
                _ if SHARED_LEAVES.contains(&fm.as_str()) => false,
                _ if APART.contains(&fm.as_str()) => SHARED_LEAVES.contains(&tm.as_str()),
                _ if APART.contains(&tm.as_str()) => APART_USERS.contains(&layer_name(&fm)),
                (Some(a), Some(b)) => b <= a,
                _ => false,
            };
            if !ok {
                bad.push(format!(
                    "src/{} ({}) uses {path} in src/{} ({})",
                    from.display(),
                    layer_name(&fm),
                    to.display(),
                    layer_name(&tm)
                ));
            }
        }
    }
    bad
}

/// Every cycle between files, each named by its files in order.
fn cycles(g: &BTreeMap<PathBuf, BTreeMap<PathBuf, String>>) -> Vec<String> {
    // Tarjan's strongly connected components: any component of two or more files is a cycle.
    struct T<'a> {
        g: &'a BTreeMap<PathBuf, BTreeMap<PathBuf, String>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<&'a PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flat_map(|e| e.keys()) {
            if !t.g.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
        .into_iter()
        .map(|comp| {
            let names: Vec<String> = comp
                .iter()
                .rev()
                .map(|f| format!("src/{}", f.display()))
                .collect();
            names.join(" ⇄ ")
        })
        .collect()
}

#[test]
fn every_import_points_down_the_layers() {
    let bad = upward(&graph());
    assert!(
        bad.is_empty(),
        "{} upward import(s):\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
}

#[test]
fn no_import_cycle_between_files() {
    let found = cycles(&graph());
    assert!(found.is_empty(), "import cycles:\n  {}", found.join("\n  "));
}

#[test]
fn every_module_has_a_layer() {
    let mut list = Vec::new();
    rust_files(&src(), &mut list);
    let unplaced: BTreeSet<String> = list
        .iter()
        .filter(|f| !EXEMPT.contains(&f.to_str().unwrap()))
        .map(|f| top(f))
        .filter(|m| rank(m).is_none() && !APART.contains(&m.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "modules with no layer: {unplaced:?}");
}

// The checker itself, on small inputs: a layers test that cannot fail is no test.

#[test]
fn the_scan_finds_grouped_nested_and_inline_paths() {
    let code = code_only(
        "use crate::{plan::{Plan, Load}, stats};\n\
         // use crate::ignored::Comment;\n\
         let s = \"crate::ignored::String\";\n\
         let x = crate::report::text::per_second(1, 2.0);\n\
         use super::driver::DriverUsed;\n\
         use crate::limit;\n\
         let y = limit::step::judge();",
    );
    let module = vec!["engine".to_owned(), "worker".to_owned()];
    let refs: BTreeSet<String> = references(&code, &module, false)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    let want: BTreeSet<String> = [
        "plan::Plan",
        "plan::Load",
        "stats",
        "report::text::per_second",
        "engine::driver::DriverUsed",
        "limit",
        "limit::step::judge",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(refs, want);
}

#[test]
fn an_upward_import_and_a_cycle_are_caught() {
    let f = |s: &str| PathBuf::from(s);
    let edge = |to: &str| BTreeMap::from([(f(to), format!("crate::{to}"))]);
    let g = BTreeMap::from([
        (f("stats/mod.rs"), edge("report/text.rs")),
        (f("report/text.rs"), edge("stats/mod.rs")),
        (f("engine/conn.rs"), edge("engine/worker.rs")),
        (f("engine/worker.rs"), edge("engine/conn.rs")),
        (f("cmd/serve.rs"), edge("serve/mod.rs")),
        (f("serve/conn.rs"), edge("stats/mod.rs")),
        (f("report/html.rs"), edge("serve/mod.rs")),
    ]);
    let up = upward(&g);
    assert_eq!(up.len(), 3, "{up:?}");
    assert!(
        up.iter()
            .any(|u| u.starts_with("src/serve/conn.rs (apart)")),
        "{up:?}"
    );
    assert!(
        up.iter().any(|u| u.starts_with("src/report/html.rs")),
        "{up:?}"
    );
    assert!(
        up.iter()
            .any(|u| u.starts_with("src/stats/mod.rs (foundations)")),
        "{up:?}"
    );
    assert_eq!(cycles(&g).len(), 2, "{:?}", cycles(&g));
}

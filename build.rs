//! Sets BLAST_VERSION for `blast --version`: the crate's version, plus the git commit when
//! built from a checkout (and "-dirty" when the work tree has changes), so a report or a bug
//! can name exactly what ran. Outside a checkout (crates.io, a tarball) it is the version alone.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let full = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            // --no-optional-locks: a plain `git status` takes index.lock and rewrites the
            // index it refreshes, so a build running beside a `git commit` could make the
            // commit fail, and it touches the index watched below.
            let dirty = git(&[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ])
            .is_some_and(|s| !s.is_empty());
            let mark = if dirty { "-dirty" } else { "" };
            format!("{version} (git {commit}{mark})")
        }
        _ => version.to_owned(),
    };
    println!("cargo:rustc-env=BLAST_VERSION={full}");
    // Rebuild the version when HEAD moves (a commit, a checkout) or the index changes.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for f in ["HEAD", "index", "packed-refs"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{head}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

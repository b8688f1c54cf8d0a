//! The command line's conventions: flags a subcommand does not have are clap usage errors
//! (exit 2, clap's own message, nothing run), completion scripts and a man page come from
//! the same definitions, `--version` names the build, and every `--help` shows an example.
use std::process::{Command, Output};

fn blast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blast"))
        .args(args)
        .output()
        .expect("running blast")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_only_flags_are_not_offered_to_limit_or_compare() {
    // Port 9 on loopback: nothing is sent, since clap refuses the flags first.
    let url = "http://127.0.0.1:9/";
    let cases: [&[&str]; 6] = [
        &["limit", "--rate", "5", url],
        &["limit", "--duration", "5s", url],
        &["limit", "--requests", "5", url],
        &["limit", "--fail-on", "p99<1s", url],
        &[
            "compare",
            "--target",
            "a=http://127.0.0.1:9/",
            "--target",
            "b=http://127.0.0.1:9/",
            "--requests",
            "5",
        ],
        &[
            "compare",
            "--target",
            "a=http://127.0.0.1:9/",
            "--target",
            "b=http://127.0.0.1:9/",
            "--spawn-rate",
            "5",
        ],
    ];
    for args in cases {
        let o = blast(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("error: unexpected argument"),
            "{args:?}: clap's own message expected, got {err}"
        );
        assert!(stdout(&o).is_empty(), "{args:?}: nothing ran");
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _blast"),
        ("zsh", "#compdef blast"),
        ("fish", "complete -c blast"),
    ] {
        let o = blast(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for sub in ["limit", "compare", "serve"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
    }
    assert_eq!(blast(&["completions", "tcsh-ish"]).status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let o = blast(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.contains(".TH blast 1"),
        "{}",
        &page[..page.len().min(300)]
    );
    assert!(
        page.contains(".SH SUBCOMMANDS") || page.contains("blast\\-limit"),
        "subcommands listed"
    );
    assert!(page.contains("\\-\\-users"), "flags listed");
}

#[test]
fn the_version_names_the_crate_version_and_the_commit_in_a_checkout() {
    let o = blast(&["--version"]);
    let v = stdout(&o);
    assert!(
        v.starts_with(&format!("blast {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let in_checkout = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(commit) = in_checkout {
        assert!(
            v.contains(&format!("(git {commit}")),
            "{v} should name {commit}"
        );
    }
}

#[test]
fn every_subcommand_help_shows_an_example() {
    for sub in [
        &[][..],
        &["limit"],
        &["compare"],
        &["report"],
        &["merge"],
        &["serve"],
        &["completions"],
    ] {
        let mut args: Vec<&str> = sub.to_vec();
        args.push("--help");
        let o = blast(&args);
        assert!(o.status.success(), "{args:?}");
        let help = stdout(&o);
        assert!(
            help.contains("Example"),
            "{args:?} --help has no example:\n{help}"
        );
        assert!(help.contains("blast "), "{args:?}");
    }
}

//! Values from the environment: `{env.NAME}` and `{env.NAME:-default}` placeholders,
//! resolved once when a scenario is loaded, and `--env-file` (dotenv) files.
//!
//! Secrets such as bearer tokens belong in the environment, not in a scenario file that
//! goes into git. Lookups read a snapshot taken at load time: the process environment
//! first, then the env file (a variable already set wins over the file, as docker compose
//! and python-dotenv do). A placeholder with no value and no default is a load-time error
//! naming the variable; rendering never sees a placeholder.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// What opens a placeholder.
const OPEN: &str = "{env.";
/// What separates a name from its default.
const DEFAULT_SEP: &str = ":-";
/// Longest env file read.
const MAX_ENV_FILE: u64 = 1 << 20;

/// A snapshot of the variables placeholders may name.
#[derive(Debug, Clone, Default)]
pub struct Env {
    process: HashMap<String, String>,
    file: HashMap<String, String>,
}

/// A placeholder that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvError {
    /// Not set and no default given.
    Missing(String),
    /// `{env.` with no closing brace, or a name that is not an identifier.
    Malformed(String),
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Missing(name) => write!(
                f,
                "environment variable `{name}` is not set (set it, use --env-file, \
                 or give a default: {{env.{name}:-value}})"
            ),
            EnvError::Malformed(text) => write!(
                f,
                "malformed placeholder `{text}`: write {{env.NAME}} or {{env.NAME:-default}}"
            ),
        }
    }
}

/// An env file line that is not `NAME=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFileError {
    /// 1-based; 0 when the file could not be read.
    pub line: usize,
    pub message: String,
}

impl Env {
    /// The process environment as it is now (variables that are not UTF-8 are left out).
    pub fn from_process() -> Env {
        Env {
            process: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            file: HashMap::new(),
        }
    }

    /// Exactly these variables, and no process environment (for tests and embedders).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            process: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            file: HashMap::new(),
        }
    }

    /// Adds the variables of a dotenv file; variables already set keep their value.
    pub fn with_file(mut self, path: &Path) -> Result<Env, EnvFileError> {
        let unreadable = |e: std::io::Error| EnvFileError {
            line: 0,
            message: format!("cannot read env file: {e}"),
        };
        let len = std::fs::metadata(path).map_err(unreadable)?.len();
        if len > MAX_ENV_FILE {
            return Err(EnvFileError {
                line: 0,
                message: format!("env file is larger than {MAX_ENV_FILE} bytes"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(unreadable)?;
        self.file = parse_dotenv(&text)?.into_iter().collect();
        Ok(self)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.process
            .get(name)
            .or_else(|| self.file.get(name))
            .map(String::as_str)
    }

    /// The value of one placeholder body (`NAME` or `NAME:-default`, without braces).
    pub(crate) fn resolve<'a>(&'a self, body: &'a str) -> Result<&'a str, EnvError> {
        let (name, default) = match body.split_once(DEFAULT_SEP) {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !is_name(name) {
            return Err(EnvError::Malformed(format!("{{env.{body}}}")));
        }
        match (self.get(name), default) {
            (Some(v), _) => Ok(v),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(EnvError::Missing(name.to_string())),
        }
    }

    /// `text` with every `{env...}` placeholder replaced; other braces stay as written.
    pub(crate) fn expand<'a>(&self, text: &'a str) -> Result<Cow<'a, str>, EnvError> {
        let Some(first) = text.find(OPEN) else {
            return Ok(Cow::Borrowed(text));
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut at = first;
        loop {
            out.push_str(&rest[..at]);
            let tail = &rest[at + OPEN.len()..];
            let Some(close) = tail.find('}') else {
                return Err(EnvError::Malformed(rest[at..].to_string()));
            };
            out.push_str(self.resolve(&tail[..close])?);
            rest = &tail[close + 1..];
            match rest.find(OPEN) {
                Some(i) => at = i,
                None => break,
            }
        }
        out.push_str(rest);
        Ok(Cow::Owned(out))
    }
}

/// A placeholder body names the environment when it starts with `env.`: the rest.
pub(crate) fn placeholder(body: &str) -> Option<&str> {
    body.strip_prefix(&OPEN[1..])
}

/// A portable variable name: a letter or `_`, then letters, digits and `_`.
fn is_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Reads dotenv text: `NAME=value` lines, optionally after `export `; blank lines and
/// `#` comments skipped. A value may be single-quoted (taken as written), double-quoted
/// (`\n`, `\t`, `\"`, `\\` escapes) or bare (trimmed, a ` #` comment cut off).
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut vars = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |message: String| EnvFileError {
            line: i + 1,
            message,
        };
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err(fail(format!("expected NAME=value, found {line:?}")));
        };
        let name = name.trim_end();
        if !is_name(name) {
            return Err(fail(format!("{name:?} is not a variable name")));
        }
        let value = dotenv_value(value.trim_start()).map_err(fail)?;
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

fn dotenv_value(v: &str) -> Result<String, String> {
    let unclosed = |q: char| format!("unclosed {q} quote");
    if let Some(inner) = v.strip_prefix('\'') {
        let (value, _) = inner.split_once('\'').ok_or_else(|| unclosed('\''))?;
        return Ok(value.to_string());
    }
    if let Some(inner) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err(unclosed('"'));
    }
    let bare = v.split_once(" #").map_or(v, |(value, _)| value);
    Ok(bare.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_pairs([("TOKEN", "s3cret"), ("EMPTY", "")])
    }

    #[test]
    fn placeholders_expand_with_values_and_defaults() {
        let e = env();
        for (text, want) in [
            ("plain", "plain"),
            ("Bearer {env.TOKEN}", "Bearer s3cret"),
            ("{env.TOKEN}{env.TOKEN}", "s3crets3cret"),
            ("{env.NOPE:-fallback}/x", "fallback/x"),
            ("{env.NOPE:-}", ""),
            ("{env.EMPTY:-unused}", ""),
            ("{env.TOKEN:-unused}", "s3cret"),
            ("{keep} {{env}} {env.TOKEN}", "{keep} {{env}} s3cret"),
        ] {
            assert_eq!(e.expand(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn missing_and_malformed_placeholders_are_errors() {
        let e = env();
        assert_eq!(
            e.expand("a {env.NOPE} b"),
            Err(EnvError::Missing("NOPE".into()))
        );
        for bad in ["{env.TOKEN", "{env.}", "{env.1X}", "{env.A-B}"] {
            assert!(
                matches!(e.expand(bad), Err(EnvError::Malformed(_))),
                "{bad}"
            );
        }
        let message = EnvError::Missing("API_KEY".into()).to_string();
        assert!(message.contains("`API_KEY`"), "{message}");
    }

    #[test]
    fn dotenv_lines_parse_like_dotenv() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC='raw \\n #x'\n\
                    D=\"line\\nbreak \\\"q\\\"\"\nE=\n";
        let vars = parse_dotenv(text).unwrap();
        let want = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "raw \\n #x"),
            ("D", "line\nbreak \"q\""),
            ("E", ""),
        ];
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_dotenv_lines_name_their_line() {
        for (text, line) in [
            ("A=1\nnonsense\n", 2),
            ("1A=x\n", 1),
            ("A=\"open\n", 1),
            ("\n\nA='open\n", 3),
        ] {
            assert_eq!(parse_dotenv(text).unwrap_err().line, line, "{text:?}");
        }
    }

    #[test]
    fn the_process_environment_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("blast-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "TOKEN=from-file\nOTHER=file-only\n").unwrap();
        let e = env().with_file(&path).unwrap();
        assert_eq!(e.resolve("TOKEN"), Ok("s3cret"));
        assert_eq!(e.resolve("OTHER"), Ok("file-only"));
        let missing = Env::default().with_file(&dir.join("absent")).unwrap_err();
        assert_eq!(missing.line, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

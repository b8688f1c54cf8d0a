//! Per-user flows as declared: what a task captures from its response into the user's
//! values (`capture = {token = "json:/access_token", sid = "header:X-Session"}`), the
//! names later tasks may use as `{user.NAME}`, and how many redirects a task follows.
//! Capturing itself is a pure function of a response's body or head, here; the engine
//! keeps each user's values and runs `on_start`, `sequence` and redirects.

use std::fmt;

use super::read::{self, fail, Result, Table};
use super::tree::Node;
use crate::http::fields;

/// Longest value a capture keeps: a token, a session id.
pub const MAX_CAPTURE_BYTES: usize = 4096;
/// Most distinct captured names one scenario may use.
pub const MAX_USER_VARS: usize = 64;
/// Redirects a scenario task follows unless it says otherwise (as Locust's `requests`,
/// which follows up to 30; 5 is curl's and oha's habit and ends a loop sooner).
pub const DEFAULT_FOLLOW: u32 = 5;
/// Most redirects any task or run may follow.
pub const MAX_FOLLOW: u32 = 30;

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An RFC 6901 JSON pointer into the response body (`json:/access_token`).
    Json(String),
    /// A response header field (`header:X-Session`).
    Header(String),
}

/// One `name = "json:/ptr"` entry of a task's `capture` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Index into [`super::Scenario::user_vars`].
    pub var: usize,
    pub from: Source,
}

/// Why a capture found nothing; shown as the task's failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureMiss {
    pub name: String,
    pub why: &'static str,
    pub from: Source,
}

impl fmt::Display for CaptureMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, what) = match &self.from {
            Source::Json(p) => ("json", p),
            Source::Header(h) => ("header", h),
        };
        write!(f, "capture `{}` ({kind}:{what}): {}", self.name, self.why)
    }
}

/// What rendering reads from the user it renders for: captured values, and header lines
/// the user adds to every request (its cookies for the target).
pub trait UserValues {
    /// The value of user var `var` (empty before it is captured).
    fn value(&self, var: usize) -> &[u8];
    /// Appends `Name: value\r\n` lines for a request to `target`.
    fn extra_headers(&self, target: &[u8], out: &mut Vec<u8>);
}

/// A user with no values and no cookies.
pub struct NoUser;

impl UserValues for NoUser {
    fn value(&self, _: usize) -> &[u8] {
        b""
    }
    fn extra_headers(&self, _: &[u8], _: &mut Vec<u8>) {}
}

/// The names the `capture` tables of `tasks` define, in first-seen order.
pub(crate) fn user_vars<'a>(tasks: impl Iterator<Item = &'a Node>) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for task in tasks {
        let Some(node) = Table::any(task, "[[task]]")?.get("capture") else {
            continue;
        };
        for (key, _) in Table::any(node, "capture")?.entries() {
            let name = &key.name;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return fail(
                    &key.span,
                    format!("capture name {name:?} must be letters, digits and `_`"),
                );
            }
            if !names.contains(name) {
                if names.len() == MAX_USER_VARS {
                    return fail(&key.span, format!("at most {MAX_USER_VARS} captured names"));
                }
                names.push(name.clone());
            }
        }
    }
    Ok(names)
}

/// A task's `capture` table against the scenario's `names`.
pub(crate) fn captures(node: &Node, names: &[String]) -> Result<Vec<Capture>> {
    let mut out = Vec::new();
    for (key, value) in Table::any(node, "capture")?.entries() {
        let spec = read::string(value, &key.name)?;
        let from = if let Some(p) = spec.strip_prefix("json:") {
            if !(p.is_empty() || p.starts_with('/')) {
                return fail(
                    &value.span,
                    "a JSON pointer is empty or starts with `/` (json:/access_token)",
                );
            }
            Source::Json(p.to_string())
        } else if let Some(h) = spec.strip_prefix("header:") {
            if h.is_empty() || !h.bytes().all(super::escape::is_tchar) {
                return fail(&value.span, format!("{h:?} is not a header name"));
            }
            Source::Header(h.to_string())
        } else {
            return fail(
                &value.span,
                format!("capture {spec:?}: write \"json:/pointer\" or \"header:Name\""),
            );
        };
        let var = names.iter().position(|n| *n == key.name).unwrap_or(0);
        out.push(Capture { var, from });
    }
    Ok(out)
}

/// `follow_redirects = n`: 0 (never) to [`MAX_FOLLOW`].
pub(crate) fn follow_redirects(node: &Node) -> Result<u32> {
    let n = read::uint(node, "follow_redirects")?;
    if n > u64::from(MAX_FOLLOW) {
        return fail(
            &node.span,
            format!("`follow_redirects` must be at most {MAX_FOLLOW}"),
        );
    }
    Ok(n as u32)
}

impl Capture {
    pub fn reads_body(&self) -> bool {
        matches!(self.from, Source::Json(_))
    }

    /// Takes this capture's value from a response (`head`: its head bytes, when they were
    /// kept; `body`: its body) into `out`, replacing what was there.
    pub fn take(
        &self,
        names: &[String],
        head: Option<&[u8]>,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), CaptureMiss> {
        out.clear();
        let found = match &self.from {
            Source::Header(name) => match head.and_then(|h| fields::find(h, name.as_bytes())) {
                Some(v) => {
                    out.extend_from_slice(v);
                    Ok(())
                }
                None => Err("no such header in the response"),
            },
            Source::Json(pointer) => json_value(body, pointer, out),
        };
        let found = found.and_then(|()| check_len(out.len()));
        found.map_err(|why| {
            out.clear();
            CaptureMiss {
                name: names.get(self.var).cloned().unwrap_or_default(),
                why,
                from: self.from.clone(),
            }
        })
    }
}

/// A captured value must be there and fit [`MAX_CAPTURE_BYTES`].
fn check_len(n: usize) -> std::result::Result<(), &'static str> {
    match n {
        0 => Err("the value is empty"),
        n if n > MAX_CAPTURE_BYTES => Err("the value is longer than 4096 bytes"),
        _ => Ok(()),
    }
}

/// The value at `pointer` in a JSON body: a string's text, a number's or boolean's JSON.
fn json_value(
    body: &[u8],
    pointer: &str,
    out: &mut Vec<u8>,
) -> std::result::Result<(), &'static str> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "the response body is not JSON")?;
    match doc.pointer(pointer) {
        None => Err("not found in the response body"),
        Some(serde_json::Value::String(s)) => {
            out.extend_from_slice(s.as_bytes());
            Ok(())
        }
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
            out.extend_from_slice(v.to_string().as_bytes());
            Ok(())
        }
        Some(_) => Err("the value is not a string, number or boolean"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(from: Source, head: Option<&[u8]>, body: &str) -> std::result::Result<String, String> {
        let c = Capture { var: 0, from };
        let mut out = b"stale".to_vec();
        c.take(&["token".to_string()], head, body.as_bytes(), &mut out)
            .map(|()| String::from_utf8(out.clone()).unwrap())
            .map_err(|e| {
                assert!(out.is_empty(), "a miss leaves no stale value");
                e.to_string()
            })
    }

    #[test]
    fn captures_take_values_or_say_why_not() {
        let json = |p: &str| Source::Json(p.to_string());
        let head: &[u8] = b"HTTP/1.1 200 OK\r\nX-Session: s-1\r\n\r\n";
        type Case<'a> = (
            Source,
            Option<&'a [u8]>,
            &'a str,
            std::result::Result<&'a str, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                json("/access_token"),
                None,
                r#"{"access_token":"abc"}"#,
                Ok("abc"),
            ),
            (json("/a/0/b"), None, r#"{"a":[{"b":7}]}"#, Ok("7")),
            (json("/ok"), None, r#"{"ok":true}"#, Ok("true")),
            (
                json("/missing"),
                None,
                r#"{"access_token":"abc"}"#,
                Err("capture `token` (json:/missing): not found in the response body"),
            ),
            (
                json("/a"),
                None,
                "not json",
                Err("capture `token` (json:/a): the response body is not JSON"),
            ),
            (
                json("/a"),
                None,
                r#"{"a":{}}"#,
                Err("capture `token` (json:/a): the value is not a string, number or boolean"),
            ),
            (
                json("/a"),
                None,
                r#"{"a":""}"#,
                Err("capture `token` (json:/a): the value is empty"),
            ),
            (
                Source::Header("x-session".into()),
                Some(head),
                "",
                Ok("s-1"),
            ),
            (
                Source::Header("X-Other".into()),
                Some(head),
                "",
                Err("capture `token` (header:X-Other): no such header in the response"),
            ),
        ];
        for (from, head, body, want) in cases {
            let got = take(from.clone(), head, body);
            assert_eq!(
                got,
                want.map(String::from).map_err(String::from),
                "{from:?} {body}"
            );
        }
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_CAPTURE_BYTES + 1));
        assert!(take(json("/a"), None, &long).is_err());
    }

    fn refused(src: &str) -> String {
        let e = crate::scenario::parse(src, std::path::Path::new("s.toml")).unwrap_err();
        e.to_string()
    }

    #[test]
    fn flow_settings_are_checked_at_load() {
        let task = "[[task]]\npath = \"/\"\n";
        let cases: &[(String, &str)] = &[
            (
                format!("[on_start]\npath = \"/l\"\nweight = 2\n{task}"),
                "s.toml:3:1: an `on_start` task runs once per user: it takes no `weight`",
            ),
            (
                format!("{task}capture = {{t = \"body:/x\"}}\n"),
                "s.toml:3:16: capture \"body:/x\": write \"json:/pointer\" or \"header:Name\"",
            ),
            (
                format!("{task}capture = {{t = \"json:x\"}}\n"),
                "s.toml:3:16: a JSON pointer is empty or starts with `/` (json:/access_token)",
            ),
            (
                format!("{task}capture = {{\"a-b\" = \"json:/x\"}}\n"),
                "s.toml:3:12: capture name \"a-b\" must be letters, digits and `_`",
            ),
            (
                format!("{task}follow_redirects = 31\n"),
                "s.toml:3:20: `follow_redirects` must be at most 30",
            ),
            (
                format!("{task}body = {{t = {{captured = \"tok\"}}}}\n"),
                "s.toml:3:25: the body uses {user.tok} but no task captures `tok`",
            ),
            (
                format!("sequence = 1\n{task}"),
                "s.toml:1:12: `sequence` must be true or false",
            ),
        ];
        for (src, want) in cases {
            let got = refused(src);
            assert!(got.starts_with(want), "{src}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn on_start_tasks_come_after_the_others_with_no_weight() {
        let src = "sequence = true\n[[on_start]]\npath = \"/a\"\ncapture = {t = \"json:/t\"}\n[[on_start]]\npath = \"/b\"\n[[task]]\npath = \"/x/{user.t}\"\nfollow_redirects = 0\n";
        let s = crate::scenario::parse(src, std::path::Path::new("s.toml")).unwrap();
        assert_eq!(s.on_start, [1, 2]);
        assert_eq!(s.main_tasks(), 1);
        assert_eq!((s.tasks[1].weight, s.tasks[1].name.as_str()), (0, "/a"));
        assert_eq!(s.user_vars, ["t"]);
        assert!(s.sequence && s.cookies && s.has_flow());
        assert_eq!((s.follow(0), s.follow(1)), (0, DEFAULT_FOLLOW));
    }
}

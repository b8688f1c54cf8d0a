//! Response expectations and the Locust-style failure messages they produce.
//!
//! Checks run in a fixed order (status, latency, body substring, JSON key) and stop
//! at the first miss. Checking allocates nothing: a [`Failure`] holds the shared
//! expectation and what was missed, and builds its message only when displayed. Its
//! message leaves out the measured latency, so equal failures group together.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::read::{self, fail, Result, Table};
use super::tree::{Node, Value};

/// Which statuses pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusRule {
    /// Any of these codes.
    Codes(Vec<u16>),
    /// Any code whose first digit is this (`2` for `"2xx"`).
    Class(u8),
}

impl StatusRule {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusRule::Codes(codes) => codes.contains(&status),
            StatusRule::Class(c) => status / 100 == u16::from(*c),
        }
    }
}

impl fmt::Display for StatusRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusRule::Class(c) => write!(f, "{c}xx"),
            StatusRule::Codes(codes) => {
                for (i, code) in codes.iter().enumerate() {
                    let sep = match i {
                        0 => "",
                        _ if i + 1 == codes.len() => " or ",
                        _ => ", ",
                    };
                    write!(f, "{sep}{code}")?;
                }
                Ok(())
            }
        }
    }
}

/// What a response must look like to count as a success.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expect {
    pub status: StatusRule,
    pub max_latency: Option<Duration>,
    pub body_contains: Option<String>,
    pub json_has: Option<String>,
}

impl Expect {
    /// Any `2xx`: the default for ordinary requests.
    pub fn success() -> Self {
        Self::status(StatusRule::Class(2))
    }

    /// `400`: the default for requests mutated to be invalid.
    pub fn bad_request() -> Self {
        Self::status(StatusRule::Codes(vec![400]))
    }

    fn status(status: StatusRule) -> Self {
        Expect {
            status,
            max_latency: None,
            body_contains: None,
            json_has: None,
        }
    }

    /// Whether checking needs the response body.
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || self.json_has.is_some()
    }

    /// Checks one response; the first expectation it misses is the failure.
    pub fn check(
        self: &Arc<Self>,
        status: u16,
        latency: Duration,
        body: &[u8],
    ) -> std::result::Result<(), Failure> {
        let miss = if !self.status.accepts(status) {
            Miss::Status(status)
        } else if self.max_latency.is_some_and(|max| latency > max) {
            Miss::Latency
        } else if self
            .body_contains
            .as_ref()
            .is_some_and(|needle| !contains(body, needle.as_bytes()))
        {
            Miss::BodyContains
        } else if self
            .json_has
            .as_ref()
            .is_some_and(|key| !json_has_key(body, key))
        {
            Miss::JsonHas
        } else {
            return Ok(());
        };
        Err(Failure {
            expect: Arc::clone(self),
            miss,
        })
    }

    /// Reads an `expect` table; absent keys keep `base`'s values.
    pub(crate) fn parse(node: &Node, name: &str, base: Expect) -> Result<Expect> {
        let table = Table::new(
            node,
            name,
            &["status", "max_latency", "body_contains", "json_has"],
        )?;
        let mut expect = base;
        if let Some(s) = table.get("status") {
            expect.status = status_rule(s)?;
        }
        if let Some(d) = table.get("max_latency") {
            expect.max_latency = Some(read::duration(d, "max_latency")?);
        }
        if let Some(s) = table.get("body_contains") {
            expect.body_contains = Some(non_empty(s, "body_contains")?);
        }
        if let Some(s) = table.get("json_has") {
            expect.json_has = Some(non_empty(s, "json_has")?);
        }
        Ok(expect)
    }
}

fn non_empty(node: &Node, name: &str) -> Result<String> {
    let s = read::string(node, name)?;
    if s.is_empty() {
        return fail(&node.span, format!("`{name}` must not be empty"));
    }
    Ok(s.to_string())
}

/// `400`, `[200, 201]` or `"2xx"`.
fn status_rule(node: &Node) -> Result<StatusRule> {
    match &node.value {
        Value::Int(_) => Ok(StatusRule::Codes(vec![status_code(node)?])),
        Value::Array(items) if !items.is_empty() => Ok(StatusRule::Codes(
            items.iter().map(status_code).collect::<Result<_>>()?,
        )),
        Value::Str(s) => match s.as_bytes() {
            [c @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Ok(StatusRule::Class(c - b'0')),
            _ => fail(
                &node.span,
                format!("`status` class must be one of 1xx..5xx, found {s:?}"),
            ),
        },
        _ => fail(
            &node.span,
            "`status` must be a code (400), a list ([200, 201]) or a class (\"2xx\")",
        ),
    }
}

fn status_code(node: &Node) -> Result<u16> {
    let code = read::int(node, "status")?;
    match u16::try_from(code) {
        Ok(c @ 100..=599) => Ok(c),
        _ => fail(
            &node.span,
            format!("`status` must be between 100 and 599, found {code}"),
        ),
    }
}

/// Which expectation a response missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Miss {
    /// The status was not accepted; this is what came.
    Status(u16),
    Latency,
    BodyContains,
    JsonHas,
}

/// A response that missed its expectation; displays as a Locust-like message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    expect: Arc<Expect>,
    miss: Miss,
}

impl Failure {
    pub fn miss(&self) -> Miss {
        self.miss
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.expect;
        match (self.miss, &e.max_latency, &e.body_contains, &e.json_has) {
            (Miss::Status(got), ..) => write!(f, "Expected status {}, got {got}", e.status),
            (Miss::Latency, Some(max), ..) => write!(
                f,
                "Expected a response within {}",
                humantime::format_duration(*max)
            ),
            (Miss::BodyContains, _, Some(needle), _) => {
                write!(f, "Expected body to contain {needle:?}")
            }
            (Miss::JsonHas, .., Some(key)) => write!(f, "Expected a JSON object with key {key:?}"),
            _ => f.write_str("Unexpected response"),
        }
    }
}

impl std::error::Error for Failure {}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == first)
        .any(|(i, _)| haystack[i + 1..].starts_with(rest))
}

/// Whether `body` is a JSON object with top-level key `key`; parsed without
/// building a value, so a normal body allocates nothing.
fn json_has_key(body: &[u8], key: &str) -> bool {
    let mut de = serde_json::Deserializer::from_slice(body);
    matches!(FindKey(key).deserialize(&mut de), Ok(true)) && de.end().is_ok()
}

/// Walks one JSON object, answering whether it has the key.
struct FindKey<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for FindKey<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FindKey<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<bool, A::Error> {
        let mut found = false;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.0))? {
            found |= is_key;
            map.next_value::<IgnoredAny>()?;
        }
        Ok(found)
    }
}

/// Compares one object key with the wanted one.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn full() -> Arc<Expect> {
        Arc::new(Expect {
            status: StatusRule::Codes(vec![200, 201]),
            max_latency: Some(ms(500)),
            body_contains: Some("diagnosis".into()),
            json_has: Some("diagnosis".into()),
        })
    }

    fn message(e: &Arc<Expect>, status: u16, latency: u64, body: &str) -> Option<String> {
        e.check(status, ms(latency), body.as_bytes())
            .err()
            .map(|f| f.to_string())
    }

    #[test]
    fn checks_run_in_order_and_stop_at_the_first_miss() {
        let e = full();
        let ok = r#"{"diagnosis": "no-disease"}"#;
        for (status, latency, body, want) in [
            (200, 10, ok, None),
            (201, 500, ok, None),
            (500, 900, "", Some("Expected status 200 or 201, got 500")),
            (200, 501, "", Some("Expected a response within 500ms")),
            (
                200,
                10,
                "{}",
                Some("Expected body to contain \"diagnosis\""),
            ),
            (
                200,
                10,
                r#"{"x": "diagnosis"}"#,
                Some("Expected a JSON object with key \"diagnosis\""),
            ),
            (
                200,
                10,
                r#"["diagnosis"]"#,
                Some("Expected a JSON object with key \"diagnosis\""),
            ),
            (
                200,
                10,
                r#"{"diagnosis": 1} trailing"#,
                Some("Expected a JSON object with key \"diagnosis\""),
            ),
        ] {
            assert_eq!(
                message(&e, status, latency, body).as_deref(),
                want,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn status_messages_read_like_locust() {
        for (rule, got, want) in [
            (
                StatusRule::Codes(vec![400]),
                200,
                "Expected status 400, got 200",
            ),
            (StatusRule::Class(2), 503, "Expected status 2xx, got 503"),
            (
                StatusRule::Codes(vec![200, 201, 204]),
                404,
                "Expected status 200, 201 or 204, got 404",
            ),
        ] {
            let e = Arc::new(Expect::status(rule));
            assert_eq!(message(&e, got, 0, "").unwrap(), want);
        }
    }

    #[test]
    fn defaults_are_2xx_and_400() {
        let ok = Arc::new(Expect::success());
        assert!(ok.check(204, ms(0), b"").is_ok());
        assert!(ok.check(301, ms(0), b"").is_err());
        let bad = Arc::new(Expect::bad_request());
        assert!(bad.check(400, ms(0), b"").is_ok());
        assert_eq!(
            message(&bad, 200, 0, "").unwrap(),
            "Expected status 400, got 200"
        );
        assert!(!ok.reads_body());
        assert!(full().reads_body());
    }

    #[test]
    fn json_key_search_handles_nesting_and_escapes() {
        for (body, want) in [
            (r#"{"a": {"diagnosis": 1}}"#, false),
            (r#"{"a": [1, {"b": "}"}], "diagnosis": null}"#, true),
            (r#"{"diag\u006eosis": true}"#, true),
            (r#"  {"diagnosis": 1}  "#, true),
            ("", false),
            ("{", false),
            ("not json", false),
        ] {
            assert_eq!(json_has_key(body.as_bytes(), "diagnosis"), want, "{body}");
        }
    }

    #[test]
    fn contains_finds_substrings() {
        for (hay, needle, want) in [
            ("abc", "", true),
            ("abc", "c", true),
            ("aab", "ab", true),
            ("ab", "abc", false),
            ("", "a", false),
        ] {
            assert_eq!(contains(hay.as_bytes(), needle.as_bytes()), want);
        }
    }

    #[test]
    fn equal_failures_compare_equal_for_grouping() {
        let e = full();
        let a = e.check(500, ms(1), b"").unwrap_err();
        let b = e.check(500, ms(2), b"x").unwrap_err();
        assert_eq!(a, b);
        assert_eq!(a.miss(), Miss::Status(500));
        assert_ne!(a, e.check(404, ms(1), b"").unwrap_err());
    }
}

//! Response expectations and the Locust-style failure messages they produce.
//!
//! Checks run in a fixed order (status, latency, body substring, JSON key) and stop
//! at the first miss. Checking allocates nothing: a [`Failure`] holds the shared
//! expectation and what was missed, and builds its message only when displayed. Its
//! message leaves out the measured latency, so equal failures group together.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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

/// Deepest nesting the JSON key scan follows before giving up.
const MAX_JSON_DEPTH: usize = 128;

/// Whether `body` is a JSON object with top-level key `key`. A hand-written scan
/// (serde_json's skipping of nested values allocates) that checks the structure and
/// decodes keys with escapes; scalar values are checked only loosely.
fn json_has_key(body: &[u8], key: &str) -> bool {
    let mut scan = Scan { s: body, i: 0 };
    scan.ws();
    if !scan.eat(b'{') {
        return false;
    }
    let mut found = false;
    scan.ws();
    if !scan.eat(b'}') {
        loop {
            scan.ws();
            match scan.string(Some(key.as_bytes())) {
                Some(is_key) => found |= is_key,
                None => return false,
            }
            scan.ws();
            if !scan.eat(b':') || !scan.value(1) {
                return false;
            }
            scan.ws();
            if scan.eat(b'}') {
                break;
            }
            if !scan.eat(b',') {
                return false;
            }
        }
    }
    scan.ws();
    found && scan.i == body.len()
}

/// A cursor over JSON bytes.
struct Scan<'a> {
    s: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.i += usize::from(hit);
        hit
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips one value; false if it is malformed or nested too deep.
    fn value(&mut self, depth: usize) -> bool {
        if depth > MAX_JSON_DEPTH {
            return false;
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.container(b'}', depth, true),
            Some(b'[') => self.container(b']', depth, false),
            Some(b'"') => self.string(None).is_some(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                ) {
                    self.i += 1;
                }
                super::escape::is_json_number(&self.s[start..self.i])
            }
            _ => false,
        }
    }

    /// An object (keys and values) or array after its opening byte.
    fn container(&mut self, close: u8, depth: usize, object: bool) -> bool {
        self.i += 1;
        self.ws();
        if self.eat(close) {
            return true;
        }
        loop {
            if object {
                self.ws();
                if self.string(None).is_none() {
                    return false;
                }
                self.ws();
                if !self.eat(b':') {
                    return false;
                }
            }
            if !self.value(depth + 1) {
                return false;
            }
            self.ws();
            if self.eat(close) {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> bool {
        let hit = self.s[self.i..].starts_with(w);
        if hit {
            self.i += w.len();
        }
        hit
    }

    /// Skips a string; with `want`, also says whether its decoded bytes equal it.
    /// `None` if malformed.
    fn string(&mut self, want: Option<&[u8]>) -> Option<bool> {
        if !self.eat(b'"') {
            return None;
        }
        let want = want.unwrap_or(b"");
        let mut at = 0; // bytes of `want` matched so far
        let mut same = true;
        let mut unit = [0u8; 4];
        loop {
            let b = self.peek()?;
            self.i += 1;
            let decoded: &[u8] = match b {
                b'"' => return Some(same && at == want.len()),
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => {
                            unit[0] = e;
                            &unit[..1]
                        }
                        b'b' | b'f' | b'n' | b'r' | b't' => {
                            unit[0] = match e {
                                b'b' => 0x08,
                                b'f' => 0x0c,
                                b'n' => b'\n',
                                b'r' => b'\r',
                                _ => b'\t',
                            };
                            &unit[..1]
                        }
                        b'u' => {
                            let c = self.unicode_escape()?;
                            c.encode_utf8(&mut unit).as_bytes()
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => {
                    unit[0] = b;
                    &unit[..1]
                }
            };
            if same {
                same = want.get(at..at + decoded.len()) == Some(decoded);
                at += decoded.len();
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining surrogate pairs;
    /// a lone surrogate decodes as U+FFFD, as lenient parsers do.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if !(0xd800..0xdc00).contains(&first) {
            return Some(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        if !self.s[self.i..].starts_with(b"\\u") {
            return Some(char::REPLACEMENT_CHARACTER);
        }
        self.i += 2;
        let low = self.hex4()?;
        if !(0xdc00..0xe000).contains(&low) {
            return Some(char::REPLACEMENT_CHARACTER);
        }
        char::from_u32(0x10000 + ((first - 0xd800) << 10) + (low - 0xdc00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        digits
            .iter()
            .try_fold(0u32, |n, &d| Some(n * 16 + (d as char).to_digit(16)?))
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

    /// The scan agrees with serde_json on what is an object with the key.
    #[test]
    fn json_key_scan_agrees_with_serde_json() {
        let deep = format!("{{\"diagnosis\": {}1{}}}", "[".repeat(100), "]".repeat(100));
        let too_deep = format!("{{\"diagnosis\": {}1{}}}", "[".repeat(200), "]".repeat(200));
        let cases = [
            r#"{"diagnosis": "heart-disease"}"#,
            r#"{"a": {"diagnosis": 1}}"#,
            r#"{"a": [1, {"b": "}"}], "diagnosis": null}"#,
            r#"{"diag\u006eosis": true}"#,
            r#"{"diagnosis\n": true}"#,
            r#"{"x\"y": 1, "diagnosis": [[], {}, [{"z": [-1.5e3, true, false]}]]}"#,
            r#"{"\ud83d\ude00": 1, "diagnosis": "\u00e9\\"}"#,
            r#"  {"diagnosis": 1}  "#,
            r#"{"diagnosis": 1,}"#,
            r#"{"diagnosis" 1}"#,
            r#"{"diagnosis": 01}"#,
            r#"{"diagnosis": tru}"#,
            r#"{"diagnosis": "unterminated}"#,
            r#"{"diagnosis": [1, 2}"#,
            r#"{"diagnosis": 1} {"#,
            r#"{"diagnosi": 1}"#,
            r#"{"diagnosiss": 1}"#,
            r#"{}"#,
            r#"["diagnosis"]"#,
            r#""diagnosis""#,
            "{\"diagnosis\": \"a\u{1}b\"}",
            "",
            "{",
            "not json",
            deep.as_str(),
        ];
        for body in cases {
            let want = serde_json::from_slice::<serde_json::Value>(body.as_bytes())
                .ok()
                .and_then(|v| v.as_object().map(|o| o.contains_key("diagnosis")))
                .unwrap_or(false);
            assert_eq!(json_has_key(body.as_bytes(), "diagnosis"), want, "{body}");
        }
        assert!(!json_has_key(too_deep.as_bytes(), "diagnosis"));
        assert!(json_has_key(r#"{"é\"": 1}"#.as_bytes(), "é\""));
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

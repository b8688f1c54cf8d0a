//! One `[[task]]`: what request it sends, how some of them are made invalid, and
//! what the responses must look like.
//!
//! The payload is one of: `body` (a JSON template, or the name of a `[bodies.NAME]`
//! template), `text` (a raw text template), `body_file` / `body_files` (files read at
//! load), `multipart` (RFC 7578 form data).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;

use super::data::DataSet;
use super::env::Env;
use super::escape::is_tchar;
use super::expect::{Expect, Failure};
use super::files::FileSet;
use super::flow::{self, Capture};
use super::multipart::{self, Multipart};
use super::read::{self, fail, Result, Table};
use super::template::{self, Body, Compiler, Mode, Ops, Program};
use super::tree::{Key, Node, Value};

/// Keys a `[[task]]` table may have.
const TASK_KEYS: &[&str] = &[
    "name",
    "weight",
    "method",
    "path",
    "headers",
    "vars",
    "body",
    "text",
    "body_file",
    "body_files",
    "multipart",
    "content_type",
    "invalid",
    "expect",
    "expect_invalid",
    "capture",
    "follow_redirects",
];

/// Keys an `invalid` table may have; all but `share` are mutations.
const INVALID_KEYS: &[&str] = &[
    "share",
    "drop_field",
    "wrong_type",
    "malformed_json",
    "empty_body",
];

/// Headers blast writes itself.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding"];

/// Methods that carry a `Content-Length` even without a body.
const LENGTH_METHODS: &[&str] = &["POST", "PUT", "PATCH"];

/// Slack for a mutated field value (`"wrong-type"`) over the field's own bound.
const MUTATION_SLACK: usize = 16;

/// The keys that give a task its payload; a task has at most one.
const PAYLOAD_KEYS: &[&str] = &["body", "text", "body_file", "body_files", "multipart"];

/// Header names whose values are never shown, whatever the scenario says.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "x-api-key",
    "proxy-authorization",
];

/// What a secret header's value is shown as.
pub const REDACTED: &str = "[redacted]";

/// Whether a header of this name carries a credential whatever the scenario says
/// (`Authorization`, `Cookie`, `X-Api-Key`, `Proxy-Authorization`, any case).
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Content types of payloads that name none.
const JSON_TYPE: &str = "application/json";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";

/// What a task compiles against besides its own table.
pub(crate) struct Sources<'a> {
    /// Where relative file paths start: the scenario file's directory.
    pub dir: &'a Path,
    pub env: &'a Env,
    pub data: Option<&'a DataSet>,
    /// `[bodies.NAME]` templates, for `body = "NAME"`.
    pub bodies: &'a [(Key, Node)],
    /// The names tasks capture, for `{user.NAME}`.
    pub user_vars: &'a [String],
}

/// One kind of request a user sends.
#[derive(Debug, Clone)]
pub struct Task {
    /// Stats key.
    pub name: String,
    pub weight: u32,
    pub method: String,
    /// The path template as written (`/items/{id}`).
    pub path: String,
    pub invalid: Option<Invalid>,
    pub expect: Arc<Expect>,
    /// Applies to requests the `invalid` mutation changed.
    pub expect_invalid: Arc<Expect>,
    /// Header names and values as reports may show them: values as written in the file
    /// (placeholders unresolved), secret ones replaced by [`REDACTED`].
    pub headers: Vec<(String, String)>,
    /// Values this task's responses give the user (`capture`).
    pub captures: Vec<Capture>,
    /// Redirects this task follows; None for the scenario's setting.
    pub follow_redirects: Option<u32>,
    pub(crate) request: Arc<Request>,
}

/// A share of requests changed so the server should reject them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Invalid {
    /// Fraction of this task's requests mutated, in `[0, 1]`.
    pub share: f64,
    pub mutation: Mutation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Drop this many distinct top-level fields, chosen at random per request.
    DropField(usize),
    /// Give this many distinct top-level fields a value of another JSON type.
    WrongType(usize),
    /// Send a body that is not valid JSON.
    MalformedJson,
    /// Send no body at all (`Content-Length: 0`).
    EmptyBody,
}

/// Everything the renderer needs for one task, shared by every worker.
#[derive(Debug)]
pub(crate) struct Request {
    pub prog: Program,
    pub method: String,
    /// Request target, rendered in [`Mode::Path`].
    pub path: Ops,
    /// `Name: value\r\n` lines, rendered in [`Mode::Header`].
    pub headers: Ops,
    pub payload: Payload,
    /// Whether the head carries `Content-Length` (bodies and POST/PUT/PATCH).
    pub send_length: bool,
    /// The task sets `Authorization` itself, so credentials from the URL are not added.
    pub sets_authorization: bool,
    pub invalid: Option<Invalid>,
    /// Upper bounds of rendered sizes, for reserving buffers up front.
    pub path_bound: usize,
    pub headers_bound: usize,
    pub body_bound: usize,
}

/// What a request carries after its head.
#[derive(Debug)]
pub(crate) enum Payload {
    None,
    Json(Body),
    /// A raw text template, rendered in [`Mode::Raw`].
    Text(Ops),
    /// One file of the set per request.
    Files(Arc<FileSet>),
    Multipart(Multipart),
}

impl Task {
    pub fn has_body(&self) -> bool {
        !matches!(self.request.payload, Payload::None)
    }

    /// Whether checking a response of this task reads its body.
    pub fn needs_body_capture(&self) -> bool {
        self.expect.reads_body()
            || (self.invalid.is_some() && self.expect_invalid.reads_body())
            || self.captures.iter().any(Capture::reads_body)
    }

    /// Whether a response of this task must be read for a header it captures.
    pub fn captures_headers(&self) -> bool {
        self.captures.iter().any(|c| !c.reads_body())
    }

    /// Checks a response against `expect`, or `expect_invalid` when the request was
    /// mutated to be invalid.
    pub fn check(
        &self,
        invalid: bool,
        status: u16,
        latency: Duration,
        body: &[u8],
    ) -> std::result::Result<(), Failure> {
        let expect = if invalid {
            &self.expect_invalid
        } else {
            &self.expect
        };
        expect.check(status, latency, body)
    }

    /// Compiles one `[[task]]` table; `rng` draws multipart boundaries.
    pub(crate) fn parse(node: &Node, src: &Sources, rng: &mut SmallRng) -> Result<Task> {
        let data = src.data;
        let table = Table::new(node, "[[task]]", TASK_KEYS)?;
        let mut c = Compiler::new(data, src.env, src.bodies).with_user_vars(src.user_vars);
        if let Some(vars) = table.get("vars") {
            c.vars(vars)?;
        }
        let Some(path_node) = table.get("path") else {
            return fail(&node.span, "a task needs a `path`");
        };
        let path = read::string(path_node, "path")?.to_string();
        if !path.starts_with('/') {
            return fail(&path_node.span, "`path` must start with `/`");
        }
        let path_ops = c.text(path_node, "path", template::path_literal_ok)?;
        let payload = payload(&table, &mut c, src, rng)?;
        let content_type = content_type(&table, &payload, src.env)?;
        let has_body = !matches!(payload, Payload::None);
        let (headers, shown) = headers(&mut c, table.get("headers"), content_type)?;
        let method = method(table.get("method"), has_body)?;
        let invalid = match table.entry("invalid") {
            Some((_, n)) => Some(invalid(n, &payload)?),
            None => None,
        };
        let expect = match table.get("expect") {
            Some(n) => Expect::parse(n, "expect", Expect::success())?,
            None => Expect::success(),
        };
        let expect_invalid = match (table.entry("expect_invalid"), &invalid) {
            (Some((key, _)), None) => {
                return fail(
                    &key.span,
                    "`expect_invalid` needs `invalid` in the same task",
                )
            }
            (Some((_, n)), Some(_)) => Expect::parse(n, "expect_invalid", Expect::bad_request())?,
            (None, _) => Expect::bad_request(),
        };
        let weight = match table.get("weight") {
            Some(w) => weight(w)?,
            None => 1,
        };
        let name = match table.get("name") {
            Some(n) => non_empty(n, "name")?,
            None => path.clone(),
        };
        let captures = match table.get("capture") {
            Some(n) => flow::captures(n, src.user_vars)?,
            None => Vec::new(),
        };
        let follow_redirects = table
            .get("follow_redirects")
            .map(flow::follow_redirects)
            .transpose()?;
        let prog = c.prog;
        let request = Request {
            path_bound: prog.bound(path_ops, Mode::Path, data),
            headers_bound: prog.bound(headers, Mode::Header, data),
            body_bound: payload_bound(&prog, &payload, data),
            send_length: has_body || LENGTH_METHODS.contains(&method.as_str()),
            sets_authorization: sets_header(table.get("headers"), "authorization"),
            method: method.clone(),
            path: path_ops,
            headers,
            payload,
            invalid,
            prog,
        };
        Ok(Task {
            name,
            weight,
            method,
            path,
            invalid,
            expect: Arc::new(expect),
            expect_invalid: Arc::new(expect_invalid),
            headers: shown,
            captures,
            follow_redirects,
            request: Arc::new(request),
        })
    }
}

fn non_empty(node: &Node, name: &str) -> Result<String> {
    let s = read::string(node, name)?;
    if s.is_empty() {
        return fail(&node.span, format!("`{name}` must not be empty"));
    }
    Ok(s.to_string())
}

fn weight(node: &Node) -> Result<u32> {
    let w = read::uint(node, "weight")?;
    u32::try_from(w).or_else(|_| fail(&node.span, format!("`weight` must be at most {}", u32::MAX)))
}

fn method(node: Option<&Node>, has_body: bool) -> Result<String> {
    let Some(node) = node else {
        return Ok(if has_body { "POST" } else { "GET" }.to_string());
    };
    let m = read::string(node, "method")?;
    if m.is_empty() || !m.bytes().all(is_tchar) {
        return fail(&node.span, format!("`method` {m:?} is not an HTTP method"));
    }
    Ok(m.to_string())
}

/// Whether the `headers` table (already checked) names `header`, in any case.
fn sets_header(node: Option<&Node>, header: &str) -> bool {
    node.and_then(|n| Table::any(n, "headers").ok())
        .is_some_and(|t| {
            t.entries()
                .iter()
                .any(|(k, _)| k.name.eq_ignore_ascii_case(header))
        })
}

/// The payload keys of a task: at most one of [`PAYLOAD_KEYS`].
fn payload(table: &Table, c: &mut Compiler, src: &Sources, rng: &mut SmallRng) -> Result<Payload> {
    let mut given = table
        .entries()
        .iter()
        .filter(|(k, _)| PAYLOAD_KEYS.contains(&k.name.as_str()));
    let Some((key, node)) = given.next() else {
        return Ok(Payload::None);
    };
    if let Some((second, _)) = given.next() {
        return fail(
            &second.span,
            format!(
                "a task has one payload: `{}` or `{}`, not both",
                key.name, second.name
            ),
        );
    }
    Ok(match key.name.as_str() {
        "body" => Payload::Json(c.body(node)?),
        "text" => Payload::Text(c.text(node, "text", template::any_text)?),
        "body_file" => Payload::Files(Arc::new(multipart::load(
            node,
            "body_file",
            src.dir,
            src.env,
            FileSet::one,
        )?)),
        "body_files" => Payload::Files(Arc::new(multipart::load(
            node,
            "body_files",
            src.dir,
            src.env,
            FileSet::glob,
        )?)),
        _ => Payload::Multipart(Multipart::parse(node, c, src.dir, src.env, rng)?),
    })
}

/// The payload's `Content-Type`: `content_type` where the payload takes one, else its own.
fn content_type(table: &Table, payload: &Payload, env: &Env) -> Result<Option<String>> {
    let given = match table.entry("content_type") {
        Some((key, _)) if matches!(payload, Payload::None | Payload::Multipart(_)) => {
            return fail(
                &key.span,
                "`content_type` goes with `body`, `text`, `body_file` or `body_files` \
                 (multipart sets its own)",
            )
        }
        Some((_, n)) => Some(multipart::content_type(n, env)?),
        None => None,
    };
    Ok(match payload {
        Payload::None => None,
        Payload::Json(_) => Some(given.unwrap_or_else(|| JSON_TYPE.to_string())),
        Payload::Text(_) => Some(given.unwrap_or_else(|| TEXT_TYPE.to_string())),
        Payload::Files(files) => Some(given.unwrap_or_else(|| files.common_type().to_string())),
        Payload::Multipart(m) => Some(m.content_type()),
    })
}

/// Compiles the `headers` table into `Name: value\r\n` ops, adding the payload's
/// `Content-Type` unless the table gives one; also returns the headers as shown.
/// A value is a string or `{value = "..", secret = true}`.
fn headers(
    c: &mut Compiler,
    node: Option<&Node>,
    content_type: Option<String>,
) -> Result<(Ops, Vec<(String, String)>)> {
    let start = c.begin();
    let mut shown = Vec::new();
    let mut has_content_type = false;
    if let Some(node) = node {
        for (key, value) in Table::any(node, "headers")?.entries() {
            let name = key.name.as_str();
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return fail(&key.span, format!("{name:?} is not a valid header name"));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return fail(&key.span, format!("blast sets `{name}` itself"));
            }
            if lower == "content-type" {
                if content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("multipart/"))
                {
                    return fail(
                        &key.span,
                        "blast sets `Content-Type` of a multipart body itself (its boundary)",
                    );
                }
                has_content_type = true;
            }
            let (value, secret) = header_value(value)?;
            c.literal(format!("{name}: ").as_bytes(), &key.span)?;
            c.text(value, name, template::header_literal_ok)?;
            c.literal(b"\r\n", &key.span)?;
            let written = read::string(value, name)?;
            let secret = secret || is_secret_header(name);
            let shown_value = if secret { REDACTED } else { written };
            shown.push((name.to_string(), shown_value.to_string()));
        }
    }
    if let (Some(t), false) = (content_type, has_content_type) {
        c.literal(format!("Content-Type: {t}\r\n").as_bytes(), &(0..0))?;
    }
    let ops = Ops {
        start,
        end: c.op_index(),
    };
    Ok((ops, shown))
}

/// A header's value node and whether it was marked `secret = true`.
fn header_value(node: &Node) -> Result<(&Node, bool)> {
    if !matches!(node.value, Value::Table(_)) {
        return Ok((node, false));
    }
    let t = Table::new(node, "a header", &["value", "secret"])?;
    let Some(value) = t.get("value") else {
        return fail(&node.span, "a header table needs `value = \"...\"`");
    };
    let secret = match t.get("secret") {
        Some(s) => match s.value {
            Value::Bool(b) => b,
            _ => return fail(&s.span, "`secret` must be true or false"),
        },
        None => false,
    };
    Ok((value, secret))
}

/// Reads an `invalid` table; field mutations need an object body with enough fields,
/// `malformed_json` a JSON body, `empty_body` any payload.
fn invalid(node: &Node, payload: &Payload) -> Result<Invalid> {
    let table = Table::new(node, "invalid", INVALID_KEYS)?;
    let share = match table.get("share") {
        Some(s) => {
            let x = read::number(s, "share")?;
            if !(0.0..=1.0).contains(&x) {
                return fail(
                    &s.span,
                    format!("`share` must be between 0 and 1, found {x}"),
                );
            }
            x
        }
        None => 1.0,
    };
    let mut found = None;
    for (key, value) in table.entries().iter().filter(|(k, _)| k.name != "share") {
        if found.is_some() {
            return fail(
                &key.span,
                "`invalid` takes one mutation; use another task for a second",
            );
        }
        let name = key.name.as_str();
        if matches!(payload, Payload::None) {
            return fail(&key.span, format!("`{name}` needs a `body`"));
        }
        found = Some(match name {
            "empty_body" => read::flag(value, name).map(|_| Mutation::EmptyBody)?,
            _ => json_mutation(key, value, payload)?,
        });
    }
    match found {
        Some(mutation) => Ok(Invalid { share, mutation }),
        None => fail(
            &node.span,
            "`invalid` needs one of drop_field, wrong_type, malformed_json, empty_body",
        ),
    }
}

/// A mutation that needs a JSON body.
fn json_mutation(key: &Key, value: &Node, payload: &Payload) -> Result<Mutation> {
    let name = key.name.as_str();
    let Payload::Json(body) = payload else {
        return fail(&key.span, format!("`{name}` needs a JSON `body`"));
    };
    Ok(match name {
        "drop_field" => Mutation::DropField(field_count(value, name, body)?),
        "wrong_type" => Mutation::WrongType(field_count(value, name, body)?),
        _ => read::flag(value, name).map(|_| Mutation::MalformedJson)?,
    })
}

/// `drop_field = n` / `wrong_type = n`: 1 to the body's number of top-level fields.
fn field_count(node: &Node, name: &str, body: &Body) -> Result<usize> {
    let Body::Object(fields) = body else {
        return fail(&node.span, format!("`{name}` needs a body that is a table"));
    };
    let n = read::uint(node, name)?;
    if n == 0 || n > fields.len() as u64 {
        return fail(
            &node.span,
            format!(
                "`{name}` must be between 1 and the body's {} top-level fields, found {n}",
                fields.len()
            ),
        );
    }
    Ok(n as usize)
}

/// The most bytes a payload (mutated or not) renders to.
fn payload_bound(prog: &Program, payload: &Payload, data: Option<&DataSet>) -> usize {
    match payload {
        Payload::None => 0,
        Payload::Json(body) => body_bound(prog, body, data),
        Payload::Text(ops) => prog.bound(*ops, Mode::Raw, data),
        Payload::Files(files) => files.largest(),
        Payload::Multipart(m) => m.bound(|ops| prog.bound(ops, Mode::Raw, data)),
    }
}

/// The most bytes a JSON body (mutated or not) renders to.
fn body_bound(prog: &Program, body: &Body, data: Option<&DataSet>) -> usize {
    match body {
        Body::Other(ops) => prog.bound(*ops, Mode::Json, data).saturating_add(1),
        Body::Object(fields) => fields
            .iter()
            .map(|f| {
                ((f.key.1 - f.key.0) as usize)
                    .saturating_add(prog.bound(f.value, Mode::Json, data))
                    .saturating_add(MUTATION_SLACK + 1)
            })
            .fold(2, usize::saturating_add),
    }
}

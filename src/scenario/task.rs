//! One `[[task]]`: what request it sends, how some of them are made invalid, and
//! what the responses must look like.

use std::sync::Arc;
use std::time::Duration;

use super::data::DataSet;
use super::escape::is_tchar;
use super::expect::{Expect, Failure};
use super::read::{self, fail, Result, Table};
use super::template::{self, Body, Compiler, Mode, Ops, Program};
use super::tree::Node;

/// Keys a `[[task]]` table may have.
const TASK_KEYS: &[&str] = &[
    "name",
    "weight",
    "method",
    "path",
    "headers",
    "vars",
    "body",
    "invalid",
    "expect",
    "expect_invalid",
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
    pub body: Option<Body>,
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

impl Task {
    pub fn has_body(&self) -> bool {
        self.request.body.is_some()
    }

    /// Whether checking a response of this task reads its body.
    pub fn needs_body_capture(&self) -> bool {
        self.expect.reads_body() || (self.invalid.is_some() && self.expect_invalid.reads_body())
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

    /// Compiles one `[[task]]` table.
    pub(crate) fn parse(node: &Node, data: Option<&DataSet>) -> Result<Task> {
        let table = Table::new(node, "[[task]]", TASK_KEYS)?;
        let mut c = Compiler::new(data);
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
        let body = table.get("body").map(|b| c.body(b)).transpose()?;
        let headers = headers(&mut c, table.get("headers"), body.is_some())?;
        let method = method(table.get("method"), body.is_some())?;
        let invalid = match table.entry("invalid") {
            Some((_, n)) => Some(invalid(n, body.as_ref())?),
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
        let prog = c.prog;
        let request = Request {
            path_bound: prog.bound(path_ops, Mode::Path, data),
            headers_bound: prog.bound(headers, Mode::Header, data),
            body_bound: body.as_ref().map_or(0, |b| body_bound(&prog, b, data)),
            send_length: body.is_some() || LENGTH_METHODS.contains(&method.as_str()),
            sets_authorization: sets_header(table.get("headers"), "authorization"),
            method: method.clone(),
            path: path_ops,
            headers,
            body,
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

/// Compiles the `headers` table into `Name: value\r\n` ops, adding a JSON
/// `Content-Type` for bodies unless one was given.
fn headers(c: &mut Compiler, node: Option<&Node>, has_body: bool) -> Result<Ops> {
    let start = c.begin();
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
            has_content_type |= lower == "content-type";
            c.literal(format!("{name}: ").as_bytes(), &key.span)?;
            c.text(value, name, template::header_literal_ok)?;
            c.literal(b"\r\n", &key.span)?;
        }
    }
    if has_body && !has_content_type {
        c.literal(b"Content-Type: application/json\r\n", &(0..0))?;
    }
    Ok(Ops {
        start,
        end: c.op_index(),
    })
}

/// Reads an `invalid` table; field mutations need an object body with enough fields.
fn invalid(node: &Node, body: Option<&Body>) -> Result<Invalid> {
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
        let Some(body) = body else {
            return fail(&key.span, format!("`{name}` needs a `body`"));
        };
        found = Some(match name {
            "drop_field" => Mutation::DropField(field_count(value, name, body)?),
            "wrong_type" => Mutation::WrongType(field_count(value, name, body)?),
            "malformed_json" => read::flag(value, name).map(|_| Mutation::MalformedJson)?,
            _ => read::flag(value, name).map(|_| Mutation::EmptyBody)?,
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

/// The most bytes a body (mutated or not) renders to.
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

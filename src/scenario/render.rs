//! Per-worker rendering of complete HTTP/1.1 requests from compiled tasks.
//!
//! A [`Renderer`] owns its RNG, its `seq` counter and every scratch buffer it needs,
//! sized up front from the templates' bounds, so once it has rendered each task a
//! few times a render does no heap allocation. Compiled tasks and the data set are
//! shared with every other worker through `Arc`s and only read.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::data::DataSet;
use super::escape;
use super::files::FileSet;
use super::flow::{NoUser, UserValues};
use super::multipart::{Multipart, Part};
use super::task::{Mutation, Payload, Request};
use super::template::{Body, Gen, Mode, Op, Ops, Program, Repeat, UUID_WIDTH};
use super::Scenario;
use crate::shard::Shard;

/// Most bytes reserved up front for any one scratch buffer; templates that can
/// render larger simply grow their buffer the first time they need to.
const MAX_RESERVE: usize = 1 << 20;
/// Alphabet of `string` generators.
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Value given to a non-string field by a `wrong_type` mutation.
const WRONG_FOR_NON_STRING: &[u8] = b"\"wrong-type\"";
/// Value given to a string field by a `wrong_type` mutation.
const WRONG_FOR_STRING: &[u8] = b"true";

/// What one render produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rendered {
    /// The request was mutated by the task's `invalid` setting: check it against
    /// `expect_invalid`.
    pub invalid: bool,
    /// Elements of the body's first `repeat` (its batch size); `None` without one.
    pub batch: Option<u32>,
}

/// One worker's payload state.
#[derive(Debug)]
pub struct Renderer {
    requests: Vec<Arc<Request>>,
    data: Option<Arc<DataSet>>,
    /// Which slice of the data rows this process draws from.
    shard: Shard,
    /// `Authorization: …\r\n` from the target URL's credentials, sent by every task that
    /// sets no `Authorization` header of its own; empty when the URL has none.
    url_auth: Vec<u8>,
    eval: Eval,
    buf: Buffers,
}

/// The `seq` counter: this shard's values only (shard i of N counts i, i+N, i+2N, …), so
/// shards never send the same one.
#[derive(Debug)]
struct Seq {
    next: u64,
    step: u64,
}

impl Seq {
    fn take(&mut self) -> u64 {
        let v = self.next;
        self.next = self.next.wrapping_add(self.step);
        v
    }
}

/// Generator state and the values of this request's vars.
#[derive(Debug)]
struct Eval {
    rng: SmallRng,
    seq: Seq,
    /// One generator's raw output.
    tmp: Vec<u8>,
    /// Raw values of this request's vars, back to back.
    vars: Vec<u8>,
    /// Per var: its range in `vars`, and whether it is a string.
    var_spans: Vec<(usize, usize, bool)>,
    /// Elements of the first `repeat` rendered for this request.
    batch: Option<u32>,
}

#[derive(Debug, Default)]
struct Buffers {
    body: Vec<u8>,
    target: Vec<u8>,
    headers: Vec<u8>,
    /// A field value about to be replaced by `wrong_type`.
    field: Vec<u8>,
    /// Field indices, partly shuffled to choose the mutated ones.
    order: Vec<usize>,
    chosen: Vec<bool>,
    /// Multipart: where in `body` each file part's content goes, and which file (part
    /// index, file index). File contents are copied once, straight into the request, not
    /// into `body` first: a 100 KB image copied twice cost 1.45x a fixed body's CPU.
    splices: Vec<(usize, usize, usize)>,
}

impl Renderer {
    /// A renderer for worker `worker_index` of an unsharded run.
    pub fn new(scenario: &Scenario, worker_index: usize) -> Self {
        Self::for_shard(scenario, worker_index, Shard::WHOLE)
    }

    /// A renderer for worker `worker_index` of `shard`. With a scenario `seed` the payload
    /// stream is reproducible: worker `i` of shard `s` seeds its RNG with `seed + i + s·2³²`.
    pub fn for_shard(scenario: &Scenario, worker_index: usize, shard: Shard) -> Self {
        let rng = match scenario.seed {
            Some(seed) => SmallRng::seed_from_u64(
                seed.wrapping_add(worker_index as u64)
                    .wrapping_add(shard.index << 32),
            ),
            None => SmallRng::from_entropy(),
        };
        let requests: Vec<Arc<Request>> = scenario
            .tasks
            .iter()
            .map(|t| Arc::clone(&t.request))
            .collect();
        let data = scenario.data.clone();
        let widest = |f: &dyn Fn(&Request) -> usize| {
            requests
                .iter()
                .map(|r| f(r))
                .max()
                .unwrap_or(0)
                .min(MAX_RESERVE)
        };
        let body = widest(&|r| r.body_bound);
        let vars = widest(&|r| var_bound(&r.prog, data.as_deref()));
        let fields = widest(&|r| match &r.payload {
            Payload::Json(Body::Object(f)) => f.len(),
            _ => 0,
        });
        Renderer {
            eval: Eval {
                rng,
                seq: Seq {
                    next: shard.index,
                    step: shard.count,
                },
                tmp: Vec::with_capacity(body),
                vars: Vec::with_capacity(vars),
                var_spans: Vec::with_capacity(widest(&|r| r.prog.vars.len())),
                batch: None,
            },
            buf: Buffers {
                body: Vec::with_capacity(body),
                target: Vec::with_capacity(widest(&|r| r.path_bound)),
                headers: Vec::with_capacity(widest(&|r| r.headers_bound)),
                field: Vec::with_capacity(body),
                order: Vec::with_capacity(fields),
                chosen: Vec::with_capacity(fields),
                splices: Vec::new(),
            },
            requests,
            data,
            shard,
            url_auth: Vec::new(),
        }
    }

    /// Sends `value` (the target URL's `user:pw@` as `Basic …`) as `Authorization` on every
    /// task that does not set that header itself.
    pub fn with_url_authorization(mut self, value: Option<&str>) -> Self {
        self.url_auth.clear();
        if let Some(v) = value {
            self.url_auth.extend_from_slice(b"Authorization: ");
            escape::header_value(v.as_bytes(), &mut self.url_auth);
            self.url_auth.extend_from_slice(b"\r\n");
        }
        self
    }

    /// This worker's RNG, for choices the engine makes (which task, think time).
    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.eval.rng
    }

    /// Appends one complete HTTP/1.1 request for task `task_index` to `out`; `host`
    /// is the `Host` header value. An index with no task appends nothing.
    pub fn render(&mut self, task_index: usize, host: &str, out: &mut Vec<u8>) -> Rendered {
        self.render_for(task_index, host, &NoUser, out)
    }

    /// [`render`](Self::render) for a user: `{user.NAME}` reads its captured values, and its
    /// extra header lines (cookies) follow the task's headers.
    pub fn render_for(
        &mut self,
        task_index: usize,
        host: &str,
        user: &dyn UserValues,
        out: &mut Vec<u8>,
    ) -> Rendered {
        let Some(req) = self.requests.get(task_index) else {
            return Rendered {
                invalid: false,
                batch: None,
            };
        };
        let data = self.data.as_deref();
        let (eval, buf) = (&mut self.eval, &mut self.buf);
        let mutation = req
            .invalid
            .filter(|inv| eval.rng.gen::<f64>() < inv.share)
            .map(|inv| inv.mutation);
        let row = match data {
            Some(d) if req.prog.uses_data => pick_row(&mut eval.rng, d.rows(), self.shard),
            _ => 0,
        };
        let ctx = Ctx {
            prog: &req.prog,
            data,
            row,
            shard: self.shard,
            user,
        };
        eval.batch = None;
        eval.set_vars(&ctx);
        buf.body.clear();
        buf.splices.clear();
        let file = match (&req.payload, mutation) {
            (_, Some(Mutation::EmptyBody)) => None,
            (Payload::Files(files), _) => pick_file(&mut eval.rng, files),
            (payload, _) => {
                render_payload(eval, buf, &ctx, payload, mutation);
                None
            }
        };
        let body = file.unwrap_or(&buf.body);
        buf.target.clear();
        eval.run(&ctx, req.path, Mode::Path, &mut buf.target);
        buf.headers.clear();
        eval.run(&ctx, req.headers, Mode::Header, &mut buf.headers);
        let spliced = spliced_len(&req.payload, &buf.splices);
        let length = req.send_length.then_some(body.len() + spliced);
        let auth = if req.sets_authorization {
            &[][..]
        } else {
            &self.url_auth[..]
        };
        let head = Head {
            method: &req.method,
            target: &buf.target,
            host,
            auth,
            headers: &buf.headers,
            user,
        };
        encode_head(&head, length, out);
        match &req.payload {
            Payload::Multipart(m) if !buf.splices.is_empty() => {
                splice_files(m, body, &buf.splices, out);
            }
            _ => out.extend_from_slice(body),
        }
        Rendered {
            invalid: mutation.is_some(),
            batch: eval.batch,
        }
    }
}

/// One file's bytes, picked at random from the set.
fn pick_file<'a>(rng: &mut SmallRng, files: &'a FileSet) -> Option<&'a [u8]> {
    let i = rng.gen_range(0..files.len().max(1));
    files.get(i).map(|f| &f.bytes[..])
}

/// Renders a payload that is built per request (JSON, text, multipart) into `buf.body`.
fn render_payload(
    eval: &mut Eval,
    buf: &mut Buffers,
    ctx: &Ctx,
    payload: &Payload,
    mutation: Option<Mutation>,
) {
    match payload {
        Payload::Json(body) => render_body(eval, buf, ctx, body, mutation),
        Payload::Text(ops) => eval.run(ctx, *ops, Mode::Raw, &mut buf.body),
        Payload::Multipart(m) => render_multipart(eval, ctx, m, &mut buf.body, &mut buf.splices),
        Payload::None | Payload::Files(_) => {}
    }
}

/// A multipart body: each part in order, a random file of each file part. A file's
/// content is not copied here: its place in `out` is noted in `splices`.
fn render_multipart(
    eval: &mut Eval,
    ctx: &Ctx,
    m: &Multipart,
    out: &mut Vec<u8>,
    splices: &mut Vec<(usize, usize, usize)>,
) {
    for (p, part) in m.parts.iter().enumerate() {
        match part {
            Part::File {
                head,
                files,
                content_type,
            } => {
                let i = eval.rng.gen_range(0..files.len().max(1));
                if let Some(file) = files.get(i) {
                    Part::write_file_head(head, file, content_type.as_deref(), out);
                    splices.push((out.len(), p, i));
                    out.extend_from_slice(b"\r\n");
                }
            }
            Part::Text { head, value } => {
                out.extend_from_slice(head);
                eval.run(ctx, *value, Mode::Raw, out);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    m.write_end(out);
}

/// The file bytes `splices` add to a multipart body.
fn spliced_len(payload: &Payload, splices: &[(usize, usize, usize)]) -> usize {
    let Payload::Multipart(m) = payload else {
        return 0;
    };
    splices
        .iter()
        .filter_map(|&(_, p, i)| spliced_file(m, p, i))
        .map(|f| f.bytes.len())
        .sum()
}

fn spliced_file(m: &Multipart, part: usize, i: usize) -> Option<&super::files::File> {
    match m.parts.get(part)? {
        Part::File { files, .. } => files.get(i),
        Part::Text { .. } => None,
    }
}

/// Writes `body` to `out` with each spliced file's content at its place.
fn splice_files(m: &Multipart, body: &[u8], splices: &[(usize, usize, usize)], out: &mut Vec<u8>) {
    let mut from = 0;
    for &(at, p, i) in splices {
        out.extend_from_slice(&body[from..at]);
        if let Some(f) = spliced_file(m, p, i) {
            out.extend_from_slice(&f.bytes);
        }
        from = at;
    }
    out.extend_from_slice(&body[from..]);
}

/// What a template run reads besides the generator state.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    prog: &'a Program,
    data: Option<&'a DataSet>,
    /// The data row of this request (or of this `repeat` element): every `column` leaf
    /// reads it.
    row: usize,
    /// Which slice of the data rows this process draws from.
    shard: Shard,
    /// The user rendered for: `{user.NAME}` values.
    user: &'a dyn UserValues,
}

impl Eval {
    /// Evaluates each var once for this request.
    fn set_vars(&mut self, ctx: &Ctx) {
        self.vars.clear();
        self.var_spans.clear();
        for &g in &ctx.prog.vars {
            let start = self.vars.len();
            let string = match ctx.prog.gens.get(g as usize) {
                Some(gen) => generate(gen, &mut self.rng, &mut self.seq, ctx, &mut self.vars),
                None => false,
            };
            self.var_spans.push((start, self.vars.len(), string));
        }
    }

    /// Renders the ops of `range` into `out`, encoding values for `mode`.
    fn run(&mut self, ctx: &Ctx, range: Ops, mode: Mode, out: &mut Vec<u8>) {
        let mut i = range.start;
        while let Some(op) = ctx.prog.ops.get(i as usize).filter(|_| i < range.end) {
            i += 1;
            match *op {
                Op::Lit(start, end) => out.extend_from_slice(ctx.prog.lit(start, end)),
                Op::Gen(g) => {
                    if let Some(gen) = ctx.prog.gens.get(g as usize) {
                        self.tmp.clear();
                        let string =
                            generate(gen, &mut self.rng, &mut self.seq, ctx, &mut self.tmp);
                        emit(&self.tmp, string, mode, out);
                    }
                }
                Op::Var(v) => {
                    if let Some(&(start, end, string)) = self.var_spans.get(v as usize) {
                        emit(&self.vars[start..end], string, mode, out);
                    }
                }
                Op::Repeat(r) => {
                    if let Some(rep) = ctx.prog.repeats.get(r as usize) {
                        i = i.max(rep.of.end);
                        self.repeat(ctx, rep, out);
                    }
                }
                Op::User(v) => emit(ctx.user.value(v as usize), true, mode, out),
            }
        }
    }

    /// A JSON array of `rep.of` rendered afresh per element; with a data file, each
    /// element reads its own random row.
    fn repeat(&mut self, ctx: &Ctx, rep: &Repeat, out: &mut Vec<u8>) {
        let n = self.rng.gen_range(rep.min..=rep.max);
        self.batch.get_or_insert(n);
        out.push(b'[');
        for k in 0..n {
            if k > 0 {
                out.push(b',');
            }
            let row = match ctx.data {
                Some(d) if ctx.prog.uses_data => pick_row(&mut self.rng, d.rows(), ctx.shard),
                _ => ctx.row,
            };
            self.run(&Ctx { row, ..*ctx }, rep.of, Mode::Json, out);
        }
        out.push(b']');
    }
}

/// Writes one generated value's raw text into `out`; says whether it is a string
/// (else it is JSON text).
/// A random row of this shard's slice of `rows`; any row when the slice is empty (fewer rows
/// than shards), 0 when there are none.
fn pick_row(rng: &mut SmallRng, rows: usize, shard: Shard) -> usize {
    let mine = shard.part(rows as u64);
    match (mine, rows) {
        (_, 0) => 0,
        (0, _) => rng.gen_range(0..rows),
        _ => usize::try_from(shard.global(rng.gen_range(0..mine))).unwrap_or(0),
    }
}

fn generate(gen: &Gen, rng: &mut SmallRng, seq: &mut Seq, ctx: &Ctx, out: &mut Vec<u8>) -> bool {
    match gen {
        Gen::Int { lo, hi } => {
            let x = rng.gen_range(*lo..=*hi);
            out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
            false
        }
        Gen::Float { lo, hi, scale } => {
            let mut x = if lo < hi {
                rng.gen_range(*lo..=*hi)
            } else {
                *lo
            };
            if let Some(scale) = scale {
                x = ((x * scale).round() / scale).clamp(*lo, *hi);
            }
            out.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
            false
        }
        Gen::Choice(options) => match options.get(rng.gen_range(0..options.len().max(1))) {
            Some(c) => {
                out.extend_from_slice(&c.bytes);
                c.string
            }
            None => false,
        },
        Gen::Bool => {
            out.extend_from_slice(if rng.gen::<bool>() { b"true" } else { b"false" });
            false
        }
        Gen::Uuid => {
            write_uuid(rng.gen::<u128>(), out);
            true
        }
        Gen::Seq => {
            out.extend_from_slice(itoa::Buffer::new().format(seq.take()).as_bytes());
            false
        }
        Gen::Str { min, max } => {
            let len = rng.gen_range(*min..=*max);
            out.extend((0..len).map(|_| ALNUM[rng.gen_range(0..ALNUM.len())]));
            true
        }
        Gen::Column(col) => match ctx.data {
            Some(d) => {
                let cell = d.cell(ctx.row, *col);
                out.extend_from_slice(cell.bytes);
                cell.string
            }
            None => false,
        },
    }
}

/// A random (version 4) UUID in its 36-character form.
fn write_uuid(bits: u128, out: &mut Vec<u8>) {
    const VERSION: u128 = 0xf << 76;
    const VARIANT: u128 = 0x3 << 62;
    let bits = (bits & !VERSION & !VARIANT) | (0x4 << 76) | (0x2 << 62);
    let hex = b"0123456789abcdef";
    let mut text = [0u8; UUID_WIDTH];
    let mut nibble = 32;
    for (i, slot) in text.iter_mut().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            *slot = b'-';
        } else {
            nibble -= 1;
            *slot = hex[((bits >> (nibble * 4)) & 0xf) as usize];
        }
    }
    out.extend_from_slice(&text);
}

/// Writes a value where it lands: JSON strings quoted and escaped, path values
/// percent-encoded, header values stripped of control bytes.
fn emit(bytes: &[u8], string: bool, mode: Mode, out: &mut Vec<u8>) {
    match mode {
        Mode::Json if string => escape::json_string(bytes, out),
        Mode::Json | Mode::Raw => out.extend_from_slice(bytes),
        Mode::Path => escape::percent(bytes, out),
        Mode::Header => escape::header_value(bytes, out),
    }
}

/// Renders the body into `buf.body`, applying `mutation`.
fn render_body(
    eval: &mut Eval,
    buf: &mut Buffers,
    ctx: &Ctx,
    body: &Body,
    mutation: Option<Mutation>,
) {
    let fields = match (body, mutation) {
        (Body::Other(ops), _) => {
            eval.run(ctx, *ops, Mode::Json, &mut buf.body);
            None
        }
        (Body::Object(fields), _) => Some(fields),
    };
    if let Some(fields) = fields {
        let (marked, drop) = match mutation {
            Some(Mutation::DropField(n)) => (n, true),
            Some(Mutation::WrongType(n)) => (n, false),
            _ => (0, false),
        };
        choose_fields(&mut eval.rng, buf, fields.len(), marked);
        buf.body.push(b'{');
        let mut first = true;
        for (i, field) in fields.iter().enumerate() {
            let chosen = marked > 0 && buf.chosen.get(i).copied().unwrap_or(false);
            if chosen && drop {
                continue;
            }
            if !first {
                buf.body.push(b',');
            }
            first = false;
            buf.body
                .extend_from_slice(ctx.prog.lit(field.key.0, field.key.1));
            if chosen {
                buf.field.clear();
                eval.run(ctx, field.value, Mode::Json, &mut buf.field);
                buf.body.extend_from_slice(wrong_type_for(&buf.field));
            } else {
                eval.run(ctx, field.value, Mode::Json, &mut buf.body);
            }
        }
        buf.body.push(b'}');
    }
    if mutation == Some(Mutation::MalformedJson) {
        break_json(&mut eval.rng, &mut buf.body);
    }
}

/// Marks `n` distinct fields of `len` in `buf.chosen`, uniformly at random.
fn choose_fields(rng: &mut SmallRng, buf: &mut Buffers, len: usize, n: usize) {
    buf.chosen.clear();
    if n == 0 {
        return;
    }
    buf.chosen.resize(len, false);
    buf.order.clear();
    buf.order.extend(0..len);
    for i in 0..n.min(len) {
        let j = rng.gen_range(i..len);
        buf.order.swap(i, j);
        buf.chosen[buf.order[i]] = true;
    }
}

/// A value of another JSON type than `value` (judged by its first byte).
fn wrong_type_for(value: &[u8]) -> &'static [u8] {
    match value.first() {
        Some(b'"') => WRONG_FOR_STRING,
        _ => WRONG_FOR_NON_STRING,
    }
}

/// Makes valid JSON invalid: an object or array is cut short (no proper prefix of
/// one is valid); anything else gets an opening brace it never closes.
fn break_json(rng: &mut SmallRng, body: &mut Vec<u8>) {
    match body.first() {
        Some(b'{' | b'[') if body.len() >= 2 => {
            let cut = rng.gen_range(1..body.len());
            body.truncate(cut);
        }
        _ => body.insert(0, b'{'),
    }
}

/// The raw bound of every var of `prog`, for sizing the vars buffer.
fn var_bound(prog: &Program, data: Option<&DataSet>) -> usize {
    prog.vars
        .iter()
        .map(|&g| prog.gen_bound(g, Mode::Header, data))
        .fold(0, usize::saturating_add)
}

/// The parts of one request head, rendered or fixed.
struct Head<'a> {
    method: &'a str,
    target: &'a [u8],
    host: &'a str,
    /// Whole `Authorization` line from the URL, or empty.
    auth: &'a [u8],
    /// The task's `Name: value\r\n` lines.
    headers: &'a [u8],
    /// Adds the user's lines (cookies) for this target.
    user: &'a dyn UserValues,
}

/// Writes a request head. Small and private so it can give way to the http
/// module's encoder: `METHOD target HTTP/1.1`, `Host`, the URL's `Authorization`, the
/// task's header lines, `Content-Length` when given, blank line.
fn encode_head(head: &Head, content_length: Option<usize>, out: &mut Vec<u8>) {
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    escape::header_value(head.host.as_bytes(), out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(head.auth);
    out.extend_from_slice(head.headers);
    head.user.extra_headers(head.target, out);
    if let Some(n) = content_length {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_well_formed() {
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..100 {
            let mut out = Vec::new();
            write_uuid(rng.gen(), &mut out);
            let s = String::from_utf8(out).unwrap();
            assert_eq!(s.len(), 36);
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{s}");
            assert!(
                matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "{s}"
            );
            assert!(s.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn break_json_always_breaks_it() {
        let mut rng = SmallRng::seed_from_u64(5);
        for valid in [
            r#"{"a":1,"b":[1,2]}"#,
            "[1]",
            "{}",
            "123",
            "\"s\"",
            "true",
            "null",
        ] {
            for _ in 0..50 {
                let mut body = valid.as_bytes().to_vec();
                break_json(&mut rng, &mut body);
                assert!(
                    serde_json::from_slice::<serde_json::Value>(&body).is_err(),
                    "{valid} -> {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }

    #[test]
    fn head_has_length_only_when_asked() {
        let mut out = Vec::new();
        let get = Head {
            method: "GET",
            target: b"/health",
            host: "localhost:8080",
            auth: b"",
            headers: b"",
            user: &NoUser,
        };
        encode_head(&get, None, &mut out);
        assert_eq!(out, b"GET /health HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
        out.clear();
        let post = Head {
            method: "POST",
            target: b"/p",
            host: "h",
            auth: b"Authorization: Basic eDp5\r\n",
            headers: b"X-A: 1\r\n",
            user: &NoUser,
        };
        encode_head(&post, Some(12), &mut out);
        assert_eq!(
            out,
            &b"POST /p HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eDp5\r\nX-A: 1\r\nContent-Length: 12\r\n\r\n"[..]
        );
    }
}

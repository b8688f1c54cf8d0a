//! Compiled templates: a request's path, header values and JSON body as one flat list
//! of ops over a literal byte pool, so rendering is a loop of copies and generator
//! calls with no tree walk and no allocation.
//!
//! Body rules: a TOML table with exactly one key that names a generator (`int`,
//! `float`, `choice`, `bool`, `uuid`, `seq`, `string`, `column`, `var`) is that
//! generator; `{repeat = {count = .., of = ..}}` is a JSON array of `of` rendered afresh
//! per element; any other table is a JSON object; every other value is emitted as the
//! equivalent JSON literal, strings with their `{env.NAME}` placeholders resolved. Path,
//! header and text values are text with `{name}` placeholders naming the task's `vars`
//! or the environment (`{env.NAME}`, resolved here, at load time) or a value the user
//! captured (`{user.NAME}`, read per request; `{captured = "NAME"}` in a body); `{{` and `}}`
//! stand for literal braces.

use std::ops::Range;

use super::data::DataSet;
use super::env::{self, Env};
use super::escape;
use super::flow::MAX_CAPTURE_BYTES;
use super::read::{self, fail, Result, Table};
use super::tree::{Key, Node, Value};

/// Longest random `string` a generator may produce.
pub(crate) const MAX_STRING_LEN: usize = 65_536;
/// Most decimals a `float` generator may round to.
const MAX_DECIMALS: u64 = 15;
/// Most `vars` one task may define.
pub(crate) const MAX_VARS: usize = 256;
/// Longest literal pool one task may compile to (offsets are `u32`).
const MAX_POOL: usize = u32::MAX as usize;
/// Widest text any number generator writes (`-9223372036854775808`, ryu's 24).
const NUMBER_WIDTH: usize = 24;
/// Width of a formatted UUID.
pub(crate) const UUID_WIDTH: usize = 36;
/// Most elements one `repeat` may render.
pub(crate) const MAX_REPEAT: u64 = 10_000;
/// The key that makes a one-key table a `repeat`.
const REPEAT: &str = "repeat";
/// Deepest nesting of `repeat`s (a named body that repeats itself would never end).
const MAX_NESTING: usize = 16;

/// The keys that make a one-key table a generator.
pub(crate) const GENERATORS: &[&str] = &[
    "int", "float", "choice", "bool", "uuid", "seq", "string", "column", "var", "captured",
];

/// One value source, evaluated once per use (vars: once per request).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Gen {
    Int {
        lo: i64,
        hi: i64,
    },
    /// `scale` is `10^decimals` when rounding was asked for.
    Float {
        lo: f64,
        hi: f64,
        scale: Option<f64>,
    },
    Choice(Vec<Choice>),
    Bool,
    Uuid,
    Seq,
    Str {
        min: usize,
        max: usize,
    },
    Column(usize),
}

/// One option of a `choice`: raw text for a string, else compact JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    pub bytes: Vec<u8>,
    pub string: bool,
}

/// One step of a template.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// Copy `lits[start..end]`.
    Lit(u32, u32),
    /// Evaluate `gens[i]`.
    Gen(u32),
    /// Emit the value var `i` got for this request.
    Var(u32),
    /// Render `repeats[i]`; its element's ops follow this op and are skipped after it.
    Repeat(u32),
    /// Emit the value the user captured into user var `i` (always a string).
    User(u32),
}

/// `{repeat = {count = [min, max], of = ..}}`: a JSON array of `min..=max` elements.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Repeat {
    pub min: u32,
    pub max: u32,
    /// The element template: the ops right after the `Op::Repeat`.
    pub of: Ops,
}

/// Where a value is written, which decides how strings are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Json,
    Path,
    Header,
    /// Text bodies and multipart text parts: values as they are.
    Raw,
}

/// A slice of `Program::ops`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Ops {
    pub start: u32,
    pub end: u32,
}

/// One top-level field of an object body, kept apart so a mutation can drop it or
/// replace its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// `"key":` in the pool.
    pub key: (u32, u32),
    pub value: Ops,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Object(Vec<Field>),
    Other(Ops),
}

/// The literal pool, ops and generators of one task.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Program {
    pub lits: Vec<u8>,
    pub ops: Vec<Op>,
    pub gens: Vec<Gen>,
    /// Generator index of each var, in `vars` order.
    pub vars: Vec<u32>,
    pub repeats: Vec<Repeat>,
    pub uses_data: bool,
}

impl Program {
    pub fn lit(&self, start: u32, end: u32) -> &[u8] {
        &self.lits[start as usize..end as usize]
    }

    /// The most bytes `range` can render to in `mode`.
    pub fn bound(&self, range: Ops, mode: Mode, data: Option<&DataSet>) -> usize {
        let mut total = 0usize;
        let mut i = range.start;
        while let Some(op) = self.ops.get(i as usize).filter(|_| i < range.end) {
            i += 1;
            let n = match *op {
                Op::Lit(s, e) => e.saturating_sub(s) as usize,
                Op::Gen(g) => self.gen_bound(g, mode, data),
                Op::Var(v) => self
                    .vars
                    .get(v as usize)
                    .map_or(0, |&g| self.gen_bound(g, mode, data)),
                Op::Repeat(r) => match self.repeats.get(r as usize) {
                    Some(rep) => {
                        i = i.max(rep.of.end);
                        self.bound(rep.of, mode, data)
                            .saturating_add(1)
                            .saturating_mul(rep.max as usize)
                            .saturating_add(2)
                    }
                    None => 0,
                },
                Op::User(_) => string_bound(MAX_CAPTURE_BYTES, mode),
            };
            total = total.saturating_add(n);
        }
        total
    }

    pub fn gen_bound(&self, g: u32, mode: Mode, data: Option<&DataSet>) -> usize {
        let (raw, string) = match self.gens.get(g as usize) {
            Some(Gen::Int { .. } | Gen::Float { .. } | Gen::Seq) => (NUMBER_WIDTH, false),
            Some(Gen::Bool) => (5, false),
            Some(Gen::Uuid) => (UUID_WIDTH, true),
            Some(Gen::Str { max, .. }) => (*max, true),
            Some(Gen::Choice(items)) => {
                (items.iter().map(|c| c.bytes.len()).max().unwrap_or(0), true)
            }
            Some(Gen::Column(c)) => (data.map_or(0, |d| d.widest(*c)), true),
            None => (0, false),
        };
        match mode {
            Mode::Json if !string => raw,
            _ => string_bound(raw, mode),
        }
    }
}

/// The most bytes a string of `raw` bytes takes where `mode` writes it.
fn string_bound(raw: usize, mode: Mode) -> usize {
    match mode {
        Mode::Json => escape::json_string_bound(raw),
        Mode::Header | Mode::Raw => raw,
        Mode::Path => raw.saturating_mul(3),
    }
}

/// Builds one task's [`Program`], resolving `column` and `var` names.
pub(crate) struct Compiler<'a> {
    pub prog: Program,
    data: Option<&'a DataSet>,
    env: &'a Env,
    /// `[bodies.NAME]` templates, for `body = "NAME"` and `of = "NAME"`.
    bodies: &'a [(Key, Node)],
    /// `repeat`s open around what is being compiled.
    depth: usize,
    var_names: Vec<String>,
    /// Names the scenario's tasks capture, for `{user.NAME}`.
    user_vars: &'a [String],
    /// Ops before this index belong to a finished range and must not be merged into.
    floor: usize,
}

impl<'a> Compiler<'a> {
    pub fn new(data: Option<&'a DataSet>, env: &'a Env, bodies: &'a [(Key, Node)]) -> Self {
        Compiler {
            prog: Program::default(),
            data,
            env,
            bodies,
            depth: 0,
            var_names: Vec::new(),
            user_vars: &[],
            floor: 0,
        }
    }

    /// Lets templates read `{user.NAME}` for these captured names.
    pub fn with_user_vars(mut self, names: &'a [String]) -> Self {
        self.user_vars = names;
        self
    }

    /// The index of captured name `name`, or the load-time error for an unknown one.
    fn user_var(&self, name: &str, span: &Range<usize>, place: &str) -> Result<u32> {
        match self.user_vars.iter().position(|v| v == name) {
            Some(i) => Ok(i as u32),
            None if self.user_vars.is_empty() => fail(
                span,
                format!("{place} uses {{user.{name}}} but no task captures `{name}` (add `capture = {{{name} = \"json:/...\"}}` to a task, e.g. in [on_start])"),
            ),
            None => fail(
                span,
                format!("{place} uses {{user.{name}}} but no task captures `{name}` (captured: {})", self.user_vars.join(", ")),
            ),
        }
    }

    /// Compiles the `vars` table: each entry a generator or a literal.
    pub fn vars(&mut self, node: &Node) -> Result<()> {
        let table = Table::any(node, "vars")?;
        if table.entries().len() > MAX_VARS {
            return fail(&node.span, format!("at most {MAX_VARS} vars per task"));
        }
        for (key, value) in table.entries() {
            let gen = match self.generator(value)? {
                Some(Leaf::Gen(g)) => g,
                Some(Leaf::Var(_) | Leaf::User(_)) => {
                    return fail(
                        &value.span,
                        "a var cannot refer to another var or a user value",
                    )
                }
                None => Gen::Choice(vec![choice_item(value, self.env)?]),
            };
            let index = self.push_gen(gen, &value.span)?;
            self.prog.vars.push(index);
            self.var_names.push(key.name.clone());
        }
        Ok(())
    }

    /// Compiles a JSON body template, or the named body a string names.
    pub fn body(&mut self, node: &Node) -> Result<Body> {
        let node = self.named(node)?;
        match &node.value {
            Value::Table(entries) if self.generator(node)?.is_none() && !is_repeat(node) => {
                let mut fields = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let mut k = Vec::with_capacity(key.name.len() + 3);
                    escape::json_string(key.name.as_bytes(), &mut k);
                    k.push(b':');
                    let key_range = self.pool(&k, &key.span)?;
                    let start = self.begin();
                    self.json(value)?;
                    fields.push(Field {
                        key: key_range,
                        value: Ops {
                            start,
                            end: self.op_index(),
                        },
                    });
                }
                Ok(Body::Object(fields))
            }
            _ => {
                let start = self.begin();
                self.json(node)?;
                Ok(Body::Other(Ops {
                    start,
                    end: self.op_index(),
                }))
            }
        }
    }

    /// Compiles a text template (`/items/{id}`) whose literal parts must pass `check`.
    pub fn text(&mut self, node: &Node, name: &str, check: fn(&str) -> bool) -> Result<Ops> {
        let text = read::string(node, name)?;
        let start = self.begin();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                literal.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            let Some(close) = tail.find('}').filter(|_| tail.starts_with('{')) else {
                return fail(&node.span, format!("`{name}` has an unmatched brace (write `{{{{` or `}}}}` for a literal one)"));
            };
            let var = &tail[1..close];
            rest = &tail[close + 1..];
            if let Some(body) = env::placeholder(var) {
                let value = self
                    .env
                    .resolve(body)
                    .or_else(|e| fail(&node.span, format!("`{name}`: {e}")))?;
                if !check(value) {
                    return fail(&node.span, format!("`{name}`: the value of {{{var}}} contains a character not allowed there"));
                }
                literal.push_str(value);
                continue;
            }
            if let Some(user) = var.strip_prefix("user.") {
                let index = self.user_var(user, &node.span, &format!("`{name}`"))?;
                self.text_literal(&literal, node, name, check)?;
                literal.clear();
                self.prog.ops.push(Op::User(index));
                continue;
            }
            let Some(index) = self.var_names.iter().position(|v| v == var) else {
                return fail(
                    &node.span,
                    format!("`{name}` uses {{{var}}} but the task has no var `{var}`"),
                );
            };
            self.text_literal(&literal, node, name, check)?;
            literal.clear();
            self.prog.ops.push(Op::Var(index as u32));
        }
        literal.push_str(rest);
        self.text_literal(&literal, node, name, check)?;
        Ok(Ops {
            start,
            end: self.op_index(),
        })
    }

    fn text_literal(
        &mut self,
        s: &str,
        node: &Node,
        name: &str,
        check: fn(&str) -> bool,
    ) -> Result<()> {
        if !check(s) {
            return fail(
                &node.span,
                format!("`{name}` contains a character not allowed there"),
            );
        }
        self.literal(s.as_bytes(), &node.span)
    }

    /// Appends raw bytes as a literal op.
    pub fn literal(&mut self, bytes: &[u8], span: &Range<usize>) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let (start, end) = self.pool(bytes, span)?;
        let mergeable = self.prog.ops.len() > self.floor;
        if let (true, Some(Op::Lit(_, last_end))) = (mergeable, self.prog.ops.last_mut()) {
            if *last_end == start {
                *last_end = end;
                return Ok(());
            }
        }
        self.prog.ops.push(Op::Lit(start, end));
        Ok(())
    }

    /// Starts a new op range: nothing after this merges into an earlier op.
    pub fn begin(&mut self) -> u32 {
        self.floor = self.prog.ops.len();
        self.op_index()
    }

    /// The index the next op gets. Ops are bounded like the pool: every op adds pool
    /// bytes or comes from a generator, which takes source bytes.
    pub fn op_index(&self) -> u32 {
        self.prog.ops.len() as u32
    }

    fn pool(&mut self, bytes: &[u8], span: &Range<usize>) -> Result<(u32, u32)> {
        let start = self.prog.lits.len();
        if start + bytes.len() > MAX_POOL {
            return fail(span, "template is too large");
        }
        self.prog.lits.extend_from_slice(bytes);
        Ok((start as u32, self.prog.lits.len() as u32))
    }

    fn push_gen(&mut self, gen: Gen, span: &Range<usize>) -> Result<u32> {
        if self.prog.gens.len() >= MAX_POOL {
            return fail(span, "template is too large");
        }
        if matches!(gen, Gen::Column(_)) {
            self.prog.uses_data = true;
        }
        self.prog.gens.push(gen);
        Ok((self.prog.gens.len() - 1) as u32)
    }

    /// Emits ops for any JSON value.
    fn json(&mut self, node: &Node) -> Result<()> {
        if let (true, Value::Table(entries)) = (is_repeat(node), &node.value) {
            return self.repeat(&entries[0].1);
        }
        match self.generator(node)? {
            Some(Leaf::Gen(g)) => {
                let index = self.push_gen(g, &node.span)?;
                self.prog.ops.push(Op::Gen(index));
                return Ok(());
            }
            Some(Leaf::Var(v)) => {
                self.prog.ops.push(Op::Var(v));
                return Ok(());
            }
            Some(Leaf::User(v)) => {
                self.prog.ops.push(Op::User(v));
                return Ok(());
            }
            None => {}
        }
        match &node.value {
            Value::Array(items) => {
                self.literal(b"[", &node.span)?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.literal(b",", &node.span)?;
                    }
                    self.json(item)?;
                }
                self.literal(b"]", &node.span)
            }
            Value::Table(entries) => {
                self.literal(b"{", &node.span)?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    let mut k = Vec::with_capacity(key.name.len() + 4);
                    if i > 0 {
                        k.push(b',');
                    }
                    escape::json_string(key.name.as_bytes(), &mut k);
                    k.push(b':');
                    self.literal(&k, &key.span)?;
                    self.json(value)?;
                }
                self.literal(b"}", &node.span)
            }
            _ => {
                let bytes = literal_json(node, self.env)?;
                self.literal(&bytes, &node.span)
            }
        }
    }

    /// `{count = n | [min, max], of = template}`: the op, then the element's ops.
    fn repeat(&mut self, arg: &Node) -> Result<()> {
        let table = Table::new(arg, REPEAT, &["count", "of"])?;
        let (Some(count), Some(of)) = (table.get("count"), table.get("of")) else {
            return fail(
                &arg.span,
                "`repeat` needs `count = n` or `count = [min, max]`, and `of = ..`",
            );
        };
        let (min, max) = match count.value {
            Value::Array(_) => read::range(count, "count", read::uint)?,
            _ => {
                let n = read::uint(count, "count")?;
                (n, n)
            }
        };
        if max > MAX_REPEAT {
            return fail(&count.span, format!("`count` must be at most {MAX_REPEAT}"));
        }
        if self.depth == MAX_NESTING {
            return fail(
                &arg.span,
                format!("`repeat`s nest more than {MAX_NESTING} deep (does a body repeat itself?)"),
            );
        }
        let of = self.named(of)?;
        let index = self.prog.repeats.len() as u32;
        self.prog.ops.push(Op::Repeat(index));
        let start = self.begin();
        self.depth += 1;
        self.json(of)?;
        self.depth -= 1;
        let end = self.begin();
        self.prog.repeats.push(Repeat {
            min: min as u32,
            max: max as u32,
            of: Ops { start, end },
        });
        Ok(())
    }

    /// If `node` is a one-key table naming a generator, compiles that generator.
    fn generator(&self, node: &Node) -> Result<Option<Leaf>> {
        let Value::Table(entries) = &node.value else {
            return Ok(None);
        };
        let [(key, arg)] = entries.as_slice() else {
            return Ok(None);
        };
        let name = key.name.as_str();
        let gen = match name {
            "int" => {
                let (lo, hi) = read::range(arg, name, read::int)?;
                Gen::Int { lo, hi }
            }
            "float" => float(arg)?,
            "choice" => choice(arg, self.env)?,
            "bool" => read::flag(arg, name).map(|_| Gen::Bool)?,
            "uuid" => read::flag(arg, name).map(|_| Gen::Uuid)?,
            "seq" => read::flag(arg, name).map(|_| Gen::Seq)?,
            "string" => string(arg)?,
            "column" => self.column(arg)?,
            "var" => {
                let var = read::string(arg, name)?;
                return match self.var_names.iter().position(|v| v == var) {
                    Some(i) => Ok(Some(Leaf::Var(i as u32))),
                    None => fail(&arg.span, format!("the task has no var `{var}`")),
                };
            }
            "captured" => {
                let user = read::string(arg, name)?;
                return Ok(Some(Leaf::User(
                    self.user_var(user, &arg.span, "the body")?,
                )));
            }
            _ => return Ok(None),
        };
        Ok(Some(Leaf::Gen(gen)))
    }

    fn column(&self, arg: &Node) -> Result<Gen> {
        let name = read::string(arg, "column")?;
        let Some(data) = self.data else {
            return fail(
                &arg.span,
                "`column` needs a top-level `data = \"file.csv\"`",
            );
        };
        match data.column(name) {
            Some(i) => Ok(Gen::Column(i)),
            None => fail(
                &arg.span,
                format!(
                    "unknown column `{name}` in {} (columns: {})",
                    data.path().display(),
                    data.columns().join(", ")
                ),
            ),
        }
    }
}

impl<'a> Compiler<'a> {
    /// A string names a `[bodies.NAME]` template: that template; anything else is itself.
    fn named<'n>(&self, node: &'n Node) -> Result<&'n Node>
    where
        'a: 'n,
    {
        let Value::Str(name) = &node.value else {
            return Ok(node);
        };
        match self.bodies.iter().find(|(k, _)| &k.name == name) {
            Some((_, body)) => Ok(body),
            None if self.bodies.is_empty() => fail(
                &node.span,
                format!("no body named `{name}`: define it in a [bodies.{name}] table"),
            ),
            None => {
                let names: Vec<&str> = self.bodies.iter().map(|(k, _)| k.name.as_str()).collect();
                fail(
                    &node.span,
                    format!("no body named `{name}` (bodies: {})", names.join(", ")),
                )
            }
        }
    }
}

/// Whether `node` is a one-key table `{repeat = ..}`.
fn is_repeat(node: &Node) -> bool {
    matches!(&node.value, Value::Table(e) if e.len() == 1 && e[0].0.name == REPEAT)
}

/// What a generator-shaped leaf compiles to.
enum Leaf {
    Gen(Gen),
    Var(u32),
    User(u32),
}

/// `{float = [lo, hi]}` or `{float = {range = [lo, hi], decimals = n}}`.
fn float(arg: &Node) -> Result<Gen> {
    if let Value::Array(_) = arg.value {
        let (lo, hi) = float_range(arg, "float")?;
        return Ok(Gen::Float {
            lo,
            hi,
            scale: None,
        });
    }
    let table = Table::new(arg, "float", &["range", "decimals"])?;
    let Some(range) = table.get("range") else {
        return fail(&arg.span, "`float` needs `range = [min, max]`");
    };
    let (lo, hi) = float_range(range, "range")?;
    let scale = match table.get("decimals") {
        Some(d) => {
            let n = read::uint(d, "decimals")?;
            if n > MAX_DECIMALS {
                return fail(
                    &d.span,
                    format!("`decimals` must be at most {MAX_DECIMALS}"),
                );
            }
            Some(10f64.powi(n as i32))
        }
        None => None,
    };
    Ok(Gen::Float { lo, hi, scale })
}

/// `[min, max]` of finite floats whose width is finite too (the RNG needs it).
fn float_range(node: &Node, name: &str) -> Result<(f64, f64)> {
    let (lo, hi) = read::range(node, name, read::number)?;
    if !(hi - lo).is_finite() {
        return fail(&node.span, format!("`{name}` is too wide to draw from"));
    }
    Ok((lo, hi))
}

/// `{choice = [..]}`: strings, numbers, booleans or literal arrays/tables.
fn choice(arg: &Node, env: &Env) -> Result<Gen> {
    let items = read::array(arg, "choice")?;
    if items.is_empty() {
        return fail(&arg.span, "`choice` needs at least one option");
    }
    let options = items
        .iter()
        .map(|item| choice_item(item, env))
        .collect::<Result<_>>()?;
    Ok(Gen::Choice(options))
}

/// A literal as a choice option: strings kept raw (escaped where they land).
fn choice_item(node: &Node, env: &Env) -> Result<Choice> {
    Ok(match &node.value {
        Value::Str(s) => Choice {
            bytes: expand(node, s, env)?.into_bytes(),
            string: true,
        },
        _ => Choice {
            bytes: literal_json(node, env)?,
            string: false,
        },
    })
}

/// `{string = {len = n}}` or `{string = {len = [min, max]}}`: random alphanumerics.
fn string(arg: &Node) -> Result<Gen> {
    let table = Table::new(arg, "string", &["len"])?;
    let Some(len) = table.get("len") else {
        return fail(&arg.span, "`string` needs `len = n` or `len = [min, max]`");
    };
    let (min, max) = match len.value {
        Value::Array(_) => read::range(len, "len", read::uint)?,
        _ => {
            let n = read::uint(len, "len")?;
            (n, n)
        }
    };
    if max > MAX_STRING_LEN as u64 {
        return fail(&len.span, format!("`len` must be at most {MAX_STRING_LEN}"));
    }
    Ok(Gen::Str {
        min: min as usize,
        max: max as usize,
    })
}

/// `s` (the string at `node`) with its `{env.NAME}` placeholders resolved.
pub(crate) fn expand(node: &Node, s: &str, env: &Env) -> Result<String> {
    match env.expand(s) {
        Ok(text) => Ok(text.into_owned()),
        Err(e) => fail(&node.span, e.to_string()),
    }
}

/// A TOML value as compact JSON, with no generators allowed inside and `{env.NAME}`
/// placeholders in strings resolved.
pub(crate) fn literal_json(node: &Node, env: &Env) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_literal(node, env, &mut out)?;
    Ok(out)
}

fn write_literal(node: &Node, env: &Env, out: &mut Vec<u8>) -> Result<()> {
    match &node.value {
        Value::Str(s) => escape::json_string(expand(node, s, env)?.as_bytes(), out),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Float(f) if f.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes())
        }
        Value::Float(_) => return fail(&node.span, "JSON has no nan or inf"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Datetime => {
            return fail(
                &node.span,
                "dates are not supported here; quote them as a string",
            )
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_literal(item, env, out)?;
            }
            out.push(b']');
        }
        Value::Table(entries) => {
            if let [(key, _)] = entries.as_slice() {
                if GENERATORS.contains(&key.name.as_str()) || key.name == REPEAT {
                    return fail(
                        &node.span,
                        format!("a `{}` generator cannot be used here", key.name),
                    );
                }
            }
            out.push(b'{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                escape::json_string(key.name.as_bytes(), out);
                out.push(b':');
                write_literal(value, env, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Literal parts of a request path: visible ASCII only, so the request line stays valid.
pub(crate) fn path_literal_ok(s: &str) -> bool {
    s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// Literal parts of a header value: no control bytes but tab.
pub(crate) fn header_literal_ok(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Literal parts of a text body or multipart text part: anything.
pub(crate) fn any_text(_: &str) -> bool {
    true
}

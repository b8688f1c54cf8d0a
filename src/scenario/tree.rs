//! A TOML document as a plain tree whose every key and value knows its byte span.
//!
//! Validation needs to point at the exact key or value that is wrong, including
//! inside arbitrarily nested body templates. `toml_edit` keeps spans for everything it
//! parsed; this module copies them into a small owned tree (document order kept) so
//! the rest of the scenario code never touches `toml_edit` types.

use std::ops::Range;

/// One value with the span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

/// A key of a table with the span of its source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub name: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
}

impl Value {
    /// The TOML type name, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// A TOML syntax error: its span and the parser's message.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub span: Range<usize>,
    pub message: String,
}

/// Parses `src` into a tree rooted at a table spanning the whole document.
pub(crate) fn parse(src: &str) -> Result<Node, SyntaxError> {
    let doc = toml_edit::ImDocument::parse(src).map_err(|e| SyntaxError {
        span: e.span().unwrap_or(0..0),
        message: e.message().trim_end().to_string(),
    })?;
    Ok(Node {
        span: 0..0,
        value: table(doc.as_table(), &(0..0)),
    })
}

fn table(t: &toml_edit::Table, fallback: &Range<usize>) -> Value {
    let mut entries = Vec::with_capacity(t.len());
    for (name, item) in t.iter() {
        let key_span = t
            .key(name)
            .and_then(|k| k.span())
            .unwrap_or_else(|| fallback.clone());
        if let Some(node) = item_node(item, &key_span) {
            entries.push((key(name, key_span), node));
        }
    }
    Value::Table(entries)
}

fn inline_table(t: &toml_edit::InlineTable, fallback: &Range<usize>) -> Value {
    let mut entries = Vec::with_capacity(t.len());
    for (name, value) in t.iter() {
        let key_span = t
            .key(name)
            .and_then(|k| k.span())
            .unwrap_or_else(|| fallback.clone());
        let node = value_node(value, &key_span);
        entries.push((key(name, key_span), node));
    }
    Value::Table(entries)
}

fn key(name: &str, span: Range<usize>) -> Key {
    Key {
        name: name.to_string(),
        span,
    }
}

/// `fallback` is the span used where `toml_edit` has none (implicit tables):
/// the span of the key that names the item.
fn item_node(item: &toml_edit::Item, fallback: &Range<usize>) -> Option<Node> {
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(v) => Some(value_node(v, fallback)),
        toml_edit::Item::Table(t) => {
            let span = t.span().unwrap_or_else(|| fallback.clone());
            let value = table(t, &span);
            Some(Node { span, value })
        }
        toml_edit::Item::ArrayOfTables(a) => {
            let span = a.span().unwrap_or_else(|| fallback.clone());
            let elems = a
                .iter()
                .map(|t| {
                    let s = t.span().unwrap_or_else(|| span.clone());
                    let value = table(t, &s);
                    Node { span: s, value }
                })
                .collect();
            Some(Node {
                span,
                value: Value::Array(elems),
            })
        }
    }
}

fn value_node(v: &toml_edit::Value, fallback: &Range<usize>) -> Node {
    let span = v.span().unwrap_or_else(|| fallback.clone());
    let value = match v {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(_) => Value::Datetime,
        toml_edit::Value::Array(a) => {
            Value::Array(a.iter().map(|e| value_node(e, &span)).collect())
        }
        toml_edit::Value::InlineTable(t) => inline_table(t, &span),
    };
    Node { span, value }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
/// Offsets past the end or inside a character are clamped to the nearest boundary before it.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let before = &src[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(src: &'a str, n: &Node) -> &'a str {
        &src[n.span.clone()]
    }

    fn entries(n: &Node) -> &[(Key, Node)] {
        match &n.value {
            Value::Table(e) => e,
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let src = "a = 1\nb = {c = \"x\", d = [1.5, true]}\n";
        let root = parse(src).unwrap();
        let e = entries(&root);
        assert_eq!(e[0].0.name, "a");
        assert_eq!(&src[e[0].0.span.clone()], "a");
        assert_eq!(text(src, &e[0].1), "1");
        assert_eq!(text(src, &e[1].1), "{c = \"x\", d = [1.5, true]}");
        let inner = entries(&e[1].1);
        assert_eq!(&src[inner[1].0.span.clone()], "d");
        assert_eq!(text(src, &inner[1].1), "[1.5, true]");
        match &inner[1].1.value {
            Value::Array(items) => {
                assert_eq!(text(src, &items[0]), "1.5");
                assert_eq!(text(src, &items[1]), "true");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn implicit_and_dotted_tables_fall_back_to_their_key() {
        let src = "b.c = 2\n[x.y]\nz = 1\n";
        let root = parse(src).unwrap();
        let e = entries(&root);
        assert_eq!(e[0].0.name, "b");
        assert_eq!(&src[e[0].1.span.clone()], "b");
        let x = entries(&e[1].1);
        assert_eq!(x[0].0.name, "y");
        assert_eq!(text(src, &entries(&x[0].1)[0].1), "1");
    }

    #[test]
    fn array_of_tables_keeps_order_and_spans() {
        let src = "[[task]]\nname = \"a\"\n[[task]]\nname = \"b\"\n";
        let root = parse(src).unwrap();
        let e = entries(&root);
        match &e[0].1.value {
            Value::Array(ts) => {
                assert_eq!(ts.len(), 2);
                assert_eq!(text(src, &entries(&ts[1])[0].1), "\"b\"");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn datetimes_become_a_marker() {
        let root = parse("d = 1979-05-27\n").unwrap();
        assert_eq!(entries(&root)[0].1.value, Value::Datetime);
    }

    #[test]
    fn syntax_errors_have_a_span() {
        let err = parse("a = 1\na = 2\n").unwrap_err();
        assert_eq!(line_col("a = 1\na = 2\n", err.span.start), (2, 1));
    }

    #[test]
    fn line_col_table() {
        let src = "ab\ncdé\nf";
        for (offset, want) in [
            (0, (1, 1)),
            (1, (1, 2)),
            (3, (2, 1)),
            (5, (2, 3)),
            (6, (2, 3)),
            (8, (3, 1)),
            (99, (3, 2)),
        ] {
            assert_eq!(line_col(src, offset), want, "offset {offset}");
        }
    }
}

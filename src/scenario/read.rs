//! Typed reads from the spanned tree: every failure carries the span of the key or
//! value at fault, so the caller can report `path:line:col`.

use std::ops::Range;
use std::time::Duration;

use super::tree::{Key, Node, Value};

/// A validation failure at a byte span of the scenario source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Error {
    pub span: Range<usize>,
    pub message: String,
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

/// An error at `span`.
pub(crate) fn fail<T>(span: &Range<usize>, message: impl Into<String>) -> Result<T> {
    Err(Error {
        span: span.clone(),
        message: message.into(),
    })
}

fn wrong_type<T>(node: &Node, name: &str, expected: &str) -> Result<T> {
    fail(
        &node.span,
        format!(
            "`{name}` must be {expected}, found {}",
            node.value.type_name()
        ),
    )
}

/// The entries of a table whose keys were checked against an allowed list.
pub(crate) struct Table<'a> {
    entries: &'a [(Key, Node)],
}

impl<'a> Table<'a> {
    /// Reads `node` as a table named `name` whose keys must all be in `allowed`;
    /// the first unknown key (in document order) is the error.
    pub fn new(node: &'a Node, name: &str, allowed: &[&str]) -> Result<Self> {
        let table = Self::any(node, name)?;
        if let Some((key, _)) = table
            .entries
            .iter()
            .find(|(k, _)| !allowed.contains(&k.name.as_str()))
        {
            return fail(
                &key.span,
                format!(
                    "unknown key `{}` in {name} (expected one of: {})",
                    key.name,
                    allowed.join(", ")
                ),
            );
        }
        Ok(table)
    }

    /// Reads `node` as a table with any keys.
    pub fn any(node: &'a Node, name: &str) -> Result<Self> {
        match &node.value {
            Value::Table(entries) => Ok(Table { entries }),
            _ => wrong_type(node, name, "a table"),
        }
    }

    pub fn get(&self, name: &str) -> Option<&'a Node> {
        self.entry(name).map(|(_, n)| n)
    }

    pub fn entry(&self, name: &str) -> Option<(&'a Key, &'a Node)> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, n)| (k, n))
    }

    pub fn entries(&self) -> &'a [(Key, Node)] {
        self.entries
    }
}

pub(crate) fn string<'a>(node: &'a Node, name: &str) -> Result<&'a str> {
    match &node.value {
        Value::Str(s) => Ok(s),
        _ => wrong_type(node, name, "a string"),
    }
}

pub(crate) fn array<'a>(node: &'a Node, name: &str) -> Result<&'a [Node]> {
    match &node.value {
        Value::Array(items) => Ok(items),
        _ => wrong_type(node, name, "an array"),
    }
}

pub(crate) fn uint(node: &Node, name: &str) -> Result<u64> {
    match node.value {
        Value::Int(i) => u64::try_from(i).or_else(|_| {
            fail(
                &node.span,
                format!("`{name}` must not be negative, found {i}"),
            )
        }),
        _ => wrong_type(node, name, "a non-negative integer"),
    }
}

pub(crate) fn int(node: &Node, name: &str) -> Result<i64> {
    match node.value {
        Value::Int(i) => Ok(i),
        _ => wrong_type(node, name, "an integer"),
    }
}

/// An integer or a float, finite.
pub(crate) fn number(node: &Node, name: &str) -> Result<f64> {
    let x = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => return wrong_type(node, name, "a number"),
    };
    if !x.is_finite() {
        return fail(&node.span, format!("`{name}` must be a finite number"));
    }
    Ok(x)
}

/// A number greater than zero.
pub(crate) fn positive(node: &Node, name: &str) -> Result<f64> {
    let x = number(node, name)?;
    if x <= 0.0 {
        return fail(&node.span, format!("`{name}` must be greater than 0"));
    }
    Ok(x)
}

/// A duration written as a humantime string: "500ms", "30s", "1m 30s".
pub(crate) fn duration(node: &Node, name: &str) -> Result<Duration> {
    let text = match &node.value {
        Value::Str(s) => s,
        _ => return wrong_type(node, name, "a duration string like \"30s\""),
    };
    humantime::parse_duration(text).or_else(|e| {
        fail(
            &node.span,
            format!("`{name}`: invalid duration {text:?}: {e}"),
        )
    })
}

/// A non-negative number of seconds (float allowed).
pub(crate) fn seconds(node: &Node, name: &str) -> Result<Duration> {
    let x = number(node, name)?;
    if x < 0.0 {
        return fail(&node.span, format!("`{name}` must not be negative"));
    }
    Duration::try_from_secs_f64(x).or_else(|_| fail(&node.span, format!("`{name}` is too large")))
}

/// A switch that may only be `true` (its presence is the setting).
pub(crate) fn flag(node: &Node, name: &str) -> Result<()> {
    match node.value {
        Value::Bool(true) => Ok(()),
        Value::Bool(false) => fail(
            &node.span,
            format!("`{name}` can only be `true`; remove it instead"),
        ),
        _ => wrong_type(node, name, "`true`"),
    }
}

/// A two-element array `[min, max]` read with `elem`, with `min <= max`.
pub(crate) fn range<T: PartialOrd + Copy>(
    node: &Node,
    name: &str,
    elem: impl Fn(&Node, &str) -> Result<T>,
) -> Result<(T, T)> {
    let items = array(node, name)?;
    let [lo, hi] = items else {
        return fail(
            &node.span,
            format!(
                "`{name}` must be [min, max], found {} elements",
                items.len()
            ),
        );
    };
    let (min, max) = (elem(lo, name)?, elem(hi, name)?);
    if min > max {
        return fail(&node.span, format!("`{name}`: min is greater than max"));
    }
    Ok((min, max))
}

//! `multipart = {image = {files = "images/*.png"}, meta = "..."}`: `multipart/form-data`
//! bodies as RFC 7578 writes them, one part per key in file order.
//!
//! A file part sends one file of its set per request (picked at random, read at load); a
//! text part is a template with `{var}` and `{env.NAME}` placeholders, sent as written.
//! The boundary is random per run (from the scenario `seed` when it has one) and checked
//! against every file's bytes, so it never occurs inside a part loaded from disk. Each
//! part's head is built at load; rendering only copies bytes.

use std::path::Path;
use std::sync::Arc;

use rand::Rng;

use super::env::Env;
use super::files::FileSet;
use super::read::{self, fail, Result, Table};
use super::template::{self, Compiler, Ops};
use super::tree::{Node, Value};

/// Random characters after the boundary's prefix (RFC 2046 allows 70 in all).
const BOUNDARY_RANDOM: usize = 24;
const BOUNDARY_PREFIX: &str = "blast-";
/// Boundaries drawn before giving up on finding one that no file contains.
const BOUNDARY_TRIES: usize = 16;
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Bytes a part's `Content-Type` line and a file name's escapes may add, for bounds.
const PART_SLACK: usize = 64;

/// A compiled multipart body.
#[derive(Debug)]
pub(crate) struct Multipart {
    pub boundary: String,
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub(crate) enum Part {
    /// `head` is `--boundary`, CRLF and `Content-Disposition: form-data; name="x"; filename="`.
    File {
        head: Vec<u8>,
        files: Arc<FileSet>,
        /// Given in the scenario; else each file's own, from its extension.
        content_type: Option<String>,
    },
    /// `head` is everything up to the value: delimiter, disposition, blank line.
    Text { head: Vec<u8>, value: Ops },
}

impl Multipart {
    /// Compiles a `multipart` table; files are read relative to `dir`.
    pub fn parse(
        node: &Node,
        c: &mut Compiler,
        dir: &Path,
        env: &Env,
        rng: &mut impl Rng,
    ) -> Result<Multipart> {
        let table = Table::any(node, "multipart")?;
        if table.entries().is_empty() {
            return fail(&node.span, "`multipart` needs at least one part");
        }
        let mut specs = Vec::with_capacity(table.entries().len());
        for (key, value) in table.entries() {
            if !field_name_ok(&key.name) {
                return fail(
                    &key.span,
                    format!("{:?} is not a usable form field name", key.name),
                );
            }
            specs.push((key.name.as_str(), spec(value, c, dir, env)?));
        }
        let Some(boundary) = boundary(rng, &specs) else {
            return fail(&node.span, "every boundary tried occurs in a file");
        };
        let parts = specs
            .into_iter()
            .map(|(name, spec)| spec.into_part(&boundary, name))
            .collect();
        Ok(Multipart { boundary, parts })
    }

    /// The request's `Content-Type` value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The closing delimiter.
    pub fn write_end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
    }

    /// The most bytes a body can render to, given each text part's bound.
    pub fn bound(&self, text_bound: impl Fn(Ops) -> usize) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::File { head, files, .. } => {
                    head.len()
                        + files.longest_name().saturating_mul(3)
                        + files.largest()
                        + PART_SLACK
                }
                Part::Text { head, value } => head.len() + text_bound(*value) + 2,
            })
            .fold(self.boundary.len() + 6, usize::saturating_add)
    }
}

impl Part {
    /// A file part up to its content: the delimiter, disposition and type lines. The
    /// content and a CRLF follow.
    pub fn write_file_head(
        head: &[u8],
        file: &super::files::File,
        content_type: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(head);
        quoted_string_body(file.name.as_bytes(), out);
        out.extend_from_slice(b"\"\r\nContent-Type: ");
        out.extend_from_slice(content_type.unwrap_or(file.content_type).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
    }
}

/// A part before the boundary is known.
enum Spec {
    Files(Arc<FileSet>, Option<String>),
    Text(Ops),
}

impl Spec {
    fn into_part(self, boundary: &str, name: &str) -> Part {
        let mut head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"");
        match self {
            Spec::Files(files, content_type) => {
                head.push_str("; filename=\"");
                Part::File {
                    head: head.into_bytes(),
                    files,
                    content_type,
                }
            }
            Spec::Text(value) => {
                head.push_str("\r\n\r\n");
                Part::Text {
                    head: head.into_bytes(),
                    value,
                }
            }
        }
    }
}

/// `"text {var}"`, `{file = "x.png"}` or `{files = "*.png"}` with an optional `content_type`.
fn spec(node: &Node, c: &mut Compiler, dir: &Path, env: &Env) -> Result<Spec> {
    if let Value::Str(_) = node.value {
        return Ok(Spec::Text(c.text(node, "multipart", template::any_text)?));
    }
    let t = Table::new(node, "a multipart part", &["file", "files", "content_type"])?;
    let files = match (t.get("file"), t.get("files")) {
        (Some(n), None) => load(n, "file", dir, env, FileSet::one)?,
        (None, Some(n)) => load(n, "files", dir, env, FileSet::glob)?,
        _ => {
            return fail(
                &node.span,
                "a multipart part is a string, or a table with `file` or `files` (one of them)",
            )
        }
    };
    let content_type = t
        .get("content_type")
        .map(|n| content_type(n, env))
        .transpose()?;
    Ok(Spec::Files(Arc::new(files), content_type))
}

/// Reads the files a path or glob string names, with errors at that string.
pub(crate) fn load(
    node: &Node,
    name: &str,
    dir: &Path,
    env: &Env,
    read_files: fn(&Path, &str) -> std::result::Result<FileSet, String>,
) -> Result<FileSet> {
    let raw = read::string(node, name)?;
    let path = template::expand(node, raw, env)?;
    read_files(dir, &path).or_else(|e| fail(&node.span, format!("`{name}`: {e}")))
}

/// A `content_type` value: non-empty, fit for a header line.
pub(crate) fn content_type(node: &Node, env: &Env) -> Result<String> {
    let raw = read::string(node, "content_type")?;
    let value = template::expand(node, raw, env)?;
    if value.is_empty() || !template::header_literal_ok(&value) {
        return fail(
            &node.span,
            "`content_type` must be a non-empty header value",
        );
    }
    Ok(value)
}

/// A random boundary that no file of `specs` contains.
fn boundary(rng: &mut impl Rng, specs: &[(&str, Spec)]) -> Option<String> {
    (0..BOUNDARY_TRIES).find_map(|_| {
        let mut b = String::from(BOUNDARY_PREFIX);
        b.extend((0..BOUNDARY_RANDOM).map(|_| char::from(ALNUM[rng.gen_range(0..ALNUM.len())])));
        let clash = specs.iter().any(|(_, spec)| match spec {
            Spec::Files(files, _) => files.iter().any(|f| contains(&f.bytes, b.as_bytes())),
            Spec::Text(_) => false,
        });
        (!clash).then_some(b)
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Field names go between quotes in a header: no quote, backslash or control byte.
fn field_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b >= 0x20 && b != 0x7f && b != b'"' && b != b'\\')
}

/// A file name inside `filename="..."`: quote, CR and LF percent-encoded as browsers do.
fn quoted_string_body(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_quoted_safely() {
        let mut out = Vec::new();
        quoted_string_body(b"a\"b\r\nc.png", &mut out);
        assert_eq!(out, b"a%22b%0D%0Ac.png");
    }

    #[test]
    fn field_names_refuse_quotes_and_controls() {
        assert!(field_name_ok("image"));
        assert!(field_name_ok("meta data"));
        for bad in ["", "a\"b", "a\nb", "a\\b"] {
            assert!(!field_name_ok(bad), "{bad:?}");
        }
    }
}

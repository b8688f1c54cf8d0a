//! Byte-level writers for the three places a generated value can land: a JSON body,
//! a request path, a header value. Each appends to a `Vec<u8>` without allocating
//! beyond the vector's own growth, so rendering stays allocation-free once warm.

/// Hex digits for `\u00XX` and `%XX` escapes.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` as a quoted JSON string, escaping `"`, `\` and control characters.
pub(crate) fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    json_string_body(s, out);
    out.push(b'"');
}

/// Appends the escaped contents of a JSON string (without the quotes).
pub(crate) fn json_string_body(s: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// The most bytes [`json_string`] can write for an input of `len` bytes.
pub(crate) fn json_string_bound(len: usize) -> usize {
    len.saturating_mul(6).saturating_add(2)
}

/// Appends `s` percent-encoded for a path or query: only RFC 3986 unreserved bytes stay.
pub(crate) fn percent(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        }
    }
}

/// Appends `s` as a header value: control bytes (which could end the header early)
/// become spaces.
pub(crate) fn header_value(s: &[u8], out: &mut Vec<u8>) {
    out.extend(
        s.iter()
            .map(|&b| if b < 0x20 || b == 0x7f { b' ' } else { b }),
    );
}

/// Whether `s` is a number exactly as JSON's grammar spells one
/// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
pub(crate) fn is_json_number(s: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && s[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if s.first() == Some(&b'-') {
        i += 1;
    }
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == s.len()
}

/// Whether `b` may appear in an HTTP token (method, header name): RFC 9110 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes_what_json_requires() {
        for (input, want) in [
            ("plain", r#""plain""#),
            ("a\"b", r#""a\"b""#),
            ("back\\slash", r#""back\\slash""#),
            ("line\nnext\r\t", r#""line\nnext\r\t""#),
            ("\u{1}\u{8}\u{c}\u{1f}", r#""\u0001\b\f\u001F""#),
            ("héllo ✓", "\"héllo ✓\""),
            ("", r#""""#),
        ] {
            let mut out = Vec::new();
            json_string(input.as_bytes(), &mut out);
            assert_eq!(String::from_utf8(out.clone()).unwrap(), want);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, input);
            assert!(out.len() <= json_string_bound(input.len()));
        }
    }

    #[test]
    fn percent_keeps_only_unreserved() {
        for (input, want) in [
            ("abc-._~09", "abc-._~09"),
            ("a b/c?d", "a%20b%2Fc%3Fd"),
            ("é", "%C3%A9"),
        ] {
            let mut out = Vec::new();
            percent(input.as_bytes(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn header_value_cannot_break_the_head() {
        let mut out = Vec::new();
        header_value(b"a\r\nX-Evil: 1\x7f", &mut out);
        assert_eq!(out, b"a  X-Evil: 1 ");
    }

    #[test]
    fn json_number_grammar() {
        for (s, want) in [
            ("0", true),
            ("-0", true),
            ("63", true),
            ("2.5", true),
            ("-1.5e10", true),
            ("1E+2", true),
            ("01", false),
            ("1.", false),
            (".5", false),
            ("1e", false),
            ("-", false),
            ("", false),
            ("NaN", false),
            ("1 ", false),
            ("0x1", false),
        ] {
            assert_eq!(is_json_number(s.as_bytes()), want, "{s:?}");
        }
    }
}

//! Response decoding: an incremental HTTP/1.1 response parser over caller-owned bytes.
//!
//! This is the hot path of the load generator: every response of every connection goes
//! through [`ResponseDecoder::decode`]. It never allocates, never blocks and never panics;
//! it reports how many bytes of the caller's buffer it consumed so the caller can discard
//! them (body bytes are consumed as they arrive, the head only once it is complete).
//!
//! The head is parsed by `httparse`; body framing follows RFC 9112 §6.3 and the chunked
//! coding of §7.1 is decoded by a byte-at-a-time state machine ([`ChunkDecoder`]), so input
//! may be split at any byte.

use std::fmt;
use std::mem::MaybeUninit;

/// Most bytes a response head (status line, headers, blank line) may take.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields a response head may have.
pub const MAX_HEADERS: usize = 64;
/// Most hex digits in a chunk size; 16 digits fill a `u64`.
pub const MAX_CHUNK_SIZE_DIGITS: u8 = 16;
/// Most bytes of chunk extensions (everything between the size and the CRLF) per chunk.
pub const MAX_CHUNK_EXT_BYTES: usize = 4 * 1024;
/// Most bytes of trailer section after the last chunk, CRLFs included.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most body bytes copied into a caller's capture buffer (its total length is capped here).
pub const MAX_BODY_CAPTURE: usize = 1024 * 1024;
/// Heads buffered past this size are re-parsed only once a blank line has arrived, so a
/// head trickling in byte by byte costs linear, not quadratic, time.
pub const HEAD_RESCAN_BYTES: usize = 8 * 1024;

/// Progress of one [`ResponseDecoder::decode`] call; the number is how many bytes of the
/// given buffer this call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The response is not finished; feed the unconsumed bytes plus more.
    Partial(usize),
    /// The response ended; bytes after this count belong to the next response.
    Complete(usize),
}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// The body runs until the server closes the connection.
    UntilClose,
    /// No body, whatever the headers say (HEAD request, 1xx, 204, 304).
    NoBody,
}

/// What the decoder learned from a final (non-1xx) response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Status code, e.g. 200.
    pub status: u16,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub framing: Framing,
    /// The head has a `Set-Cookie` field (read it with `http::fields`).
    pub sets_cookie: bool,
    /// The head has a `Location` field.
    pub has_location: bool,
}

/// Why a response could not be decoded. Every variant is fatal for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The status line or a header line is malformed.
    InvalidHead,
    /// The head did not end within [`MAX_HEAD_BYTES`].
    HeadTooLarge,
    /// The head has more than [`MAX_HEADERS`] fields.
    TooManyHeaders,
    /// A Content-Length value is not a list of decimal digits or overflows a `u64`.
    InvalidContentLength,
    /// Content-Length values disagree (RFC 9112 §6.3 item 5).
    ConflictingLength,
    /// A chunk-size line is malformed.
    InvalidChunkSize,
    /// A chunk size has more than [`MAX_CHUNK_SIZE_DIGITS`] digits or overflows a `u64`.
    ChunkSizeOverflow,
    /// Chunk extensions exceed [`MAX_CHUNK_EXT_BYTES`].
    ChunkExtTooLarge,
    /// Chunk data is not followed by CRLF, or the message does not end with CRLF.
    InvalidChunkTerminator,
    /// A trailer line does not end with CRLF.
    InvalidTrailer,
    /// The trailer section exceeds [`MAX_TRAILER_BYTES`].
    TrailerTooLarge,
    /// The server switched protocols (101), which a load generator cannot follow.
    UnsupportedUpgrade,
    /// The connection closed in the middle of a head or body.
    Truncated,
}

impl ParseError {
    /// A stable snake_case key for reports.
    pub fn name(&self) -> &'static str {
        match self {
            ParseError::InvalidHead => "invalid_head",
            ParseError::HeadTooLarge => "head_too_large",
            ParseError::TooManyHeaders => "too_many_headers",
            ParseError::InvalidContentLength => "invalid_content_length",
            ParseError::ConflictingLength => "conflicting_length",
            ParseError::InvalidChunkSize => "invalid_chunk_size",
            ParseError::ChunkSizeOverflow => "chunk_size_overflow",
            ParseError::ChunkExtTooLarge => "chunk_ext_too_large",
            ParseError::InvalidChunkTerminator => "invalid_chunk_terminator",
            ParseError::InvalidTrailer => "invalid_trailer",
            ParseError::TrailerTooLarge => "trailer_too_large",
            ParseError::UnsupportedUpgrade => "unsupported_upgrade",
            ParseError::Truncated => "truncated",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ParseError::InvalidHead => "malformed response head",
            ParseError::HeadTooLarge => "response head too large",
            ParseError::TooManyHeaders => "too many response headers",
            ParseError::InvalidContentLength => "invalid Content-Length",
            ParseError::ConflictingLength => "conflicting Content-Length values",
            ParseError::InvalidChunkSize => "invalid chunk size line",
            ParseError::ChunkSizeOverflow => "chunk size too large",
            ParseError::ChunkExtTooLarge => "chunk extensions too large",
            ParseError::InvalidChunkTerminator => "chunk not terminated by CRLF",
            ParseError::InvalidTrailer => "malformed trailer line",
            ParseError::TrailerTooLarge => "trailer section too large",
            ParseError::UnsupportedUpgrade => "server switched protocols (101)",
            ParseError::Truncated => "connection closed mid-response",
        };
        f.write_str(text)
    }
}

impl std::error::Error for ParseError {}

/// Incremental decoder for a sequence of responses on one connection.
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    state: State,
    head: Option<Head>,
    head_request: bool,
    /// Some byte of the current response has been seen (possibly not yet consumed).
    started: bool,
    /// Buffered head bytes already known to hold no blank line (see [`HEAD_RESCAN_BYTES`]).
    head_scanned: usize,
    body_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Head,
    Length { remaining: u64 },
    Chunked(ChunkDecoder),
    UntilClose,
    Done,
    Failed(ParseError),
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseDecoder {
    /// A decoder ready for a response to a non-HEAD request.
    pub fn new() -> Self {
        ResponseDecoder {
            state: State::Head,
            head: None,
            head_request: false,
            started: false,
            head_scanned: 0,
            body_bytes: 0,
        }
    }

    /// Prepares for the next response; `head_request` says the request was HEAD, so the
    /// response has no body whatever its headers say (RFC 9112 §6.3 item 1).
    pub fn reset(&mut self, head_request: bool) {
        *self = ResponseDecoder {
            head_request,
            ..ResponseDecoder::new()
        };
    }

    /// Decodes as much of `buf` (the caller's unconsumed bytes) as possible.
    ///
    /// The head is consumed only once complete (so the caller keeps feeding it); 1xx interim
    /// responses are skipped. Body bytes are consumed as they come; when `body` is given,
    /// de-chunked body bytes are appended to it until it holds [`MAX_BODY_CAPTURE`] bytes.
    /// After `Complete`, call [`reset`](Self::reset) before the next response; until then
    /// `decode` returns `Complete(0)`. After an error it keeps returning that error.
    pub fn decode(
        &mut self,
        buf: &[u8],
        mut body: Option<&mut Vec<u8>>,
    ) -> Result<Status, ParseError> {
        let result = self.decode_from(buf, &mut body);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// The peer closed the connection. Returns `Ok(true)` if that ends a response whose
    /// body runs until close, `Ok(false)` if no response was under way, and
    /// `Err(Truncated)` if a head or a delimited body was cut short.
    pub fn finish_on_eof(&mut self) -> Result<bool, ParseError> {
        match self.state {
            State::Head if !self.started => Ok(false),
            State::Done => Ok(false),
            State::UntilClose => {
                self.state = State::Done;
                Ok(true)
            }
            State::Failed(e) => Err(e),
            State::Head | State::Length { .. } | State::Chunked(_) => {
                self.state = State::Failed(ParseError::Truncated);
                Err(ParseError::Truncated)
            }
        }
    }

    /// The final head of the current response, once parsed.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// De-chunked body bytes seen so far for the current response.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Whether some bytes of the current response have been seen and it has not ended.
    pub fn in_progress(&self) -> bool {
        self.started && !matches!(self.state, State::Done)
    }

    fn decode_from(
        &mut self,
        buf: &[u8],
        body: &mut Option<&mut Vec<u8>>,
    ) -> Result<Status, ParseError> {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            match self.state {
                State::Head => match self.parse_head(rest)? {
                    Some(n) => pos += n,
                    None => return Ok(Status::Partial(pos)),
                },
                State::Length { remaining } => {
                    let take = rest.len().min(clamp_to_usize(remaining));
                    self.take_body(&rest[..take], body);
                    pos += take;
                    let remaining = remaining - take as u64;
                    self.state = State::Length { remaining };
                    return Ok(self.finish_if(remaining == 0, pos));
                }
                State::Chunked(mut chunks) => {
                    let step = chunks.decode(rest, |data| self.take_body(data, body))?;
                    self.state = State::Chunked(chunks);
                    return Ok(self.finish_if(step.done, pos + step.consumed));
                }
                State::UntilClose => {
                    self.take_body(rest, body);
                    return Ok(Status::Partial(buf.len()));
                }
                State::Done => return Ok(Status::Complete(pos)),
                State::Failed(e) => return Err(e),
            }
        }
    }

    fn finish_if(&mut self, done: bool, consumed: usize) -> Status {
        if done {
            self.state = State::Done;
            Status::Complete(consumed)
        } else {
            Status::Partial(consumed)
        }
    }

    fn take_body(&mut self, data: &[u8], body: &mut Option<&mut Vec<u8>>) {
        // Saturating: an until-close body is unbounded, and the count must never wrap.
        self.body_bytes = self.body_bytes.saturating_add(data.len() as u64);
        if let Some(sink) = body {
            let room = MAX_BODY_CAPTURE.saturating_sub(sink.len());
            sink.extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    /// Parses one head at the start of `buf`. Returns the bytes it took (and moves to the
    /// body state, or stays in `Head` after a 1xx), or `None` if the head is incomplete.
    fn parse_head(&mut self, buf: &[u8]) -> Result<Option<usize>, ParseError> {
        if buf.is_empty() {
            return Ok(None);
        }
        self.started = true;
        if !self.head_may_be_complete(buf) {
            return Ok(None);
        }
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        // RFC 9112 §5.2: a user agent must accept obs-fold and read it as spaces; httparse
        // then leaves the fold's CR LF in the value, and `trim_ows` treats it as whitespace.
        let parsed = httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .parse_response_with_uninit_headers(&mut response, buf, &mut slots);
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD_BYTES => len,
            Ok(httparse::Status::Complete(_)) => return Err(ParseError::HeadTooLarge),
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
                return Err(ParseError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => {
                self.head_scanned = buf.len();
                return Ok(None);
            }
            Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
            Err(_) => return Err(ParseError::InvalidHead),
        };
        self.head_scanned = 0;
        let status = response.code.ok_or(ParseError::InvalidHead)?;
        let minor_version = response.version.ok_or(ParseError::InvalidHead)?;
        match status {
            0..=99 => return Err(ParseError::InvalidHead),
            101 => return Err(ParseError::UnsupportedUpgrade),
            // Interim response (RFC 9110 §15.2): no body; the final response follows.
            100..=199 => return Ok(Some(len)),
            _ => {}
        }
        let fields = HeaderFacts::scan(response.headers);
        let head = self.final_head(status, minor_version, &fields)?;
        self.state = match head.framing {
            Framing::Length(0) | Framing::NoBody => State::Done,
            Framing::Length(remaining) => State::Length { remaining },
            Framing::Chunked => State::Chunked(ChunkDecoder::new()),
            Framing::UntilClose => State::UntilClose,
        };
        self.head = Some(head);
        Ok(Some(len))
    }

    /// Cheap check before a re-parse of a large buffered head: once the buffer is past
    /// [`HEAD_RESCAN_BYTES`], only re-parse when a blank line may have arrived since the
    /// last attempt. A head always ends with LF followed by LF or CRLF.
    fn head_may_be_complete(&mut self, buf: &[u8]) -> bool {
        if buf.len() <= HEAD_RESCAN_BYTES || self.head_scanned == 0 {
            return true;
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return true; // let the parser decide between a complete head and HeadTooLarge
        }
        let from = self.head_scanned.saturating_sub(3).min(buf.len());
        let found = ends_head_at(&buf[from..]);
        if !found {
            self.head_scanned = buf.len();
        }
        found
    }

    /// Applies RFC 9112 §6.3 to a final response head.
    fn final_head(
        &self,
        status: u16,
        minor_version: u8,
        fields: &HeaderFacts,
    ) -> Result<Head, ParseError> {
        let framing = self.framing(status, fields)?;
        let mut keep_alive = match minor_version {
            1 => !fields.connection_close,
            _ => fields.connection_keep_alive && !fields.connection_close,
        };
        // §6.3 item 3: Transfer-Encoding with Content-Length, or Transfer-Encoding in an
        // HTTP/1.0 message, "ought to be handled as an error" / framing is faulty: decode it
        // as the spec says, but do not trust the connection afterwards.
        let suspicious = fields.transfer_encoding.is_some()
            && (fields.content_length.is_some() || minor_version == 0);
        if framing == Framing::UntilClose || suspicious {
            keep_alive = false;
        }
        Ok(Head {
            status,
            minor_version,
            keep_alive,
            framing,
            sets_cookie: fields.set_cookie,
            has_location: fields.location,
        })
    }

    /// RFC 9112 §6.3, items in order.
    fn framing(&self, status: u16, fields: &HeaderFacts) -> Result<Framing, ParseError> {
        // Item 1: HEAD responses, 1xx, 204 and 304 never have a body.
        if self.head_request || status == 204 || status == 304 || status < 200 {
            return Ok(Framing::NoBody);
        }
        // Items 3 and 4: Transfer-Encoding overrides Content-Length (we follow the spec's
        // "overrides" rather than failing, and drop keep-alive in `final_head`); a response
        // whose final coding is not chunked is read until close.
        if let Some(chunked_last) = fields.transfer_encoding {
            return Ok(if chunked_last {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        }
        // Items 5 and 6: a valid Content-Length delimits the body.
        match fields.content_length {
            Some(Ok(n)) => Ok(Framing::Length(n)),
            Some(Err(e)) => Err(e),
            // Item 8: otherwise the body runs until the server closes.
            None => Ok(Framing::UntilClose),
        }
    }
}

/// True if `bytes` contains LF LF or LF CR LF (the end of a head).
fn ends_head_at(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'\n'
            && match bytes.get(i + 1) {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(i + 2) == Some(&b'\n'),
                _ => false,
            }
    })
}

fn clamp_to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The framing-relevant facts of a head, gathered in one pass over its fields.
#[derive(Debug, Default)]
struct HeaderFacts {
    /// `Some` if any Content-Length field is present; the error is reported only if
    /// Content-Length decides the framing.
    content_length: Option<Result<u64, ParseError>>,
    /// `Some(chunked is the final coding)` if any Transfer-Encoding field is present.
    transfer_encoding: Option<bool>,
    connection_close: bool,
    connection_keep_alive: bool,
    set_cookie: bool,
    location: bool,
}

impl HeaderFacts {
    fn scan(headers: &[httparse::Header]) -> HeaderFacts {
        let mut facts = HeaderFacts::default();
        for h in headers {
            let name = h.name.as_bytes();
            // Compare lengths first: nearly all fields are rejected without a byte compare.
            match name.len() {
                14 if name.eq_ignore_ascii_case(b"content-length") => {
                    facts.content_length = Some(match facts.content_length {
                        Some(Err(e)) => Err(e),
                        prior => merge_content_length(prior.and_then(Result::ok), h.value),
                    });
                }
                17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                    let last = list_items(h.value).last();
                    let chunked = match last {
                        Some(coding) => coding.eq_ignore_ascii_case(b"chunked"),
                        None => facts.transfer_encoding.unwrap_or(false),
                    };
                    facts.transfer_encoding = Some(chunked);
                }
                10 if name.eq_ignore_ascii_case(b"connection") => {
                    for option in list_items(h.value) {
                        facts.connection_close |= option.eq_ignore_ascii_case(b"close");
                        facts.connection_keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                    }
                }
                10 if name.eq_ignore_ascii_case(b"set-cookie") => facts.set_cookie = true,
                8 if name.eq_ignore_ascii_case(b"location") => facts.location = true,
                _ => {}
            }
        }
        facts
    }
}

/// Parses one Content-Length field value (a list of identical values is allowed, RFC 9110
/// §8.6) and checks it against an earlier field's value (RFC 9112 §6.3 item 5).
fn merge_content_length(prior: Option<u64>, value: &[u8]) -> Result<u64, ParseError> {
    let mut agreed = prior;
    // `split` yields at least one item, and an empty item fails `parse_decimal`.
    for item in value.split(|&b| b == b',').map(trim_ows) {
        let n = parse_decimal(item)?;
        if agreed.is_some_and(|a| a != n) {
            return Err(ParseError::ConflictingLength);
        }
        agreed = Some(n);
    }
    agreed.ok_or(ParseError::InvalidContentLength)
}

/// Parses 1DIGIT+ into a `u64` with checked arithmetic.
fn parse_decimal(digits: &[u8]) -> Result<u64, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let digit = match b {
            b'0'..=b'9' => u64::from(b - b'0'),
            _ => return Err(ParseError::InvalidContentLength),
        };
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(ParseError::InvalidContentLength)
    })
}

/// Non-empty elements of a comma-separated field value, optional whitespace trimmed.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty())
}

/// Trims optional whitespace, and obs-fold with it: a CR or LF can only be inside a field
/// value as part of an obs-fold (CRLF or LF, then SP or HTAB), which RFC 9112 §5.2 says to
/// read as spaces. A fold inside a list item leaves its bytes there, so the item still fails
/// to match or parse, exactly as the spaces would make it.
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Progress of one [`ChunkDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkStep {
    consumed: usize,
    done: bool,
}

/// State machine for the chunked transfer coding (RFC 9112 §7.1):
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// last-chunk   = 1*("0") [ chunk-ext ] CRLF
/// ```
///
/// Each state knows exactly which bytes may come next, so input may be split anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkDecoder {
    /// Reading hex digits of a chunk size (§7.1).
    Size { size: u64, digits: u8 },
    /// Skipping chunk extensions up to CR (§7.1.1: ignored, but bounded).
    Ext { size: u64, len: usize },
    /// Saw CR ending the size line; LF must follow.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Chunk data done; CR must follow.
    DataCr,
    /// Chunk data done and CR seen; LF must follow.
    DataLf,
    /// At the start of a trailer line, or of the final CRLF (§7.1.2).
    TrailerStart { total: usize },
    /// Inside a trailer field line (skipped).
    TrailerLine { total: usize },
    /// Saw CR ending a trailer line; LF must follow.
    TrailerLf { total: usize },
    /// Saw CR of the final empty line; LF ends the message.
    EndLf,
}

impl ChunkDecoder {
    fn new() -> Self {
        ChunkDecoder::Size { size: 0, digits: 0 }
    }

    /// Decodes `buf`, handing chunk data to `on_data`. Stops right after the final CRLF.
    fn decode(
        &mut self,
        buf: &[u8],
        mut on_data: impl FnMut(&[u8]),
    ) -> Result<ChunkStep, ParseError> {
        let mut pos = 0;
        while pos < buf.len() {
            if let ChunkDecoder::Data { remaining } = *self {
                let take = (buf.len() - pos).min(clamp_to_usize(remaining));
                on_data(&buf[pos..pos + take]);
                pos += take;
                let remaining = remaining - take as u64;
                *self = if remaining == 0 {
                    ChunkDecoder::DataCr
                } else {
                    ChunkDecoder::Data { remaining }
                };
                continue;
            }
            let byte = buf[pos];
            pos += 1;
            if self.step(byte)? {
                return Ok(ChunkStep {
                    consumed: pos,
                    done: true,
                });
            }
        }
        Ok(ChunkStep {
            consumed: pos,
            done: false,
        })
    }

    /// Advances over one framing byte; returns true when the chunked body has ended.
    fn step(&mut self, byte: u8) -> Result<bool, ParseError> {
        use ChunkDecoder::*;
        *self = match *self {
            Size { size, digits } => match (byte, hex_value(byte)) {
                (_, Some(v)) => append_hex_digit(size, digits, v)?,
                _ if digits == 0 => return Err(ParseError::InvalidChunkSize),
                (b'\r', _) => SizeLf { size },
                // BWS before ";" (§7.1.1) or the extension itself: skipped up to CR.
                (b';' | b' ' | b'\t', _) => Ext { size, len: 1 },
                _ => return Err(ParseError::InvalidChunkSize),
            },
            Ext { size, len } => match byte {
                b'\r' => SizeLf { size },
                b'\n' | 0 => return Err(ParseError::InvalidChunkSize),
                _ if len >= MAX_CHUNK_EXT_BYTES => return Err(ParseError::ChunkExtTooLarge),
                _ => Ext { size, len: len + 1 },
            },
            SizeLf { size } => match byte {
                b'\n' if size == 0 => TrailerStart { total: 0 },
                b'\n' => Data { remaining: size },
                _ => return Err(ParseError::InvalidChunkSize),
            },
            // Unreachable from `decode` (it consumes data in bulk); kept total for safety.
            Data { remaining } => Data { remaining },
            DataCr if byte == b'\r' => DataLf,
            DataLf if byte == b'\n' => ChunkDecoder::new(),
            DataCr | DataLf => return Err(ParseError::InvalidChunkTerminator),
            TrailerStart { total } => match byte {
                b'\r' => EndLf,
                b'\n' => return Err(ParseError::InvalidTrailer),
                _ => TrailerLine {
                    total: add_trailer_byte(total)?,
                },
            },
            TrailerLine { total } => match byte {
                b'\r' => TrailerLf {
                    total: add_trailer_byte(total)?,
                },
                b'\n' | 0 => return Err(ParseError::InvalidTrailer),
                _ => TrailerLine {
                    total: add_trailer_byte(total)?,
                },
            },
            TrailerLf { total } => match byte {
                b'\n' => TrailerStart {
                    total: add_trailer_byte(total)?,
                },
                _ => return Err(ParseError::InvalidTrailer),
            },
            EndLf if byte == b'\n' => return Ok(true),
            EndLf => return Err(ParseError::InvalidChunkTerminator),
        };
        Ok(false)
    }
}

fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

fn append_hex_digit(size: u64, digits: u8, value: u64) -> Result<ChunkDecoder, ParseError> {
    if digits >= MAX_CHUNK_SIZE_DIGITS {
        return Err(ParseError::ChunkSizeOverflow);
    }
    let size = size
        .checked_mul(16)
        .and_then(|s| s.checked_add(value))
        .ok_or(ParseError::ChunkSizeOverflow)?;
    Ok(ChunkDecoder::Size {
        size,
        digits: digits + 1,
    })
}

fn add_trailer_byte(total: usize) -> Result<usize, ParseError> {
    match total.checked_add(1) {
        Some(t) if t <= MAX_TRAILER_BYTES => Ok(t),
        _ => Err(ParseError::TrailerTooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One response as a read loop saw it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Got {
        head: Head,
        body: Vec<u8>,
        body_bytes: u64,
        by_eof: bool,
    }

    /// What a read loop ended with: the responses it completed, then the error if any.
    type Outcome = (Vec<Got>, Option<ParseError>);

    /// Feeds `input` in `piece`-byte reads like a connection's read loop: unconsumed bytes
    /// are carried to the next call, and the decoder is reset after each response.
    /// `eof` closes the connection after the last read.
    fn read_loop(input: &[u8], piece: usize, head_request: bool, eof: bool) -> Outcome {
        let mut dec = ResponseDecoder::new();
        dec.reset(head_request);
        let mut pending = Vec::new();
        let mut got = Vec::new();
        let mut body = Vec::new();
        for read in input.chunks(piece.max(1)) {
            pending.extend_from_slice(read);
            loop {
                let status = match dec.decode(&pending, Some(&mut body)) {
                    Ok(status) => status,
                    Err(e) => return (got, Some(e)),
                };
                let (Status::Partial(n) | Status::Complete(n)) = status;
                assert!(n <= pending.len(), "consumed {n} of {}", pending.len());
                pending.drain(..n);
                if let Status::Partial(_) = status {
                    break;
                }
                got.push(Got {
                    head: *dec.head().expect("complete response has a head"),
                    body: std::mem::take(&mut body),
                    body_bytes: dec.body_bytes(),
                    by_eof: false,
                });
                dec.reset(head_request);
                if pending.is_empty() {
                    break;
                }
            }
        }
        if eof {
            match dec.finish_on_eof() {
                Ok(true) => got.push(Got {
                    head: *dec.head().expect("response ended by EOF has a head"),
                    body,
                    body_bytes: dec.body_bytes(),
                    by_eof: true,
                }),
                Ok(false) => {}
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    }

    struct Want {
        status: u16,
        keep_alive: bool,
        framing: Framing,
        body: &'static [u8],
        by_eof: bool,
    }

    const fn want(status: u16, keep_alive: bool, framing: Framing, body: &'static [u8]) -> Want {
        Want {
            status,
            keep_alive,
            framing,
            body,
            by_eof: false,
        }
    }

    /// A well-formed exchange: `parts` are the wire bytes of each response in order.
    struct Sample {
        name: &'static str,
        parts: &'static [&'static [u8]],
        head_request: bool,
        eof: bool,
        want: &'static [Want],
    }

    const CL_HELLO: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
    const CHUNKED_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=val\r\nhello\r\n6 ; a=\"b\"\r\n world\r\nA\r\n0123456789\r\n\
        0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n";
    const OK_2: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    const SAMPLES: &[Sample] = &[
        Sample {
            name: "content_length",
            parts: &[CL_HELLO],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(5), b"hello")],
        },
        Sample {
            name: "zero_length",
            parts: &[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(0), b"")],
        },
        Sample {
            name: "chunked_with_extensions_and_trailers",
            parts: &[CHUNKED_HELLO],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Chunked, b"hello world0123456789")],
        },
        Sample {
            name: "chunked_empty_body",
            parts: &[b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: CHUNKED\r\n\r\n000\r\n\r\n"],
            head_request: false,
            eof: false,
            want: &[want(404, true, Framing::Chunked, b"")],
        },
        Sample {
            name: "head_request_with_content_length",
            parts: &[b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"],
            head_request: true,
            eof: false,
            want: &[
                want(200, true, Framing::NoBody, b""),
                want(200, true, Framing::NoBody, b""),
            ],
        },
        Sample {
            name: "no_content_204",
            parts: &[b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", OK_2],
            head_request: false,
            eof: false,
            want: &[
                want(204, true, Framing::NoBody, b""),
                want(200, true, Framing::Length(2), b"ok"),
            ],
        },
        Sample {
            name: "not_modified_304",
            parts: &[b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 99\r\n\r\n"],
            head_request: false,
            eof: false,
            want: &[want(304, true, Framing::NoBody, b"")],
        },
        Sample {
            name: "continue_100_then_200",
            parts: &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(2), b"ok")],
        },
        Sample {
            name: "early_hints_103_and_100_then_200",
            parts: &[b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nContent-Length: 9\r\n\r\n\
                HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"],
            head_request: false,
            eof: false,
            want: &[want(201, true, Framing::Length(2), b"ok")],
        },
        Sample {
            name: "http10_without_keep_alive",
            parts: &[b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"],
            head_request: false,
            eof: false,
            want: &[want(200, false, Framing::Length(3), b"abc")],
        },
        Sample {
            name: "http10_with_keep_alive",
            parts: &[b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(3), b"abc")],
        },
        Sample {
            name: "connection_close",
            parts: &[b"HTTP/1.1 200 OK\r\nConnection: upgrade, Close\r\nContent-Length: 2\r\n\r\nhi"],
            head_request: false,
            eof: false,
            want: &[want(200, false, Framing::Length(2), b"hi")],
        },
        Sample {
            name: "until_close_body",
            parts: &[b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this, until close"],
            head_request: false,
            eof: true,
            want: &[Want {
                by_eof: true,
                ..want(200, false, Framing::UntilClose, b"all of this, until close")
            }],
        },
        Sample {
            name: "until_close_empty_body",
            parts: &[b"HTTP/1.0 500 Oops\r\n\r\n"],
            head_request: false,
            eof: true,
            want: &[Want {
                by_eof: true,
                ..want(500, false, Framing::UntilClose, b"")
            }],
        },
        Sample {
            name: "transfer_coding_not_chunked_reads_until_close",
            parts: &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzz"],
            head_request: false,
            eof: true,
            want: &[Want {
                by_eof: true,
                ..want(200, false, Framing::UntilClose, b"zz")
            }],
        },
        Sample {
            name: "transfer_encoding_overrides_content_length",
            parts: &[b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"],
            head_request: false,
            eof: false,
            want: &[want(200, false, Framing::Chunked, b"ab")],
        },
        Sample {
            name: "repeated_equal_content_lengths",
            parts: &[b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3 , 3\r\n\r\nabc"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(3), b"abc")],
        },
        Sample {
            name: "two_pipelined_responses",
            parts: &[CL_HELLO, CHUNKED_HELLO],
            head_request: false,
            eof: false,
            want: &[
                want(200, true, Framing::Length(5), b"hello"),
                want(200, true, Framing::Chunked, b"hello world0123456789"),
            ],
        },
        Sample {
            name: "pipelined_then_until_close",
            parts: &[OK_2, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest"],
            head_request: false,
            eof: true,
            want: &[
                want(200, true, Framing::Length(2), b"ok"),
                Want {
                    by_eof: true,
                    ..want(200, false, Framing::UntilClose, b"rest")
                },
            ],
        },
        // Issue 13 item 11: obs-fold (RFC 9112 §5.2) was rejected as an invalid head; a user
        // agent replaces it with spaces and reads on.
        Sample {
            name: "obs_fold_in_an_unrelated_field",
            parts: &[b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\n\tc\r\nContent-Length: 2\r\n\r\nok"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(2), b"ok")],
        },
        Sample {
            name: "obs_fold_inside_connection_list",
            parts: &[b"HTTP/1.1 200 OK\r\nConnection: upgrade,\r\n close\r\nContent-Length: 2\r\n\r\nhi"],
            head_request: false,
            eof: false,
            want: &[want(200, false, Framing::Length(2), b"hi")],
        },
        Sample {
            name: "obs_fold_inside_transfer_encoding_list",
            parts: &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n\tchunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Chunked, b"ab")],
        },
        Sample {
            name: "obs_fold_before_a_content_length_value",
            parts: &[b"HTTP/1.1 200 OK\r\nContent-Length:\r\n 2\r\n\r\nok"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(2), b"ok")],
        },
        Sample {
            name: "obs_fold_with_lf_only",
            parts: &[b"HTTP/1.1 200 OK\nX-Long: a\n b\nContent-Length: 2\n\nok"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(2), b"ok")],
        },
        Sample {
            name: "no_reason_phrase_and_lf_only_head",
            parts: &[b"HTTP/1.1 200\nContent-Length: 1\n\nx"],
            head_request: false,
            eof: false,
            want: &[want(200, true, Framing::Length(1), b"x")],
        },
    ];

    fn expected(sample: &Sample) -> Outcome {
        let got = sample
            .want
            .iter()
            .map(|w| Got {
                head: Head {
                    status: w.status,
                    minor_version: if sample.parts[0].starts_with(b"HTTP/1.0") {
                        0
                    } else {
                        1
                    },
                    keep_alive: w.keep_alive,
                    framing: w.framing,
                    sets_cookie: false,
                    has_location: false,
                },
                body: w.body.to_vec(),
                body_bytes: w.body.len() as u64,
                by_eof: w.by_eof,
            })
            .collect();
        (got, None)
    }

    #[test]
    fn samples_decode_the_same_at_every_read_size() {
        for sample in SAMPLES {
            let input = sample.parts.concat();
            let want = expected(sample);
            for piece in [input.len(), 1, 2, 3, 5, 7, 13, 64] {
                let got = read_loop(&input, piece, sample.head_request, sample.eof);
                assert_eq!(got, want, "{} in {piece}-byte reads", sample.name);
            }
        }
    }

    #[test]
    fn samples_are_partial_until_their_last_byte() {
        for sample in SAMPLES {
            let input = sample.parts.concat();
            let first_len = sample.parts[0].len();
            let ends_by_eof = sample.want[0].by_eof;
            for k in 0..=input.len() {
                let mut dec = ResponseDecoder::new();
                dec.reset(sample.head_request);
                let status = dec.decode(&input[..k], None);
                let want = if k < first_len || ends_by_eof {
                    assert!(
                        matches!(status, Ok(Status::Partial(n)) if n <= k),
                        "{}: prefix {k} gave {status:?}",
                        sample.name
                    );
                    continue;
                } else {
                    Ok(Status::Complete(first_len))
                };
                assert_eq!(status, want, "{}: prefix {k}", sample.name);
            }
        }
    }

    /// A malformed or cut-short exchange and the error it must produce.
    struct Hostile {
        name: &'static str,
        input: Vec<u8>,
        head_request: bool,
        want: ParseError,
    }

    fn hostile(name: &'static str, input: impl Into<Vec<u8>>, want: ParseError) -> Hostile {
        Hostile {
            name,
            input: input.into(),
            head_request: false,
            want,
        }
    }

    fn chunked(body: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}").into_bytes()
    }

    fn with_length(value: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\nabc").into_bytes()
    }

    fn hostile_cases() -> Vec<Hostile> {
        use ParseError::*;
        let big = "a".repeat(MAX_HEAD_BYTES);
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        vec![
            hostile("garbage", &b"\x00\x01garbage\r\n\r\n"[..], InvalidHead),
            hostile("not_http", &b"SSH-2.0-OpenSSH\r\n\r\n"[..], InvalidHead),
            hostile("http2_version", &b"HTTP/2 200 OK\r\n\r\n"[..], InvalidHead),
            hostile(
                "non_numeric_status",
                &b"HTTP/1.1 2x0 OK\r\n\r\n"[..],
                InvalidHead,
            ),
            hostile(
                "status_below_100",
                &b"HTTP/1.1 099 Odd\r\n\r\n"[..],
                InvalidHead,
            ),
            hostile(
                "bad_header_name",
                &b"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n"[..],
                InvalidHead,
            ),
            hostile(
                "head_never_ends",
                format!("HTTP/1.1 200 OK\r\nX-Big: {big}"),
                HeadTooLarge,
            ),
            hostile(
                "head_ends_too_late",
                format!("HTTP/1.1 200 OK\r\nX-Big: {big}\r\n\r\n"),
                HeadTooLarge,
            ),
            hostile(
                "too_many_headers",
                format!("HTTP/1.1 200 OK\r\n{many}\r\n"),
                TooManyHeaders,
            ),
            hostile("chunk_size_not_hex", chunked("zz\r\n"), InvalidChunkSize),
            hostile("chunk_size_missing", chunked("\r\nabc"), InvalidChunkSize),
            hostile(
                "chunk_size_negative",
                chunked("-5\r\nhello\r\n"),
                InvalidChunkSize,
            ),
            hostile(
                "chunk_size_bare_lf",
                chunked("5\nhello\r\n"),
                InvalidChunkSize,
            ),
            hostile(
                "chunk_size_trailing_junk",
                chunked("5x\r\nhello\r\n"),
                InvalidChunkSize,
            ),
            hostile(
                "chunk_ext_bare_lf",
                chunked("5;a\nhello\r\n"),
                InvalidChunkSize,
            ),
            hostile(
                "chunk_size_17_digits",
                chunked("10000000000000000\r\n"),
                ChunkSizeOverflow,
            ),
            hostile(
                "chunk_size_17_digits_leading_zeros",
                chunked("00000000000000001\r\n"),
                ChunkSizeOverflow,
            ),
            hostile(
                "chunk_ext_too_long",
                chunked(&format!("5;{}\r\n", "e".repeat(MAX_CHUNK_EXT_BYTES))),
                ChunkExtTooLarge,
            ),
            hostile(
                "chunk_data_not_followed_by_crlf",
                chunked("5\r\nhelloXX"),
                InvalidChunkTerminator,
            ),
            hostile(
                "chunk_data_cr_without_lf",
                chunked("5\r\nhello\rX"),
                InvalidChunkTerminator,
            ),
            hostile(
                "chunk_data_longer_than_size",
                chunked("3\r\nhello\r\n"),
                InvalidChunkTerminator,
            ),
            hostile(
                "final_crlf_broken",
                chunked("0\r\n\rX"),
                InvalidChunkTerminator,
            ),
            hostile(
                "trailer_bare_lf",
                chunked("0\r\nX: 1\n\r\n"),
                InvalidTrailer,
            ),
            hostile(
                "trailer_cr_without_lf",
                chunked("0\r\nX: 1\rY\r\n\r\n"),
                InvalidTrailer,
            ),
            hostile(
                "trailer_too_large",
                chunked(&format!(
                    "0\r\nX: {}\r\n\r\n",
                    "t".repeat(MAX_TRAILER_BYTES)
                )),
                TrailerTooLarge,
            ),
            hostile(
                "differing_content_lengths",
                &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc"[..],
                ConflictingLength,
            ),
            hostile(
                "differing_content_length_list",
                with_length("3, 4"),
                ConflictingLength,
            ),
            hostile(
                "negative_content_length",
                with_length("-3"),
                InvalidContentLength,
            ),
            hostile(
                "plus_content_length",
                with_length("+3"),
                InvalidContentLength,
            ),
            hostile(
                "non_digit_content_length",
                with_length("3a"),
                InvalidContentLength,
            ),
            hostile(
                "hex_content_length",
                with_length("0x3"),
                InvalidContentLength,
            ),
            hostile(
                "empty_content_length",
                with_length(""),
                InvalidContentLength,
            ),
            hostile(
                "empty_list_item_content_length",
                with_length("3,,3"),
                InvalidContentLength,
            ),
            hostile(
                "overflowing_content_length",
                with_length("18446744073709551616"),
                InvalidContentLength,
            ),
            hostile(
                "switching_protocols",
                &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"[..],
                UnsupportedUpgrade,
            ),
            hostile(
                "upgrade_after_continue",
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching\r\n\r\n"[..],
                UnsupportedUpgrade,
            ),
            hostile("eof_inside_status_line", &b"HTTP/1.1 20"[..], Truncated),
            hostile(
                "eof_inside_headers",
                &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
                Truncated,
            ),
            hostile(
                "eof_after_continue",
                &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
                Truncated,
            ),
            hostile(
                "eof_inside_length_body",
                &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"[..],
                Truncated,
            ),
            hostile(
                "eof_right_after_length_head",
                &b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n"[..],
                Truncated,
            ),
            hostile("eof_inside_chunk_size", chunked("ffffffffffff"), Truncated),
            hostile(
                "eof_inside_chunk_data",
                chunked("ffffffffffffffff\r\nhel"),
                Truncated,
            ),
            hostile("eof_inside_trailers", chunked("0\r\nX: 1\r\n"), Truncated),
            hostile("eof_before_final_lf", chunked("0\r\n\r"), Truncated),
            Hostile {
                head_request: true,
                ..hostile(
                    "eof_inside_head_for_head_request",
                    &b"HTTP/1.1 200 OK\r\n"[..],
                    Truncated,
                )
            },
        ]
    }

    #[test]
    fn hostile_inputs_fail_with_their_specific_error() {
        for case in hostile_cases() {
            for piece in [case.input.len(), 1, 7] {
                let (got, err) = read_loop(&case.input, piece, case.head_request, true);
                assert!(got.is_empty(), "{}: completed {got:?}", case.name);
                assert_eq!(err, Some(case.want), "{} in {piece}-byte reads", case.name);
            }
        }
    }

    #[test]
    fn errors_are_sticky() {
        let mut dec = ResponseDecoder::new();
        let err = dec.decode(b"nonsense\r\n\r\n", None);
        assert_eq!(err, Err(ParseError::InvalidHead));
        assert_eq!(dec.decode(OK_2, None), Err(ParseError::InvalidHead));
        assert_eq!(dec.finish_on_eof(), Err(ParseError::InvalidHead));
    }

    #[test]
    fn head_is_consumed_only_when_complete_and_body_as_it_arrives() {
        let head_len = CL_HELLO.len() - 5;
        let mut dec = ResponseDecoder::new();
        assert_eq!(
            dec.decode(&CL_HELLO[..head_len - 1], None),
            Ok(Status::Partial(0))
        );
        assert!(dec.head().is_none());
        assert!(dec.in_progress());
        let mut body = Vec::new();
        let status = dec.decode(&CL_HELLO[..head_len + 3], Some(&mut body));
        assert_eq!(status, Ok(Status::Partial(head_len + 3)));
        assert_eq!((body.as_slice(), dec.body_bytes()), (&b"hel"[..], 3));
        assert_eq!(dec.head().map(|h| h.framing), Some(Framing::Length(5)));
        assert_eq!(
            dec.decode(b"lo+next", Some(&mut body)),
            Ok(Status::Complete(2))
        );
        assert_eq!((body.as_slice(), dec.body_bytes()), (&b"hello"[..], 5));
        assert!(!dec.in_progress());
    }

    #[test]
    fn decode_after_complete_without_reset_consumes_nothing() {
        let mut dec = ResponseDecoder::new();
        assert_eq!(dec.decode(OK_2, None), Ok(Status::Complete(OK_2.len())));
        assert_eq!(dec.decode(OK_2, None), Ok(Status::Complete(0)));
        assert_eq!(dec.finish_on_eof(), Ok(false));
        assert_eq!(dec.head().map(|h| h.status), Some(200));
        dec.reset(false);
        assert!(dec.head().is_none());
        assert_eq!(dec.body_bytes(), 0);
    }

    #[test]
    fn eof_on_idle_connection_is_not_an_error() {
        let mut dec = ResponseDecoder::new();
        assert_eq!(dec.decode(b"", None), Ok(Status::Partial(0)));
        assert!(!dec.in_progress());
        assert_eq!(dec.finish_on_eof(), Ok(false));
    }

    #[test]
    fn body_capture_is_capped_but_counting_is_not() {
        let extra = 10;
        let len = MAX_BODY_CAPTURE + extra;
        let mut input = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        input.resize(input.len() + len, b'b');
        let mut dec = ResponseDecoder::new();
        let mut body = Vec::new();
        assert_eq!(
            dec.decode(&input, Some(&mut body)),
            Ok(Status::Complete(input.len()))
        );
        assert_eq!(body.len(), MAX_BODY_CAPTURE);
        assert_eq!(dec.body_bytes(), len as u64);
    }

    /// A head past `HEAD_RESCAN_BYTES` trickling in must still be found, whichever read
    /// its blank line straddles.
    #[test]
    fn large_head_in_small_reads_completes() {
        let filler = "f".repeat(3 * HEAD_RESCAN_BYTES);
        let input = format!("HTTP/1.1 200 OK\r\nX-Big: {filler}\r\nContent-Length: 2\r\n\r\nok");
        let lf_only = input.replace("\r\n", "\n");
        for input in [input, lf_only] {
            for piece in [1, 2, 3, 4, 5, 4096, input.len()] {
                let (got, err) = read_loop(input.as_bytes(), piece, false, false);
                assert_eq!(err, None, "{piece}-byte reads");
                assert_eq!(got.len(), 1, "{piece}-byte reads");
                assert_eq!(got[0].body, b"ok");
            }
        }
    }

    #[test]
    fn largest_chunk_size_parses() {
        let mut dec = ResponseDecoder::new();
        let input = chunked("FFFFFFFFFFFFFFFF;x\r\nabc");
        assert_eq!(dec.decode(&input, None), Ok(Status::Partial(input.len())));
        assert_eq!(dec.body_bytes(), 3);
    }

    #[test]
    fn sixteen_pipelined_responses_in_one_buffer() {
        let input = [OK_2, CHUNKED_HELLO].concat().repeat(8);
        let (got, err) = read_loop(&input, input.len(), false, true);
        assert_eq!(err, None);
        assert_eq!(got.len(), 16);
        assert!(got.iter().all(|g| g.head.keep_alive && !g.by_eof));
    }

    #[test]
    fn error_names_are_unique_snake_case() {
        use ParseError::*;
        let all = [
            InvalidHead,
            HeadTooLarge,
            TooManyHeaders,
            InvalidContentLength,
            ConflictingLength,
            InvalidChunkSize,
            ChunkSizeOverflow,
            ChunkExtTooLarge,
            InvalidChunkTerminator,
            InvalidTrailer,
            TrailerTooLarge,
            UnsupportedUpgrade,
            Truncated,
        ];
        let mut names: Vec<&str> = all.iter().map(ParseError::name).collect();
        assert!(names
            .iter()
            .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|e| !e.to_string().is_empty()));
    }

    /// xorshift64*: a tiny deterministic generator so the mutation test is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
        const INTERESTING: &[u8] = b"\r\n\0 ;:,0fF9-\t";
        let at = rng.below(input.len());
        match rng.below(5) {
            0 if !input.is_empty() => input[at] = rng.next() as u8,
            1 if !input.is_empty() => input[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => input.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => {
                let end = (at + rng.below(8)).min(input.len());
                input.drain(at..end);
            }
            _ => {
                let end = (at + rng.below(16)).min(input.len());
                let copy = input[at..end].to_vec();
                input.splice(at..at, copy);
            }
        }
    }

    /// Mutated samples must never panic or over-consume (asserted inside `read_loop`),
    /// and the read size must not change what is decoded.
    #[test]
    fn mutated_samples_decode_consistently() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let seeds: Vec<Vec<u8>> = SAMPLES.iter().map(|s| s.parts.concat()).collect();
        for round in 0..4000 {
            let mut input = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, &mut input);
            }
            let head_request = rng.below(8) == 0;
            let whole = read_loop(&input, input.len(), head_request, true);
            let piece = 1 + rng.below(16);
            let split = read_loop(&input, piece, head_request, true);
            assert_eq!(
                whole, split,
                "round {round}, {piece}-byte reads of {input:?}"
            );
        }
    }
}

//! HTTP/1.1 wire format with no I/O: request encoding and response decoding over bytes,
//! and the pieces of a user's flow that read responses: header fields, cookies, redirects.
pub mod cookie;
pub mod fields;
pub mod redirect;
pub mod request;
pub mod response;

pub use request::{
    encode_head, encode_request, validate_header, validate_method, validate_target, RequestError,
    RequestSpec,
};
pub use response::{
    Framing, Head, ParseError, ResponseDecoder, Status, MAX_BODY_CAPTURE, MAX_CHUNK_EXT_BYTES,
    MAX_CHUNK_SIZE_DIGITS, MAX_HEADERS, MAX_HEAD_BYTES, MAX_TRAILER_BYTES,
};

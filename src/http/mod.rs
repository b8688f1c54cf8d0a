//! HTTP/1.1 wire format with no I/O: request encoding and response decoding over bytes.

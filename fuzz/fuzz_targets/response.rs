//! Fuzz target: arbitrary bytes through the response decoder, the way a read loop feeds it.
//!
//! The first input byte chooses the request kind, the next two where the bytes are split
//! into two reads. The decoder must never panic, never claim more bytes than it was given,
//! and always make progress on a fresh response (a `Complete(0)` would spin the engine).
#![no_main]

use blast::http::{ResponseDecoder, Status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [flags, hi, lo, input @ ..] = data else {
        return;
    };
    let head_request = flags & 1 == 1;
    let split = usize::from(u16::from_be_bytes([*hi, *lo])).min(input.len());
    let (first, second) = input.split_at(split);

    let mut dec = ResponseDecoder::new();
    dec.reset(head_request);
    let mut pending = Vec::new();
    let mut body = Vec::new();
    for read in [first, second] {
        pending.extend_from_slice(read);
        loop {
            let Ok(status) = dec.decode(&pending, Some(&mut body)) else {
                return;
            };
            let (Status::Partial(n) | Status::Complete(n)) = status;
            assert!(n <= pending.len(), "consumed {n} of {}", pending.len());
            pending.drain(..n);
            if let Status::Partial(_) = status {
                break;
            }
            assert!(n > 0, "a fresh response completed without consuming input");
            assert!(dec.head().is_some());
            body.clear();
            dec.reset(head_request);
            if pending.is_empty() {
                break;
            }
        }
    }
    let _ = dec.finish_on_eof();
});

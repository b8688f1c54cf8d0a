//! What a connection sends next: the plan's fixed request copied from bytes encoded once,
//! or a scenario task chosen by weight and rendered fresh into the connection's buffer.
use std::time::Duration;

use rand::Rng;

use super::flow::Flow;
use crate::plan::Plan;
use crate::scenario::{Renderer, Scenario, TaskPicker, UserValues, Wait};

/// Which request went out, as the response accounting needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    pub task: usize,
    /// Mutated to be invalid: checked against the task's `expect_invalid`.
    pub invalid: bool,
    /// A HEAD request: its response has no body.
    pub head: bool,
    /// Safe to send again when a stale keep-alive connection ate it (RFC 9110 §9.2.2).
    pub idempotent: bool,
    /// Rows in the body's `repeat` batch, when it has one (latency is kept by batch size).
    pub batch: Option<u32>,
}

pub enum Source {
    Fixed {
        request: Vec<u8>,
        /// Where the blank line that ends the head starts: cookies go in before it.
        head_end: usize,
        /// The request's target, for the cookies' paths.
        target: Vec<u8>,
        head: bool,
        idempotent: bool,
    },
    Scenario {
        renderer: Box<Renderer>,
        picker: TaskPicker,
        heads: Vec<bool>,
        idempotent: Vec<bool>,
        /// `--no-keepalive`: each rendered request gets `Connection: close`.
        close: bool,
    },
}

/// The header line `--no-keepalive` adds to a scenario's requests.
const CLOSE_LINE: &[u8] = b"Connection: close\r\n";

impl Source {
    pub fn new(plan: &Plan, worker: usize) -> Self {
        match &plan.scenario {
            None => Source::Fixed {
                head_end: head_end(&plan.request),
                target: plan.target.path.as_bytes().to_vec(),
                request: plan.request.clone(),
                head: plan.is_head(),
                idempotent: is_idempotent(&plan.method),
            },
            Some(s) => Source::Scenario {
                renderer: Box::new(
                    Renderer::for_shard(s, worker, plan.shard)
                        .with_url_authorization(plan.target.authorization.as_deref()),
                ),
                picker: TaskPicker::new(&s.tasks),
                heads: heads(s),
                idempotent: s.tasks.iter().map(|t| is_idempotent(&t.method)).collect(),
                close: !plan.keepalive,
            },
        }
    }

    /// Appends user `flow`'s next request to `out`.
    #[inline]
    pub fn next(&mut self, plan: &Plan, flow: &mut Flow, out: &mut Vec<u8>) -> Pick {
        match self {
            Source::Fixed {
                request,
                head_end,
                target,
                head,
                idempotent,
            } => {
                if flow.has_cookies() {
                    out.extend_from_slice(&request[..*head_end]);
                    flow.extra_headers(target, out);
                    out.extend_from_slice(&request[*head_end..]);
                } else {
                    out.extend_from_slice(request);
                }
                Pick {
                    task: 0,
                    invalid: false,
                    head: *head,
                    idempotent: *idempotent,
                    batch: None,
                }
            }
            Source::Scenario {
                renderer,
                picker,
                heads,
                idempotent,
                close,
            } => {
                let task = flow.next_task(plan, picker, renderer.rng());
                let start = out.len();
                let rendered = renderer.render_for(task, &plan.target.host, flow, out);
                if *close {
                    insert_after_request_line(out, start, CLOSE_LINE);
                }
                Pick {
                    task,
                    invalid: rendered.invalid,
                    head: heads[task],
                    idempotent: idempotent[task],
                    batch: rendered.batch,
                }
            }
        }
    }

    /// The think time before a user's next task (`Between` drawn with this worker's RNG).
    /// `Pacing` is handled by the caller, which knows when the last task started.
    pub fn think(&mut self, wait: Wait) -> Duration {
        match (wait, self) {
            (Wait::Constant(d), _) => d,
            (Wait::Between(lo, hi), Source::Scenario { renderer, .. }) if hi > lo => {
                let secs = renderer
                    .rng()
                    .gen_range(lo.as_secs_f64()..=hi.as_secs_f64());
                Duration::from_secs_f64(secs)
            }
            (Wait::Between(lo, _), _) => lo,
            _ => Duration::ZERO,
        }
    }
}

/// Where the blank line ending `request`'s head starts (its length when it has none).
fn head_end(request: &[u8]) -> usize {
    request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(request.len(), |i| i + 2)
}

/// Methods RFC 9110 §9.2.2 defines as idempotent: a client may send them again.
pub fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

/// Splices `line` in after the request line of the request rendered at `out[start..]`.
fn insert_after_request_line(out: &mut Vec<u8>, start: usize, line: &[u8]) {
    let Some(eol) = out[start..].windows(2).position(|w| w == b"\r\n") else {
        return;
    };
    let at = start + eol + 2;
    out.splice(at..at, line.iter().copied());
}

fn heads(s: &Scenario) -> Vec<bool> {
    s.tasks
        .iter()
        .map(|t| t.method.eq_ignore_ascii_case("HEAD"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_keepalive_header_goes_after_the_request_line_of_the_last_request() {
        let mut out = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n".to_vec();
        let start = out.len();
        out.extend_from_slice(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}");
        insert_after_request_line(&mut out, start, CLOSE_LINE);
        assert_eq!(
            out,
            b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /p HTTP/1.1\r\nConnection: close\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}

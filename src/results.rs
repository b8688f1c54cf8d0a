//! Plain results: what a run measured and what it was asked to do, as data every layer
//! above may read. The coordinator fills these in; reports, `blast report` (from a saved
//! JSON), `blast merge` and the searches of `limit` and `compare` only read them, so a saved
//! run renders exactly like a live one.
use std::time::{Duration, SystemTime};

use crate::load::Load;
use crate::os::DriverChoice;
use crate::shard::Shard;
use crate::stats::{aggregate, Compact, Merged, Point, TaskStats};

/// Error kinds the connection raises, as counted and reported; response parse errors are
/// named by `http::ParseError::name`.
pub mod kind {
    pub const CONNECT_REFUSED: &str = "connect_refused";
    pub const CONNECT_TIMEOUT: &str = "connect_timeout";
    pub const CONNECT_ERROR: &str = "connect_error";
    pub const TIMEOUT: &str = "timeout";
    /// The server closed the connection before any byte of the response.
    pub const CLOSED: &str = "closed";
    pub const RESET: &str = "connection_reset";
    pub const IO: &str = "io_error";
    /// A request behind a failed one on a pipelined connection: never answered, never re-sent.
    pub const UNANSWERED: &str = "unanswered";
    /// The server's certificate was refused: untrusted, expired, wrong name.
    pub const TLS_CERT: &str = "tls_cert";
    /// The handshake did not finish: the peer closed, reset or stalled mid-handshake.
    pub const TLS_HANDSHAKE: &str = "tls_handshake";
    /// The server sent a TLS alert (a refused client certificate, no shared cipher).
    pub const TLS_ALERT: &str = "tls_alert";
    /// The server did not speak TLS as expected: plaintext in reply to a ClientHello, a
    /// malformed record, or no `http/1.1` by ALPN (an h2-only server).
    pub const TLS_PROTOCOL: &str = "tls_protocol";
    /// A task's redirects went on past its `follow_redirects` (or `--follow`) limit.
    pub const TOO_MANY_REDIRECTS: &str = "too_many_redirects";
    /// A redirect to another origin whose host name did not resolve.
    pub const REDIRECT_UNRESOLVED: &str = "redirect_unresolved";
    /// Bytes arrived on a connection with no request in flight (a server that answers on
    /// connect, or twice): counted, the connection closed, never taken for a response.
    pub const UNSOLICITED: &str = "unsolicited_response";

    /// What an error of `kind` means, for reports that show a message per kind when no
    /// more precise one (the system's or the parser's words) was recorded first.
    pub fn describe(kind: &str) -> &'static str {
        match kind {
            CONNECT_REFUSED => "the connection was refused",
            CONNECT_TIMEOUT => "the connection was not established within --connect-timeout",
            CONNECT_ERROR => "the connection could not be opened",
            TIMEOUT => "no complete response within --timeout",
            CLOSED => "the server closed the connection before any byte of the response",
            RESET => "the server reset the connection",
            IO => "an I/O error on the connection",
            UNANSWERED => "behind a failed request on a pipelined connection: never answered",
            TLS_CERT => "the server's certificate was refused",
            TLS_HANDSHAKE => "the TLS handshake did not finish",
            TLS_ALERT => "the server sent a TLS alert",
            TLS_PROTOCOL => "the server did not speak TLS as expected",
            TOO_MANY_REDIRECTS => "more redirects than the task follows",
            REDIRECT_UNRESOLVED => "a redirect's host name did not resolve",
            UNSOLICITED => "bytes arrived with no request in flight",
            "redirect_to_other_origin" => "a redirect to a scheme other than http or https",
            "bad_redirect_location" => "a redirect's Location could not be followed",
            _ => "the response could not be parsed",
        }
    }
}

/// One second of the run, merged over workers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Seconds since the start, at the end of this interval.
    pub elapsed_s: f64,
    /// Length of the interval in seconds (the last one may be short).
    pub interval_s: f64,
    pub unix_s: u64,
    /// Users with an open connection.
    pub users: u64,
    /// Errors in the interval, connection attempts included.
    pub errors: u64,
    /// Per task, in plan order.
    pub tasks: Vec<Point>,
    /// Every task together.
    pub total: Point,
    /// Per task, the interval's counts and histogram as saved, so a saved report can be
    /// re-rendered or merged with other shards' exactly.
    pub interval: Vec<Compact>,
    /// What the client itself did in this second.
    pub client: ClientSecond,
}

/// The client's own part of one second: how busy its workers were, what it owed the
/// schedule, and the server's part of the latency (from the actual send).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientSecond {
    /// Per worker, the share of one core its thread used (1.0 = a whole core).
    pub cpu: Vec<f64>,
    /// Open model: requests due but not yet sent at the end of the second.
    pub backlog: Option<u64>,
    /// Running p50 of the service time (from the actual send), µs.
    pub service_median_us: Option<u64>,
}

impl ClientSecond {
    /// The busiest worker's share of a core.
    pub fn busiest(&self) -> f64 {
        self.cpu.iter().copied().fold(0.0, f64::max)
    }
}

/// When a second ended and who was running then.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
pub struct Clock {
    pub elapsed_s: f64,
    pub interval_s: f64,
    pub unix_s: u64,
    pub users: u64,
    pub errors: u64,
}

impl Second {
    /// The second at `clock`, from each task's stats in the interval and its running totals.
    pub fn new(clock: Clock, interval: &[TaskStats], totals: &[TaskStats]) -> Self {
        let tasks = interval
            .iter()
            .zip(totals)
            .map(|(i, t)| Point::new(i, t))
            .collect();
        let service = aggregate(totals).service;
        let client = ClientSecond {
            service_median_us: (!service.is_empty()).then(|| service.value_at_quantile(0.5)),
            ..ClientSecond::default()
        };
        Second {
            client,
            elapsed_s: clock.elapsed_s,
            interval_s: clock.interval_s,
            unix_s: clock.unix_s,
            users: clock.users,
            errors: clock.errors,
            tasks,
            total: Point::new(&aggregate(interval), &aggregate(totals)),
            interval: interval.iter().map(Compact::of).collect(),
        }
    }

    /// When this second ended and who was running.
    pub fn clock(&self) -> Clock {
        Clock {
            elapsed_s: self.elapsed_s,
            interval_s: self.interval_s,
            unix_s: self.unix_s,
            users: self.users,
            errors: self.errors,
        }
    }

    /// Requests per second in this interval.
    pub fn rps(&self) -> f64 {
        rate(self.total.requests, self.interval_s)
    }

    pub fn failures_per_s(&self) -> f64 {
        rate(self.total.failures, self.interval_s)
    }
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// Everything a report needs; plain data, so a saved report can be read back into it.
#[derive(Clone, Debug)]
pub struct Results {
    pub plan: PlanInfo,
    pub totals: Merged,
    pub elapsed: Duration,
    pub started_at: SystemTime,
    /// The driver(s) that ran, e.g. "io_uring" or "io_uring, epoll" if workers differed.
    pub driver: String,
    pub worker_failures: Vec<String>,
    pub timeline: Vec<Second>,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
    /// Edits of the running test (from the dashboard), in order.
    pub changes: Vec<Change>,
}

/// One edit of a running test: when, and what changed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// Seconds into the run.
    pub elapsed_s: f64,
    /// What changed, as the page and the report say it (`users -> 50 at 10/s`).
    pub what: String,
}

/// A report row: requests of one method and name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskInfo {
    pub method: String,
    pub name: String,
}

/// One request header as reports show it: `task` is the report row it belongs to, and a
/// secret value (credentials, `secret = true` in a scenario) is `[redacted]` (`scenario::REDACTED`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderInfo {
    pub task: String,
    pub name: String,
    pub value: String,
}

/// What a report says about the plan that ran: plain data, saved in the JSON report and read
/// back by `blast report` and `blast merge`, so reports never need the live `Plan`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlanInfo {
    pub url: String,
    pub method: String,
    /// The scenario file's path, for a scenario run.
    pub scenario: Option<String>,
    pub tasks: Vec<TaskInfo>,
    /// Request headers, secrets redacted; absent from reports of runs that sent none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderInfo>,
    pub workers: usize,
    /// Connections on the first worker (the others have this many or one fewer).
    pub users_per_worker: u64,
    pub load: Load,
    pub pipeline: usize,
    #[serde(with = "secs::option")]
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    #[serde(with = "secs")]
    pub timeout: Duration,
    pub driver: DriverChoice,
    pub spawn_rate: Option<f64>,
    /// The load follows the scenario's stages.
    pub stages: bool,
    pub notes: Vec<String>,
    /// This process's part of a sharded run (`--shard I/N`); None for a whole run.
    pub shard: Option<Shard>,
    /// The blast version that ran it.
    pub version: String,
    /// `--insecure`: server certificates were not verified.
    #[serde(default)]
    pub insecure: bool,
    /// False with `--no-keepalive` (one request per connection).
    #[serde(default = "yes")]
    pub keepalive: bool,
}

fn yes() -> bool {
    true
}

/// Durations as seconds (a float) in saved reports.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<f64>::deserialize(d)?
                .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

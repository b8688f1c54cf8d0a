//! The engine: pinned worker threads, each a single-threaded runtime driving its users'
//! connections. Nothing here formats reports or parses flags. `worker` runs the thread and
//! talks to the coordinator; `conn` is one user's connection loop, which sees only the
//! worker's `shared` state; `flow` is that user's state between requests (on_start,
//! captures, cookies, redirects); `hop` says where a redirect to another origin goes
//! (resolved once per worker); `source` says what to send; `transport` is the stream
//! under it (plain TCP or TLS); `stale` notices idle keep-alive connections the server
//! closed; `steer` carries edits of a running test to the workers; `driver` builds the
//! runtime.
pub mod conn;
pub mod driver;
pub mod flow;
pub mod hop;
pub mod pace;
pub mod shared;
pub mod source;
pub mod stale;
pub mod steer;
pub mod transport;
pub mod worker;

pub use driver::DriverUsed;
pub use worker::{Event, Link};

//! The engine: pinned worker threads, each a single-threaded runtime driving its users'
//! connections. Nothing here formats reports or parses flags. `worker` runs the thread and
//! talks to the coordinator; `conn` is one user's connection loop, which sees only the
//! worker's `shared` state; `source` says what to send; `driver` builds the runtime.
pub mod conn;
pub mod driver;
pub mod pace;
pub mod peek;
pub mod shared;
pub mod source;
pub mod worker;

pub use driver::DriverUsed;
pub use worker::{Event, Link};

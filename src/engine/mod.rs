//! The engine: pinned worker threads, each a single-threaded runtime driving its users'
//! connections. Nothing here formats reports or parses flags.
pub mod conn;
pub mod driver;
pub mod schedule;
pub mod source;
pub mod worker;

pub use driver::DriverUsed;
pub use worker::{Event, Link};

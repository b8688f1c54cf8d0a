//! blast: a thread-per-core HTTP/1.1 load generator.
//!
//! Data flows one way: CLI flags and scenario files become a validated [`plan::Plan`];
//! the coordinator spawns one pinned worker per core to execute it; workers send
//! per-interval snapshots of their stats; reports read the merged result.
pub mod http;
pub mod scenario;
pub mod serve;

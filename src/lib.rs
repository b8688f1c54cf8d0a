//! blast: a thread-per-core HTTP/1.1 load generator.
//!
//! Data flows one way: CLI flags and scenario files become a validated [`plan::Plan`];
//! the [`coordinator`] spawns one pinned worker per core ([`engine`]) to execute it; workers
//! send per-interval [`stats::Snapshot`]s; [`report`]s read the merged result.
pub mod cli;
pub mod compare;
pub mod coordinator;
pub mod engine;
pub mod http;
pub mod limit;
pub mod live;
pub mod merge;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod serve;
pub mod shard;
pub mod stats;
pub mod target;
pub mod web;

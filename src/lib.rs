//! blast: a thread-per-core HTTP/1.1 load generator.
//!
//! Data flows one way: CLI flags and scenario files become a validated [`plan::Plan`];
//! the [`coordinator`] spawns one pinned worker per core ([`engine`]) to execute it; workers
//! send per-interval [`stats::Snapshot`]s; [`report`]s read the merged, plain [`results`].
//! Modules form layers, each using only its own layer and those below (held by
//! `tests/layers.rs`; README, "Architecture"):
//!
//! - commands: [`cmd`]
//! - outputs: [`report`], [`web`] (the live dashboard and /metrics)
//! - studies (runs of several plans, or of saved results): [`limit`], [`compare`],
//!   [`runner`], [`merge`]
//! - run time: [`coordinator`], [`live`], [`timeline`] (the seconds kept for the reports)
//! - engine: [`engine`]
//! - plan: [`plan`]
//! - foundations: [`results`], [`gates`], [`load`], [`http`], [`stats`], [`scenario`],
//!   [`target`], [`shard`], [`os`], [`units`]
//! - apart: [`serve`], the built-in target, which uses nothing of the client.
pub mod cmd;
pub mod compare;
pub mod coordinator;
pub mod engine;
pub mod gates;
pub mod http;
pub mod limit;
pub mod live;
pub mod load;
pub mod merge;
pub mod os;
pub mod plan;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod serve;
pub mod shard;
pub mod stats;
pub mod target;
pub mod timeline;
pub mod tls;
pub mod tlsio;
pub mod units;
pub mod web;

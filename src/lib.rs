//! slabd: a cache daemon that is a drop-in replacement for memcached 1.6 and also speaks
//! Redis's protocol (RESP) over the same keyspace.
//!
//! ```text
//!  client bytes ─▶ server (mio workers, one Poll each, connections in a Slab)
//!                    │ per connection: protocol detection, read buffer
//!                    ▼
//!                  commands::process ── protocol::{memcache,resp} parse ─▶ storage::Store
//!                    │                                                     (index stripes,
//!                    ▼                                                      slab classes)
//!                  reply bytes ─▶ write buffer ─▶ socket
//! ```

pub mod auth;
pub mod collections;
pub mod commands;
pub mod config;
pub mod directives;
pub mod fuzzing;
pub mod hub;
pub mod persist;
pub mod protocol;
pub mod repl;
pub mod scripting;
pub mod server;
pub mod stats;
pub mod storage;

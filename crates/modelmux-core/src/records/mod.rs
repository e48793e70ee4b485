//! Records: one per request that reached the gateway, with every attempt, the decision,
//! tokens and cost; written off the hot path by a batch writer into a store (SQLite by
//! default, PostgreSQL at scale), spilling to a local file when the store is down.

pub mod config;

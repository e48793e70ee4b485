//! modelmux-core: the gateway as a library. A request passes `http` (accept and read),
//! `auth` (who is calling), `ingress` (decode), then the `pipeline`: the `episode` (and the client's request id), `routing` (which
//! candidates, with which retry settings), the key's admission (`keys`, priced by `cost`),
//! `dispatch` (attempts, retries, fallback, stream commit) over `providers` (one pooled call
//! per attempt), the answer through `http::respond`, and the record (`records`). `serve` is the one entry point for the binary and for
//! tests: give it a bound listener, a config and a shutdown future.

pub mod analytics;
pub mod auth;
pub mod catalog;
pub mod config;
pub mod cost;
pub mod decision;
pub mod dispatch;
pub mod episode;
pub mod error;
pub mod features;
pub mod feedback;
pub mod health;
pub mod http;
pub mod ids;
pub mod ingress;
pub mod intent;
pub mod keys;
pub mod outcomes;
pub mod pipeline;
pub mod policy;
pub mod providers;
pub mod records;
pub mod responses_store;
pub mod routing;
pub mod secret;
mod serve;
pub mod state;
pub mod stats;
pub mod strategy;
pub mod tasks;

pub use config::Config;
pub use http::app;
pub use serve::{RunningGateway, serve, spawn};
pub use state::AppState;
pub use tasks::Tasks;

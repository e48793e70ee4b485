//! modelmux-core: the gateway as a library. A request passes `http` (accept, read, decode),
//! `auth`, `routing` (which candidates, with which retry settings), `dispatch` (attempts,
//! retries, fallback, stream commit) and `providers` (one pooled call per attempt), and is
//! answered through `http::respond`. `serve` is the one entry point for the binary and for
//! tests: give it a bound listener, a config and a shutdown future.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod decision;
pub mod dispatch;
pub mod error;
pub mod features;
pub mod health;
pub mod http;
pub mod ids;
pub mod ingress;
pub mod intent;
pub mod keys;
pub mod policy;
pub mod providers;
pub mod records;
pub mod responses_store;
pub mod routing;
pub mod secret;
mod serve;
pub mod state;
pub mod strategy;
pub mod tasks;

pub use config::Config;
pub use http::app;
pub use serve::{RunningGateway, serve, spawn};
pub use state::AppState;
pub use tasks::Tasks;

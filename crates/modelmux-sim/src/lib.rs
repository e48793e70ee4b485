//! Simulated LLM providers speaking the OpenAI Chat Completions (plus the Azure deployment
//! path), Anthropic Messages, Gemini generateContent (AI Studio and Vertex AI, with a `/token`
//! OAuth endpoint) and Bedrock Converse/ConverseStream wire formats, with scripted latency, time
//! to first token, token speed and faults. Each format parses into one neutral request and
//! renders one neutral answer (`plan`), so behaviours and faults mean the same everywhere. Tests,
//! benchmarks, `modelmux sim` and `modelmux demo` start one with [`bind`] or [`start`], point a
//! provider's `base_url` at [`SimHandle::base_url`], and steer it through the handle, per-request
//! `x-sim-*` headers or the `/_sim/*` endpoints. All delays use `tokio::time`, so a paused clock
//! makes them instant.

#![allow(
    clippy::disallowed_methods,
    reason = "the simulator is a test double, not the gateway: its server and stream tasks end with it"
)]

mod anthropic;
mod bedrock;
mod behaviour;
mod exchange;
mod fault;
mod gemini;
mod openai;
mod plan;
mod server;
mod stats;
mod text;
mod tools;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use behaviour::{Behaviour, ScriptedCall};
pub use fault::{Fault, ParseFaultError, RetryAfter};
pub use stats::RecordedRequest;

use stats::State;

/// Configuration of one simulator: an optional API key and per-model behaviour.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// When set, requests must carry the key in their format's header (`Authorization: Bearer`,
    /// `api-key`, `x-api-key`, `x-goog-api-key` or `?key=`).
    pub api_key: Option<String>,
    /// Behaviour of models not listed in `models`.
    pub default: Behaviour,
    /// Behaviour per model name (the request's `model`, the Azure deployment, or the model
    /// of a Gemini, Vertex or Bedrock path, percent-decoded).
    pub models: BTreeMap<String, Behaviour>,
    /// Vertex AI paths require `Authorization: Bearer <token>` with a token issued by
    /// `POST /token` (or equal to `api_key`).
    pub vertex_auth: bool,
    /// Bedrock: the access key id a SigV4 credential scope must name, when set.
    pub aws_access_key_id: Option<String>,
    /// Bedrock: when set, SigV4 signatures are recomputed with this secret and verified.
    pub aws_secret_access_key: Option<String>,
}

/// A running simulator. Cloning shares it; dropping every handle does not stop it.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: State,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the OpenAI-style base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.inner.addr)
    }

    /// Replace a model's behaviour (and its fault script with `b.faults`).
    pub fn set_behaviour(&self, model: &str, b: Behaviour) {
        self.inner.state.set_behaviour(model, b);
    }

    /// Append faults to a model's script, creating the model from `default` if absent.
    pub fn push_faults(&self, model: &str, faults: impl IntoIterator<Item = Fault>) {
        self.inner.state.push_faults(model, faults);
    }

    /// Chat requests received for a model, faulted ones included.
    pub fn requests(&self, model: &str) -> u64 {
        self.inner.state.requests(model)
    }

    /// Chat requests received in all, including those whose body named no model.
    pub fn total_requests(&self) -> u64 {
        self.inner.state.total()
    }

    /// The most recent chat request for a model.
    pub fn last_request(&self, model: &str) -> Option<RecordedRequest> {
        self.inner.state.last_request(model)
    }

    /// `http://127.0.0.1:PORT`, the root for Anthropic (`/v1/messages`), Gemini, Vertex,
    /// Bedrock and `/token`.
    pub fn root_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Token exchanges received on `POST /token`, failed ones included.
    pub fn token_requests(&self) -> u64 {
        self.inner.state.token_requests()
    }

    /// Stop accepting connections; open connections finish their current request and close.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

/// Serve the simulator on `listener`, spawned on the current runtime; returns at once.
pub async fn start(listener: TcpListener, config: SimConfig) -> SimHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (shutdown, _) = watch::channel(false);
    let inner = Arc::new(Inner {
        state: State::new(config),
        addr,
        shutdown,
    });
    tokio::spawn(server::serve(listener, inner.clone()));
    SimHandle { inner }
}

/// Bind `127.0.0.1:0` and [`start`] there.
pub async fn bind(config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    Ok(start(listener, config).await)
}

impl Inner {
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

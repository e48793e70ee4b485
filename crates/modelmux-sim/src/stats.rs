//! The simulator's shared state: per-model behaviour, fault script, request counters and the
//! last request seen, plus issued Vertex tokens and configured credentials, behind one `std::sync::Mutex` that is never held across an await.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::behaviour::Behaviour;
use crate::fault::Fault;

/// A request as the simulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

struct ModelState {
    behaviour: Behaviour,
    script: VecDeque<Fault>,
    requests: u64,
    prompt_tokens: u64,
    last: Option<RecordedRequest>,
    /// Configured (listed by `/v1/models`) rather than created by a request.
    listed: bool,
}

impl ModelState {
    fn new(behaviour: Behaviour, listed: bool) -> Self {
        let script = behaviour.faults.iter().cloned().collect();
        ModelState {
            behaviour,
            script,
            requests: 0,
            prompt_tokens: 0,
            last: None,
            listed,
        }
    }
}

/// What one request draws from its model's state.
pub(crate) struct Ticket {
    pub behaviour: Behaviour,
    pub scripted: Option<Fault>,
    /// Requests for this model so far, this one included.
    pub requests: u64,
    pub prompt_tokens: u64,
}

pub(crate) struct State {
    pub api_key: Option<String>,
    /// Vertex paths need a bearer token issued by `/token` (or `api_key`).
    pub vertex_auth: bool,
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<String>,
    tokens: Mutex<HashSet<String>>,
    token_requests: AtomicU64,
    default: Behaviour,
    models: Mutex<BTreeMap<String, ModelState>>,
    total: AtomicU64,
}

impl State {
    pub(crate) fn new(config: crate::SimConfig) -> Self {
        let models = config
            .models
            .into_iter()
            .map(|(k, b)| (k, ModelState::new(b, true)))
            .collect();
        State {
            api_key: config.api_key,
            vertex_auth: config.vertex_auth,
            aws_access_key_id: config.aws_access_key_id,
            aws_secret_access_key: config.aws_secret_access_key,
            tokens: Mutex::new(HashSet::new()),
            token_requests: AtomicU64::new(0),
            default: config.default,
            models: Mutex::new(models),
            total: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ModelState>> {
        self.models.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with_model<R>(&self, model: &str, f: impl FnOnce(&mut ModelState) -> R) -> R {
        let mut models = self.lock();
        let entry = models
            .entry(model.to_owned())
            .or_insert_with(|| ModelState::new(self.default.clone(), false));
        f(entry)
    }

    /// Count a chat request that could not be attributed to a model.
    pub(crate) fn count_unattributed(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Count and record a request for `model`, and pop its next scripted fault when `pop`.
    pub(crate) fn record(
        &self,
        model: &str,
        req: RecordedRequest,
        prompt_tokens: u32,
        pop: bool,
    ) -> Ticket {
        self.total.fetch_add(1, Ordering::Relaxed);
        self.with_model(model, |m| {
            m.requests += 1;
            m.prompt_tokens += u64::from(prompt_tokens);
            m.last = Some(req);
            Ticket {
                behaviour: m.behaviour.clone(),
                scripted: if pop { m.script.pop_front() } else { None },
                requests: m.requests,
                prompt_tokens: m.prompt_tokens,
            }
        })
    }

    /// Replace a model's behaviour and script; its counters and last request are kept.
    pub(crate) fn set_behaviour(&self, model: &str, b: Behaviour) {
        self.with_model(model, |m| {
            m.script = b.faults.iter().cloned().collect();
            m.behaviour = b;
            m.listed = true;
        });
    }

    pub(crate) fn push_faults(&self, model: &str, faults: impl IntoIterator<Item = Fault>) {
        self.with_model(model, |m| m.script.extend(faults));
    }

    pub(crate) fn requests(&self, model: &str) -> u64 {
        self.lock().get(model).map_or(0, |m| m.requests)
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn last_request(&self, model: &str) -> Option<RecordedRequest> {
        self.lock().get(model).and_then(|m| m.last.clone())
    }

    /// `{"total": N, "models": {"m": {"requests": N}}}`.
    pub(crate) fn stats_json(&self) -> Value {
        let models: serde_json::Map<String, Value> = self
            .lock()
            .iter()
            .map(|(k, m)| (k.clone(), json!({"requests": m.requests})))
            .collect();
        json!({"total": self.total(), "models": models})
    }

    /// Count a token exchange and, when `ok`, issue a new access token.
    pub(crate) fn issue_token(&self, ok: bool) -> Option<String> {
        let n = self.token_requests.fetch_add(1, Ordering::Relaxed) + 1;
        ok.then(|| {
            let token = format!("sim-token-{n}");
            self.tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(token.clone());
            token
        })
    }

    pub(crate) fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    pub(crate) fn listed_models(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, m)| m.listed)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

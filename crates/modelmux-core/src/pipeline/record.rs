//! Building the record of a request and handing it to the writer: who asked (format, key,
//! team, tenant, episode and turn, the client's request id), how it was routed (route, rule, decision), every attempt, the answer's status,
//! tokens and cost (priced from the answering target's catalog entry), and how a stream
//! ended. Called once per request, answered or not; the writer never blocks.

use std::time::{Instant, SystemTime};

use modelmux_wire::{Usage, WireFormat};

use crate::catalog::{Catalog, Price};
use crate::dispatch::Attempt;
use crate::http::respond::Meta;
use crate::records::{AttemptRecord, Record, StreamOutcome};
use crate::state::AppState;

/// How the request ended.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub error: Option<String>,
    pub usage: Option<Usage>,
    pub price: Option<Price>,
    pub ttft: Option<std::time::Duration>,
    pub stream: Option<StreamOutcome>,
}

pub fn send(
    state: &AppState,
    meta: &Meta,
    format: WireFormat,
    attempts: &[Attempt],
    outcome: Outcome,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let mut r = Record::new(
        meta.request_id.as_ref().map_or("", |r| r.as_str()),
        SystemTime::now() - elapsed,
    );
    r.client_format = format.name().to_owned();
    r.key = meta.key.clone();
    r.team = meta.team.clone();
    r.tenant = meta.tenant.clone();
    r.episode_id = meta.episode.clone();
    r.episode_turn = meta.episode_turn;
    r.client_request_id = meta.client_request_id.clone();
    r.route = meta.route.clone().unwrap_or_default();
    r.rule = meta.rule.clone();
    r.decision = meta.decision.clone().unwrap_or_default();
    r.attempts = attempts
        .iter()
        .map(|a| AttemptRecord {
            target: a.target.to_string(),
            status: a.status,
            error: match a.error {
                Some(k) => Some(k.as_str().to_owned()),
                None if a.cancelled => Some("cancelled".to_owned()),
                None => None,
            },
            latency_ms: a.latency.as_millis() as u64,
            ttft_ms: a.ttft.map(|t| t.as_millis() as u64),
            hedge: a.hedge,
        })
        .collect();
    r.target = if outcome.status == 200 {
        meta.target.clone()
    } else {
        None
    };
    r.status = Some(outcome.status);
    r.error = outcome.error;
    r.latency_ms = elapsed.as_millis() as u64;
    r.ttft_ms = outcome.ttft.map(|t| t.as_millis() as u64);
    if let Some(u) = outcome.usage {
        r.price(u, outcome.price.as_ref(), &Catalog::builtin().version);
    }
    r.stream = outcome.stream;
    state.records.send(r);
}

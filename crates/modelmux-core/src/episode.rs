//! The episode stage, run by the pipeline before the routing decision: which episode (a
//! ticket, a conversation, an agent task) a request belongs to, which request of it this is,
//! and the client's own request id.
//!
//! The episode id comes from `x-modelmux-episode`, else from the first `[episodes] aliases`
//! entry present (by default `metadata.episode_id`, the Responses `conversation`,
//! `x-claude-code-session-id`, `Helicone-Session-Id`, `x-session-id`), else the gateway
//! issues a UUIDv7 (time-ordered, so records of recent episodes sit together in an index).
//! A client-given id is at most 128 characters of `[A-Za-z0-9._:@/-]`; anything else is a 400
//! naming the header or alias it came in. The id goes back in `x-modelmux-episode` on every
//! answer (`respond::Meta::episode`) and into the record.
//!
//! `episode_turn` (a rule variable and a record column) is derived from the conversation the
//! client sends: the assistant messages in it plus one. Every model call of an agent loop
//! (assistant tool call, tool result, next call) is one more turn: the turn counts requests,
//! which is what a rule choosing a model per call needs. Counting it from the body needs no
//! state, so it holds across instances and restarts and costs no I/O; a per-episode counter
//! in memory would not. Its limit: a client that sends only the newest message each time
//! (keeping history itself, or a Responses `conversation` the gateway does not store) gets
//! turn 1 on every request; `previous_response_id` chains are resolved first and do count.
//!
//! A client may name a request itself with `x-modelmux-request-id` (at most 128 characters
//! of `[A-Za-z0-9._:-]`), unique per tenant: a second request with the same id gets 409
//! (`duplicate_request_id`). The id is claimed in this instance's recent set first (which is
//! what keeps two concurrent requests from both passing), then looked up in the record
//! store (`RecordSink::claim_client_id`). The id counts as used once claimed, whatever the
//! outcome: a retry needs a new id. The answer then carries the client's id in
//! `x-modelmux-request-id` and the gateway's own in `x-modelmux-gateway-request-id`.

use http::{HeaderMap, HeaderName};
use modelmux_wire::WireFormat;

use crate::config::episodes::{EpisodeAlias, EpisodesConfig};
use crate::error::GatewayError;
use crate::ingress::{Inbound, Summary};
use crate::pipeline::RequestCtx;

pub const EPISODE: HeaderName = HeaderName::from_static("x-modelmux-episode");
/// The client's own request id, when it sends one (also the response header's name).
pub const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-modelmux-request-id");
/// The longest episode or client request id accepted.
pub const MAX_ID_LEN: usize = 128;

/// Which request of its episode this is (1 for the first): the assistant messages the
/// conversation holds, plus one.
pub fn turn(summary: &Summary) -> u32 {
    u32::try_from(summary.assistant_turns)
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

/// The episode stage: the client's request id and the episode checked (400 when malformed),
/// the episode and turn set on the request's meta, then the request id claimed (409 when
/// this tenant used it before).
pub async fn begin(ctx: &mut RequestCtx) -> Result<(), GatewayError> {
    let client_id = client_request_id(&ctx.headers)?;
    let episode = resolve(&ctx.trail.state.config.episodes, &ctx.headers, &ctx.inbound)?;
    let meta = &mut ctx.trail.meta;
    meta.episode = Some(episode);
    meta.episode_turn = Some(turn(&ctx.inbound.summary));
    if let Some(id) = client_id {
        let tenant = ctx.caller.tenant();
        if !ctx
            .trail
            .state
            .records
            .claim_client_id(tenant.as_str(), &id)
            .await
        {
            return Err(GatewayError::DuplicateRequestId(id));
        }
        ctx.trail.meta.client_request_id = Some(id);
    }
    Ok(())
}

/// The episode id of a request: the header, an alias, or a fresh UUIDv7.
pub fn resolve(
    config: &EpisodesConfig,
    headers: &HeaderMap,
    inbound: &Inbound,
) -> Result<String, GatewayError> {
    if let Some(v) = headers.get(&EPISODE) {
        return checked(EPISODE.as_str(), v.to_str().ok(), EPISODE_CHARS);
    }
    for alias in &config.aliases {
        let conv: Option<String>;
        let found = match alias {
            EpisodeAlias::Header(h) => headers.get(h).map(|v| v.to_str().ok()),
            EpisodeAlias::Metadata(key) => inbound
                .summary
                .metadata
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Some(v.as_str())),
            EpisodeAlias::Conversation => {
                conv = conversation(inbound);
                conv.as_deref().map(Some)
            }
        };
        if let Some(value) = found {
            return checked(&alias.describe(), value, EPISODE_CHARS);
        }
    }
    Ok(issue())
}

/// A fresh episode id: a UUIDv7 (Unix milliseconds, then 74 random bits). The random part
/// comes from `fastrand`, as `RequestId`'s does: no system call on the request path, and ids
/// are names, not secrets (what a tenant stored only that tenant reads).
pub fn issue() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    fastrand::fill(&mut random);
    let id = uuid::Builder::from_unix_timestamp_millis(ms, &random).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut buf).to_owned()
}

/// The client's `x-modelmux-request-id`, checked; `None` when it sent none.
pub fn client_request_id(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    headers
        .get(&CLIENT_REQUEST_ID)
        .map(|v| {
            checked(
                CLIENT_REQUEST_ID.as_str(),
                v.to_str().ok(),
                REQUEST_ID_CHARS,
            )
        })
        .transpose()
}

/// The Responses API's `conversation`: a string, or an object with a string `id`.
fn conversation(inbound: &Inbound) -> Option<String> {
    if inbound.format != WireFormat::OpenAiResponses {
        return None;
    }
    let raw = inbound.canonical().ok()?.extra.get("conversation")?;
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Object(mut o) => match o.remove("id") {
            Some(serde_json::Value::String(s)) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// The characters an id may use: its description and its test.
#[derive(Clone, Copy)]
struct Chars(&'static str, fn(char) -> bool);

const EPISODE_CHARS: Chars = Chars("letters, digits and . _ : @ / -", |c| {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '/' | '-')
});

const REQUEST_ID_CHARS: Chars = Chars("letters, digits and . _ : -", |c| {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
});

/// The id, when it is 1 to 128 allowed characters; else the 400 naming `from`.
fn checked(from: &str, value: Option<&str>, chars: Chars) -> Result<String, GatewayError> {
    match value {
        Some(v) if !v.is_empty() && v.len() <= MAX_ID_LEN && v.chars().all(chars.1) => {
            Ok(v.to_owned())
        }
        _ => Err(GatewayError::InvalidRequest {
            message: format!(
                "Invalid {from}: expected 1 to {MAX_ID_LEN} characters of {}.",
                chars.0
            ),
            param: Some(from.to_owned()),
            code: Some("invalid_id"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(checked("h", Some("tick-42/a@b.c:d_e"), EPISODE_CHARS).is_ok());
        assert!(checked("h", Some(""), EPISODE_CHARS).is_err());
        assert!(checked("h", Some("a b"), EPISODE_CHARS).is_err());
        assert!(checked("h", Some(&"a".repeat(129)), EPISODE_CHARS).is_err());
        assert!(checked("h", Some(&"a".repeat(128)), EPISODE_CHARS).is_ok());
        assert!(checked("h", Some("a/b"), REQUEST_ID_CHARS).is_err());
        assert!(checked("h", None, REQUEST_ID_CHARS).is_err());
    }

    #[test]
    fn issued_ids_are_uuid_v7() {
        let id = issue();
        let u = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        let (secs, _) = u.get_timestamp().unwrap().to_unix();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(secs) < 5);
        assert_ne!(issue(), id);
    }
}

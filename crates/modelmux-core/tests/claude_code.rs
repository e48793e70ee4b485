//! What Claude Code sends, through modelmux (research/real-clients.md): the body is accepted
//! as is; to an Anthropic-format provider every byte, beta header and stream event passes
//! unchanged (compared byte for byte against a recording upstream); to other formats the
//! Anthropic-only fields are mapped or dropped, the mid-conversation system message keeps its
//! text and place, `max_tokens` is clamped to the target's limit, and route aliases catch the
//! model names the agent picks on its own.

#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn their own servers, clients and concurrent callers, and await them"
)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post as axum_post;
use common::*;
use modelmux_sim::Behaviour;
use serde_json::{Value, json};

const BETAS: &str = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24";

/// A body shaped like Claude Code 2.1.328's first turn (research/real-clients.md).
fn claude_code_body(model: &str, stream: bool) -> String {
    let big = "You are an interactive CLI tool that helps users with software engineering tasks. "
        .repeat(600);
    let tool = |name: &str| {
        json!({"name": name, "description": format!("The {name} tool."), "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": false,
            "properties": {"command": {"type": "string", "maxLength": 10000, "pattern": "^.+$"},
                           "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 120000},
                           "paths": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
                           "mode": {"type": "string", "enum": ["a", "b"]}},
            "required": ["command"]}})
    };
    let tools: Vec<Value> = [
        "Agent",
        "Bash",
        "Edit",
        "Read",
        "Write",
        "Glob",
        "Grep",
        "WebFetch",
        "TodoWrite",
        "NotebookEdit",
        "WebSearch",
        "BashOutput",
    ]
    .iter()
    .map(|n| tool(n))
    .collect();
    // Key order and spacing as a client might send them; the passthrough must keep both.
    let body = json!({
        "model": model,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>context</system-reminder>"}, {"type": "text", "text": "List the files.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "The user is in /work/project."},
            {"role": "user", "content": "Go ahead."}
        ],
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": big, "cache_control": {"type": "ephemeral"}}
        ],
        "tools": tools,
        "metadata": {"user_id": "{\"device_id\":\"d-123\",\"session_id\":\"s-456\"}"},
        "max_tokens": 128000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": stream
    });
    serde_json::to_string_pretty(&body).unwrap()
}

async fn send_messages(gw: &modelmux_core::RunningGateway, body: String) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages?beta=true", gw.url()))
        .header("content-type", "application/json")
        .header("x-api-key", "sk-ant-client-key")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", BETAS)
        .header("x-app", "cli")
        .header("x-claude-code-session-id", "s-456")
        .header("x-stainless-lang", "js")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[derive(Default)]
struct Recorded {
    body: Vec<u8>,
    headers: HeaderMap,
}

/// An Anthropic-format upstream that records what it receives and answers canned bytes.
async fn recording_upstream(
    json_answer: &'static str,
    sse_answer: &'static str,
) -> (String, Arc<Mutex<Recorded>>) {
    let rec = Arc::new(Mutex::new(Recorded::default()));
    let r = rec.clone();
    let app = Router::new().route(
        "/v1/messages",
        axum_post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let stream = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["stream"].as_bool())
                    .unwrap_or(false);
                *r.lock().unwrap() = Recorded {
                    body: body.to_vec(),
                    headers,
                };
                if stream {
                    ([("content-type", "text/event-stream")], sse_answer)
                } else {
                    ([("content-type", "application/json")], json_answer)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), rec)
}

const CANNED_JSON: &str = "{\"id\":\"msg_01XYZ\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\n \"content\":[{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"EqQBCkYIBxgCKkDsig==\"},{\"type\":\"text\",\"text\":\"Here are the files.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2000,\"output_tokens\":7,\"service_tier\":\"standard\"},\"container\":null}";

const CANNED_SSE: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XYZ\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2000,\"output_tokens\":1}}}\n\n\
event: ping\ndata: {\"type\": \"ping\"}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCkYIBxgCKkDsig==\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01A\",\"name\":\"Bash\",\"input\":{}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"ls\\\"}\"}}\n\n\
event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":25}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

#[tokio::test]
async fn passthrough_to_anthropic_is_byte_faithful() {
    let (base, rec) = recording_upstream(CANNED_JSON, CANNED_SSE).await;
    let gw = gateway(&format!(
        "[providers.claude]\nkind = \"anthropic\"\nbase_url = \"{base}\"\napi_key = \"sk-ant-provider-key\"\n[providers.claude.models.\"claude-sonnet-4-5\"]\nmax_output_tokens = 64000\n\
         [[routes]]\nname = \"sonnet\"\ntargets = [\"claude/claude-sonnet-4-5\"]\n"
    ))
    .await;
    for stream in [false, true] {
        let sent = claude_code_body("sonnet", stream);
        assert!(sent.len() > 50_000, "a Claude Code first turn is ~50 KB");
        let resp = send_messages(&gw, sent.clone()).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "x-modelmux-clamped"),
            "max_tokens=128000->64000"
        );
        let got = resp.bytes().await.unwrap();
        assert_eq!(
            std::str::from_utf8(&got).unwrap(),
            if stream { CANNED_SSE } else { CANNED_JSON },
            "the answer must arrive unchanged"
        );

        let r = rec.lock().unwrap();
        // Only the model and the over-limit max_tokens differ; every other byte is the client's.
        let expected = sent
            .replacen(
                "\"model\": \"sonnet\"",
                "\"model\": \"claude-sonnet-4-5\"",
                1,
            )
            .replacen("\"max_tokens\": 128000", "\"max_tokens\": 64000", 1);
        assert_eq!(std::str::from_utf8(&r.body).unwrap(), expected);
        assert_eq!(r.headers["anthropic-beta"], BETAS);
        assert_eq!(r.headers["anthropic-version"], "2023-06-01");
        assert_eq!(r.headers["x-app"], "cli");
        assert_eq!(r.headers["x-claude-code-session-id"], "s-456");
        assert_eq!(
            r.headers["x-api-key"], "sk-ant-provider-key",
            "the client's key is replaced by the provider's"
        );
        assert_eq!(r.headers.get_all("x-api-key").iter().count(), 1);
        assert_eq!(r.headers.get_all("anthropic-version").iter().count(), 1);
        assert!(
            r.headers.get("x-stainless-lang").is_none(),
            "SDK telemetry headers stay with the client"
        );
    }
}

#[tokio::test]
async fn claude_code_on_an_openai_format_target() {
    let s = sim(&[("gpt-4o-mini", Behaviour::default())]).await;
    let gw = gateway(&format!(
        "{}\n[providers.p.models.\"gpt-4o-mini\"]\nmax_output_tokens = 16384\n\
         [[routes]]\nname = \"cheap\"\ntargets = [\"p/gpt-4o-mini\"]\naliases = [\"claude-*-haiku-*\"]\n",
        providers(&[("p", &s)])
    ))
    .await;
    let resp = send_messages(&gw, claude_code_body("claude-3-5-haiku-20241022", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-modelmux-route"), "cheap");
    assert_eq!(header(&resp, "x-modelmux-alias"), "claude-*-haiku-*");
    assert_eq!(
        header(&resp, "x-modelmux-clamped"),
        "max_tokens=128000->16384"
    );
    let text = body_text(resp).await;
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("data: {\"type\":\"message_stop\"}"),
        "{text}"
    );

    let req = s.last_request("gpt-4o-mini").unwrap();
    let sent: Value = serde_json::from_slice(&req.body).unwrap();
    for absent in [
        "context_management",
        "output_config",
        "thinking",
        "system",
        "metadata",
        "max_tokens",
    ] {
        assert!(
            sent.get(absent).is_none(),
            "{absent} must not reach an OpenAI-format target: {sent}"
        );
    }
    assert_eq!(sent["max_completion_tokens"], 16384);
    assert_eq!(
        sent["reasoning_effort"], "high",
        "output_config.effort maps to reasoning_effort"
    );
    assert_eq!(sent["tools"].as_array().unwrap().len(), 12);
    assert_eq!(
        sent["tools"][1]["function"]["parameters"]["properties"]["timeout"]["exclusiveMinimum"],
        0
    );
    let msgs = sent["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "system", "user"], "{msgs:#?}");
    assert!(
        msgs[2]["content"]
            .as_str()
            .unwrap()
            .contains("/work/project"),
        "the mid-conversation system message keeps its text and place"
    );
    for h in ["anthropic-beta", "anthropic-version", "x-api-key", "x-app"] {
        assert!(
            req.headers.get(h).is_none(),
            "{h} must not be forwarded to another format"
        );
    }
}

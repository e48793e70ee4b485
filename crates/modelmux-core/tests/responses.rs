//! The Responses API inbound over every target kind: a tool call comes back as a
//! `function_call` item (never lost), its output goes back with the same `call_id`, streams
//! carry the full event sequence, and `store`/`previous_response_id`/GET/DELETE work from
//! modelmux's own store whatever the target keeps.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

async fn kind_gateway(kind: &str) -> (modelmux_core::RunningGateway, SimHandle) {
    let mut cfg = SimConfig::default();
    cfg.models.insert(
        "m".into(),
        Behaviour {
            output_tokens: 5,
            ..Behaviour::default()
        },
    );
    if kind == "bedrock" {
        cfg.aws_access_key_id = Some("AKID".into());
        cfg.aws_secret_access_key = Some("secret".into());
    }
    let s = modelmux_sim::bind(cfg).await.unwrap();
    let root = s.root_url();
    let block = match kind {
        "responses" => format!("kind = \"openai\"\nbase_url = \"{root}/v1\"\nresponses_api = true"),
        "openai" => format!("kind = \"openai\"\nbase_url = \"{root}/v1\""),
        "anthropic" => format!("kind = \"anthropic\"\nbase_url = \"{root}/v1\"\napi_key = \"k\""),
        "gemini" => format!("kind = \"gemini\"\nbase_url = \"{root}/v1beta\"\napi_key = \"k\""),
        "bedrock" => format!(
            "kind = \"bedrock\"\nbase_url = \"{root}\"\nregion = \"us-east-1\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"secret\""
        ),
        _ => unreachable!(),
    };
    let gw = gateway(&format!(
        "[providers.p]\n{block}\n[[routes]]\nname = \"r\"\ntargets = [\"p/m\"]\nnum_retries = 0\n"
    ))
    .await;
    (gw, s)
}

async fn create(gw: &modelmux_core::RunningGateway, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/responses", gw.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn tools() -> Value {
    json!([{"type": "function", "name": "exec_command", "description": "Run a command",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}},
           {"type": "web_search"}])
}

const KINDS: [&str; 5] = ["responses", "openai", "anthropic", "gemini", "bedrock"];

#[tokio::test]
async fn tool_calls_round_trip_on_every_kind() {
    for kind in KINDS {
        let (gw, s) = kind_gateway(kind).await;
        let first = json!({"model": "r", "instructions": "Be brief.", "tools": tools(), "store": false,
            "input": [{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You run commands."}]},
                      {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List files"}]}]});
        let resp = create(&gw, &first).await;
        assert_eq!(resp.status(), 200, "{kind}: {}", resp.text().await.unwrap());
        let v = json_of(resp).await;
        assert_eq!(v["object"], "response", "{kind}: {v}");
        let call = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap_or_else(|| panic!("{kind}: the tool call was lost: {v}"))
            .clone();
        assert_eq!(call["name"], "exec_command", "{kind}");
        let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert!(args["cmd"].is_string(), "{kind}: {args}");
        if kind != "responses" {
            assert!(
                header(&create(&gw, &first).await, "x-modelmux-decision")
                    .contains("dropped_tools=web_search"),
                "{kind}"
            );
            let sent = String::from_utf8_lossy(&s.last_request("m").unwrap().body).to_string();
            assert!(
                !sent.contains("web_search"),
                "{kind}: a built-in tool the target lacks must be dropped: {sent}"
            );
        }
        let mut input = first["input"].as_array().unwrap().clone();
        input.push(call.clone());
        input.push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt b.txt"}));
        let second = json!({"model": "r", "tools": tools(), "store": false, "input": input});
        let v = json_of(create(&gw, &second).await).await;
        let text = v["output"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == "message")
            .flat_map(|m| {
                m["content"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|c| c["text"].as_str())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect::<String>();
        assert!(text.contains("a.txt b.txt"), "{kind}: {v}");
        assert!(
            v["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{kind}: {v}"
        );
    }
}

#[tokio::test]
async fn streams_carry_the_full_event_sequence() {
    for kind in KINDS {
        let (gw, _s) = kind_gateway(kind).await;
        let body = json!({"model": "r", "stream": true, "store": false, "input": "Say hi"});
        let text = body_text(create(&gw, &body).await).await;
        let events: Vec<Value> = text
            .split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                serde_json::from_str(e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap())
                    .unwrap()
            })
            .collect();
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            types.first(),
            Some(&"response.created"),
            "{kind}: {types:?}"
        );
        assert_eq!(
            types.last(),
            Some(&"response.completed"),
            "{kind}: {types:?}"
        );
        assert!(
            types.contains(&"response.output_text.delta"),
            "{kind}: {types:?}"
        );
        let seq: Vec<u64> = events
            .iter()
            .filter_map(|e| e["sequence_number"].as_u64())
            .collect();
        assert!(
            seq.windows(2).all(|w| w[1] > w[0]),
            "{kind}: sequence numbers increase: {seq:?}"
        );
        let done = events.last().unwrap();
        assert!(
            done["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{kind}: {done}"
        );
    }
}

#[tokio::test]
async fn stored_responses_continue_on_any_target() {
    for kind in ["openai", "anthropic", "responses"] {
        let (gw, _s) = kind_gateway(kind).await;
        let v =
            json_of(create(&gw, &json!({"model": "r", "input": "ECHO: first turn"})).await).await;
        let id = v["id"].as_str().unwrap().to_owned();
        let got = json_of(
            client()
                .get(format!("{}/v1/responses/{id}", gw.url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got["id"], id.as_str(), "{kind}");
        // The second turn sends only the new input; modelmux puts the first back.
        let v2 = json_of(
            create(
                &gw,
                &json!({"model": "r", "previous_response_id": id, "input": "and again"}),
            )
            .await,
        )
        .await;
        let id2 = v2["id"].as_str().unwrap().to_owned();
        let items = json_of(
            client()
                .get(format!("{}/v1/responses/{id2}/input_items", gw.url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let n = items["data"].as_array().unwrap().len();
        assert_eq!(
            n, 3,
            "{kind}: first input, first output, second input: {items}"
        );
        let del = client()
            .delete(format!("{}/v1/responses/{id}", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(del.status(), 200);
        let gone = client()
            .get(format!("{}/v1/responses/{id}", gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 404);
        let resp = create(
            &gw,
            &json!({"model": "r", "previous_response_id": id, "input": "x"}),
        )
        .await;
        assert_eq!(resp.status(), 404, "{kind}");
    }
}

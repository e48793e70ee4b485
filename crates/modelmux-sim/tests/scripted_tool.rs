//! `Behaviour.tool_call`: a model scripted (in TOML) to call one named tool with fixed arguments
//! does so in every wire format, on a user turn that offers the tool; the generated call is made
//! otherwise; after the tool result it answers "The tool returned: ...".

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use common::*;
use modelmux_sim::{ScriptedCall, SimConfig, SimHandle};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[models.scripted]
tool_call = { name = "Bash", arguments = { command = "echo marker-42", description = "print a marker" } }
"#;

fn args() -> Value {
    json!({"command": "echo marker-42", "description": "print a marker"})
}

async fn scripted_sim() -> SimHandle {
    let config: SimConfig = toml::from_str(CONFIG).unwrap();
    assert_eq!(
        config.models["scripted"].tool_call,
        Some(ScriptedCall {
            name: "Bash".into(),
            arguments: args()
        })
    );
    sim(config).await
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]})
}

async fn send(req: reqwest::RequestBuilder, body: &Value) -> Value {
    let resp = req
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    json_of(resp).await
}

#[test]
fn arguments_default_to_an_empty_object_and_unknown_keys_are_rejected() {
    let c: SimConfig = toml::from_str("[default]\ntool_call = { name = \"now\" }").unwrap();
    assert_eq!(c.default.tool_call.unwrap().arguments, json!({}));
    assert!(toml::from_str::<SimConfig>("[default]\ntool_call = { nme = \"now\" }").is_err());
}

#[tokio::test]
async fn openai_calls_the_scripted_tool_then_answers_its_result() {
    let sim = scripted_sim().await;
    let url = format!("{}/chat/completions", sim.base_url());
    let tools = json!([
        {"type": "function", "function": {"name": "Read", "parameters": schema()}},
        {"type": "function", "function": {"name": "Bash", "parameters": schema()}}
    ]);
    let mut b = json!({"model": "scripted", "tools": tools,
        "messages": [{"role": "user", "content": "Run it"}]});
    let v = send(client().post(&url), &b).await;
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(call["function"]["name"], "Bash");
    let got: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(got, args());

    // Streamed: the same call, arguments in fragments.
    b["stream"] = json!(true);
    let text = client()
        .post(&url)
        .header("content-type", "application/json")
        .body(b.to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let chunks = chunks(&text);
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments"))
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&streamed).unwrap(), args());

    // Without the tool on offer: the generated call of the first tool.
    b["stream"] = json!(false);
    b["tools"] = json!([tools[0]]);
    let v = send(client().post(&url), &b).await;
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "Read"
    );

    // tool_choice none: text.
    b["tools"] = tools.clone();
    b["tool_choice"] = json!("none");
    let v = send(client().post(&url), &b).await;
    assert!(v["choices"][0]["message"]["tool_calls"].is_null());

    b["tool_choice"] = json!("auto");
    let id = call["id"].as_str().unwrap();
    b["messages"] = json!([
        {"role": "user", "content": "Run it"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": id, "content": "marker-42"}
    ]);
    let v = send(client().post(&url), &b).await;
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "The tool returned: marker-42"
    );
}

#[tokio::test]
async fn anthropic_calls_the_scripted_tool_then_answers_its_result() {
    let sim = scripted_sim().await;
    let post = || {
        client()
            .post(format!("{}/v1/messages?beta=true", sim.root_url()))
            .header("anthropic-version", "2023-06-01")
    };
    let mut b = json!({"model": "scripted", "max_tokens": 100,
        "tools": [{"name": "Read", "input_schema": schema()}, {"name": "Bash", "input_schema": schema()}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Run it"}]},
            // Claude Code sends its environment as a system message after the user's turn.
            {"role": "system", "content": [{"type": "text", "text": "# Environment"}]}]});
    let v = send(post(), &b).await;
    assert_eq!(v["stop_reason"], "tool_use");
    let call = v["content"][0].clone();
    assert_eq!(
        (call["type"].as_str(), call["name"].as_str(), &call["input"]),
        (Some("tool_use"), Some("Bash"), &args())
    );
    b["messages"] = json!([
        {"role": "user", "content": "Run it"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "marker-42"}]},
        {"role": "system", "content": "# Environment"}
    ]);
    let v = send(post(), &b).await;
    assert_eq!(v["content"][0]["text"], "The tool returned: marker-42");
}

#[tokio::test]
async fn gemini_calls_the_scripted_tool_then_answers_its_result() {
    let sim = scripted_sim().await;
    let post = || {
        client()
            .post(format!(
                "{}/v1beta/models/scripted:generateContent",
                sim.root_url()
            ))
            .header("x-goog-api-key", "g-key")
    };
    let mut b = json!({"tools": [{"functionDeclarations": [
            {"name": "Read", "parameters": {"type": "OBJECT", "properties": {}}},
            {"name": "Bash", "parameters": {"type": "OBJECT", "properties": {}}}]}],
        "contents": [{"role": "user", "parts": [{"text": "Run it"}]}]});
    let v = send(post(), &b).await;
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(
        (call["name"].as_str(), &call["args"]),
        (Some("Bash"), &args())
    );
    b["contents"] = json!([
        {"role": "user", "parts": [{"text": "Run it"}]},
        {"role": "model", "parts": [{"functionCall": call}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "Bash", "response": {"result": "marker-42"}}}]}
    ]);
    let v = send(post(), &b).await;
    let text = v["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.starts_with("The tool returned: ") && text.contains("marker-42"),
        "{text}"
    );
}

#[tokio::test]
async fn bedrock_calls_the_scripted_tool_then_answers_its_result() {
    let sim = scripted_sim().await;
    let post = || {
        client()
            .post(format!("{}/model/scripted/converse", sim.root_url()))
            .bearer_auth("br-key")
    };
    let spec = |name: &str| json!({"toolSpec": {"name": name, "inputSchema": {"json": schema()}}});
    let mut b = json!({"toolConfig": {"tools": [spec("Read"), spec("Bash")]},
        "messages": [{"role": "user", "content": [{"text": "Run it"}]}]});
    let v = send(post(), &b).await;
    assert_eq!(v["stopReason"], "tool_use");
    let tool = v["output"]["message"]["content"][0]["toolUse"].clone();
    assert_eq!(
        (tool["name"].as_str(), &tool["input"]),
        (Some("Bash"), &args())
    );
    b["messages"] = json!([
        {"role": "user", "content": [{"text": "Run it"}]},
        {"role": "assistant", "content": [{"toolUse": tool}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": tool["toolUseId"], "content": [{"text": "marker-42"}]}}]}
    ]);
    let v = send(post(), &b).await;
    assert_eq!(
        v["output"]["message"]["content"][0]["text"],
        "The tool returned: marker-42"
    );
}

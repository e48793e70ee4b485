//! The OpenAI Responses API (`POST /v1/responses`) as the simulator speaks it, on the same
//! listener as Chat Completions: parsing `input` (a string or items) and `tools` into the
//! neutral request with its own small reader (`read`, in `responses_read.rs`: the simulator is
//! the independent reference and shares no code with the gateway's translator), and rendering the `Response` object and the
//! event sequence a Responses client reads: `response.created`, `response.in_progress`, per
//! output item `output_item.added` → deltas → `.done` events (reasoning summary, message text,
//! function-call arguments), then `response.completed` (`response.incomplete` when cut by
//! `max_output_tokens`), every event with `sequence_number` 0, 1, 2, ... and one response id
//! and one id per item throughout. Tool calls are `function_call` items.
//!
//! Reading: `message` items keep their text (developer and system are `System`);
//! `function_call` items (grouped when consecutive) are the assistant's calls;
//! `function_call_output` / `custom_tool_call_output` items are tool results; `instructions`
//! is a leading system message. Function tools are offered as they are; the function tools
//! nested in a `namespace` tool are offered as `<namespace>/<name>` (a `/` cannot occur in a
//! tool name), and a call to one is rendered with `name` and `namespace` apart; custom and
//! built-in tools are not offered. Faults: an `error_event` fault sends `response.failed`
//! (without a `sequence_number`, as the frame is rendered before its position is known).

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response};
use serde_json::{Value, json};

use crate::exchange::{Frame, FrameKind, Rejected, Wire};
use crate::fault::{RetryAfter, status_error};
use crate::openai::context_error;
#[path = "responses_read.rs"]
mod read;

use read::parse;

use crate::plan::{Answer, Finish, Output, Request, fragments};
use crate::server::{SimBody, authorized, error, json_response, set_header, unauthorized};
use crate::stats::State;

/// OpenAI Responses (`/v1/responses`).
pub(crate) struct Responses;

impl Wire for Responses {
    fn parse(&self, _parts: &Parts, body: &[u8]) -> Result<Request, Rejected> {
        parse(body).map_err(|(model, msg)| Rejected {
            model,
            response: error(400, &msg, "invalid_request_error", None),
        })
    }

    fn authorize(&self, state: &State, parts: &Parts, _: &[u8]) -> Result<(), Response<SimBody>> {
        if authorized(state.api_key.as_deref(), &parts.headers) {
            Ok(())
        } else {
            Err(unauthorized())
        }
    }

    fn bad_request(&self, message: &str) -> Response<SimBody> {
        error(400, message, "invalid_request_error", None)
    }

    fn status_error(&self, code: u16, _: Option<&RetryAfter>) -> Response<SimBody> {
        let (message, ty, err_code) = status_error(code);
        error(code, message, ty, err_code)
    }

    fn context_error(&self, window: u32, prompt: u32, completion: u32) -> Response<SimBody> {
        json_response(400, context_error(window, prompt, completion))
    }

    fn json(&self, answer: &Answer) -> Bytes {
        let r = response(answer, status(answer), output(answer));
        Bytes::from(r.to_string())
    }

    fn stream(&self, answer: &Answer, keepalives: u32) -> Vec<Frame> {
        stream(answer, keepalives)
    }

    fn error_event(&self) -> Bytes {
        let failed = json!({"type": "response.failed", "response": failed_response()});
        event("response.failed", &failed)
    }

    fn error_body(&self) -> Bytes {
        Bytes::from(failed_response().to_string())
    }

    fn decorate(&self, headers: &mut HeaderMap, elapsed_ms: u128) {
        set_header(headers, "openai-processing-ms", elapsed_ms);
    }
}

fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn status(a: &Answer) -> &'static str {
    match a.finish() {
        Some(Finish::Length) => "incomplete",
        _ => "completed",
    }
}

fn usage(a: &Answer) -> Value {
    let (p, c) = (a.prompt_tokens, a.completion_tokens());
    json!({
        "input_tokens": p, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": c, "output_tokens_details": {"reasoning_tokens": a.thinking_tokens()},
        "total_tokens": u64::from(p) + u64::from(c),
    })
}

/// A `Response` object; `output` is the list of items (empty while in progress).
fn response(a: &Answer, status: &str, output: Vec<Value>) -> Value {
    let done = status != "in_progress";
    json!({
        "id": format!("resp_{}", a.id), "object": "response", "created_at": created(),
        "status": status, "completed_at": if status == "completed" { json!(created()) } else { Value::Null },
        "error": null,
        "incomplete_details": if status == "incomplete" { json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "instructions": null, "max_output_tokens": null, "model": a.model, "output": output,
        "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null}, "store": false, "temperature": 1.0,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled", "usage": if done { usage(a) } else { Value::Null },
        "user": null, "metadata": {},
    })
}

fn failed_response() -> Value {
    json!({
        "id": "resp_simfailed", "object": "response", "created_at": created(), "status": "failed",
        "error": {"code": "server_error", "message": "simulated upstream error"},
        "incomplete_details": null, "model": "", "output": [], "usage": null,
    })
}

fn item_id(prefix: &str, a: &Answer, index: usize) -> String {
    format!("{prefix}_{}{index:02}", a.id)
}

fn reasoning_item(a: &Answer, index: usize, text: &str, done: bool) -> Value {
    let id = item_id("rs", a, index);
    if done {
        json!({"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
    } else {
        json!({"id": id, "type": "reasoning", "summary": []})
    }
}

fn message_item(a: &Answer, index: usize, text: Option<&str>) -> Value {
    let (status, content) = match text {
        Some(t) => (
            "completed",
            json!([{"type": "output_text", "text": t, "annotations": [], "logprobs": []}]),
        ),
        None => ("in_progress", json!([])),
    };
    json!({"id": item_id("msg", a, index), "type": "message", "status": status, "role": "assistant", "content": content})
}

fn call_item(a: &Answer, index: usize, call_id: &str, name: &str, args: Option<&str>) -> Value {
    let (status, arguments) = match args {
        Some(s) => ("completed", s),
        None => ("in_progress", ""),
    };
    let mut item = json!({"id": item_id("fc", a, index), "type": "function_call", "status": status,
        "call_id": call_id, "name": name, "arguments": arguments});
    if let Some((ns, inner)) = name.split_once('/') {
        item["name"] = json!(inner);
        item["namespace"] = json!(ns);
    }
    item
}

/// The complete output items of an answer.
fn output(a: &Answer) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(t) = &a.thinking {
        items.push(reasoning_item(a, 0, &t.text(), true));
    }
    match &a.output {
        Output::Text { pieces, .. } => {
            items.push(message_item(a, items.len(), Some(&pieces.concat())));
        }
        Output::Tools(calls) => {
            for c in calls {
                let index = items.len();
                items.push(call_item(a, index, &c.id, &c.name, Some(&c.arguments)));
            }
        }
    }
    items
}

fn event(ty: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {ty}\ndata: {data}\n\n"))
}

/// Every frame of a Responses stream.
fn stream(a: &Answer, keepalives: u32) -> Vec<Frame> {
    let mut out: Vec<Frame> = (0..keepalives)
        .map(|_| Frame::new(FrameKind::Head, &b": keep-alive\n\n"[..]))
        .collect();
    let mut seq = 0u64;
    let mut push = |out: &mut Vec<Frame>, kind: FrameKind, ty: &str, mut data: Value| {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(seq);
        seq += 1;
        out.push(Frame::new(kind, event(ty, &data)));
    };
    let head = FrameKind::Head;
    let in_progress = response(a, "in_progress", Vec::new());
    push(
        &mut out,
        head,
        "response.created",
        json!({"response": in_progress}),
    );
    push(
        &mut out,
        head,
        "response.in_progress",
        json!({"response": in_progress}),
    );
    let mut index = 0usize;
    if let Some(t) = &a.thinking {
        let id = item_id("rs", a, index);
        let oi = index;
        push(
            &mut out,
            head,
            "response.output_item.added",
            json!({"output_index": oi, "item": reasoning_item(a, oi, "", false)}),
        );
        push(
            &mut out,
            head,
            "response.reasoning_summary_part.added",
            json!({"item_id": id, "output_index": oi, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
        );
        for p in &t.pieces {
            push(
                &mut out,
                FrameKind::Content,
                "response.reasoning_summary_text.delta",
                json!({"item_id": id, "output_index": oi, "summary_index": 0, "delta": p}),
            );
        }
        let text = t.text();
        push(
            &mut out,
            head,
            "response.reasoning_summary_text.done",
            json!({"item_id": id, "output_index": oi, "summary_index": 0, "text": text}),
        );
        push(
            &mut out,
            head,
            "response.reasoning_summary_part.done",
            json!({"item_id": id, "output_index": oi, "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
        );
        push(
            &mut out,
            head,
            "response.output_item.done",
            json!({"output_index": oi, "item": reasoning_item(a, oi, &text, true)}),
        );
        index += 1;
    }
    match &a.output {
        Output::Text { pieces, .. } => {
            let id = item_id("msg", a, index);
            let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": [], "logprobs": []});
            push(
                &mut out,
                head,
                "response.output_item.added",
                json!({"output_index": index, "item": message_item(a, index, None)}),
            );
            push(
                &mut out,
                head,
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": part("")}),
            );
            for p in pieces {
                push(
                    &mut out,
                    FrameKind::Content,
                    "response.output_text.delta",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "delta": p, "logprobs": []}),
                );
            }
            let text = pieces.concat();
            push(
                &mut out,
                head,
                "response.output_text.done",
                json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
            );
            push(
                &mut out,
                head,
                "response.content_part.done",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": part(&text)}),
            );
            push(
                &mut out,
                head,
                "response.output_item.done",
                json!({"output_index": index, "item": message_item(a, index, Some(&text))}),
            );
        }
        Output::Tools(calls) => {
            for c in calls {
                let id = item_id("fc", a, index);
                push(
                    &mut out,
                    head,
                    "response.output_item.added",
                    json!({"output_index": index, "item": call_item(a, index, &c.id, &c.name, None)}),
                );
                for frag in fragments(&c.arguments) {
                    push(
                        &mut out,
                        FrameKind::Content,
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": index, "delta": frag}),
                    );
                }
                let name = c.name.split_once('/').map_or(c.name.as_str(), |(_, n)| n);
                push(
                    &mut out,
                    head,
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "name": name, "arguments": c.arguments}),
                );
                push(
                    &mut out,
                    head,
                    "response.output_item.done",
                    json!({"output_index": index, "item": call_item(a, index, &c.id, &c.name, Some(&c.arguments))}),
                );
                index += 1;
            }
        }
    }
    let st = status(a);
    let terminal = if st == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    push(
        &mut out,
        FrameKind::Tail,
        terminal,
        json!({"response": response(a, st, output(a))}),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_reads_items_tools_and_rejects_bad_bodies() {
        let body = br#"{"model":"m","instructions":"be brief","input":[
            {"type":"message","role":"developer","content":[{"type":"input_text","text":"dev"}]},
            {"role":"user","content":"hi"},
            {"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},
            {"type":"function_call","call_id":"c2","name":"g","arguments":"{}"},
            {"type":"function_call_output","call_id":"c1","output":"r1"}],
            "tools":[{"type":"function","name":"f"},{"type":"web_search"},
              {"type":"namespace","name":"ns","tools":[{"type":"function","name":"inner"}]}],
            "max_output_tokens":7,"stream":true}"#;
        let r = parse(body).unwrap();
        assert_eq!(r.messages.len(), 5);
        assert_eq!(r.messages[3].tool_calls.len(), 2);
        assert_eq!(r.messages[4].tool_results, vec!["r1".to_owned()]);
        let names: Vec<&str> = r.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["f", "ns/inner"]);
        assert_eq!((r.max_tokens, r.stream), (Some(7), true));
        assert_eq!(
            parse(br#"{"model":"m","input":"x"}"#)
                .unwrap()
                .messages
                .len(),
            1
        );
        assert!(parse(b"{not json").is_err());
        assert!(parse(br#"{"input":"x"}"#).is_err());
        let (model, _) =
            parse(br#"{"model":"m","input":[{"type":"item_reference","id":"x"}]}"#).unwrap_err();
        assert_eq!(model.as_deref(), Some("m"));
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    async fn post(sim: &crate::SimHandle, body: &Value) -> reqwest::Response {
        client()
            .post(format!("{}/responses", sim.base_url()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn json_of(resp: reqwest::Response) -> Value {
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }

    /// `(event, data)` of each SSE event, checking `event:` = `data.type` and the numbering.
    fn events(text: &str) -> Vec<(String, Value)> {
        let out: Vec<(String, Value)> = text
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (ev, data) = e.split_once('\n').unwrap();
                let ev = ev.strip_prefix("event: ").unwrap().to_owned();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], ev);
                (ev, data)
            })
            .collect();
        for (i, (_, d)) in out.iter().enumerate() {
            assert_eq!(d["sequence_number"], i);
        }
        out
    }

    fn exec_tool() -> Value {
        json!({"type": "function", "name": "exec_command", "strict": false, "parameters":
            {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}})
    }

    #[tokio::test]
    async fn json_answer_over_loopback() {
        let sim = crate::bind(crate::SimConfig::default()).await.unwrap();
        let resp = post(
            &sim,
            &json!({"model": "gpt-5", "input": "ECHO: hello there"}),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let v: Value = json_of(resp).await;
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert!(v["id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(v["output"][0]["content"][0]["text"], "hello there");
        assert!(v["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert_eq!(sim.requests("gpt-5"), 1);
        let last = sim.last_request("gpt-5").unwrap();
        assert_eq!(last.path_and_query, "/v1/responses");
        // A bad body is a 400 in OpenAI's error shape.
        let bad = post(&sim, &json!({"input": "x"})).await;
        assert_eq!(bad.status(), 400);
        let e: Value = json_of(bad).await;
        assert!(e["error"]["message"].as_str().unwrap().contains("model"));
    }

    #[tokio::test]
    async fn text_stream_over_loopback() {
        let sim = crate::bind(crate::SimConfig::default()).await.unwrap();
        let resp = post(
            &sim,
            &json!({"model": "m", "stream": true, "input": "ECHO: a b c"}),
        )
        .await;
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let ev = events(&resp.text().await.unwrap());
        let types: Vec<&str> = ev.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            types[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ]
        );
        assert_eq!(
            types[types.len() - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let id = ev[0].1["response"]["id"].clone();
        assert_eq!(ev.last().unwrap().1["response"]["id"], id);
        let text: String = ev
            .iter()
            .filter(|(t, _)| t == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(text, "a b c");
        let item_id = &ev[2].1["item"]["id"];
        assert!(
            ev[3..ev.len() - 1]
                .iter()
                .all(|(_, d)| &d["item_id"] == item_id || d.get("item_id").is_none())
        );
    }

    #[tokio::test]
    async fn tool_call_and_tool_turn_over_loopback() {
        let sim = crate::bind(crate::SimConfig::default()).await.unwrap();
        let parallel = crate::Behaviour {
            parallel_tool_calls: true,
            ..crate::Behaviour::default()
        };
        sim.set_behaviour("codex", parallel);
        let ns = json!({"type": "namespace", "name": "multi_agent_v1", "description": "", "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object",
                "properties": {"message": {"type": "string"}}, "required": ["message"]}}]});
        let body = json!({"model": "codex", "stream": true, "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]}],
            "tools": [exec_tool(), ns, {"type": "web_search"}], "parallel_tool_calls": true});
        let ev = events(&post(&sim, &body).await.text().await.unwrap());
        let done: Vec<&Value> = ev
            .iter()
            .filter(|(t, _)| t == "response.output_item.done")
            .map(|(_, d)| &d["item"])
            .collect();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0]["type"], "function_call");
        assert_eq!(done[0]["name"], "exec_command");
        assert_eq!(done[1]["name"], "spawn_agent");
        assert_eq!(done[1]["namespace"], "multi_agent_v1");
        let args_done: Vec<&Value> = ev
            .iter()
            .filter(|(t, _)| t == "response.function_call_arguments.done")
            .map(|(_, d)| d)
            .collect();
        assert_eq!(args_done[0]["name"], "exec_command");
        assert_eq!(args_done[0]["item_id"], done[0]["id"]);
        let args: Value =
            serde_json::from_str(args_done[0]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["cmd"].is_string());
        let completed = &ev.last().unwrap().1["response"];
        assert_eq!(completed["output"].as_array().unwrap().len(), 2);
        // The tool turn: the result is answered, no new call.
        let call_id = done[0]["call_id"].as_str().unwrap();
        let turn = json!({"model": "codex", "input": [
            {"type": "message", "role": "user", "content": "list files"},
            {"type": "function_call", "call_id": call_id, "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": call_id, "output": "Cargo.toml"}],
            "tools": [exec_tool()]});
        let v: Value = json_of(post(&sim, &turn).await).await;
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(
            v["output"][0]["content"][0]["text"],
            "The tool returned: Cargo.toml"
        );
        assert_eq!(sim.requests("codex"), 2);
    }

    #[tokio::test]
    async fn faults_and_limits_over_loopback() {
        let sim = crate::bind(crate::SimConfig::default()).await.unwrap();
        sim.push_faults(
            "m",
            ["429".parse().unwrap(), "error_event:1".parse().unwrap()],
        );
        let r = post(&sim, &json!({"model": "m", "input": "hi"})).await;
        assert_eq!(r.status(), 429);
        let text = post(&sim, &json!({"model": "m", "stream": true, "input": "hi"}))
            .await
            .text()
            .await
            .unwrap();
        assert!(text.contains("event: response.failed"));
        assert!(!text.contains("response.completed"));
        let limited = json!({"model": "m", "input": "hi", "max_output_tokens": 2});
        let v: Value = json_of(post(&sim, &limited).await).await;
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
    }
}

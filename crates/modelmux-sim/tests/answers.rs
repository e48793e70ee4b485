//! Normal answers over loopback HTTP: JSON shape and usage, streams with and without usage,
//! tool calls (single, streamed, parallel), tool results, echo and fixed replies.

mod common;

use common::*;
use modelmux_sim::{Behaviour, SimConfig};
use serde_json::{Value, json};

const TWELVE: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";

#[tokio::test]
async fn non_stream_answer_has_openai_shape_and_usage() {
    let sim = sim(SimConfig::default()).await;
    let resp = post(&sim, &body("gpt-x", false)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(
        resp.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert!(resp.headers().contains_key("openai-processing-ms"));
    let v = json_of(resp).await;
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-") && id.len() == 33, "{id}");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-x");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(
        v["choices"],
        json!([{"index": 0, "message": {"role": "assistant", "content": TWELVE, "refusal": null, "annotations": []},
                "logprobs": null, "finish_reason": "stop"}])
    );
    // "You are terse." + "Say hi" = 20 chars → 5 tokens, + 3 per message.
    assert_eq!(v["usage"]["prompt_tokens"], 11);
    assert_eq!(v["usage"]["completion_tokens"], 12);
    assert_eq!(v["usage"]["total_tokens"], 23);
    assert_eq!(
        v["usage"]["prompt_tokens_details"],
        json!({"cached_tokens": 0, "audio_tokens": 0})
    );
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(
        (v["service_tier"].as_str(), v["system_fingerprint"].as_str()),
        (Some("default"), Some("fp_modelmux_sim"))
    );
    assert_eq!(v["sim_extra"], json!({"echo": true}));
}

#[tokio::test]
async fn max_tokens_caps_the_answer_with_length() {
    let sim = sim(SimConfig::default()).await;
    let mut b = body("m", false);
    b["max_completion_tokens"] = json!(3);
    let v = json_of(post(&sim, &b).send().await.unwrap()).await;
    assert_eq!(v["choices"][0]["message"]["content"], "lorem ipsum dolor");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn stream_without_include_usage() {
    let sim = sim(SimConfig::default()).await;
    let resp = post(&sim, &body("m", true)).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let text = resp.text().await.unwrap();
    let ev = events(&text);
    assert_eq!(ev.last().unwrap(), "data: [DONE]");
    let c = chunks(&text);
    assert_eq!(c.len(), 1 + 12 + 1);
    assert_eq!(
        c[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert_eq!(c[0]["object"], "chat.completion.chunk");
    assert_eq!(c[1]["choices"][0]["delta"], json!({"content": "lorem"}));
    assert_eq!(c[2]["choices"][0]["delta"], json!({"content": " ipsum"}));
    assert_eq!(content(&c), (TWELVE.to_owned(), 12));
    assert_eq!(
        c[13]["choices"][0],
        json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"})
    );
    assert!(
        c.iter()
            .all(|x| x.get("usage").is_none() && x["id"] == c[0]["id"])
    );
    assert!(
        c[..13]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
}

#[tokio::test]
async fn stream_with_include_usage_ends_with_a_usage_chunk() {
    let sim = sim(SimConfig::default()).await;
    let mut b = body("m", true);
    b["stream_options"] = json!({"include_usage": true});
    let text = post(&sim, &b).send().await.unwrap().text().await.unwrap();
    let c = chunks(&text);
    assert_eq!(c.len(), 1 + 12 + 1 + 1);
    let (last, rest) = c.split_last().unwrap();
    assert!(
        rest.iter()
            .all(|c| c["usage"].is_null() && c.get("usage").is_some())
    );
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 12);
    assert_eq!(last["usage"]["prompt_tokens"], 11);
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn non_stream_tool_call() {
    let sim = sim(SimConfig::default()).await;
    let mut b = body("m", false);
    b["tools"] = json!([weather_tool(), time_tool()]);
    let v = json_of(post(&sim, &b).send().await.unwrap()).await;
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[0]["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(v["usage"]["completion_tokens"], 4); // 16 chars / 4

    b["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let v = json_of(post(&sim, &b).send().await.unwrap()).await;
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_time"
    );
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    b["tool_choice"] = json!("none");
    let v = json_of(post(&sim, &b).send().await.unwrap()).await;
    assert_eq!(v["choices"][0]["message"]["content"], TWELVE);
}

#[tokio::test]
async fn streamed_tool_call_sends_id_and_name_once() {
    let sim = sim(SimConfig::default()).await;
    let mut b = body("m", true);
    b["tools"] = json!([weather_tool()]);
    let c = chunks(&post(&sim, &b).send().await.unwrap().text().await.unwrap());
    let deltas: Vec<&Value> = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert!((3..=4).contains(&deltas.len()), "{deltas:?}");
    let first = deltas[0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["type"], "function");
    assert_eq!(
        first["function"],
        json!({"name": "get_weather", "arguments": ""})
    );
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    for d in &deltas[1..] {
        let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["function", "index"]);
        assert_eq!(d["function"].as_object().unwrap().len(), 1);
    }
    let args: String = deltas
        .iter()
        .map(|d| d["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(
        c.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn parallel_tool_calls_use_indices_zero_and_one() {
    let parallel = Behaviour {
        parallel_tool_calls: true,
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        models: [("p".to_owned(), parallel)].into(),
        ..SimConfig::default()
    })
    .await;
    let mut b = body("p", true);
    b["tools"] = json!([weather_tool(), time_tool()]);
    let c = chunks(&post(&sim, &b).send().await.unwrap().text().await.unwrap());
    let heads: Vec<&Value> = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .filter(|d| d.get("id").is_some())
        .collect();
    assert_eq!(
        heads
            .iter()
            .map(|h| h["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(heads[1]["function"]["name"], "get_time");
    assert_ne!(heads[0]["id"], heads[1]["id"]);

    b["stream"] = json!(false);
    b["parallel_tool_calls"] = json!(false);
    let v = json_of(post(&sim, &b).send().await.unwrap()).await;
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn tool_result_turn_echo_and_fixed_reply() {
    let fixed = Behaviour {
        reply: Some("Fixed  reply\nhere.".into()),
        ..Behaviour::default()
    };
    let sim = sim(SimConfig {
        models: [("fixed".to_owned(), fixed)].into(),
        ..SimConfig::default()
    })
    .await;
    let tool_turn = json!({"model": "m", "tools": [weather_tool()], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"}
    ]});
    let v = json_of(post(&sim, &tool_turn).send().await.unwrap()).await;
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "The tool returned: 18C and sunny"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let echo = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "please ECHO: hello  big world"}]});
    let c = chunks(
        &post(&sim, &echo)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(content(&c), ("hello  big world".to_owned(), 3));

    let c = chunks(
        &post(&sim, &body("fixed", true))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(content(&c), ("Fixed  reply\nhere.".to_owned(), 3));
}

//! Bedrock Converse over loopback HTTP: JSON shape, ConverseStream frames decoded with
//! aws-smithy-eventstream, tool use then tool result, status faults with `x-amzn-ErrorType`,
//! the mid-stream exception frame, validation errors, and SigV4 verification of a request
//! signed here with aws-sigv4 (accepted) and of tampered ones (rejected).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::event_stream::Message;
use bytes::Bytes;
use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
const ENCODED: &str = "anthropic.claude-3-haiku-20240307-v1%3A0";

fn url(sim: &SimHandle, stream: bool) -> String {
    let op = if stream {
        "converse-stream"
    } else {
        "converse"
    };
    format!("{}/model/{ENCODED}/{op}", sim.root_url())
}

fn req() -> Value {
    json!({"system": [{"text": "You are terse."}], "messages": [{"role": "user", "content": [{"text": "Say hi"}]}],
        "inferenceConfig": {"maxTokens": 100}})
}

fn post(url: String, body: &Value) -> reqwest::RequestBuilder {
    client()
        .post(url)
        .bearer_auth("br-key")
        .body(body.to_string())
}

/// Decode every frame of an event-stream body.
fn frames(mut body: Bytes) -> Vec<Message> {
    let mut decoder = MessageFrameDecoder::new();
    let mut out = Vec::new();
    while !body.is_empty() {
        match decoder.decode_frame(&mut body).unwrap() {
            DecodedFrame::Complete(m) => out.push(m),
            DecodedFrame::Incomplete => panic!("trailing partial frame"),
        }
    }
    out
}

fn header<'a>(m: &'a Message, name: &str) -> &'a str {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .unwrap()
        .value()
        .as_string()
        .unwrap()
        .as_str()
}

/// `(event type, payload)` of each event frame, checking the common headers and padding.
fn events(body: Bytes) -> Vec<(String, Value)> {
    frames(body)
        .iter()
        .map(|m| {
            assert_eq!(header(m, ":message-type"), "event");
            assert_eq!(header(m, ":content-type"), "application/json");
            let mut v: Value = serde_json::from_slice(m.payload()).unwrap();
            assert!(
                v.as_object_mut().unwrap().remove("p").unwrap().is_string(),
                "padding"
            );
            (header(m, ":event-type").to_owned(), v)
        })
        .collect()
}

#[tokio::test]
async fn json_answer_and_stream_frames() {
    let sim = sim(SimConfig {
        api_key: Some("br-key".into()),
        ..SimConfig::default()
    })
    .await;
    let v = json_of(post(url(&sim, false), &req()).send().await.unwrap()).await;
    assert_eq!(
        v["output"]["message"],
        json!({"role": "assistant", "content": [{"text": "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}]})
    );
    assert_eq!(v["stopReason"], "end_turn");
    assert_eq!(
        v["usage"],
        json!({"inputTokens": 11, "outputTokens": 12, "totalTokens": 23})
    );
    assert!(v["metrics"]["latencyMs"].is_u64());
    assert_eq!(sim.requests(MODEL), 1, "the model id is percent-decoded");
    assert_eq!(
        sim.last_request(MODEL).unwrap().path_and_query,
        format!("/model/{ENCODED}/converse")
    );

    let resp = post(url(&sim, true), &req()).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let ev = events(resp.bytes().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = vec!["messageStart"];
    expected.extend(std::iter::repeat_n("contentBlockDelta", 12));
    expected.extend(["contentBlockStop", "messageStop", "metadata"]);
    assert_eq!(names, expected);
    assert_eq!(ev[0].1, json!({"role": "assistant"}));
    assert_eq!(
        ev[1].1,
        json!({"contentBlockIndex": 0, "delta": {"text": "lorem"}})
    );
    assert_eq!(ev[13].1, json!({"contentBlockIndex": 0}));
    assert_eq!(ev[14].1, json!({"stopReason": "end_turn"}));
    assert_eq!(
        ev[15].1["usage"],
        json!({"inputTokens": 11, "outputTokens": 12, "totalTokens": 23})
    );
    assert!(ev[15].1["metrics"]["latencyMs"].is_u64());

    let resp = client()
        .post(url(&sim, false))
        .bearer_auth("wrong")
        .body(req().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("UnrecognizedClientException")
    );
}

#[tokio::test]
async fn reasoning_and_tool_use_round_trip() {
    let sim = sim(SimConfig {
        default: Behaviour {
            thinking: true,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mut b = req();
    b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}}}}], "toolChoice": {"auto": {}}});
    let v = json_of(post(url(&sim, false), &b).send().await.unwrap()).await;
    assert_eq!(v["stopReason"], "tool_use");
    let content = v["output"]["message"]["content"].as_array().unwrap();
    assert!(
        content[0]["reasoningContent"]["reasoningText"]["signature"]
            .as_str()
            .unwrap()
            .starts_with("sig_")
    );
    let tool = &content[1]["toolUse"];
    assert_eq!(
        (tool["name"].as_str(), &tool["input"]),
        (Some("get_weather"), &json!({"city": "Paris"}))
    );
    let id = tool["toolUseId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tooluse_"));

    let ev = events(
        post(url(&sim, true), &b)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    );
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(n, _)| n == "contentBlockStart")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(starts.len(), 1, "only the tool block has a start event");
    assert_eq!(starts[0]["contentBlockIndex"], 1);
    assert_eq!(starts[0]["start"]["toolUse"]["name"], "get_weather");
    let sig = ev
        .iter()
        .find_map(|(_, v)| v.pointer("/delta/reasoningContent/signature"))
        .unwrap();
    assert!(sig.as_str().unwrap().starts_with("sig_"));
    let input: String = ev
        .iter()
        .filter_map(|(_, v)| v.pointer("/delta/toolUse/input"))
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(
        ev.iter().find(|(n, _)| n == "messageStop").unwrap().1["stopReason"],
        "tool_use"
    );

    b["messages"] = json!([
        {"role": "user", "content": [{"text": "Weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": id, "name": "get_weather", "input": {"city": "Paris"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": id, "content": [{"text": "18C and sunny"}]}}]}
    ]);
    let v = json_of(post(url(&sim, false), &b).send().await.unwrap()).await;
    assert_eq!(
        v["output"]["message"]["content"][1]["text"],
        "The tool returned: 18C and sunny"
    );
    assert_eq!(v["stopReason"], "end_turn");
}

#[tokio::test]
async fn status_faults_and_mid_stream_exception() {
    let sim = sim(SimConfig::default()).await;
    let cases = [
        ("429", 429, "ThrottlingException"),
        ("503", 503, "ServiceUnavailableException"),
        ("500", 500, "InternalServerException"),
        ("context_length", 400, "ValidationException"),
    ];
    for (f, status, ty) in cases {
        let resp = post(url(&sim, false), &req())
            .header("x-sim-fault", f)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{f}");
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            format!("{ty}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        );
        let v = json_of(resp).await;
        let msg = v["message"].as_str().unwrap();
        match status {
            429 => assert_eq!(msg, "Too many requests, please wait before trying again."),
            400 => assert_eq!(msg, "Input is too long for requested model."),
            _ => assert!(!msg.is_empty()),
        }
    }
    let body = post(url(&sim, true), &req())
        .header("x-sim-fault", "error_event:2")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let fr = frames(body);
    let (last, rest) = fr.split_last().unwrap();
    assert_eq!(header(last, ":message-type"), "exception");
    assert_eq!(header(last, ":exception-type"), "throttlingException");
    assert_eq!(
        serde_json::from_slice::<Value>(last.payload()).unwrap(),
        json!({"message": "Too many requests, please wait before trying again."})
    );
    assert_eq!(rest.len(), 3, "messageStart + 2 deltas");
    assert!(
        rest.iter()
            .all(|m| header(m, ":event-type") != "messageStop")
    );
}

#[tokio::test]
async fn validation_errors() {
    let sim = sim(SimConfig::default()).await;
    let with = |messages: Value| json!({"messages": messages});
    let user = |t: &str| json!({"role": "user", "content": [{"text": t}]});
    let cases = [
        (
            with(json!([user("a"), user("b")])),
            "must alternate between user and assistant roles",
        ),
        (
            with(json!([{"role": "assistant", "content": [{"text": "a"}]}])),
            "must start with a user message",
        ),
        (
            with(json!([{"role": "user", "content": [{"text": ""}]}])),
            "is blank",
        ),
        (
            with(
                json!([user("a"), {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t2", "content": [{"text": "r"}]}}]}]),
            ),
            "t2",
        ),
        (
            with(
                json!([{"role": "user", "content": [{"image": {"format": "png", "source": {"url": "https://x/y.png"}}}]}]),
            ),
            "url",
        ),
    ];
    for (body, needle) in cases {
        let resp = post(url(&sim, false), &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{needle}");
        assert!(
            resp.headers()["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .starts_with("ValidationException")
        );
        let v = json_of(resp).await;
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
}

/// Sign a Converse request as an AWS SDK would and return its headers.
fn signed_headers(url: &str, body: &str, secret: &str) -> Vec<(String, String)> {
    let identity: Identity = Credentials::new("AKIDSIM", secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("content-type", "application/json")];
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().uri(url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let mut out: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    out.push(("content-type".into(), "application/json".into()));
    out
}

#[tokio::test]
async fn sigv4_signatures_are_verified() {
    let sim = sim(SimConfig {
        aws_access_key_id: Some("AKIDSIM".into()),
        aws_secret_access_key: Some("sim-secret".into()),
        ..SimConfig::default()
    })
    .await;
    let target = url(&sim, false);
    let body = req().to_string();
    let send = |url: String, headers: Vec<(String, String)>, body: String| {
        let mut r = client().post(url).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let good = signed_headers(&target, &body, "sim-secret");
    assert!(good.iter().any(
        |(k, v)| k == "authorization" && v.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSIM/")
    ));
    let resp = send(target.clone(), good.clone(), body.clone())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    assert_eq!(sim.requests(MODEL), 1);

    let denied = |resp: reqwest::Response, ty: &str| {
        assert_eq!(resp.status(), 403);
        assert!(
            resp.headers()["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .starts_with(ty),
            "{:?}",
            resp.headers()
        );
    };
    // Tampered body, wrong secret, and the path signed decoded but sent encoded.
    denied(
        send(
            target.clone(),
            good.clone(),
            body.replace("Say hi", "Say bye"),
        )
        .await
        .unwrap(),
        "InvalidSignatureException",
    );
    denied(
        send(
            target.clone(),
            signed_headers(&target, &body, "other"),
            body.clone(),
        )
        .await
        .unwrap(),
        "InvalidSignatureException",
    );
    let decoded_path = target.replace("%3A", ":");
    denied(
        send(
            target.clone(),
            signed_headers(&decoded_path, &body, "sim-secret"),
            body.clone(),
        )
        .await
        .unwrap(),
        "InvalidSignatureException",
    );
    // No x-amz-date, or no credentials at all.
    let no_date: Vec<(String, String)> = good
        .iter()
        .filter(|(k, _)| k != "x-amz-date")
        .cloned()
        .collect();
    denied(
        send(target.clone(), no_date, body.clone()).await.unwrap(),
        "UnrecognizedClientException",
    );
    denied(
        send(target.clone(), Vec::new(), body).await.unwrap(),
        "UnrecognizedClientException",
    );
}

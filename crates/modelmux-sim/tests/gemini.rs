//! Gemini (AI Studio and Vertex AI) over loopback HTTP: JSON shape, SSE chunks with running
//! usage, function call then function response, status faults in Google's error shape, the
//! mid-stream error, validation errors, and the Vertex token exchange and bearer enforcement.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed unwrap is the test failing"
)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use modelmux_sim::{Behaviour, SimConfig, SimHandle};
use serde_json::{Value, json};

fn gen_url(sim: &SimHandle, model: &str, stream: bool) -> String {
    if stream {
        format!(
            "{}/v1beta/models/{model}:streamGenerateContent?alt=sse",
            sim.root_url()
        )
    } else {
        format!("{}/v1beta/models/{model}:generateContent", sim.root_url())
    }
}

fn req() -> Value {
    json!({"systemInstruction": {"role": "user", "parts": [{"text": "You are terse."}]},
        "contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]})
}

fn weather() -> Value {
    json!([{"functionDeclarations": [
        {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
        {"name": "get_time", "parameters": {"type": "OBJECT", "properties": {}}}]}])
}

async fn post(url: String, body: &Value) -> reqwest::Response {
    client()
        .post(url)
        .header("x-goog-api-key", "g-key")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The JSON of each `data:` event, checking the CRLF framing.
fn chunks_crlf(text: &str) -> Vec<Value> {
    assert!(
        text.ends_with("\r\n\r\n") && !text.contains("[DONE]"),
        "{text}"
    );
    text.split("\r\n\r\n")
        .filter(|e| !e.is_empty())
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn json_answer_and_stream_chunks() {
    let sim = sim(SimConfig {
        api_key: Some("g-key".into()),
        ..SimConfig::default()
    })
    .await;
    let v = json_of(post(gen_url(&sim, "gemini-x", false), &req()).await).await;
    let c = &v["candidates"][0];
    assert_eq!(c["content"]["role"], "model");
    assert_eq!(
        c["content"]["parts"],
        json!([{"text": "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"}])
    );
    assert_eq!(
        (c["finishReason"].as_str(), c["index"].as_u64()),
        (Some("STOP"), Some(0))
    );
    assert_eq!(
        v["usageMetadata"],
        json!({"promptTokenCount": 11, "candidatesTokenCount": 12, "totalTokenCount": 23})
    );
    assert_eq!(v["modelVersion"], "gemini-x");
    assert!(v["responseId"].is_string());

    let resp = post(gen_url(&sim, "gemini-x", true), &req()).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let ch = chunks_crlf(&resp.text().await.unwrap());
    assert_eq!(ch.len(), 13);
    for (i, chunk) in ch[..12].iter().enumerate() {
        assert_eq!(
            chunk["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            chunk["usageMetadata"]["candidatesTokenCount"],
            i + 1,
            "running totals"
        );
        assert!(chunk["candidates"][0].get("finishReason").is_none());
    }
    let text: String = ch
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        text,
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
    );
    assert_eq!(ch[12]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(ch[12]["usageMetadata"]["totalTokenCount"], 23);
    assert_eq!(sim.requests("gemini-x"), 2);

    // The key may also come as ?key=, and /v1/ works too; a wrong key is API_KEY_INVALID.
    let url = format!(
        "{}/v1/models/gemini-x:generateContent?key=g-key",
        sim.root_url()
    );
    assert_eq!(
        client()
            .post(url)
            .body(req().to_string())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let url = gen_url(&sim, "gemini-x", false);
    let resp = client()
        .post(url)
        .header("x-goog-api-key", "nope")
        .body(req().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        json_of(resp).await["error"]["details"][0]["reason"],
        "API_KEY_INVALID"
    );
}

#[tokio::test]
async fn thinking_parts_carry_a_signature() {
    let sim = sim(SimConfig {
        default: Behaviour {
            thinking: true,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await;
    let v = json_of(post(gen_url(&sim, "g", false), &req()).await).await;
    let parts = &v["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0]["thought"], true);
    assert!(parts[1]["thoughtSignature"].is_string());
    assert!(v["usageMetadata"]["thoughtsTokenCount"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn function_call_then_function_response() {
    let sim = sim(SimConfig {
        default: Behaviour {
            parallel_tool_calls: true,
            ..Behaviour::default()
        },
        ..SimConfig::default()
    })
    .await;
    let mut b = req();
    b["tools"] = weather();
    let v = json_of(post(gen_url(&sim, "g", false), &b).await).await;
    let c = &v["candidates"][0];
    assert_eq!(c["finishReason"], "STOP");
    let call = &c["content"]["parts"][0]["functionCall"];
    assert_eq!(
        (call["name"].as_str(), &call["args"]),
        (Some("get_weather"), &json!({"city": "Paris"}))
    );
    assert!(call["id"].is_string());
    assert_eq!(c["content"]["parts"][1]["functionCall"]["name"], "get_time");

    let ch = chunks_crlf(
        &post(gen_url(&sim, "g", true), &b)
            .await
            .text()
            .await
            .unwrap(),
    );
    let calls: Vec<&Value> = ch
        .iter()
        .filter_map(|c| c.pointer("/candidates/0/content/parts/0/functionCall"))
        .collect();
    assert_eq!(
        calls.len(),
        2,
        "parallel calls arrive whole, one chunk each"
    );
    assert_eq!(calls[0]["args"], json!({"city": "Paris"}));

    b["contents"] = json!([
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18C and sunny"}}}]}
    ]);
    let v = json_of(post(gen_url(&sim, "g", false), &b).await).await;
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "The tool returned: 18C and sunny"
    );
}

#[tokio::test]
async fn status_faults_and_mid_stream_error() {
    let sim = sim(SimConfig::default()).await;
    let cases = [
        ("429:retry-after=7", 429, "RESOURCE_EXHAUSTED"),
        ("500", 500, "INTERNAL"),
        ("503", 503, "UNAVAILABLE"),
        ("401", 401, "UNAUTHENTICATED"),
        ("403", 403, "PERMISSION_DENIED"),
    ];
    for (f, status, name) in cases {
        let resp = client()
            .post(gen_url(&sim, "g", false))
            .header("x-sim-fault", f)
            .body(req().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{f}");
        let v = json_of(resp).await;
        assert_eq!(
            (v["error"]["code"].as_u64(), v["error"]["status"].as_str()),
            (Some(u64::from(status)), Some(name)),
            "{f}"
        );
        if status == 429 {
            assert_eq!(
                v["error"]["message"],
                "Resource has been exhausted (e.g. check quota)."
            );
            assert_eq!(
                v["error"]["details"][0],
                json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"})
            );
        }
        if status == 503 {
            assert_eq!(
                v["error"]["message"],
                "The model is overloaded. Please try again later."
            );
        }
    }
    let v = json_of(
        client()
            .post(gen_url(&sim, "g", false))
            .header("x-sim-fault", "context_length")
            .body(req().to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the maximum number of tokens allowed")
    );

    let text = client()
        .post(gen_url(&sim, "g", true))
        .header("x-sim-fault", "error_event:2")
        .body(req().to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ch = chunks_crlf(&text);
    assert_eq!(ch.len(), 3);
    assert_eq!(
        ch[2],
        json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})
    );
}

#[tokio::test]
async fn validation_errors() {
    let sim = sim(SimConfig::default()).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = req();
        b["tools"] = weather();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| {
                b["contents"] = json!([{"role": "user", "parts": [{"text": "w"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}, {"functionCall": {"name": "get_time", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"r": 1}}}]}])
            }),
            "number of function response parts is equal to the number of function call parts",
        ),
        (
            with(&|b| {
                b["tools"][0]["functionDeclarations"][0]["parameters"]["additionalProperties"] =
                    json!(false)
            }),
            "Unknown name \"additionalProperties\"",
        ),
        (
            with(&|b| {
                b["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]["city"]["default"] =
                    json!("Paris")
            }),
            "Unknown name \"default\"",
        ),
        (
            with(&|b| b["generationConfig"] = json!({"responseMimeType": "application/json"})),
            "application/json",
        ),
        (
            with(&|b| b["contents"] = json!([{"role": "assistant", "parts": [{"text": "x"}]}])),
            "valid role",
        ),
        (
            with(&|b| b["contents"] = json!([{"role": "user", "parts": []}])),
            "must not be empty",
        ),
        (
            with(&|b| {
                b["contents"] = json!([{"role": "user", "parts": [{"type": "text", "text": "x"}]}])
            }),
            "Unknown name \"type\"",
        ),
    ];
    for (body, needle) in cases {
        let resp = client()
            .post(gen_url(&sim, "g", false))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{needle}");
        let v = json_of(resp).await;
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(needle),
            "{needle}: {v}"
        );
    }
    // The same schema passes as parametersJsonSchema.
    let ok = with(&|b| {
        let decl = &mut b["tools"][0]["functionDeclarations"][0];
        decl["parametersJsonSchema"] = json!({"type": "object", "additionalProperties": false, "properties": {"city": {"type": "string"}}});
        decl.as_object_mut().unwrap().remove("parameters");
    });
    assert_eq!(
        client()
            .post(gen_url(&sim, "g", false))
            .body(ok.to_string())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

fn assertion(claims: Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[tokio::test]
async fn vertex_token_exchange_and_bearer() {
    let sim = sim(SimConfig {
        vertex_auth: true,
        ..SimConfig::default()
    })
    .await;
    let vertex = format!(
        "{}/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-v:generateContent",
        sim.root_url()
    );
    let call = |token: Option<String>| {
        let mut r = client().post(vertex.clone()).body(req().to_string());
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let resp = call(None).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(json_of(resp).await["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(call(Some("made-up".into())).await.unwrap().status(), 401);

    let token_url = format!("{}/token", sim.root_url());
    let exchange = |grant: &str, jwt: String| {
        client()
            .post(token_url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type={grant}&assertion={jwt}"))
            .send()
    };
    let claims = json!({"iss": "sa@p1.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": "https://oauth2.googleapis.com/token", "iat": 1_700_000_000, "exp": 1_700_003_600});
    let grant = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
    let v = json_of(exchange(grant, assertion(claims.clone())).await.unwrap()).await;
    assert_eq!(
        (v["expires_in"].as_u64(), v["token_type"].as_str()),
        (Some(3600), Some("Bearer"))
    );
    let token = v["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sim-token-"));
    let resp = call(Some(token)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await["modelVersion"], "gemini-v");
    assert_eq!(sim.requests("gemini-v"), 3);

    let resp = exchange("client_credentials", assertion(claims.clone()))
        .await
        .unwrap();
    assert_eq!(
        (
            resp.status().as_u16(),
            json_of(resp).await["error"].as_str().map(str::to_owned)
        ),
        (400, Some("unsupported_grant_type".into()))
    );
    let mut no_scope = claims.clone();
    no_scope["scope"] = json!("https://www.googleapis.com/auth/userinfo.email");
    assert_eq!(
        exchange(grant, assertion(no_scope)).await.unwrap().status(),
        400
    );
    assert_eq!(sim.token_requests(), 3);

    // Without vertex_auth, Vertex paths are open.
    let open = sim_open().await;
    let url = format!(
        "{}/v1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent?alt=sse",
        open.root_url()
    );
    assert_eq!(
        client()
            .post(url)
            .body(req().to_string())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn sim_open() -> SimHandle {
    sim(SimConfig::default()).await
}

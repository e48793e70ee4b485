//! mock-upstream LISTEN_ADDR: an OpenAI-format upstream that answers every
//! `POST .../chat/completions` immediately with the same bytes `modelmux sim` sends for a
//! 12-word answer (JSON, or an SSE stream when the body asks for `"stream":true`), and
//! `GET /v1/models` with a one-model list. One thread, TCP_NODELAY, keep-alive.
//! Prints `mock-upstream listening on http://ADDR/v1`.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const JSON: &str = r#"{"id":"chatcmpl-UVip5dMxl4dG8bFU3oNNWsgs","object":"chat.completion","created":1796168985,"model":"m0","choices":[{"index":0,"message":{"role":"assistant","content":"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":45,"completion_tokens":12,"total_tokens":57,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_modelmux_sim"}"#;
const WORDS: [&str; 12] = [
    "lorem", " ipsum", " dolor", " sit", " amet", " consectetur", " adipiscing", " elit", " sed",
    " do", " eiusmod", " tempor",
];

fn sse() -> Bytes {
    let head = r#"{"id":"chatcmpl-HfenpuKK4AyiuDGouQrIBO22","object":"chat.completion.chunk","created":1796168985,"model":"m0","service_tier":"default","system_fingerprint":"fp_modelmux_sim","choices":[{"index":0,"delta":"#;
    let mut s = String::new();
    s.push_str(&format!(
        "data: {head}{{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
    ));
    for w in WORDS {
        s.push_str(&format!(
            "data: {head}{{\"content\":\"{w}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    s.push_str(&format!(
        "data: {head}{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":null}}\n\n"
    ));
    s.push_str(r#"data: {"id":"chatcmpl-HfenpuKK4AyiuDGouQrIBO22","object":"chat.completion.chunk","created":1796168985,"model":"m0","service_tier":"default","system_fingerprint":"fp_modelmux_sim","choices":[],"usage":{"prompt_tokens":45,"completion_tokens":12,"total_tokens":57}}"#);
    s.push_str("\n\ndata: [DONE]\n\n");
    Bytes::from(s)
}

async fn handle(req: Request<Incoming>, stream: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_chat = req.uri().path().ends_with("/chat/completions");
    let is_models = req.uri().path().ends_with("/models");
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let wants_stream = body.windows(13).any(|w| w == b"\"stream\":true");
    let resp = if is_chat && wants_stream {
        Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(Full::new(stream))
    } else if is_chat {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(JSON.as_bytes())))
    } else if is_models {
        Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"object":"list","data":[{"id":"m0","object":"model","created":1700000000,"owned_by":"mock"}]}"#)))
    } else {
        Response::builder().status(404).body(Full::new(Bytes::new()))
    };
    Ok(resp.unwrap_or_default())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("mock-upstream listening on http://{}/v1", listener.local_addr()?);
    let stream = sse();
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let stream = stream.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(req, stream.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), svc)
                .await;
        });
    }
}

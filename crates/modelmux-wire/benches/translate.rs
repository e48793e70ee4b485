//! Translation costs on the hot path (issue 6): decoding a Chat Completions body and
//! summarising it for routing, each request translation direction, each complete-answer
//! translation (every provider format read, every client format written), and stream chunks
//! (each provider decoder feeding each client encoder, one network read per provider event;
//! criterion's "elem/s" is chunks per second, its time per iteration covers the whole stream).
//!
//! Run: `cargo bench -p modelmux-wire --bench translate -- --warm-up-time 1 --measurement-time 3`
//! (`bench/run.sh` does). The fixtures are typical shapes, not recorded traffic: a short
//! support chat, an agent turn with a tool round trip, 24-token streamed answers.

#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modelmux_wire::anthropic::{
    AnthropicPeek, AnthropicStreamDecoder, AnthropicStreamEncoder, from_anthropic,
    response_from_anthropic, response_to_anthropic, to_anthropic,
};
use modelmux_wire::bedrock::{
    BedrockStreamDecoder, encode_event, response_from_bedrock, to_bedrock,
};
use modelmux_wire::gemini::{GeminiStreamDecoder, response_from_gemini, to_gemini};
use modelmux_wire::openai::{
    ChatBody, ChunkPeek, OpenAiOptions, OpenAiStreamDecoder, OpenAiStreamEncoder, from_openai,
    response_from_openai, response_to_openai, to_openai,
};
use modelmux_wire::responses::{ResponsesStreamEncoder, from_responses, response_to_responses};
use modelmux_wire::{ChatRequest, ChatResponse, StreamDecoder, StreamEncoder, StreamEvent};
use serde_json::{Value, json};

/// The body of `crates/modelmux-core/benches/decision.rs`: a short support chat.
const CHAT: &str = r#"{"model":"support","messages":[{"role":"system","content":"You are a helpful support assistant for an online shop. Answer briefly."},{"role":"user","content":"Hi, I was charged twice for my last order. Can I get a refund for the second charge?"}],"temperature":0.3,"max_tokens":300,"stream":true,"stream_options":{"include_usage":true}}"#;

/// An agent turn: system, user, an assistant tool call, its result, a follow-up, two tools.
fn agent_openai() -> String {
    json!({
        "model": "code",
        "messages": [
            {"role": "system", "content": "You are a coding agent. Use the tools to inspect the repository before answering. Keep answers short and precise."},
            {"role": "user", "content": "Why does the build fail on the CI runner but not locally? The error mentions a missing symbol in the linker step."},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": "{\"command\":\"cat .github/workflows/ci.yml\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo build --release --features static\n"},
            {"role": "user", "content": "And the local command is plain cargo build --release."}
        ],
        "tools": [
            {"type": "function", "function": {"name": "bash", "description": "Run a shell command and return its output.",
                "parameters": {"type": "object", "properties": {"command": {"type": "string", "description": "The command line."}}, "required": ["command"]}}},
            {"type": "function", "function": {"name": "read_file", "description": "Read a file of the repository.",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "offset": {"type": "integer", "minimum": 0}}, "required": ["path"], "additionalProperties": false}}}
        ],
        "tool_choice": "auto",
        "temperature": 0.2,
        "max_completion_tokens": 2048,
        "stream": true,
        "stream_options": {"include_usage": true},
        "metadata": {"team": "platform"}
    })
    .to_string()
}

/// The same agent turn as an Anthropic Messages body (what Claude Code sends).
fn agent_anthropic() -> String {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": [{"type": "text", "text": "You are a coding agent. Use the tools to inspect the repository before answering. Keep answers short and precise."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Why does the build fail on the CI runner but not locally? The error mentions a missing symbol in the linker step."}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "cat .github/workflows/ci.yml"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo build --release --features static\n"},
                {"type": "text", "text": "And the local command is plain cargo build --release."}
            ]}
        ],
        "tools": [
            {"name": "bash", "description": "Run a shell command and return its output.",
             "input_schema": {"type": "object", "properties": {"command": {"type": "string", "description": "The command line."}}, "required": ["command"]}},
            {"name": "read_file", "description": "Read a file of the repository.",
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}, "offset": {"type": "integer", "minimum": 0}}, "required": ["path"], "additionalProperties": false}}
        ],
        "tool_choice": {"type": "auto"},
        "temperature": 0.2,
        "stream": true,
        "metadata": {"user_id": "u-1"}
    })
    .to_string()
}

/// The same agent turn as a Responses body (what Codex CLI sends).
fn agent_responses() -> String {
    json!({
        "model": "code",
        "instructions": "You are a coding agent. Use the tools to inspect the repository before answering. Keep answers short and precise.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Why does the build fail on the CI runner but not locally? The error mentions a missing symbol in the linker step."}]},
            {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{\"command\":\"cat .github/workflows/ci.yml\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: cargo build --release --features static\n"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And the local command is plain cargo build --release."}]}
        ],
        "tools": [
            {"type": "function", "name": "bash", "description": "Run a shell command and return its output.",
             "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}, "strict": false},
            {"type": "function", "name": "read_file", "description": "Read a file of the repository.",
             "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "offset": {"type": "integer"}}, "required": ["path"]}, "strict": false}
        ],
        "tool_choice": "auto",
        "stream": true,
        "store": false
    })
    .to_string()
}

const ANSWER: &str = "The CI job builds with the static feature, which links against the static C runtime; locally you build without it, so the missing symbol never shows up.";

fn words() -> Vec<String> {
    ANSWER.split(' ').map(|w| format!("{w} ")).collect()
}

// ---- complete answers, one per provider format -------------------------------------------

fn openai_answer() -> String {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1_764_000_000, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER, "refusal": null, "annotations": []},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 180, "completion_tokens": 34, "total_tokens": 214,
                  "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
        "service_tier": "default", "system_fingerprint": "fp_1"})
    .to_string()
}

fn anthropic_answer() -> String {
    json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 180, "output_tokens": 34, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
    .to_string()
}

fn gemini_answer() -> String {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ANSWER}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 180, "candidatesTokenCount": 34, "totalTokenCount": 214},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"})
    .to_string()
}

fn bedrock_answer() -> String {
    json!({"output": {"message": {"role": "assistant", "content": [{"text": ANSWER}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 180, "outputTokens": 34, "totalTokens": 214},
        "metrics": {"latencyMs": 420}})
    .to_string()
}

// ---- streams, one network read per provider event ----------------------------------------

fn openai_stream() -> Vec<Vec<u8>> {
    let head = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1_764_000_000, "model": "gpt-4o-mini",
            "system_fingerprint": "fp_1", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut chunks = vec![head(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for w in words() {
        chunks.push(head(json!({"content": w}), Value::Null));
    }
    chunks.push(head(json!({}), json!("stop")));
    chunks.push(json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1_764_000_000, "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": 180, "completion_tokens": 34, "total_tokens": 214}}));
    let mut out: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| format!("data: {c}\n\n").into_bytes())
        .collect();
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

fn anthropic_stream() -> Vec<Vec<u8>> {
    let mut events = vec![
        json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":180,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}),
        json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        json!({"type":"ping"}),
    ];
    for w in words() {
        events.push(
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text": w}}),
        );
    }
    events.push(json!({"type":"content_block_stop","index":0}));
    events.push(json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":34}}));
    events.push(json!({"type":"message_stop"}));
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()).into_bytes())
        .collect()
}

fn gemini_stream() -> Vec<Vec<u8>> {
    let ws = words();
    let n = ws.len();
    ws.iter()
        .enumerate()
        .map(|(i, w)| {
            let mut cand = json!({"content": {"role": "model", "parts": [{"text": w}]}, "index": 0});
            if i + 1 == n {
                cand["finishReason"] = json!("STOP");
            }
            let c = json!({"candidates": [cand],
                "usageMetadata": {"promptTokenCount": 180, "candidatesTokenCount": i + 1, "totalTokenCount": 181 + i},
                "modelVersion": "gemini-2.5-flash", "responseId": "r-1"});
            format!("data: {c}\r\n\r\n").into_bytes()
        })
        .collect()
}

fn bedrock_stream() -> Vec<Vec<u8>> {
    let mut frames = vec![encode_event("messageStart", &json!({"role": "assistant"}))];
    for w in words() {
        frames.push(encode_event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": w}}),
        ));
    }
    frames.push(encode_event(
        "contentBlockStop",
        &json!({"contentBlockIndex": 0}),
    ));
    frames.push(encode_event(
        "messageStop",
        &json!({"stopReason": "end_turn"}),
    ));
    frames.push(encode_event(
        "metadata",
        &json!({"usage": {"inputTokens": 180, "outputTokens": 34, "totalTokens": 214}, "metrics": {"latencyMs": 420}}),
    ));
    frames
}

// ---- benchmarks ---------------------------------------------------------------------------

fn decode(c: &mut Criterion) {
    let agent = agent_openai();
    let mut g = c.benchmark_group("decode");
    for (name, body) in [("chat", CHAT), ("agent", agent.as_str())] {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("ChatBody::parse {name}"), |b| {
            b.iter(|| ChatBody::parse(black_box(body.as_bytes())).unwrap())
        });
        g.bench_function(format!("ChatBody::parse + summary {name}"), |b| {
            b.iter(|| {
                let body = ChatBody::parse(black_box(body.as_bytes())).unwrap();
                body.summary().unwrap()
            })
        });
        g.bench_function(format!("ChatBody::to_bytes {name}"), |b| {
            let parsed = ChatBody::parse(body.as_bytes()).unwrap();
            b.iter(|| black_box(&parsed).to_bytes())
        });
    }
    g.finish();
}

fn requests(c: &mut Criterion) {
    let openai = agent_openai();
    let anthropic = agent_anthropic();
    let responses = agent_responses();
    let body = ChatBody::parse(openai.as_bytes()).unwrap();
    let from_oai: ChatRequest = from_openai(&body).unwrap();
    let from_ant: ChatRequest = from_anthropic(anthropic.as_bytes()).unwrap();
    let opts = OpenAiOptions::default();

    let mut g = c.benchmark_group("request");
    g.bench_function("from_openai (parsed body)", |b| {
        b.iter(|| from_openai(black_box(&body)).unwrap())
    });
    g.bench_function("from_anthropic", |b| {
        b.iter(|| from_anthropic(black_box(anthropic.as_bytes())).unwrap())
    });
    g.bench_function("from_responses", |b| {
        b.iter(|| from_responses(black_box(responses.as_bytes())).unwrap())
    });
    for (src, req) in [("openai", &from_oai), ("anthropic", &from_ant)] {
        g.bench_function(format!("{src} -> to_openai"), |b| {
            b.iter(|| to_openai(black_box(req), "gpt-4o-mini", &opts))
        });
        g.bench_function(format!("{src} -> to_anthropic"), |b| {
            b.iter(|| to_anthropic(black_box(req), "claude-sonnet-4-5", 4096))
        });
        g.bench_function(format!("{src} -> to_gemini"), |b| {
            b.iter(|| to_gemini(black_box(req)))
        });
        g.bench_function(format!("{src} -> to_bedrock"), |b| {
            b.iter(|| to_bedrock(black_box(req), "anthropic.claude-3-5-haiku-20241022-v1:0"))
        });
    }
    // Whole request paths as the gateway runs them: client bytes to provider bytes.
    g.bench_function("path: openai bytes -> anthropic bytes", |b| {
        b.iter(|| {
            let body = ChatBody::parse(black_box(openai.as_bytes())).unwrap();
            let _ = body.summary().unwrap();
            to_anthropic(&from_openai(&body).unwrap(), "claude-sonnet-4-5", 4096)
        })
    });
    g.bench_function("path: anthropic bytes -> openai bytes", |b| {
        b.iter(|| {
            to_openai(
                &from_anthropic(black_box(anthropic.as_bytes())).unwrap(),
                "gpt-4o-mini",
                &opts,
            )
        })
    });
    g.finish();
}

type ReadAnswer = fn(&[u8]) -> Result<ChatResponse, modelmux_wire::TranslateError>;

fn answers(c: &mut Criterion) {
    let req = from_openai(&ChatBody::parse(agent_openai().as_bytes()).unwrap()).unwrap();
    let providers: [(&str, String, ReadAnswer); 4] = [
        ("openai", openai_answer(), response_from_openai),
        ("anthropic", anthropic_answer(), response_from_anthropic),
        ("gemini", gemini_answer(), response_from_gemini),
        ("bedrock", bedrock_answer(), response_from_bedrock),
    ];
    let mut g = c.benchmark_group("answer");
    for (name, body, read) in &providers {
        g.bench_function(format!("response_from_{name}"), |b| {
            b.iter(|| read(black_box(body.as_bytes())).unwrap())
        });
    }
    for (name, body, read) in &providers {
        g.bench_function(format!("{name} -> response_to_openai"), |b| {
            b.iter(|| response_to_openai(&read(black_box(body.as_bytes())).unwrap(), "code"))
        });
        g.bench_function(format!("{name} -> response_to_anthropic"), |b| {
            b.iter(|| response_to_anthropic(&read(black_box(body.as_bytes())).unwrap(), "code"))
        });
        g.bench_function(format!("{name} -> response_to_responses"), |b| {
            b.iter(|| {
                response_to_responses(
                    &read(black_box(body.as_bytes())).unwrap(),
                    "code",
                    &req,
                    "resp_0123456789",
                )
            })
        });
    }
    g.finish();
}

fn run_stream(
    chunks: &[Vec<u8>],
    mut dec: Box<dyn StreamDecoder>,
    mut enc: impl StreamEncoder,
) -> usize {
    let mut events: Vec<StreamEvent> = Vec::with_capacity(4);
    let mut out = BytesMut::with_capacity(512);
    let mut written = 0;
    for chunk in chunks {
        dec.push(chunk, &mut events).unwrap();
        for e in events.drain(..) {
            enc.encode(&e, &mut out);
        }
        // The gateway sends each translated chunk at once: count it and start afresh.
        written += out.len();
        out.clear();
    }
    dec.finish(&mut events).unwrap();
    for e in events.drain(..) {
        enc.encode(&e, &mut out);
    }
    enc.finish(&mut out);
    written + out.len()
}

fn streams(c: &mut Criterion) {
    let req = from_openai(&ChatBody::parse(agent_openai().as_bytes()).unwrap()).unwrap();
    let sources: [(&str, Vec<Vec<u8>>); 4] = [
        ("openai", openai_stream()),
        ("anthropic", anthropic_stream()),
        ("gemini", gemini_stream()),
        ("bedrock", bedrock_stream()),
    ];
    fn decoder(name: &str) -> Box<dyn StreamDecoder> {
        match name {
            "openai" => Box::new(OpenAiStreamDecoder::new()),
            "anthropic" => Box::new(AnthropicStreamDecoder::new()),
            "gemini" => Box::new(GeminiStreamDecoder::new()),
            _ => Box::new(BedrockStreamDecoder::new()),
        }
    }
    let mut g = c.benchmark_group("stream");
    for (src, chunks) in &sources {
        g.throughput(Throughput::Elements(chunks.len() as u64));
        // Sanity: every pair produces output.
        assert!(run_stream(chunks, decoder(src), OpenAiStreamEncoder::new("code", true)) > 0);
        g.bench_function(format!("{src} -> openai"), |b| {
            b.iter(|| {
                run_stream(
                    black_box(chunks),
                    decoder(src),
                    OpenAiStreamEncoder::new("code", true),
                )
            })
        });
        g.bench_function(format!("{src} -> anthropic"), |b| {
            b.iter(|| {
                run_stream(
                    black_box(chunks),
                    decoder(src),
                    AnthropicStreamEncoder::new("code"),
                )
            })
        });
        g.bench_function(format!("{src} -> responses"), |b| {
            b.iter(|| {
                run_stream(
                    black_box(chunks),
                    decoder(src),
                    ResponsesStreamEncoder::new("code", "resp_0123456789").with_request(&req),
                )
            })
        });
    }
    // Same-format relays do not translate, they only peek at each chunk.
    let oai = &sources[0].1;
    g.throughput(Throughput::Elements(oai.len() as u64));
    g.bench_function("openai passthrough (ChunkPeek)", |b| {
        b.iter(|| {
            let mut n = 0;
            for chunk in black_box(oai) {
                let s = std::str::from_utf8(chunk).unwrap();
                let data = s.trim_start_matches("data: ").trim_end();
                if data != "[DONE]" && ChunkPeek::parse(data).is_some_and(|p| p.has_content()) {
                    n += 1;
                }
            }
            n
        })
    });
    let ant = &sources[1].1;
    g.throughput(Throughput::Elements(ant.len() as u64));
    g.bench_function("anthropic passthrough (AnthropicPeek)", |b| {
        b.iter(|| {
            let mut p = AnthropicPeek::new();
            for chunk in black_box(ant) {
                p.push(chunk).unwrap();
            }
            p.finished()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, requests, answers, streams);
criterion_main!(benches);

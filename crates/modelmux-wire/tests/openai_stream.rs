//! Streams in the OpenAI Chat Completions format: `OpenAiStreamDecoder` (provider chunks →
//! canonical events) and `OpenAiStreamEncoder` (canonical events → client chunks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named `openai` so that `cargo test -p modelmux-wire openai` selects these tests.
mod openai {

    use bytes::BytesMut;
    use modelmux_wire::canonical::{FinishReason, StreamEvent, Usage};
    use modelmux_wire::codec::{ErrorKind, StreamDecoder, StreamEncoder};
    use modelmux_wire::openai::{OpenAiStreamDecoder, OpenAiStreamEncoder};
    use serde_json::{Value, json};

    fn sse(chunks: &[Value]) -> String {
        let mut s = String::new();
        for c in chunks {
            s.push_str(&format!("data: {c}\n\n"));
        }
        s
    }

    fn decode_all(bytes: &[u8]) -> Result<Vec<StreamEvent>, modelmux_wire::TranslateError> {
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        d.push(bytes, &mut out)?;
        d.finish(&mut out)?;
        Ok(out)
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn usage_chunk() -> Value {
        json!({"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": 80, "completion_tokens": 30, "total_tokens": 110,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}})
    }

    /// A realistic OpenAI stream: two parallel tool calls, then the usage chunk.
    fn parallel_tools_stream() -> String {
        let mut s = sse(&[
            chunk(
                json!({"role": "assistant", "content": null, "refusal": null}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_Paris", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_Rome", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "function": {"arguments": "{\"city\": \"Rome\"}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
            usage_chunk(),
        ]);
        s.push_str("data: [DONE]\n\n");
        s
    }

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: "chatcmpl-7".into(),
            model: "gpt-4o-mini".into(),
            usage: None,
        }
    }

    fn tool_start(index: u32, id: &str) -> StreamEvent {
        StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: "get_weather".into(),
            signature: None,
        }
    }

    fn args(index: u32, a: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            arguments: a.into(),
        }
    }

    fn usage() -> Usage {
        Usage {
            input: 80,
            output: 30,
            ..Default::default()
        }
    }

    fn finish(reason: FinishReason) -> StreamEvent {
        StreamEvent::Finish {
            reason,
            stop_sequence: None,
        }
    }

    fn parallel_events() -> Vec<StreamEvent> {
        vec![
            start(),
            tool_start(0, "call_Paris"),
            args(0, "{\"city\": "),
            args(0, "\"Paris\"}"),
            tool_start(1, "call_Rome"),
            args(1, "{\"city\": \"Rome\"}"),
            finish(FinishReason::ToolCalls),
            StreamEvent::Usage(usage()),
        ]
    }

    #[test]
    fn decodes_parallel_tool_calls_and_usage() {
        let events = decode_all(parallel_tools_stream().as_bytes()).unwrap();
        assert_eq!(events, parallel_events());
    }

    #[test]
    fn bytes_split_at_every_offset_decode_the_same() {
        let input = parallel_tools_stream().replace("\n\n", "\r\n\r\n");
        let input = input.as_bytes();
        let whole = decode_all(input).unwrap();
        for split in 0..input.len() {
            let mut d = OpenAiStreamDecoder::new();
            let mut out = Vec::new();
            d.push(&input[..split], &mut out).unwrap();
            d.push(&input[split..], &mut out).unwrap();
            d.finish(&mut out).unwrap();
            assert_eq!(out, whole, "split at {split}");
        }
    }

    #[test]
    fn text_and_reasoning_deltas() {
        let s = sse(&[
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"reasoning_content": "Think"}), Value::Null),
            chunk(json!({"reasoning": "ing"}), Value::Null),
            chunk(json!({"content": "Hi"}), Value::Null),
            chunk(json!({}), json!("stop")),
        ]) + "data: [DONE]\n\n";
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![
                start(),
                StreamEvent::ThinkingDelta {
                    text: "Think".into()
                },
                StreamEvent::ThinkingDelta { text: "ing".into() },
                StreamEvent::TextDelta { text: "Hi".into() },
                finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn a_name_arriving_after_the_id_still_starts_the_call_once() {
        let s = sse(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"name": "get_weather"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
        ]);
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![
                start(),
                tool_start(0, "call_1"),
                args(0, "{}"),
                finish(FinishReason::ToolCalls)
            ]
        );
    }

    #[test]
    fn pitfall_02_encoder_numbers_parallel_calls_once_each() {
        let mut enc = OpenAiStreamEncoder::new("chat", false);
        let mut out = BytesMut::new();
        // Upstream (Anthropic-style) indices need not start at 0.
        for e in [
            StreamEvent::TextDelta {
                text: "Checking.".into(),
            },
            tool_start(1, "toolu_A"),
            args(1, "{\"city\":\"Paris\"}"),
            tool_start(2, "toolu_B"),
            args(2, "{\"city\":"),
            args(2, "\"Rome\"}"),
            finish(FinishReason::ToolCalls),
        ] {
            enc.encode(&e, &mut out);
        }
        enc.finish(&mut out);
        let chunks = frames(&out);
        let calls: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        let indices: Vec<u64> = calls.iter().map(|c| c["index"].as_u64().unwrap()).collect();
        assert_eq!(indices, [0, 0, 1, 1, 1]);
        let ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(ids, ["toolu_A", "toolu_B"]);
        let names = calls
            .iter()
            .filter(|c| c["function"].get("name").is_some())
            .count();
        assert_eq!(names, 2);
        // And the decoder reads them back as calls 0 and 1.
        let events = decode_all(&out).unwrap();
        assert!(events.contains(&tool_start_named(0, "toolu_A")));
        assert!(events.contains(&tool_start_named(1, "toolu_B")));
        assert!(events.contains(&args(1, "\"Rome\"}")));
    }

    fn tool_start_named(index: u32, id: &str) -> StreamEvent {
        StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: "get_weather".into(),
            signature: None,
        }
    }

    /// The JSON chunks of an encoded stream (`[DONE]` and error frames included as raw strings).
    fn frames(out: &[u8]) -> Vec<Value> {
        let text = std::str::from_utf8(out).unwrap();
        assert!(text.ends_with("\n\n"), "unterminated: {text:?}");
        text.split_terminator("\n\n")
            .map(|frame| {
                let data = frame
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data frame: {frame:?}"));
                serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
            })
            .collect()
    }

    #[test]
    fn pitfall_06_every_event_is_written_at_once() {
        let mut enc = OpenAiStreamEncoder::new("chat", true);
        for e in [
            start(),
            StreamEvent::TextDelta { text: "a".into() },
            tool_start(0, "c"),
            args(0, "{"),
            args(0, "}"),
            finish(FinishReason::ToolCalls),
        ] {
            let mut out = BytesMut::new();
            enc.encode(&e, &mut out);
            assert_eq!(frames(&out).len(), 1, "{e:?}");
        }
        // The decoder forwards each argument fragment on the chunk that carries it.
        let mut d = OpenAiStreamDecoder::new();
        let mut out = Vec::new();
        let first = sse(&[chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": "{\"ci"}}]}),
            Value::Null,
        )]);
        d.push(first.as_bytes(), &mut out).unwrap();
        assert_eq!(out.last(), Some(&args(0, "{\"ci")));
    }

    #[test]
    fn pitfall_23_usage_comes_in_exactly_one_final_chunk() {
        let mut enc = OpenAiStreamEncoder::new("chat", true).with_created(5);
        let mut out = BytesMut::new();
        for e in [
            start(),
            StreamEvent::Usage(Usage {
                input: 80,
                ..Default::default()
            }),
            StreamEvent::TextDelta { text: "x".into() },
            finish(FinishReason::Stop),
            StreamEvent::Usage(usage()),
        ] {
            enc.encode(&e, &mut out);
        }
        enc.finish(&mut out);
        let chunks = frames(&out);
        let (done, rest) = chunks.split_last().unwrap();
        assert_eq!(done, &json!("[DONE]"));
        let (last, earlier) = rest.split_last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"]["prompt_tokens"], 80);
        assert_eq!(last["usage"]["completion_tokens"], 30);
        assert_eq!(last["usage"]["total_tokens"], 110);
        for c in earlier {
            assert_eq!(c["usage"], Value::Null);
            assert!(c.get("usage").is_some(), "usage: null on every chunk");
            assert_eq!(c["choices"].as_array().unwrap().len(), 1);
            assert_eq!(c["id"], "chatcmpl-7");
            assert_eq!(c["created"], 5);
            assert_eq!(c["object"], "chat.completion.chunk");
        }
        // Without include_usage: no usage chunk and no usage key.
        let mut enc = OpenAiStreamEncoder::new("chat", false);
        let mut out = BytesMut::new();
        enc.encode(&StreamEvent::Usage(usage()), &mut out);
        enc.encode(&StreamEvent::TextDelta { text: "x".into() }, &mut out);
        enc.finish(&mut out);
        assert!(frames(&out).iter().all(|c| c.get("usage").is_none()));
    }

    #[test]
    fn pitfall_23_usage_on_a_second_to_last_chunk_is_read() {
        // Grok: usage rides on the chunk before the finish, not on a choices:[] chunk.
        let mut with_usage = chunk(json!({"content": "Hi"}), Value::Null);
        with_usage["usage"] = usage_chunk()["usage"].clone();
        let s = sse(&[with_usage, chunk(json!({}), json!("stop"))]) + "data: [DONE]\n\n";
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![
                start(),
                StreamEvent::TextDelta { text: "Hi".into() },
                StreamEvent::Usage(usage()),
                finish(FinishReason::Stop),
            ]
        );
    }

    #[test]
    fn pitfall_24_later_usage_replaces_earlier_usage() {
        // Cumulative usage on every chunk: each value replaces the last, repeats are dropped.
        let running = |out: u64| {
            let mut c = chunk(json!({"content": "x"}), Value::Null);
            c["usage"] = json!({"prompt_tokens": 10, "completion_tokens": out});
            c
        };
        let s = sse(&[running(1), running(1), running(2)]) + "data: [DONE]\n\n";
        let usages: Vec<Usage> = decode_all(s.as_bytes())
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                StreamEvent::Usage(u) => Some(u),
                _ => None,
            })
            .collect();
        assert_eq!(usages.len(), 2);
        assert_eq!(usages[1].output, 2);
        // The encoder reports the last usage, not a sum.
        let mut enc = OpenAiStreamEncoder::new("chat", true);
        let mut out = BytesMut::new();
        for u in &usages {
            enc.encode(&StreamEvent::Usage(*u), &mut out);
        }
        enc.finish(&mut out);
        let chunks = frames(&out);
        assert_eq!(chunks[chunks.len() - 2]["usage"]["completion_tokens"], 2);
        assert_eq!(chunks[chunks.len() - 2]["usage"]["prompt_tokens"], 10);
    }

    #[test]
    fn pitfall_26_finish_reason_once_and_normalised() {
        // A stop after tool calls is a tool_calls finish.
        let s = sse(&[
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "get_weather", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("stop")),
            chunk(json!({}), json!("stop")),
        ]);
        let events = decode_all(s.as_bytes()).unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, StreamEvent::Finish { .. }))
                .count(),
            1
        );
        assert_eq!(events.last(), Some(&finish(FinishReason::ToolCalls)));
        let s = sse(&[chunk(json!({"content": "x"}), json!("length"))]);
        assert_eq!(
            decode_all(s.as_bytes()).unwrap().last(),
            Some(&finish(FinishReason::Length))
        );
        // The encoder sends one finish reason, even if told twice.
        let mut enc = OpenAiStreamEncoder::new("chat", false);
        let mut out = BytesMut::new();
        enc.encode(&StreamEvent::TextDelta { text: "x".into() }, &mut out);
        enc.encode(&finish(FinishReason::ContentFilter), &mut out);
        enc.encode(&finish(FinishReason::Stop), &mut out);
        enc.finish(&mut out);
        let reasons: Vec<Value> = frames(&out)
            .iter()
            .filter_map(|c| c["choices"].get(0).map(|ch| ch["finish_reason"].clone()))
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(reasons, [json!("content_filter")]);
    }

    #[test]
    fn pitfall_27_in_band_errors() {
        let s = sse(&[
            chunk(json!({"content": "par"}), Value::Null),
            json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
        ]);
        let events = decode_all(s.as_bytes()).unwrap();
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Error {
                kind: ErrorKind::RateLimited,
                message: "Rate limit reached".into()
            })
        );
        // vLLM's shape.
        let s = "data: {\"object\":\"error\",\"message\":\"oops\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}\n\n";
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![StreamEvent::Error {
                kind: ErrorKind::UpstreamError,
                message: "oops".into()
            }]
        );
        // The encoder ends a broken stream with an error object and no [DONE].
        let mut enc = OpenAiStreamEncoder::new("chat", true);
        let mut out = BytesMut::new();
        enc.encode(&StreamEvent::TextDelta { text: "par".into() }, &mut out);
        enc.fail(ErrorKind::Overloaded, "upstream overloaded", &mut out);
        enc.encode(
            &StreamEvent::TextDelta {
                text: "more".into(),
            },
            &mut out,
        );
        enc.finish(&mut out);
        let chunks = frames(&out);
        assert_eq!(
            chunks.last(),
            Some(
                &json!({"error": {"message": "upstream overloaded", "type": "server_error", "param": null, "code": "overloaded"}})
            )
        );
        assert!(!String::from_utf8_lossy(&out).contains("[DONE]"));
        assert_eq!(chunks.len(), 3);
    }

    #[test]
    fn pitfall_28_azure_filter_chunks_are_ignored() {
        let s = sse(&[
            json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}}]}),
            chunk(json!({"content": "Hi"}), Value::Null),
            json!({"id": "chatcmpl-7", "choices": [{"index": 0, "finish_reason": null,
            "content_filter_results": {"hate": {"filtered": false}}, "content_filter_offsets": {"start_offset": 0}}]}),
            chunk(json!({}), json!("stop")),
        ]) + "data: [DONE]\n\n";
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![
                start(),
                StreamEvent::TextDelta { text: "Hi".into() },
                finish(FinishReason::Stop)
            ]
        );
    }

    #[test]
    fn pitfall_29_sse_hygiene() {
        // Comments and `data: : keepalive` are skipped, never read as chunks.
        let s = format!(
            ": OPENROUTER PROCESSING\n\ndata: : keepalive\n\n{}data:{}\n\ndata: [DONE]\n\n",
            sse(&[chunk(json!({"content": "Hi"}), Value::Null)]),
            chunk(json!({}), json!("stop"))
        );
        assert_eq!(
            decode_all(s.as_bytes()).unwrap(),
            vec![
                start(),
                StreamEvent::TextDelta { text: "Hi".into() },
                finish(FinishReason::Stop)
            ]
        );
        // The encoder writes only `data: ` frames, with a space, blank-line terminated.
        let mut enc = OpenAiStreamEncoder::new("chat", true);
        let mut out = BytesMut::new();
        for e in parallel_events() {
            enc.encode(&e, &mut out);
        }
        enc.finish(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        for frame in text.split_terminator("\n\n") {
            assert!(
                frame.starts_with("data: ") && !frame.contains('\n'),
                "{frame:?}"
            );
        }
        assert!(text.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn decoder_reads_back_what_the_encoder_writes() {
        let mut events = vec![
            start(),
            StreamEvent::ThinkingDelta {
                text: "Plan.".into(),
            },
            StreamEvent::TextDelta {
                text: "Let me check.".into(),
            },
        ];
        events.extend(parallel_events().into_iter().skip(1));
        let mut enc = OpenAiStreamEncoder::new("gpt-4o-mini", true);
        let mut out = BytesMut::new();
        for e in &events {
            enc.encode(e, &mut out);
        }
        enc.finish(&mut out);
        assert_eq!(decode_all(&out).unwrap(), events);
        // A broken stream reads back as the same error.
        let mut enc = OpenAiStreamEncoder::new("gpt-4o-mini", false);
        let mut out = BytesMut::new();
        for e in [start(), StreamEvent::TextDelta { text: "x".into() }] {
            enc.encode(&e, &mut out);
        }
        enc.fail(ErrorKind::ContextLengthExceeded, "too long", &mut out);
        assert_eq!(
            decode_all(&out).unwrap().last(),
            Some(&StreamEvent::Error {
                kind: ErrorKind::ContextLengthExceeded,
                message: "too long".into()
            })
        );
    }

    #[test]
    fn encoder_without_start_generates_one_id_and_a_role_chunk() {
        let mut enc = OpenAiStreamEncoder::new("chat", false);
        let mut out = BytesMut::new();
        enc.encode(&StreamEvent::TextDelta { text: "a".into() }, &mut out);
        enc.encode(&StreamEvent::TextDelta { text: "b".into() }, &mut out);
        enc.finish(&mut out);
        let chunks = frames(&out);
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        let id = chunks[0]["id"].as_str().unwrap();
        assert!(id.starts_with("chatcmpl-"));
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c["id"] == id));
        // finish() without a Finish event still tells the client why it stopped.
        assert_eq!(
            chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
            "stop"
        );
    }

    #[test]
    fn truncated_and_malformed_streams_are_errors() {
        // Content, then the connection closes: no finish_reason, no [DONE].
        let s = sse(&[chunk(json!({"content": "Hel"}), Value::Null)]);
        assert!(decode_all(s.as_bytes()).is_err());
        // Cut in the middle of a chunk.
        let s = "data: {\"id\":\"chatcmpl-7\",\"choi";
        assert!(decode_all(s.as_bytes()).is_err());
        // Not JSON.
        assert!(decode_all(b"data: {nope}\n\n").is_err());
        // A finish reason without [DONE] is complete (some compatible servers omit it).
        let s = sse(&[chunk(json!({"content": "Hi"}), json!("stop"))]);
        assert!(decode_all(s.as_bytes()).is_ok());
        // A last frame without its blank line still counts.
        let s = sse(&[chunk(json!({"content": "Hi"}), Value::Null)]) + "data: [DONE]";
        assert!(decode_all(s.as_bytes()).is_ok());
    }

    /// Prefixes and byte-flipped variants of a stream: the decoder returns events or an error,
    /// never panics; and an encoder fed any event order stays well-formed.
    #[test]
    fn no_stream_input_panics() {
        let input = parallel_tools_stream().into_bytes();
        for cut in 0..input.len() {
            let _ = decode_all(&input[..cut]);
            let mut flipped = input.clone();
            flipped[cut] = flipped[cut].wrapping_add(1);
            let _ = decode_all(&flipped);
        }
        let mut events = parallel_events();
        events.reverse();
        let mut enc = OpenAiStreamEncoder::new("chat", true);
        let mut out = BytesMut::new();
        for e in &events {
            enc.encode(e, &mut out);
        }
        enc.encode(&args(9, "{}"), &mut out);
        enc.finish(&mut out);
        assert!(decode_all(&out).is_ok());
    }
}

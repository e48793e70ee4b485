//! ConverseStream decoding: the recorded fixtures (when /work/shared is present), and round
//! trips of frames written by `encode_event` / `encode_exception`, fed in pieces of every
//! size from 1 to 7 bytes so that frames split at every possible place.

// In a `bedrock` module so that `cargo test -p modelmux-wire bedrock` selects these tests.
#[cfg(test)]
mod bedrock {
    use modelmux_wire::StreamDecoder;
    use modelmux_wire::bedrock::{BedrockStreamDecoder, encode_event, encode_exception};
    use modelmux_wire::canonical::{FinishReason, StreamEvent, Usage};
    use modelmux_wire::codec::ErrorKind;
    use serde_json::{Value, json};

    /// Decodes `bytes` fed `step` bytes at a time; returns the events and `finish()`'s result.
    fn decode_in_steps(bytes: &[u8], step: usize) -> (Vec<StreamEvent>, Result<(), String>) {
        let mut d = BedrockStreamDecoder::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(step) {
            if let Err(e) = d.push(chunk, &mut out) {
                return (out, Err(e.message));
            }
        }
        let done = d.finish(&mut out).map_err(|e| e.message);
        (out, done)
    }

    /// Decodes in every step size 1..=7 and whole; all must agree. Start ids differ per
    /// decoder, so they are blanked.
    fn decode(bytes: &[u8]) -> (Vec<StreamEvent>, Result<(), String>) {
        let blank = |(events, done): (Vec<StreamEvent>, Result<(), String>)| {
            let events = events
                .into_iter()
                .map(|e| match e {
                    StreamEvent::Start { id, model, usage } => {
                        assert!(id.starts_with("bedrock-"), "{id}");
                        StreamEvent::Start {
                            id: String::new(),
                            model,
                            usage,
                        }
                    }
                    other => other,
                })
                .collect::<Vec<_>>();
            (events, done)
        };
        let whole = blank(decode_in_steps(bytes, bytes.len().max(1)));
        for step in 1..=7 {
            assert_eq!(blank(decode_in_steps(bytes, step)), whole, "step {step}");
        }
        whole
    }

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: String::new(),
            model: String::new(),
            usage: None,
        }
    }

    fn frames(events: &[(&str, Value)]) -> Vec<u8> {
        events
            .iter()
            .flat_map(|(t, p)| encode_event(t, p))
            .collect()
    }

    fn fixture(name: &str) -> Option<Vec<u8>> {
        let path = format!(
            "{}/../../../shared/fixtures/bedrock/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                println!(
                    "skipped: fixture {path} is not readable ({e}); this test needs /work/shared"
                );
                None
            }
        }
    }

    #[test]
    fn recorded_fixture_with_tool_use_and_metadata_decodes() {
        let Some(bytes) = fixture("converse_stream_fixture.bin") else {
            return;
        };
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()));
        assert_eq!(
            events,
            vec![
                start(),
                StreamEvent::TextDelta { text: "Hel".into() },
                StreamEvent::TextDelta { text: "lo!".into() },
                StreamEvent::ToolCallStart {
                    index: 0,
                    id: "tooluse_1".into(),
                    name: "get_weather".into(),
                    signature: None
                },
                StreamEvent::ToolCallDelta {
                    index: 0,
                    arguments: "{\"city\":".into()
                },
                StreamEvent::ToolCallDelta {
                    index: 0,
                    arguments: "\"Paris\"}".into()
                },
                StreamEvent::Usage(Usage {
                    input: 12,
                    output: 5,
                    ..Usage::default()
                }),
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    stop_sequence: None
                },
            ]
        );
    }

    #[test]
    fn pitfall_27_recorded_throttled_fixture_ends_in_an_in_band_error() {
        let Some(bytes) = fixture("converse_stream_throttled_fixture.bin") else {
            return;
        };
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()), "the error was reported in-band");
        assert_eq!(
            events,
            vec![
                start(),
                StreamEvent::TextDelta { text: "Hel".into() },
                StreamEvent::Error {
                    kind: ErrorKind::RateLimited,
                    message: "Too many tokens, please wait before trying again.".into()
                },
            ]
        );
    }

    #[test]
    fn pitfall_02_two_tool_calls_get_indices_0_and_1_with_id_and_name_once() {
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Two."}}),
            ),
            ("contentBlockStop", json!({"contentBlockIndex": 0})),
            (
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "a", "name": "f"}}}),
            ),
            (
                "contentBlockStart",
                json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "b", "name": "g"}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{\"y\":2}"}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"x\":1}"}}}),
            ),
            ("contentBlockStop", json!({"contentBlockIndex": 1})),
            ("contentBlockStop", json!({"contentBlockIndex": 2})),
            ("messageStop", json!({"stopReason": "tool_use"})),
        ]);
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()));
        assert_eq!(
            events,
            vec![
                start(),
                StreamEvent::TextDelta {
                    text: "Two.".into()
                },
                StreamEvent::ToolCallStart {
                    index: 0,
                    id: "a".into(),
                    name: "f".into(),
                    signature: None
                },
                StreamEvent::ToolCallStart {
                    index: 1,
                    id: "b".into(),
                    name: "g".into(),
                    signature: None
                },
                StreamEvent::ToolCallDelta {
                    index: 1,
                    arguments: "{\"y\":2}".into()
                },
                StreamEvent::ToolCallDelta {
                    index: 0,
                    arguments: "{\"x\":1}".into()
                },
                StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                    stop_sequence: None
                },
            ]
        );
    }

    #[test]
    fn pitfall_01_streamed_tool_arguments_assemble_to_the_non_stream_input() {
        let input = json!({"city": "Paris", "units": ["c", "f"]});
        let text = input.to_string();
        let (a, b) = text.split_at(9);
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockStart",
                json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "w"}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": a}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": b}}}),
            ),
            ("messageStop", json!({"stopReason": "tool_use"})),
        ]);
        let (events, _) = decode(&bytes);
        let assembled: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta { arguments, .. } => Some(arguments.as_str()),
                _ => None,
            })
            .collect();
        let non_stream = modelmux_wire::bedrock::response_from_bedrock(
            json!({
                "output": {"message": {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "t", "name": "w", "input": input}}]}},
                "stopReason": "tool_use",
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let modelmux_wire::canonical::Part::ToolCall { arguments, .. } = &non_stream.content[0]
        else {
            panic!("no tool call");
        };
        assert_eq!(
            serde_json::from_str::<Value>(&assembled).unwrap(),
            serde_json::from_str::<Value>(arguments).unwrap()
        );
    }

    #[test]
    fn reasoning_deltas_signature_and_redacted_content() {
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Let me "}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "think."}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqQB=="}}}),
            ),
            ("contentBlockStop", json!({"contentBlockIndex": 0})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "cmVk"}}}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 2, "delta": {"text": "Answer"}}),
            ),
            ("messageStop", json!({"stopReason": "end_turn"})),
            (
                "metadata",
                json!({"usage": {"inputTokens": 3, "outputTokens": 9, "totalTokens": 12}, "metrics": {"latencyMs": 1}}),
            ),
        ]);
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()));
        assert_eq!(
            events,
            vec![
                start(),
                StreamEvent::ThinkingDelta {
                    text: "Let me ".into()
                },
                StreamEvent::ThinkingDelta {
                    text: "think.".into()
                },
                StreamEvent::ThinkingSignature {
                    signature: "EqQB==".into()
                },
                StreamEvent::RedactedThinking {
                    data: "cmVk".into()
                },
                StreamEvent::TextDelta {
                    text: "Answer".into()
                },
                StreamEvent::Usage(Usage {
                    input: 3,
                    output: 9,
                    ..Usage::default()
                }),
                StreamEvent::Finish {
                    reason: FinishReason::Stop,
                    stop_sequence: None
                },
            ]
        );
    }

    #[test]
    fn pitfall_25_stream_usage_keeps_cache_counts() {
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "hi"}}),
            ),
            ("messageStop", json!({"stopReason": "max_tokens"})),
            (
                "metadata",
                json!({"usage": {"inputTokens": 4, "outputTokens": 2, "totalTokens": 1506,
            "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 500}, "metrics": {"latencyMs": 5}}),
            ),
        ]);
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()));
        assert_eq!(
            events[2..],
            [
                StreamEvent::Usage(Usage {
                    input: 1504,
                    output: 2,
                    cache_read: 1000,
                    cache_write: 500,
                    reasoning: 0
                }),
                StreamEvent::Finish {
                    reason: FinishReason::Length,
                    stop_sequence: None
                },
            ]
        );
    }

    #[test]
    fn pitfall_27_every_exception_type_maps_to_its_kind() {
        let cases = [
            ("throttlingException", ErrorKind::RateLimited),
            ("serviceUnavailableException", ErrorKind::Overloaded),
            ("modelStreamErrorException", ErrorKind::UpstreamError),
            ("internalServerException", ErrorKind::UpstreamError),
            ("validationException", ErrorKind::BadRequest),
            ("somethingNewException", ErrorKind::UpstreamError),
        ];
        for (exception, kind) in cases {
            let mut bytes = frames(&[
                ("messageStart", json!({"role": "assistant"})),
                (
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0, "delta": {"text": "par"}}),
                ),
            ]);
            bytes.extend(encode_exception(exception, "it broke"));
            // Anything after the exception is ignored.
            bytes.extend(encode_event(
                "contentBlockDelta",
                &json!({"contentBlockIndex": 0, "delta": {"text": "tial"}}),
            ));
            let (events, done) = decode(&bytes);
            assert_eq!(done, Ok(()), "{exception}");
            assert_eq!(
                events.last(),
                Some(&StreamEvent::Error {
                    kind,
                    message: "it broke".into()
                }),
                "{exception}"
            );
            assert_eq!(events.len(), 3, "{exception}: {events:?}");
        }
    }

    #[test]
    fn stream_without_message_stop_is_truncated() {
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            ),
        ]);
        let (events, done) = decode(&bytes);
        assert_eq!(events.len(), 2);
        assert!(done.unwrap_err().contains("messageStop"));
    }

    #[test]
    fn partial_frame_at_the_end_is_truncated() {
        let mut bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            ("messageStop", json!({"stopReason": "end_turn"})),
        ]);
        let meta = encode_event(
            "metadata",
            &json!({"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}),
        );
        bytes.extend_from_slice(&meta[..meta.len() - 3]);
        let (_, done) = decode(&bytes);
        assert!(done.unwrap_err().contains("unfinished"));
    }

    #[test]
    fn bad_crc_is_an_error() {
        let mut bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "Hello"}}),
            ),
        ]);
        let n = bytes.len();
        bytes[n - 6] ^= 0x20; // inside the last payload
        let (events, done) = decode(&bytes);
        assert_eq!(events, vec![start()]);
        assert!(done.is_err());
    }

    #[test]
    fn padding_unknown_keys_and_unknown_events_are_ignored_and_start_is_synthesised() {
        let bytes = frames(&[
            // No messageStart at all, a text block with no contentBlockStart.
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"text": "x"}, "p": "abcdefgh"}),
            ),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 0, "delta": {"citation": {"title": "t"}}, "p": "ab"}),
            ),
            ("somethingNew", json!({"whatever": true})),
            (
                "messageStop",
                json!({"stopReason": "end_turn", "p": "abc", "additionalModelResponseFields": {"stop_sequence": "END"}}),
            ),
        ]);
        let (events, done) = decode(&bytes);
        assert_eq!(done, Ok(()));
        assert_eq!(
            events,
            vec![
                start(),
                StreamEvent::TextDelta { text: "x".into() },
                StreamEvent::Finish {
                    reason: FinishReason::Stop,
                    stop_sequence: Some("END".into())
                },
            ]
        );
    }

    #[test]
    fn tool_delta_for_a_block_that_never_started_is_an_error() {
        let bytes = frames(&[
            ("messageStart", json!({"role": "assistant"})),
            (
                "contentBlockDelta",
                json!({"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
            ),
        ]);
        let (_, done) = decode(&bytes);
        assert!(done.unwrap_err().contains("never started"));
    }

    #[test]
    fn garbage_bytes_are_an_error_not_a_panic() {
        for junk in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            &[0u8; 40][..],
            &[0xff; 13][..],
        ] {
            let (_, done) = decode(junk);
            assert!(done.is_err(), "{junk:?}");
        }
        let (_, done) = decode(b"");
        assert!(done.is_err(), "an empty body is not a complete answer");
    }
}

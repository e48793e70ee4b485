//! Streams in the OpenAI Responses format: `ResponsesStreamEncoder` (canonical events → the
//! Responses event sequence Codex needs), checked event by event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Named `responses` so that `cargo test -p modelmux-wire responses` selects these tests.
mod responses {
    use bytes::BytesMut;
    use modelmux_wire::canonical::{FinishReason, StreamEvent, Usage};
    use modelmux_wire::codec::{ErrorKind, StreamEncoder};
    use modelmux_wire::responses::{ResponsesStreamEncoder, from_responses};
    use modelmux_wire::sse::{SseItem, SseParser};
    use serde_json::{Value, json};

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: "upstream".into(),
            model: "claude".into(),
            usage: None,
        }
    }

    fn text(t: &str) -> StreamEvent {
        StreamEvent::TextDelta { text: t.into() }
    }

    fn tool(index: u32, id: &str, name: &str) -> StreamEvent {
        StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: name.into(),
            signature: None,
        }
    }

    fn args(index: u32, a: &str) -> StreamEvent {
        StreamEvent::ToolCallDelta {
            index,
            arguments: a.into(),
        }
    }

    fn finish(reason: FinishReason) -> StreamEvent {
        StreamEvent::Finish {
            reason,
            stop_sequence: None,
        }
    }

    fn usage() -> StreamEvent {
        StreamEvent::Usage(Usage {
            input: 20,
            output: 8,
            cache_read: 4,
            cache_write: 0,
            reasoning: 2,
        })
    }

    /// Encodes the events (then `finish`), parses the SSE back, and checks the framing
    /// invariants every stream must hold: `event:` equals `data.type`, sequence numbers
    /// 0, 1, 2, ..., one response id.
    fn run(mut enc: ResponsesStreamEncoder, events: &[StreamEvent], fail: bool) -> Vec<Value> {
        let mut out = BytesMut::new();
        for e in events {
            enc.encode(e, &mut out);
        }
        if fail {
            enc.fail(ErrorKind::Overloaded, "upstream overloaded", &mut out);
        } else {
            enc.finish(&mut out);
        }
        // Nothing after the end.
        let len = out.len();
        enc.encode(&text("late"), &mut out);
        enc.finish(&mut out);
        assert_eq!(out.len(), len);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(text.starts_with("event: response.created\ndata: {"));
        let mut p = SseParser::new();
        p.push(&out);
        let mut all = Vec::new();
        while let Some(item) = p.next_item() {
            let SseItem::Event(e) = item else {
                panic!("comment")
            };
            let v: Value = serde_json::from_str(&e.data).unwrap();
            assert_eq!(e.event.as_deref(), v["type"].as_str());
            assert_eq!(v["sequence_number"], all.len(), "{v}");
            if let Some(r) = v.get("response") {
                assert_eq!(r["id"], "resp_T");
                assert_eq!(r["object"], "response");
            }
            all.push(v);
        }
        assert!(!p.has_partial());
        all
    }

    fn types(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn enc() -> ResponsesStreamEncoder {
        ResponsesStreamEncoder::new("gpt-5-codex", "resp_T").with_created(1_700_000_000)
    }

    #[test]
    fn text_answer_sequence() {
        let ev = run(
            enc(),
            &[
                start(),
                text("Hel"),
                text("lo"),
                usage(),
                finish(FinishReason::Stop),
            ],
            false,
        );
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(ev[0]["response"]["status"], "in_progress");
        assert_eq!(ev[0]["response"]["output"], json!([]));
        assert_eq!(ev[0]["response"]["created_at"], 1_700_000_000);
        assert_eq!(
            ev[2]["item"],
            json!({"id": "msg_T_0", "type": "message", "status": "in_progress", "role": "assistant", "content": []})
        );
        assert_eq!(
            ev[3]["part"],
            json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
        );
        assert_eq!(
            ev[4],
            json!({"type": "response.output_text.delta", "item_id": "msg_T_0", "output_index": 0,
                "content_index": 0, "delta": "Hel", "logprobs": [], "sequence_number": 4})
        );
        assert_eq!(ev[6]["text"], "Hello");
        assert_eq!(ev[6]["logprobs"], json!([]));
        assert_eq!(ev[7]["part"]["text"], "Hello");
        assert_eq!(ev[8]["item"]["status"], "completed");
        assert_eq!(ev[8]["item"]["content"][0]["text"], "Hello");
        let done = &ev[9]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"], json!([ev[8]["item"]]));
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                "output_tokens": 8, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 28})
        );
        for e in &ev[2..9] {
            if let Some(id) = e.get("item_id") {
                assert_eq!(id, "msg_T_0");
            }
        }
    }

    #[test]
    fn tool_call_only_answer_has_no_empty_message() {
        let ev = run(
            enc(),
            &[
                start(),
                tool(0, "toolu_01", "exec_command"),
                args(0, "{\"cmd\":"),
                args(0, "\"ls\"}"),
                finish(FinishReason::ToolCalls),
            ],
            false,
        );
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(
            ev[2]["item"],
            json!({"id": "fc_T_0", "type": "function_call", "status": "in_progress",
                "call_id": "toolu_01", "name": "exec_command", "arguments": ""})
        );
        assert_eq!(
            ev[3],
            json!({"type": "response.function_call_arguments.delta", "item_id": "fc_T_0",
                "output_index": 0, "delta": "{\"cmd\":", "sequence_number": 3})
        );
        assert_eq!(
            ev[5],
            json!({"type": "response.function_call_arguments.done", "item_id": "fc_T_0",
                "output_index": 0, "name": "exec_command", "arguments": "{\"cmd\":\"ls\"}", "sequence_number": 5})
        );
        let item = &ev[6]["item"];
        assert_eq!(item["status"], "completed");
        assert_eq!(item["arguments"], "{\"cmd\":\"ls\"}");
        let out = &ev[7]["response"]["output"];
        assert_eq!(out.as_array().unwrap().len(), 1);
        assert_eq!(out[0]["type"], "function_call");
        assert_eq!(out[0]["call_id"], "toolu_01");
    }

    #[test]
    fn text_then_two_tool_calls() {
        let ev = run(
            enc(),
            &[
                start(),
                text("Checking."),
                tool(0, "call_a", "exec_command"),
                args(0, "{\"cmd\":\"ls\"}"),
                tool(1, "call_b", "view_image"),
                finish(FinishReason::ToolCalls),
                usage(),
            ],
            false,
        );
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(ev[8]["output_index"], 1);
        assert_eq!(ev[8]["item"]["id"], "fc_T_1");
        assert_eq!(ev[12]["output_index"], 2);
        assert_eq!(ev[12]["item"]["id"], "fc_T_2");
        // No arguments at all: `{}`, and `name` on the done event.
        assert_eq!(ev[13]["arguments"], "{}");
        assert_eq!(ev[13]["name"], "view_image");
        assert_eq!(ev[13]["item_id"], "fc_T_2");
        let out = ev[15]["response"]["output"].as_array().unwrap().clone();
        let ids: Vec<&str> = out.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["msg_T_0", "fc_T_1", "fc_T_2"]);
        assert_eq!(ev[15]["response"]["usage"]["total_tokens"], 28);
    }

    #[test]
    fn interleaved_parallel_calls_keep_their_items() {
        let ev = run(
            enc(),
            &[
                tool(0, "c0", "a"),
                args(0, "{\"x\""),
                tool(1, "c1", "b"),
                args(1, "{}"),
                args(0, ":1}"),
            ],
            false,
        );
        let done: Vec<&Value> = ev
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.done")
            .collect();
        assert_eq!(done[0]["arguments"], "{\"x\":1}");
        assert_eq!(done[0]["item_id"], "fc_T_0");
        assert_eq!(done[1]["arguments"], "{}");
        assert_eq!(done[1]["item_id"], "fc_T_1");
    }

    #[test]
    fn failure_ends_with_response_failed_and_no_completion() {
        let ev = run(enc(), &[start(), text("partial")], true);
        let t = types(&ev);
        assert_eq!(t.last(), Some(&"response.failed"));
        assert!(!t.contains(&"response.completed"));
        let r = &ev.last().unwrap()["response"];
        assert_eq!(r["status"], "failed");
        assert_eq!(
            r["error"],
            json!({"code": "server_is_overloaded", "message": "upstream overloaded"})
        );
        // An error event from the provider ends the stream the same way.
        let ev = run(
            enc(),
            &[StreamEvent::Error {
                kind: ErrorKind::ContextLengthExceeded,
                message: "too long".into(),
            }],
            false,
        );
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.failed"
            ]
        );
        assert_eq!(
            ev[2]["response"]["error"]["code"],
            "context_length_exceeded"
        );
    }

    #[test]
    fn length_finish_is_incomplete() {
        let ev = run(enc(), &[text("cut"), finish(FinishReason::Length)], false);
        let last = ev.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
    }

    #[test]
    fn reasoning_summary_and_signature() {
        let ev = run(
            enc(),
            &[
                start(),
                StreamEvent::ThinkingDelta {
                    text: "Think".into(),
                },
                StreamEvent::ThinkingDelta { text: "ing".into() },
                StreamEvent::ThinkingSignature {
                    signature: "sig1".into(),
                },
                StreamEvent::RedactedThinking {
                    data: "blob".into(),
                },
                text("Hi"),
            ],
            false,
        );
        assert_eq!(
            &types(&ev)[2..10],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
            ]
        );
        assert_eq!(ev[2]["item"]["id"], "rs_T_0");
        assert_eq!(ev[3]["summary_index"], 0);
        assert_eq!(ev[6]["text"], "Thinking");
        let item = &ev[8]["item"];
        assert_eq!(
            item["summary"],
            json!([{"type": "summary_text", "text": "Thinking"}])
        );
        assert_eq!(item["encrypted_content"], "modelmux.sig:sig1");
        // The redacted block is its own reasoning item, with no summary.
        assert_eq!(ev[10]["item"]["encrypted_content"], "blob");
        assert_eq!(ev[10]["item"]["summary"], json!([]));
        let out = &ev.last().unwrap()["response"]["output"];
        assert_eq!(out.as_array().unwrap().len(), 3);
        assert_eq!(out[2]["type"], "message");
    }

    #[test]
    fn namespace_and_custom_calls_map_back() {
        let req = from_responses(
            json!({"model": "m", "input": "x", "tools": [
                {"type": "namespace", "name": "multi_agent_v1", "description": "", "tools": [{"type": "function", "name": "spawn_agent"}]},
                {"type": "custom", "name": "apply_patch"}
            ]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let ev = run(
            enc().with_request(&req),
            &[
                tool(0, "c0", "multi_agent_v1__spawn_agent"),
                args(0, "{\"message\":\"go\"}"),
                tool(1, "c1", "apply_patch"),
                args(1, "{\"input\":\"*** Begin"),
                args(1, " Patch\"}"),
            ],
            false,
        );
        assert_eq!(ev[2]["item"]["name"], "spawn_agent");
        assert_eq!(ev[2]["item"]["namespace"], "multi_agent_v1");
        let done = ev
            .iter()
            .find(|e| e["type"] == "response.function_call_arguments.done")
            .unwrap();
        assert_eq!(done["name"], "spawn_agent");
        let custom_added = ev
            .iter()
            .find(|e| e["type"] == "response.output_item.added" && e["output_index"] == 1)
            .unwrap();
        assert_eq!(custom_added["item"]["type"], "custom_tool_call");
        assert_eq!(custom_added["item"]["id"], "ctc_T_1");
        let input_done = ev
            .iter()
            .find(|e| e["type"] == "response.custom_tool_call_input.done")
            .unwrap();
        assert_eq!(input_done["input"], "*** Begin Patch");
        let out = &ev.last().unwrap()["response"]["output"];
        assert_eq!(out[1]["input"], "*** Begin Patch");
        assert_eq!(out[1]["call_id"], "c1");
        // The echoed tools are the client's own.
        assert_eq!(ev[0]["response"]["tools"][0]["type"], "namespace");
    }

    #[test]
    fn empty_stream_still_completes_cleanly() {
        let ev = run(enc(), &[], false);
        assert_eq!(
            types(&ev),
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ]
        );
        assert_eq!(ev[2]["response"]["output"], json!([]));
    }

    #[test]
    fn odd_event_orders_still_make_a_valid_stream() {
        let ev = run(
            enc(),
            &[
                args(3, "{\"a\":1}"),
                StreamEvent::ThinkingSignature {
                    signature: "s".into(),
                },
                text(""),
                tool(3, "dup", "ignored"),
                finish(FinishReason::Other("weird".into())),
                finish(FinishReason::Stop),
            ],
            false,
        );
        let last = ev.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        let out = last["response"]["output"].as_array().unwrap();
        assert_eq!(out[0]["type"], "function_call");
        assert_eq!(out[0]["arguments"], "{\"a\":1}");
        assert!(!out[0]["call_id"].as_str().unwrap().is_empty());
        assert_eq!(out[1]["encrypted_content"], "modelmux.sig:s");
    }
}

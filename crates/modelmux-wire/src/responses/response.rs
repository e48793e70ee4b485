//! The Responses `Response` object, shared by the complete answer (`response_to_responses`)
//! and the stream's `response.created` / `response.in_progress` / `response.completed` /
//! `response.incomplete` / `response.failed` events. Besides the output items and usage it
//! echoes the request's settings where the spec's `Response` has them (`instructions`,
//! `tools`, `tool_choice`, `parallel_tool_calls`, `text`, `reasoning`, `metadata`,
//! `previous_response_id`, `store`, `temperature`, `top_p`, `truncation`, `user`,
//! `max_output_tokens`), from the canonical request and the raw `extra` a Responses request
//! kept; with no request the spec's defaults are used. A `Length` finish makes the status
//! `incomplete` with `incomplete_details.reason` `max_output_tokens` (`content_filter` for a
//! content-filter finish).

use serde_json::{Value, json};

use super::items_out::output_items_with;
use super::names::FlatNames;
use crate::canonical::{
    ChatRequest, ChatResponse, FinishReason, ResponseFormat, ToolChoice, Usage, WireFormat,
};
use crate::codec::ErrorKind;

/// What a `Response` object repeats of its request, computed once.
#[derive(Debug, Clone)]
pub(super) struct Echo {
    pub names: FlatNames,
    fields: Vec<(&'static str, Value)>,
}

impl Default for Echo {
    fn default() -> Self {
        Self::from_request(&ChatRequest::default())
    }
}

impl Echo {
    pub(super) fn from_request(req: &ChatRequest) -> Self {
        let names = FlatNames::from_request(req);
        let own = req.extra.format == Some(WireFormat::OpenAiResponses);
        let raw = |key: &str| -> Option<Value> {
            own.then(|| req.extra.get(key))
                .flatten()
                .and_then(|r| serde_json::from_str(r.get()).ok())
        };
        let tools = raw("tools").unwrap_or_else(|| {
            Value::Array(
                req.tools
                    .iter()
                    .map(|t| {
                        json!({"type": "function", "name": t.name, "description": t.description,
                            "parameters": t.parameters, "strict": t.strict})
                    })
                    .collect(),
            )
        });
        let tool_choice = match &req.tool_choice {
            Some(ToolChoice::Auto) => json!("auto"),
            Some(ToolChoice::None) => json!("none"),
            Some(ToolChoice::Required) => json!("required"),
            Some(ToolChoice::Named(flat)) => {
                let (ns, name) = names.unflatten(flat);
                let ty = if names.is_custom(flat) {
                    "custom"
                } else {
                    "function"
                };
                let mut c = json!({"type": ty, "name": name});
                if let (Some(ns), Some(o)) = (ns, c.as_object_mut()) {
                    o.insert("namespace".to_owned(), json!(ns));
                }
                c
            }
            None => raw("tool_choice").unwrap_or_else(|| json!("auto")),
        };
        let format = match &req.response_format {
            None | Some(ResponseFormat::Text) => json!({"type": "text"}),
            Some(ResponseFormat::JsonObject) => json!({"type": "json_object"}),
            Some(ResponseFormat::JsonSchema {
                name,
                description,
                schema,
                strict,
            }) => {
                let mut f = json!({"type": "json_schema", "name": name, "schema": schema, "strict": strict});
                if let (Some(d), Some(o)) = (description, f.as_object_mut()) {
                    o.insert("description".to_owned(), json!(d));
                }
                f
            }
        };
        let mut text = json!({"format": format});
        if let (Some(Value::Object(rest)), Some(o)) = (raw("text"), text.as_object_mut()) {
            o.extend(rest);
        }
        let r = req.reasoning.clone().unwrap_or_default();
        let mut reasoning = json!({"effort": r.effort, "summary": r.display});
        if let (Some(Value::Object(rest)), Some(o)) = (raw("reasoning"), reasoning.as_object_mut())
        {
            o.extend(rest);
        }
        let fields = vec![
            ("instructions", raw("instructions").unwrap_or(Value::Null)),
            ("max_output_tokens", json!(req.max_tokens)),
            (
                "parallel_tool_calls",
                json!(req.parallel_tool_calls.unwrap_or(true)),
            ),
            (
                "previous_response_id",
                raw("previous_response_id").unwrap_or(Value::Null),
            ),
            ("reasoning", reasoning),
            ("store", raw("store").unwrap_or(json!(true))),
            ("temperature", json!(req.temperature.unwrap_or(1.0))),
            ("text", text),
            ("tool_choice", tool_choice),
            ("tools", tools),
            ("top_p", json!(req.top_p.unwrap_or(1.0))),
            ("truncation", raw("truncation").unwrap_or(json!("disabled"))),
            ("user", json!(req.user)),
            ("metadata", json!(req.metadata.clone().unwrap_or_default())),
        ];
        Self { names, fields }
    }
}

/// How an answer ended, as a `Response` says it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Status {
    Completed,
    Incomplete(&'static str),
    InProgress,
    Failed { code: &'static str, message: String },
}

impl Status {
    pub(super) fn of_finish(finish: Option<&FinishReason>) -> Self {
        match finish {
            Some(FinishReason::Length) => Self::Incomplete("max_output_tokens"),
            Some(FinishReason::ContentFilter) => Self::Incomplete("content_filter"),
            _ => Self::Completed,
        }
    }

    /// The terminal event type for this status.
    pub(super) fn event(&self) -> &'static str {
        match self {
            Self::Completed => "response.completed",
            Self::Incomplete(_) => "response.incomplete",
            Self::InProgress => "response.in_progress",
            Self::Failed { .. } => "response.failed",
        }
    }
}

/// The `error.code` a Responses client reads from a failed response (Codex acts on
/// `context_length_exceeded`, `insufficient_quota` and `rate_limit_exceeded`).
pub(super) fn error_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimited => "rate_limit_exceeded",
        ErrorKind::QuotaExceeded => "insufficient_quota",
        ErrorKind::ContextLengthExceeded => "context_length_exceeded",
        ErrorKind::ContentFilter => "content_filter",
        ErrorKind::Overloaded => "server_is_overloaded",
        ErrorKind::BadRequest => "invalid_prompt",
        _ => "server_error",
    }
}

/// A `Response` object.
pub(super) fn response_object(
    id: &str,
    model: &str,
    created_at: u64,
    status: &Status,
    echo: &Echo,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    let (status_str, error, incomplete) = match status {
        Status::Completed => ("completed", Value::Null, Value::Null),
        Status::InProgress => ("in_progress", Value::Null, Value::Null),
        Status::Incomplete(reason) => ("incomplete", Value::Null, json!({"reason": reason})),
        Status::Failed { code, message } => (
            "failed",
            json!({"code": code, "message": message}),
            Value::Null,
        ),
    };
    let completed_at = if *status == Status::Completed {
        json!(now_secs().max(created_at))
    } else {
        Value::Null
    };
    let mut obj = serde_json::Map::new();
    obj.insert("id".to_owned(), json!(id));
    obj.insert("object".to_owned(), json!("response"));
    obj.insert("created_at".to_owned(), json!(created_at));
    obj.insert("status".to_owned(), json!(status_str));
    obj.insert("completed_at".to_owned(), completed_at);
    obj.insert("error".to_owned(), error);
    obj.insert("incomplete_details".to_owned(), incomplete);
    obj.insert("model".to_owned(), json!(model));
    obj.insert("output".to_owned(), Value::Array(output));
    for (k, v) in &echo.fields {
        obj.insert((*k).to_owned(), v.clone());
    }
    obj.insert("usage".to_owned(), usage.map_or(Value::Null, usage_json));
    Value::Object(obj)
}

/// The Responses `usage` object for canonical usage.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cache_read, "cache_write_tokens": u.cache_write},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.total(),
    })
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Renders a canonical answer as a Responses `Response` body for a Responses client.
/// `request` supplies the name map and the echoed settings; `response_id` names the
/// response (`resp_...`) and, derived from it, its items.
pub fn response_to_responses(
    resp: &ChatResponse,
    model: &str,
    request: &ChatRequest,
    response_id: &str,
) -> Vec<u8> {
    let echo = Echo::from_request(request);
    let output = output_items_with(resp, &echo.names, response_id);
    let created = if resp.created == 0 {
        now_secs()
    } else {
        resp.created
    };
    let status = Status::of_finish(resp.finish.as_ref());
    let body = response_object(
        response_id,
        model,
        created,
        &status,
        &echo,
        output,
        Some(&resp.usage),
    );
    serde_json::to_vec(&body).unwrap_or_default()
}

//! Canonical `ChatRequest` → the body of a Gemini `:generateContent` /
//! `:streamGenerateContent` call. The provider adapter calls [`to_gemini`] and puts the model
//! (and `?alt=sse` when streaming) in the URL; the body never names the model or the stream.
//!
//! `contents` and `systemInstruction` come from `contents::build`. Tools become one
//! `{functionDeclarations:[...]}` entry with cleaned schemas (pitfall 19); a tool whose
//! cleaned schema has no properties is declared without `parameters` (Gemini rejects an
//! OBJECT with empty `properties`). `tool_choice` becomes `toolConfig.functionCallingConfig`;
//! `parallel_tool_calls` has no Gemini counterpart and is dropped. Sampling, stops, seed,
//! penalties and `n` go to `generationConfig`. A JSON response format sets
//! `responseMimeType` (+ `responseJsonSchema`, the schema as given) unless tools are present:
//! Gemini rejects JSON mime together with function calling, so then it is dropped (pitfall
//! 18). Reasoning becomes `thinkingConfig`. Source-format `extra` fields are never written:
//! Gemini is not a client format here.

use serde_json::{Map, Value, json};

use super::contents;
use super::schema::clean_schema;
use crate::canonical::{ChatRequest, Reasoning, ResponseFormat, ToolChoice};

/// The request body (JSON bytes).
pub fn to_gemini(req: &ChatRequest) -> Vec<u8> {
    serde_json::to_vec(&to_gemini_value(req)).unwrap_or_default()
}

/// The request body as a JSON value.
pub(crate) fn to_gemini_value(req: &ChatRequest) -> Value {
    let built = contents::build(&req.messages);
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(built.contents));
    if !built.system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"role": "user", "parts": built.system}),
        );
    }
    if !req.tools.is_empty() {
        body.insert("tools".into(), tools(req));
        if let Some(choice) = &req.tool_choice {
            body.insert("toolConfig".into(), tool_config(choice));
        }
    }
    let config = generation_config(req);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

fn tools(req: &ChatRequest) -> Value {
    let declarations: Vec<Value> = req
        .tools
        .iter()
        .map(|tool| {
            let mut d = Map::new();
            d.insert("name".into(), json!(tool.name));
            if let Some(desc) = tool.description.as_ref().filter(|d| !d.is_empty()) {
                d.insert("description".into(), json!(desc));
            }
            let params = clean_schema(&tool.parameters);
            let has_properties = params
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            if has_properties {
                d.insert("parameters".into(), params);
            }
            Value::Object(d)
        })
        .collect();
    json!([{"functionDeclarations": declarations}])
}

fn tool_config(choice: &ToolChoice) -> Value {
    let config = match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    };
    json!({"functionCallingConfig": config})
}

fn generation_config(req: &ChatRequest) -> Map<String, Value> {
    let mut c = Map::new();
    if !req.stop.is_empty() {
        c.insert("stopSequences".into(), json!(req.stop));
    }
    if let Some(v) = req.max_tokens {
        c.insert("maxOutputTokens".into(), json!(v));
    }
    if let Some(v) = req.temperature {
        c.insert("temperature".into(), json!(v));
    }
    if let Some(v) = req.top_p {
        c.insert("topP".into(), json!(v));
    }
    if let Some(v) = req.top_k {
        c.insert("topK".into(), json!(v));
    }
    if let Some(v) = req.seed {
        c.insert("seed".into(), json!(v));
    }
    if let Some(v) = req.presence_penalty {
        c.insert("presencePenalty".into(), json!(v));
    }
    if let Some(v) = req.frequency_penalty {
        c.insert("frequencyPenalty".into(), json!(v));
    }
    if let Some(n) = req.n {
        c.insert("candidateCount".into(), json!(n));
    }
    // Pitfall 18: JSON mime + function calling is rejected; tools win.
    if req.tools.is_empty() {
        match &req.response_format {
            Some(ResponseFormat::JsonObject) => {
                c.insert("responseMimeType".into(), json!("application/json"));
            }
            Some(ResponseFormat::JsonSchema { schema, .. }) => {
                c.insert("responseMimeType".into(), json!("application/json"));
                c.insert("responseJsonSchema".into(), schema.clone());
            }
            Some(ResponseFormat::Text) | None => {}
        }
    }
    if let Some(r) = &req.reasoning
        && let Some(t) = thinking_config(r, &req.model)
    {
        c.insert("thinkingConfig".into(), t);
    }
    c
}

/// Reasoning → `thinkingConfig`. An explicit budget wins over an effort (Gemini rejects
/// both together). Gemini 2.x models have no `thinkingLevel`, so for them an effort is
/// turned into a budget.
fn thinking_config(r: &Reasoning, model: &str) -> Option<Value> {
    let mut t = Map::new();
    let effort = r.effort.as_deref().map(str::to_ascii_lowercase);
    let off = r.enabled == Some(false) || effort.as_deref() == Some("none");
    if off {
        t.insert("thinkingBudget".into(), json!(0));
        return Some(Value::Object(t));
    }
    if let Some(budget) = r.budget_tokens {
        t.insert("thinkingBudget".into(), json!(budget));
    } else if let Some(effort) = effort.as_deref() {
        let level = match effort {
            "minimal" => Some(("MINIMAL", 512)),
            "low" => Some(("LOW", 1024)),
            "medium" => Some(("MEDIUM", 8192)),
            "high" | "xhigh" | "max" => Some(("HIGH", 24576)),
            _ => None,
        };
        if let Some((level, budget)) = level {
            if is_gemini_2(model) {
                t.insert("thinkingBudget".into(), json!(budget));
            } else {
                t.insert("thinkingLevel".into(), json!(level));
            }
        }
    }
    let omitted = matches!(r.display.as_deref(), Some("omitted") | Some("none"));
    t.insert("includeThoughts".into(), json!(!omitted));
    Some(Value::Object(t))
}

fn is_gemini_2(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    name.starts_with("gemini-2") || name.starts_with("gemini-1")
}

//! Reading and validating a Gemini `GenerateContentRequest` where gateways go wrong: roles
//! `user`/`model`, non-empty `parts`, unknown part fields, as many `functionResponse` parts as
//! the previous turn had `functionCall`s, JSON-Schema keywords Gemini's OpenAPI `Schema` does not
//! know (unless sent as `parametersJsonSchema`), and JSON mode combined with function calling.
//! Both lowerCamelCase and snake_case field names are accepted, as Google's JSON mapping does.

use serde_json::{Map, Value};

use crate::plan::{Msg, Request, Role, Tool, ToolChoice};

const PART_FIELDS: &[&str] = &[
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "thought",
    "thoughtSignature",
    "executableCode",
    "codeExecutionResult",
    "videoMetadata",
    "partMetadata",
    "mediaResolution",
];

/// Keywords of JSON Schema that Gemini's `Schema` message rejects.
const UNKNOWN_SCHEMA_KEYS: &[&str] = &[
    "additionalProperties",
    "$schema",
    "$ref",
    "$defs",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "default",
    "examples",
    "const",
    "title",
];

/// `fieldName` of a JSON object, also under its snake_case spelling.
fn get<'a>(o: &'a Value, camel: &str) -> Option<&'a Value> {
    o.get(camel).or_else(|| o.get(snake(camel).as_str()))
}

fn snake(camel: &str) -> String {
    let mut s = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

fn unknown(name: &str, at: &str) -> String {
    format!("Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field.")
}

/// The neutral request, or the message of a 400 INVALID_ARGUMENT.
pub(crate) fn parse(body: &[u8], model: &str, stream: bool) -> Result<Request, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    let contents = match get(&v, "contents").and_then(Value::as_array) {
        Some(c) if !c.is_empty() => c,
        _ => return Err("* GenerateContentRequest.contents: contents is not specified\n".into()),
    };
    let mut messages = Vec::new();
    if let Some(system) = get(&v, "systemInstruction") {
        let parts = get(system, "parts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let text: String = parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        messages.push(Msg::text(Role::System, text));
    }
    let mut previous_calls = 0usize;
    for (i, c) in contents.iter().enumerate() {
        let role = match c.get("role").and_then(Value::as_str) {
            None | Some("user") => Role::User,
            Some("model") => Role::Assistant,
            Some(other) => {
                return Err(format!(
                    "Please use a valid role: user, model. (got \"{other}\" at contents[{i}])"
                ));
            }
        };
        let parts = match get(c, "parts").and_then(Value::as_array) {
            Some(p) if !p.is_empty() => p,
            _ => {
                return Err(format!(
                    "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
                ));
            }
        };
        let mut msg = Msg::text(role, "");
        let mut responses = 0usize;
        for (j, p) in parts.iter().enumerate() {
            let Some(obj) = p.as_object() else {
                return Err(format!("Invalid value at 'contents[{i}].parts[{j}]'"));
            };
            for key in obj.keys() {
                if !PART_FIELDS.iter().any(|f| f == key || snake(f) == *key) {
                    return Err(unknown(key, &format!("contents[{i}].parts[{j}]")));
                }
            }
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                msg.text.push_str(t);
            }
            if let Some(call) = get(p, "functionCall") {
                let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
                let id = call.get("id").and_then(Value::as_str).unwrap_or_default();
                msg.tool_calls.push((id.to_owned(), name.to_owned()));
            }
            if let Some(resp) = get(p, "functionResponse") {
                let text = response_text(resp.get("response"));
                msg.text.push_str(&text);
                msg.tool_results.push(text);
                responses += 1;
            }
        }
        if responses > 0 && responses != previous_calls {
            return Err("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.".into());
        }
        previous_calls = msg.tool_calls.len();
        messages.push(msg);
    }
    let mut r = Request::new(model, messages);
    r.stream = stream;
    r.include_usage = true;
    r.call_id_prefix = "";
    for (t, tool) in get(&v, "tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let decls = get(tool, "functionDeclarations").and_then(Value::as_array);
        for (d, decl) in decls.into_iter().flatten().enumerate() {
            let name = decl.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty() {
                return Err(format!(
                    "* GenerateContentRequest.tools[{t}].function_declarations[{d}].name: [FIELD_INVALID] Invalid function name."
                ));
            }
            let schema = if let Some(s) = get(decl, "parametersJsonSchema") {
                Some(s.clone())
            } else if let Some(s) = decl.get("parameters") {
                check_schema(
                    s,
                    &format!("tools[{t}].function_declarations[{d}].parameters"),
                )?;
                Some(s.clone())
            } else {
                None
            };
            r.tools.push(Tool {
                name: name.to_owned(),
                schema,
            });
        }
    }
    let config = get(&v, "generationConfig");
    if let Some(config) = config {
        let mime = get(config, "responseMimeType").and_then(Value::as_str);
        if mime == Some("application/json") && !r.tools.is_empty() {
            return Err(
                "Function calling with a response mime type: 'application/json' is unsupported"
                    .into(),
            );
        }
        r.max_tokens = get(config, "maxOutputTokens")
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(fc) = get(&v, "toolConfig").and_then(|t| get(t, "functionCallingConfig")) {
        let allowed: Vec<&str> = get(fc, "allowedFunctionNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        r.tool_choice = match fc.get("mode").and_then(Value::as_str) {
            Some("NONE") => ToolChoice::None,
            Some("ANY") if allowed.len() == 1 => ToolChoice::Named(allowed[0].to_owned()),
            Some("ANY") => ToolChoice::Required,
            _ => ToolChoice::Auto,
        };
    }
    Ok(r)
}

/// The text a function response stands for: its only string field, or its JSON.
fn response_text(resp: Option<&Value>) -> String {
    match resp {
        Some(Value::Object(o)) if o.len() == 1 => match o.values().next() {
            Some(Value::String(s)) => s.clone(),
            _ => Value::Object(o.clone()).to_string(),
        },
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

/// Reject JSON-Schema keywords the OpenAPI `Schema` does not have, at any depth. The keys of
/// `properties` are property names, so they are not checked themselves.
fn check_schema(s: &Value, at: &str) -> Result<(), String> {
    let Some(o) = s.as_object() else {
        return Ok(());
    };
    for (key, value) in o {
        if UNKNOWN_SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(unknown(key, at));
        }
        match key.as_str() {
            "properties" => check_properties(value.as_object(), &format!("{at}.properties"))?,
            "items" | "anyOf" | "oneOf" | "allOf" => match value {
                Value::Array(a) => {
                    for (k, item) in a.iter().enumerate() {
                        check_schema(item, &format!("{at}.{key}[{k}]"))?;
                    }
                }
                other => check_schema(other, &format!("{at}.{key}"))?,
            },
            _ => {}
        }
    }
    Ok(())
}

fn check_properties(props: Option<&Map<String, Value>>, at: &str) -> Result<(), String> {
    for (name, schema) in props.into_iter().flatten() {
        check_schema(schema, &format!("{at}[{name:?}].value"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_named_title_is_fine_but_a_title_keyword_is_not() {
        let ok = json!({"type": "object", "properties": {"title": {"type": "string"}}});
        assert!(check_schema(&ok, "p").is_ok());
        let bad = json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string", "default": "x"}}}});
        assert!(
            check_schema(&bad, "p")
                .unwrap_err()
                .contains("Unknown name \"default\"")
        );
    }

    #[test]
    fn snake_case_fields_are_read() {
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object", "additionalProperties": false}}]}],
            "generation_config": {"max_output_tokens": 7}});
        let r = parse(body.to_string().as_bytes(), "g", false).unwrap();
        assert_eq!((r.tools.len(), r.max_tokens), (1, Some(7)));
    }
}

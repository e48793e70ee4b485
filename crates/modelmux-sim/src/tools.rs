//! Simulated tool calling: which function tools a request gets called (the named one, the first,
//! or the first two in parallel) and the JSON arguments built from each tool's parameter schema;
//! or the one call a behaviour scripts.

use serde_json::{Map, Value, json};

use crate::behaviour::ScriptedCall;
use crate::plan::{Tool, ToolChoice};
use crate::text::alnum;

/// One tool call of an answer.
#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The calls to make for a request that offers `tools`, or none when the model should answer
/// text (no tools, `ToolChoice::None`, or the named tool is absent). Ids are `prefix` + 24
/// random letters and digits.
pub(crate) fn plan(
    tools: &[Tool],
    choice: &ToolChoice,
    parallel: bool,
    prefix: &str,
) -> Vec<ToolCall> {
    let chosen: Vec<&Tool> = match choice {
        ToolChoice::None => Vec::new(),
        ToolChoice::Named(name) => tools.iter().filter(|t| &t.name == name).take(1).collect(),
        ToolChoice::Auto | ToolChoice::Required => {
            tools.iter().take(if parallel { 2 } else { 1 }).collect()
        }
    };
    chosen
        .into_iter()
        .map(|t| ToolCall {
            id: format!("{prefix}{}", alnum(24)),
            name: t.name.clone(),
            arguments: arguments(t.schema.as_ref()).to_string(),
        })
        .collect()
}

/// The behaviour's scripted call, when the request offers a tool of that name and its tool
/// choice allows calling it (`auto`, `required`, or that tool by name).
pub(crate) fn scripted(
    call: &ScriptedCall,
    tools: &[Tool],
    choice: &ToolChoice,
    prefix: &str,
) -> Option<ToolCall> {
    let allowed = match choice {
        ToolChoice::None => false,
        ToolChoice::Named(name) => name == &call.name,
        ToolChoice::Auto | ToolChoice::Required => true,
    };
    (allowed && tools.iter().any(|t| t.name == call.name)).then(|| ToolCall {
        id: format!("{prefix}{}", alnum(24)),
        name: call.name.clone(),
        arguments: call.arguments.to_string(),
    })
}

/// Arguments satisfying a JSON schema's `required` properties, one plausible value per type.
fn arguments(schema: Option<&Value>) -> Value {
    let mut args = Map::new();
    let Some(schema) = schema else {
        return Value::Object(args);
    };
    let props = schema.get("properties");
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        let prop = props.and_then(|p| p.get(name));
        args.insert(name.to_owned(), value_for(name, prop));
    }
    Value::Object(args)
}

fn value_for(name: &str, prop: Option<&Value>) -> Value {
    if let Some(first) = prop
        .and_then(|p| p.get("enum"))
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match prop.and_then(|p| p.get("type")) {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    };
    match ty {
        "number" | "integer" => json!(1),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => json!({}),
        _ => {
            let lower = name.to_ascii_lowercase();
            if lower.contains("city") || lower.contains("location") {
                json!("Paris")
            } else {
                json!("value")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> Tool {
        Tool {
            name: "get_weather".into(),
            schema: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string", "enum": ["c", "f"]},
                               "ok": {"type": ["boolean", "null"]}, "tags": {"type": "array"}, "note": {"type": "string"}},
                "required": ["city", "days", "unit", "ok", "tags"]})),
        }
    }

    #[test]
    fn arguments_follow_the_schema() {
        let calls = plan(&[weather()], &ToolChoice::Auto, false, "call_");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "get_weather");
        assert!(calls[0].id.starts_with("call_") && calls[0].id.len() == 29);
        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
        assert_eq!(
            args,
            json!({"city": "Paris", "days": 1, "unit": "c", "ok": true, "tags": []})
        );
    }

    #[test]
    fn tool_choice_selects_and_parallel_takes_two() {
        let noargs = Tool {
            name: "now".into(),
            schema: None,
        };
        let tools = [weather(), noargs];
        assert!(plan(&tools, &ToolChoice::None, true, "c").is_empty());
        let named = plan(&tools, &ToolChoice::Named("now".into()), true, "c");
        assert_eq!(
            (
                named.len(),
                named[0].name.as_str(),
                named[0].arguments.as_str()
            ),
            (1, "now", "{}")
        );
        assert!(plan(&tools, &ToolChoice::Named("absent".into()), true, "c").is_empty());
        let both: Vec<String> = plan(&tools, &ToolChoice::Auto, true, "c")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(both, ["get_weather", "now"]);
        assert_eq!(plan(&tools, &ToolChoice::Required, false, "c").len(), 1);
    }
}

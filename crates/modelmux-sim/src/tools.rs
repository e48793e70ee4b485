//! Simulated tool calling: which function tools a request gets called (the named one, the first,
//! or the first two in parallel) and the JSON arguments built from each tool's parameter schema.

use serde_json::{Map, Value, json};

use crate::text::alnum;

/// One tool call of an answer.
#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The calls to make for a request that offers `tools`, or none when the model should answer
/// text (no function tools, `tool_choice: "none"`, or the named tool is absent).
pub(crate) fn plan(tools: &[Value], tool_choice: Option<&Value>, parallel: bool) -> Vec<ToolCall> {
    let functions: Vec<&Value> = tools
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str).unwrap_or("function") == "function")
        .filter_map(|t| t.get("function"))
        .filter(|f| f.get("name").and_then(Value::as_str).is_some())
        .collect();
    let chosen: Vec<&Value> = match tool_choice {
        Some(Value::String(s)) if s == "none" => Vec::new(),
        Some(Value::Object(o)) => {
            let wanted = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match wanted {
                Some(name) => functions
                    .iter()
                    .copied()
                    .filter(|f| f.get("name").and_then(Value::as_str) == Some(name))
                    .take(1)
                    .collect(),
                None => functions.iter().copied().take(1).collect(),
            }
        }
        _ => functions
            .iter()
            .copied()
            .take(if parallel { 2 } else { 1 })
            .collect(),
    };
    chosen
        .into_iter()
        .map(|f| ToolCall {
            id: format!("call_{}", alnum(24)),
            name: f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            arguments: arguments(f.get("parameters")).to_string(),
        })
        .collect()
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

    fn weather() -> Value {
        json!({"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string", "enum": ["c", "f"]},
                           "ok": {"type": ["boolean", "null"]}, "tags": {"type": "array"}, "note": {"type": "string"}},
            "required": ["city", "days", "unit", "ok", "tags"]}}})
    }

    #[test]
    fn arguments_follow_the_schema() {
        let calls = plan(&[weather()], None, false);
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
        let noargs = json!({"type": "function", "function": {"name": "now"}});
        let tools = [weather(), noargs];
        assert!(plan(&tools, Some(&json!("none")), true).is_empty());
        let named = plan(
            &tools,
            Some(&json!({"type": "function", "function": {"name": "now"}})),
            true,
        );
        assert_eq!(
            (
                named.len(),
                named[0].name.as_str(),
                named[0].arguments.as_str()
            ),
            (1, "now", "{}")
        );
        let both: Vec<String> = plan(&tools, Some(&json!("auto")), true)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(both, ["get_weather", "now"]);
        assert_eq!(plan(&tools, Some(&json!("required")), false).len(), 1);
    }
}

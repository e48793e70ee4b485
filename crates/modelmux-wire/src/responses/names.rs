//! Tool names across the Responses boundary. Responses `namespace` tools hold nested function
//! and custom tools that other formats cannot group, so each nested tool becomes one flat
//! canonical tool named `<namespace>__<name>` (`multi_agent_v1__spawn_agent`); a flat name
//! longer than 64 characters (the limit most providers put on tool names) is cut and ends in
//! a stable hash of the whole. Flattening depends only on the pair, so replayed
//! `function_call` items with a `namespace` flatten the same way without the tool list.
//! `custom` tools (free-form input) become function tools taking `{"input": string}`; the map
//! remembers them so a call comes back out as a `custom_tool_call` with the raw input.
//! [`FlatNames`] is rebuilt from the raw `tools` that `from_responses` keeps in `extra`, so the
//! encoders map names back with nothing but the canonical request.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::canonical::{ChatRequest, WireFormat};
use crate::codec::TranslateError;

/// The separator between a namespace and a nested tool's name in a flat name.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// The longest flat name produced.
const MAX_NAME: usize = 64;

/// What a flat canonical tool name stands for on the Responses side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Origin {
    namespace: Option<String>,
    name: String,
    custom: bool,
}

/// The namespace-flattening and custom-tool map of one request's tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlatNames {
    by_flat: HashMap<String, Origin>,
}

/// The flat canonical name of tool `name` in `namespace`.
pub fn flatten(namespace: &str, name: &str) -> String {
    let flat = format!("{namespace}{NAMESPACE_SEPARATOR}{name}");
    if flat.len() <= MAX_NAME {
        return flat;
    }
    let hash = format!("{:016x}", fnv1a(flat.as_bytes()));
    let mut cut = MAX_NAME - hash.len() - 1;
    while !flat.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}", &flat[..cut])
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The parameters schema a custom (free-form) tool is offered with.
pub fn custom_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The raw input for the tool."}},
        "required": ["input"],
        "additionalProperties": false,
    })
}

impl FlatNames {
    /// The map for a Responses `tools` array. Fails when two tools would get the same flat
    /// name (a top-level tool literally named like a flattened nested one).
    pub fn from_tools(tools: &Value) -> Result<Self, TranslateError> {
        let mut names = Self::default();
        let Some(arr) = tools.as_array() else {
            return Ok(names);
        };
        for (i, tool) in arr.iter().enumerate() {
            let ty = tool.get("type").and_then(Value::as_str).unwrap_or_default();
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            match ty {
                "function" | "custom" => {
                    names.insert(&format!("tools[{i}]"), name.to_owned(), None, name, ty)?;
                }
                "namespace" => {
                    let nested = tool.get("tools").and_then(Value::as_array);
                    for (j, t) in nested.into_iter().flatten().enumerate() {
                        let inner = t.get("name").and_then(Value::as_str).unwrap_or_default();
                        let ty = t.get("type").and_then(Value::as_str).unwrap_or("function");
                        let path = format!("tools[{i}].tools[{j}]");
                        names.insert(&path, flatten(name, inner), Some(name), inner, ty)?;
                    }
                }
                _ => {}
            }
        }
        Ok(names)
    }

    /// The map for a request decoded by `from_responses` (empty for other formats).
    pub fn from_request(req: &ChatRequest) -> Self {
        if req.extra.format != Some(WireFormat::OpenAiResponses) {
            return Self::default();
        }
        req.extra
            .get("tools")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .and_then(|tools| Self::from_tools(&tools).ok())
            .unwrap_or_default()
    }

    fn insert(
        &mut self,
        path: &str,
        flat: String,
        namespace: Option<&str>,
        name: &str,
        ty: &str,
    ) -> Result<(), TranslateError> {
        if self.by_flat.contains_key(&flat) {
            return Err(TranslateError::at(
                path,
                format!(
                    "The tool name '{flat}' is used twice (namespaced tools are flattened to '<namespace>__<name>')."
                ),
            ));
        }
        let origin = Origin {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            custom: ty == "custom",
        };
        self.by_flat.insert(flat, origin);
        Ok(())
    }

    /// The `(namespace, name)` a flat name came from; `None` namespace for top-level tools
    /// and for names this map does not know (returned unchanged).
    pub fn unflatten<'a>(&'a self, flat: &'a str) -> (Option<&'a str>, &'a str) {
        match self.by_flat.get(flat) {
            Some(o) => (o.namespace.as_deref(), &o.name),
            None => (None, flat),
        }
    }

    /// Whether the flat name is a custom (free-form input) tool.
    pub fn is_custom(&self, flat: &str) -> bool {
        self.by_flat.get(flat).is_some_and(|o| o.custom)
    }

    /// Whether the map knows no tool at all.
    pub fn is_empty(&self) -> bool {
        self.by_flat.is_empty()
    }
}

/// The raw input of a custom tool call from canonical arguments: the `input` member of
/// `{"input": ...}`, or the arguments as they are when they are not that shape.
pub fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) => match o.get("input") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => arguments.to_owned(),
        },
        _ => arguments.to_owned(),
    }
}

/// Canonical arguments for a custom tool call's raw input: `{"input": <input>}`.
pub fn custom_arguments(input: &str) -> String {
    json!({ "input": input }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let ns = "n".repeat(40);
        let name = "é".repeat(30);
        let a = flatten(&ns, &name);
        assert!(a.len() <= MAX_NAME);
        assert_eq!(a, flatten(&ns, &name));
        assert_ne!(a, flatten(&ns, &"é".repeat(31)));
        assert_eq!(flatten("a", "b"), "a__b");
    }

    #[test]
    fn custom_input_reads_the_wrapper_or_keeps_the_text() {
        assert_eq!(custom_input(&custom_arguments("x\n\"y\"")), "x\n\"y\"");
        assert_eq!(custom_input("not json"), "not json");
    }
}

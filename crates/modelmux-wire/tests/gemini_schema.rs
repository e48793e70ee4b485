//! `clean_schema`: JSON Schemas as real clients send them → what Gemini's `parameters`
//! accepts (pitfall 19), compared as exact JSON values.

use modelmux_wire::gemini::clean_schema;
use serde_json::json;

#[test]
fn pitfall_19_claude_code_tool_schema() {
    // The shape of Claude Code's tools (real-clients.md).
    let input = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "title": "BashInput",
        "properties": {
            "command": {"type": "string", "description": "The command to execute", "maxLength": 10000},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000,
                        "description": "Optional timeout in ms", "default": 120000},
            "files": {"type": "array", "items": {"type": "string", "pattern": "^/", "examples": ["/a"]},
                      "maxItems": 20, "minItems": 1},
            "mode": {"type": "string", "enum": ["read", "write"], "default": "read"},
            "run_in_background": {"type": "boolean", "$comment": "internal"}
        },
        "required": ["command"],
        "additionalProperties": false
    });
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute", "maxLength": 10000},
                "timeout": {"type": "number", "minimum": 0, "maximum": 600000,
                            "description": "Optional timeout in ms"},
                "files": {"type": "array", "items": {"type": "string", "pattern": "^/"},
                          "maxItems": 20, "minItems": 1},
                "mode": {"type": "string", "enum": ["read", "write"]},
                "run_in_background": {"type": "boolean"}
            },
            "required": ["command"]
        })
    );
}

#[test]
fn pitfall_19_refs_are_inlined_and_defs_removed() {
    let input = json!({
        "type": "object",
        "$defs": {"Point": {"type": "object", "title": "Point",
                            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                            "required": ["x", "y"], "additionalProperties": false}},
        "definitions": {"Color": {"type": "string", "enum": ["red", "blue"]}},
        "properties": {
            "from": {"$ref": "#/$defs/Point", "description": "Start"},
            "to": {"$ref": "#/$defs/Point"},
            "color": {"$ref": "#/definitions/Color"},
            "remote": {"$ref": "https://example.com/schema.json"}
        }
    });
    let point = json!({"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                       "required": ["x", "y"]});
    let mut from = point.clone();
    from["description"] = json!("Start");
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {
                "from": from,
                "to": point,
                "color": {"type": "string", "enum": ["red", "blue"]},
                "remote": {"type": "object"}
            }
        })
    );
}

#[test]
fn pitfall_19_recursive_refs_terminate() {
    let input = json!({
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {
            "value": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}
        }}}
    });
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {"root": {"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"type": "object"}}
            }}}
        })
    );
    // Self-reference through the root, and a ref to itself.
    let weird = json!({"$defs": {"A": {"$ref": "#/$defs/A"}},
                       "properties": {"me": {"$ref": "#"}, "a": {"$ref": "#/$defs/A"}}});
    assert_eq!(
        clean_schema(&weird),
        json!({"type": "object", "properties": {
            "me": {"type": "object", "properties": {"me": {"type": "object"}, "a": {"type": "object"}}},
            "a": {"type": "object"}
        }})
    );
}

#[test]
fn pitfall_19_exponential_ref_dag_is_bounded() {
    // Each level references the next twice: naive inlining would produce 2^40 nodes.
    let mut defs = serde_json::Map::new();
    for i in 0..40 {
        defs.insert(
            format!("L{i}"),
            json!({"type": "object", "properties": {
                "l": {"$ref": format!("#/$defs/L{}", i + 1)},
                "r": {"$ref": format!("#/$defs/L{}", i + 1)}
            }}),
        );
    }
    defs.insert("L40".into(), json!({"type": "string"}));
    let input =
        json!({"type": "object", "properties": {"t": {"$ref": "#/$defs/L0"}}, "$defs": defs});
    let out = clean_schema(&input);
    assert_eq!(out["type"], json!("object"));
    assert!(out.to_string().len() < 5_000_000);
}

#[test]
fn pitfall_19_nullable_types_and_any_of() {
    let input = json!({
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"], "format": "email"},
            "b": {"anyOf": [{"type": "integer", "format": "int64"}, {"type": "null"}], "description": "B"},
            "c": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "d": {"type": ["string", "integer"]},
            "e": {"const": 3},
            "f": {"type": "integer", "enum": [1, 2, null]},
            "g": {"type": "string", "format": "date-time"},
            "h": {"type": "number", "exclusiveMaximum": 10, "maximum": 5}
        }
    });
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true},
                "b": {"type": "integer", "format": "int64", "description": "B", "nullable": true},
                "c": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                "d": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "e": {"type": "string", "enum": ["3"]},
                "f": {"type": "string", "enum": ["1", "2"], "nullable": true},
                "g": {"type": "string", "format": "date-time"},
                "h": {"type": "number", "maximum": 5}
            }
        })
    );
}

#[test]
fn pitfall_19_all_of_is_merged_and_unknown_keywords_dropped() {
    let input = json!({
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"$ref": "#/$defs/B"}
        ],
        "$defs": {"B": {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}},
        "patternProperties": {"^x-": {"type": "string"}},
        "unevaluatedProperties": false,
        "if": {"properties": {"a": {"const": "x"}}},
        "then": {"required": ["b"]},
        "dependentSchemas": {"a": {}},
        "$id": "urn:x",
        "examples": [{}]
    });
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}},
            "required": ["a", "b"]
        })
    );
}

#[test]
fn pitfall_19_property_names_that_look_like_keywords_survive() {
    let input = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "title": "Title"},
            "$schema": {"type": "string"},
            "default": {"type": "boolean", "default": true}
        },
        "required": ["title", "default"]
    });
    assert_eq!(
        clean_schema(&input),
        json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "$schema": {"type": "string"},
                "default": {"type": "boolean"}
            },
            "required": ["title", "default"]
        })
    );
}

#[test]
fn pitfall_19_top_level_is_always_an_object() {
    assert_eq!(clean_schema(&json!({})), json!({"type": "object"}));
    assert_eq!(clean_schema(&json!(null)), json!({"type": "object"}));
    assert_eq!(clean_schema(&json!(true)), json!({"type": "object"}));
    assert_eq!(
        clean_schema(&json!({"properties": {"q": {"type": "string"}}})),
        json!({"type": "object", "properties": {"q": {"type": "string"}}})
    );
    assert_eq!(
        clean_schema(&json!({"type": "string", "description": "a query"})),
        json!({
            "type": "object",
            "properties": {"value": {"type": "string", "description": "a query"}},
            "required": ["value"]
        })
    );
}

#[test]
fn deeply_nested_input_does_not_overflow() {
    let mut schema = json!({"type": "string"});
    for _ in 0..100 {
        schema = json!({"type": "array", "items": schema});
    }
    let out = clean_schema(&json!({"type": "object", "properties": {"deep": schema}}));
    assert_eq!(out["type"], json!("object"));
}

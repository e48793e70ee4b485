//! Tool-schema cleaning: a client's JSON Schema (as Claude Code, the OpenAI SDK or anyone
//! else wrote it) turned into the OpenAPI subset that Gemini's `functionDeclarations[].parameters`
//! accepts. `to_gemini` passes every tool's `parameters` through [`clean_schema`] on its way
//! out (pitfall 19: Gemini answers 400 "Invalid JSON payload received. Unknown name ..." for
//! `additionalProperties`, `$schema`, `$defs`, `title`, `examples`, ...).
//!
//! The cleaner keeps only the keywords Gemini knows (an allowlist, so a keyword nobody has
//! seen yet cannot break a request), inlines local `$ref`s (cycle-safe and bounded, a cycle
//! or an exhausted budget becomes a plain `{"type":"object"}`), folds `allOf` into its
//! parent, treats `oneOf` as `anyOf`, turns `type: [T, "null"]` and `{"type":"null"}` members
//! of `anyOf` into `nullable: true`, `const` into a one-value `enum`, numeric
//! `exclusiveMinimum`/`exclusiveMaximum` into `minimum`/`maximum`, and makes every `enum` a
//! list of strings on a `string` type (the only kind of enum Gemini has). The top level is
//! always `type: object`; a non-object schema is wrapped as the single required property
//! `value`. Property *names* are never touched: a property called `title` or `$schema` stays.

use serde_json::{Map, Value, json};

/// How deep schemas may nest (refs included) before the rest is cut to `{"type":"object"}`.
const MAX_DEPTH: usize = 48;
/// How many `$ref`s may be expanded in one schema: inlining a DAG of definitions can grow
/// exponentially, this keeps the output bounded.
const MAX_REF_EXPANSIONS: usize = 2_000;

/// String formats Gemini honours; others are dropped.
const STRING_FORMATS: &[&str] = &["enum", "date-time"];
/// Number formats Gemini honours; others are dropped.
const NUMBER_FORMATS: &[&str] = &["int32", "int64", "float", "double"];
/// Integer-valued keywords kept as they are.
const COUNT_KEYWORDS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// JSON Schema → what Gemini's `parameters` accepts. Never fails: whatever the input, the
/// output is an object schema.
pub fn clean_schema(schema: &Value) -> Value {
    let mut cleaner = Cleaner {
        root: schema,
        refs: Vec::new(),
        expansions: 0,
    };
    let cleaned = cleaner.clean(schema, 0);
    ensure_object(cleaned)
}

/// The top level must be `type: object` (pitfall 19).
fn ensure_object(cleaned: Value) -> Value {
    let Value::Object(mut map) = cleaned else {
        return json!({"type": "object"});
    };
    match map.get("type").and_then(Value::as_str) {
        Some("object") | Some("OBJECT") => Value::Object(map),
        None if !map.contains_key("anyOf") => {
            map.insert("type".into(), json!("object"));
            Value::Object(map)
        }
        _ => json!({
            "type": "object",
            "properties": {"value": Value::Object(map)},
            "required": ["value"],
        }),
    }
}

struct Cleaner<'a> {
    root: &'a Value,
    /// The `$ref`s being expanded on the current path, for cycle detection.
    refs: Vec<String>,
    expansions: usize,
}

impl Cleaner<'_> {
    fn clean(&mut self, schema: &Value, depth: usize) -> Value {
        let Value::Object(map) = schema else {
            // `true`, `false` and non-schemas: accept anything.
            return json!({});
        };
        if depth > MAX_DEPTH {
            return json!({"type": "object"});
        }
        if let Some(target) = map.get("$ref").and_then(Value::as_str) {
            return self.clean_ref(target, map, depth);
        }
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            let (merged, pushed) = self.merge_all_of(map, all);
            let out = self.clean(&Value::Object(merged), depth + 1);
            self.refs.truncate(self.refs.len().saturating_sub(pushed));
            return out;
        }
        self.clean_plain(map, depth)
    }

    /// Inlines a `$ref` (local JSON pointers only), its sibling keywords winning.
    fn clean_ref(&mut self, target: &str, map: &Map<String, Value>, depth: usize) -> Value {
        let resolved = self.resolve(target).cloned();
        let expandable = resolved.is_some();
        let mut merged = match resolved {
            Some(Value::Object(t)) => t,
            // A cycle, an exhausted budget or a ref we cannot follow: any object.
            _ => {
                let mut m = Map::new();
                m.insert("type".into(), json!("object"));
                m
            }
        };
        for (k, v) in map {
            if k != "$ref" {
                merged.insert(k.clone(), v.clone());
            }
        }
        if expandable {
            self.refs.push(target.to_owned());
            self.expansions += 1;
        }
        let out = self.clean(&Value::Object(merged), depth + 1);
        if expandable {
            self.refs.pop();
        }
        out
    }

    /// The schema a local `$ref` points at, unless expanding it would cycle or exceed the
    /// budget.
    fn resolve(&self, target: &str) -> Option<&Value> {
        if self.refs.iter().any(|r| r == target) || self.expansions >= MAX_REF_EXPANSIONS {
            return None;
        }
        let pointer = target.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// Folds `allOf` members into the parent: properties united, `required` concatenated,
    /// other keywords taken where the parent has none. Returns the merged schema and how
    /// many refs were pushed (the caller pops them after cleaning the result).
    fn merge_all_of(
        &mut self,
        map: &Map<String, Value>,
        all: &[Value],
    ) -> (Map<String, Value>, usize) {
        let mut merged: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| k.as_str() != "allOf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut pushed = 0;
        for sub in all {
            let sub = match sub.get("$ref").and_then(Value::as_str) {
                Some(target) => match self.resolve(target) {
                    Some(resolved) => {
                        let resolved = resolved.clone();
                        self.refs.push(target.to_owned());
                        self.expansions += 1;
                        pushed += 1;
                        resolved
                    }
                    None => continue,
                },
                None => sub.clone(),
            };
            let Value::Object(sub) = sub else { continue };
            for (k, v) in sub {
                match (k.as_str(), merged.get_mut(&k)) {
                    ("properties", Some(Value::Object(existing))) => {
                        if let Value::Object(props) = v {
                            for (name, prop) in props {
                                existing.entry(name).or_insert(prop);
                            }
                        }
                    }
                    ("required", Some(Value::Array(existing))) => {
                        if let Value::Array(req) = v {
                            existing.extend(req);
                        }
                    }
                    ("$ref", _) => {}
                    (_, Some(_)) => {}
                    (_, None) => {
                        merged.insert(k, v);
                    }
                }
            }
        }
        (merged, pushed)
    }

    /// Cleans a schema with no `$ref` or `allOf` left at its top.
    fn clean_plain(&mut self, map: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let mut nullable = map.get("nullable").and_then(Value::as_bool) == Some(true);
        let mut ty: Option<Value> = None;
        let mut type_alternatives: Vec<Value> = Vec::new();

        match map.get("type") {
            Some(Value::String(t)) if t == "null" => nullable = true,
            Some(Value::String(t)) => ty = Some(json!(t)),
            Some(Value::Array(types)) => {
                let mut named: Vec<&str> = Vec::new();
                for t in types.iter().filter_map(Value::as_str) {
                    if t == "null" {
                        nullable = true;
                    } else if !named.contains(&t) {
                        named.push(t);
                    }
                }
                match named.as_slice() {
                    [] => {}
                    [one] => ty = Some(json!(one)),
                    many => type_alternatives = many.iter().map(|t| json!({"type": t})).collect(),
                }
            }
            _ => {}
        }

        // enum / const: Gemini only has string enums.
        let mut enum_values: Option<Vec<Value>> = None;
        if let Some(Value::Array(values)) = map.get("enum") {
            enum_values = Some(values.clone());
        } else if let Some(c) = map.get("const") {
            enum_values = Some(vec![c.clone()]);
        }
        if let Some(values) = enum_values {
            let mut strings = Vec::new();
            for v in values {
                match v {
                    Value::Null => nullable = true,
                    Value::String(s) => strings.push(Value::String(s)),
                    other => strings.push(Value::String(other.to_string())),
                }
            }
            if !strings.is_empty() {
                ty = Some(json!("string"));
                type_alternatives.clear();
                out.insert("enum".into(), Value::Array(strings));
            }
        }

        if let Some(t) = &ty {
            out.insert("type".into(), t.clone());
        }
        let type_name = ty.as_ref().and_then(Value::as_str).unwrap_or("");

        if let Some(Value::String(format)) = map.get("format") {
            let allowed = match type_name {
                "string" => STRING_FORMATS,
                "number" | "integer" => NUMBER_FORMATS,
                _ => &[],
            };
            if allowed.contains(&format.as_str()) {
                out.insert("format".into(), json!(format));
            }
        }
        if let Some(Value::String(d)) = map.get("description") {
            out.insert("description".into(), json!(d));
        }

        for key in ["minimum", "maximum"] {
            if let Some(n @ Value::Number(_)) = map.get(key) {
                out.insert(key.into(), n.clone());
            }
        }
        for (exclusive, inclusive) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if let Some(n @ Value::Number(_)) = map.get(exclusive) {
                out.entry(inclusive).or_insert_with(|| n.clone());
            }
        }
        for key in COUNT_KEYWORDS {
            if let Some(n @ Value::Number(_)) = map.get(*key) {
                out.insert((*key).into(), n.clone());
            }
        }
        if let Some(Value::String(p)) = map.get("pattern") {
            out.insert("pattern".into(), json!(p));
        }

        match map.get("items") {
            Some(items @ Value::Object(_)) => {
                out.insert("items".into(), self.clean(items, depth + 1));
            }
            // Draft-4 tuple form: the elements as alternatives.
            Some(Value::Array(tuple)) if !tuple.is_empty() => {
                let mut alts: Vec<Value> = tuple.iter().map(|s| self.clean(s, depth + 1)).collect();
                let items = if alts.len() == 1 {
                    alts.remove(0)
                } else {
                    json!({"anyOf": alts})
                };
                out.insert("items".into(), items);
            }
            _ => {}
        }

        if let Some(Value::Object(props)) = map.get("properties") {
            let mut cleaned = Map::new();
            for (name, prop) in props {
                cleaned.insert(name.clone(), self.clean(prop, depth + 1));
            }
            if let Some(Value::Array(req)) = map.get("required") {
                let mut required: Vec<Value> = Vec::new();
                for r in req {
                    if let Some(name) = r.as_str()
                        && cleaned.contains_key(name)
                        && !required.iter().any(|x| x.as_str() == Some(name))
                    {
                        required.push(json!(name));
                    }
                }
                if !required.is_empty() {
                    out.insert("required".into(), Value::Array(required));
                }
            }
            if !cleaned.is_empty() {
                out.insert("properties".into(), Value::Object(cleaned));
            }
        }

        // Gemini needs a type; a schema with properties or items has an obvious one.
        if ty.is_none() && type_alternatives.is_empty() {
            if out.contains_key("properties") {
                out.insert("type".into(), json!("object"));
            } else if out.contains_key("items") {
                out.insert("type".into(), json!("array"));
            }
        }

        // anyOf (and oneOf, which Gemini lacks): null members become `nullable`.
        let mut alternatives: Vec<Value> = Vec::new();
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(subs)) = map.get(key) {
                for sub in subs {
                    let cleaned = self.clean(sub, depth + 1);
                    if is_null_schema(sub) {
                        nullable = true;
                    } else {
                        alternatives.push(cleaned);
                    }
                }
            }
        }
        alternatives.extend(type_alternatives);
        match alternatives.len() {
            0 => {}
            1 => {
                if let Some(Value::Object(only)) = alternatives.pop() {
                    for (k, v) in only {
                        out.entry(k).or_insert(v);
                    }
                }
            }
            _ => {
                out.insert("anyOf".into(), Value::Array(alternatives));
            }
        }

        if nullable {
            out.insert("nullable".into(), json!(true));
        }
        Value::Object(out)
    }
}

/// `{"type":"null"}` (possibly with a description), as found in `anyOf` lists.
fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        && v.get("properties").is_none()
        && v.get("anyOf").is_none()
}

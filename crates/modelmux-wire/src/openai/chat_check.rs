//! The checks `ChatBody::summary` runs on every Chat Completions body, same-format
//! passthrough included, where the canonical form is never built. Each field the gateway
//! reads or translates is deserialised once, straight from the raw body text, into small
//! borrowing types that say what the field must be (a string, a number, an object of
//! strings, a string or an array of content parts, ...) and skip everything else
//! (`IgnoredAny`), so there is no `serde_json::Value` tree and strings without escapes are
//! not copied (the shapes are in `chat_shapes`). What types cannot say (a member required by
//! a part's `type`, allowed values) is checked on the result. Only when a field fails is it
//! read a second time, with `serde_path_to_error`, to name the exact path
//! (`messages[0].content[1].text`). Fields the gateway does not read are not looked at: they
//! reach the provider as the client wrote them.
//! The rules match `from_openai`'s, so a body accepted here translates for any target; the
//! exceptions are passthrough-only leniencies (part and tool-call types the gateway does not
//! translate, such as vLLM's `video_url` or `custom` tool calls, pass here and are refused
//! only when translation needs them).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::DecodeError;
use super::chat_shapes::{
    FunctionDefLite, Int, MessageLite, Metadata, NamedLite, Number, PartLite, ResponseFormatLite,
    Stop, Str, StrOr, StreamOptionsLite, ToolLite, UInt,
};

// ---------------------------------------------------------------------------------------
// Reading the fields
// ---------------------------------------------------------------------------------------

/// What the checks read, for the summary.
#[derive(Default)]
pub(super) struct Fields<'a> {
    pub model: Option<Cow<'a, str>>,
    pub messages: Option<Vec<MessageLite<'a>>>,
    pub stream: bool,
    pub include_usage: bool,
    pub max_output_tokens: Option<u64>,
    pub has_tools: bool,
    pub tool_choice: Option<&'static str>,
    pub output_format: Option<&'static str>,
    pub reasoning: bool,
    pub metadata: Vec<(String, String)>,
}

/// Checks every field the gateway reads, in the client's order; `null` is "not set".
pub(super) fn read<'a>(
    fields: impl Iterator<Item = (&'a str, &'a RawValue)>,
) -> Result<Fields<'a>, DecodeError> {
    let mut f = Fields::default();
    let mut max_legacy = None;
    for (key, raw) in fields {
        let raw = raw.get();
        if raw == "null" {
            continue;
        }
        match key {
            "model" => f.model = Some(typed::<Str<'_>>(key, raw)?.0),
            "messages" => {
                let messages: Vec<MessageLite<'_>> = typed(key, raw)?;
                check_messages(&messages)?;
                f.messages = Some(messages);
            }
            "stream" => f.stream = typed(key, raw)?,
            "stream_options" => {
                f.include_usage = typed::<StreamOptionsLite>(key, raw)?
                    .include_usage
                    .unwrap_or(false);
            }
            "max_completion_tokens" => f.max_output_tokens = Some(token_limit(key, raw)?),
            "max_tokens" => max_legacy = Some(token_limit(key, raw)?),
            "temperature" | "top_p" | "presence_penalty" | "frequency_penalty" => {
                typed::<Number>(key, raw)?;
            }
            "top_k" => {
                typed::<UInt>(key, raw)?;
            }
            "seed" => {
                typed::<Int>(key, raw)?;
            }
            "n" => match typed::<UInt>(key, raw)?.0 {
                0 => return Err(DecodeError::invalid(key, "'n' must be at least 1.")),
                n if n > u64::from(u32::MAX) => {
                    return Err(DecodeError::invalid(key, "'n' is too large."));
                }
                _ => {}
            },
            "stop" => {
                typed::<Stop<'_>>(key, raw)?;
            }
            "user" | "safety_identifier" => {
                typed::<Str<'_>>(key, raw)?;
            }
            "reasoning_effort" => f.reasoning = typed::<Str<'_>>(key, raw)?.as_str() != "none",
            "parallel_tool_calls" => {
                typed::<bool>(key, raw)?;
            }
            "tools" => {
                let tools: Vec<ToolLite<'_>> = typed(key, raw)?;
                check_tools(&tools)?;
                f.has_tools |= !tools.is_empty();
            }
            "functions" => {
                let functions: Vec<FunctionDefLite<'_>> = typed(key, raw)?;
                for (i, d) in functions.iter().enumerate() {
                    check_function_def(d, &|| format!("functions[{i}]"))?;
                }
                f.has_tools |= !functions.is_empty();
            }
            "tool_choice" => f.tool_choice = Some(tool_choice(typed(key, raw)?)?),
            "function_call" => legacy_function_call(typed(key, raw)?)?,
            "response_format" => f.output_format = Some(response_format(typed(key, raw)?)?),
            "metadata" => f.metadata = typed::<Metadata>(key, raw)?.0,
            _ => {}
        }
    }
    f.max_output_tokens = f.max_output_tokens.or(max_legacy);
    Ok(f)
}

fn token_limit(key: &str, raw: &str) -> Result<u64, DecodeError> {
    match typed::<UInt>(key, raw)?.0 {
        0 => Err(DecodeError::invalid(
            key,
            "The token limit must be at least 1.",
        )),
        n => Ok(n),
    }
}

fn missing(path: &dyn Fn() -> String, member: &str) -> DecodeError {
    DecodeError::missing(&format!("{}.{member}", path()))
}

fn check_messages(messages: &[MessageLite<'_>]) -> Result<(), DecodeError> {
    if messages.is_empty() {
        return Err(DecodeError::invalid(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
        ));
    }
    for (i, m) in messages.iter().enumerate() {
        let path = || format!("messages[{i}]");
        let role = m
            .role
            .as_ref()
            .ok_or_else(|| missing(&path, "role"))?
            .as_str();
        match role {
            "system" | "developer" | "user" | "assistant" | "tool" | "function" => {}
            other => {
                return Err(DecodeError::invalid(
                    &format!("messages[{i}].role"),
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'system', 'developer', 'user', 'assistant', 'tool' and 'function'."
                    ),
                ));
            }
        }
        if role == "tool" && m.tool_call_id.is_none() {
            return Err(missing(&path, "tool_call_id"));
        }
        if role == "function" && m.name.is_none() {
            return Err(missing(&path, "name"));
        }
        match &m.content {
            Some(StrOr::Str(_)) => {}
            Some(StrOr::Other(parts)) => {
                for (j, p) in parts.iter().enumerate() {
                    check_part(p, &|| format!("messages[{i}].content[{j}]"))?;
                }
            }
            // Only an assistant turn that calls tools (or refuses) may go without content.
            None if role == "assistant"
                && (m.tool_calls.is_some() || m.function_call.is_some() || m.refusal.is_some()) => {
            }
            None => return Err(missing(&path, "content")),
        }
        for (k, c) in m.tool_calls.iter().flatten().enumerate() {
            let cpath = || format!("messages[{i}].tool_calls[{k}]");
            // Other call types (`custom`) pass through; translation refuses them.
            if c.kind.as_ref().is_some_and(|t| t.as_str() != "function") {
                continue;
            }
            if c.id.is_none() {
                return Err(missing(&cpath, "id"));
            }
            let f = c
                .function
                .as_ref()
                .ok_or_else(|| missing(&cpath, "function"))?;
            if f.name.is_none() {
                return Err(missing(&|| format!("{}.function", cpath()), "name"));
            }
        }
        if let Some(f) = &m.function_call
            && f.name.is_none()
        {
            return Err(missing(&|| format!("messages[{i}].function_call"), "name"));
        }
    }
    Ok(())
}

/// One content part: its `type` and the members that type requires. Types the gateway does
/// not translate pass (an OpenAI-compatible server may know them).
fn check_part(p: &PartLite<'_>, path: &dyn Fn() -> String) -> Result<(), DecodeError> {
    let Some(kind) = &p.kind else {
        return Err(missing(path, "type"));
    };
    let need = |present: bool, member: &str| {
        if present {
            Ok(())
        } else {
            Err(missing(path, member))
        }
    };
    match kind.as_str() {
        "text" | "input_text" | "output_text" => need(p.text.is_some(), "text"),
        "refusal" => need(p.refusal.is_some(), "refusal"),
        "image_url" => {
            let url = match &p.image_url {
                None => return Err(missing(path, "image_url")),
                Some(StrOr::Str(u)) => u,
                Some(StrOr::Other(o)) => {
                    &o.url
                        .as_ref()
                        .ok_or_else(|| missing(path, "image_url.url"))?
                        .0
                }
            };
            check_url(url, &|| format!("{}.image_url.url", path()))
        }
        "input_audio" => {
            let a = p
                .input_audio
                .as_ref()
                .ok_or_else(|| missing(path, "input_audio"))?;
            need(a.data.is_some(), "input_audio.data")?;
            need(a.format.is_some(), "input_audio.format")
        }
        "file" => {
            let f = p.file.as_ref().ok_or_else(|| missing(path, "file"))?;
            match (&f.file_data, &f.file_id) {
                (Some(d), _) if d.as_str().starts_with("data:") => {
                    check_url(&d.0, &|| format!("{}.file.file_data", path()))
                }
                (None, None) => Err(missing(path, "file.file_data")),
                _ => Ok(()),
            }
        }
        "image" | "document" => {
            let s = p.source.as_ref().ok_or_else(|| missing(path, "source"))?;
            match s.kind.as_ref().map(Str::as_str) {
                Some("base64") => {
                    need(s.media_type.is_some(), "source.media_type")?;
                    need(s.data.is_some(), "source.data")
                }
                Some("url") => need(s.url.is_some(), "source.url"),
                Some("text") => need(s.data.is_some(), "source.data"),
                _ => Err(DecodeError::invalid(
                    &format!("{}.source.type", path()),
                    "Invalid source type: expected 'base64', 'url' or 'text'.",
                )),
            }
        }
        "tool_use" => {
            need(p.id.is_some(), "id")?;
            need(p.name.is_some(), "name")
        }
        "tool_result" => {
            need(p.tool_use_id.is_some(), "tool_use_id")?;
            if let Some(StrOr::Other(parts)) = &p.content {
                for (k, inner) in parts.iter().enumerate() {
                    check_part(inner, &|| format!("{}.content[{k}]", path()))?;
                }
            }
            Ok(())
        }
        "thinking" => need(p.thinking.is_some(), "thinking"),
        "redacted_thinking" => need(p.data.is_some(), "data"),
        _ => Ok(()),
    }
}

/// An image or file URL: not empty, and a data URI must be `data:<type>;base64,<data>`.
fn check_url(url: &str, path: &dyn Fn() -> String) -> Result<(), DecodeError> {
    if url.is_empty() {
        return Err(DecodeError::invalid(&path(), "The URL must not be empty."));
    }
    if let Some(rest) = url.strip_prefix("data:") {
        let ok = rest
            .split_once(',')
            .is_some_and(|(meta, _)| meta.ends_with(";base64"));
        if !ok {
            return Err(DecodeError::invalid(
                &path(),
                "Invalid data URI: expected 'data:<media type>;base64,<data>'.",
            ));
        }
    }
    Ok(())
}

fn check_tools(tools: &[ToolLite<'_>]) -> Result<(), DecodeError> {
    for (i, t) in tools.iter().enumerate() {
        // Other tool types (`custom`, ...) pass through; translation keeps them raw.
        if t.kind.as_ref().is_some_and(|k| k.as_str() != "function") {
            continue;
        }
        let f = t
            .function
            .as_ref()
            .ok_or_else(|| missing(&|| format!("tools[{i}]"), "function"))?;
        check_function_def(f, &|| format!("tools[{i}].function"))?;
    }
    Ok(())
}

fn check_function_def(
    f: &FunctionDefLite<'_>,
    path: &dyn Fn() -> String,
) -> Result<(), DecodeError> {
    match &f.name {
        None => Err(missing(path, "name")),
        Some(n) if n.as_str().is_empty() => Err(DecodeError::invalid(
            &format!("{}.name", path()),
            "A function name must not be empty.",
        )),
        Some(_) => Ok(()),
    }
}

fn tool_choice(c: StrOr<'_, NamedLite<'_>>) -> Result<&'static str, DecodeError> {
    match c {
        StrOr::Str(s) => match s.as_ref() {
            "auto" => Ok("auto"),
            "none" => Ok("none"),
            "required" => Ok("required"),
            other => Err(DecodeError::invalid(
                "tool_choice",
                format!(
                    "Invalid value: '{other}'. Supported values are: 'none', 'auto' and 'required'."
                ),
            )),
        },
        StrOr::Other(o) => {
            if o.kind.as_ref().is_some_and(|k| k.as_str() == "function")
                && o.function.as_ref().and_then(|f| f.name.as_ref()).is_none()
            {
                return Err(DecodeError::missing("tool_choice.function.name"));
            }
            Ok("named")
        }
    }
}

fn legacy_function_call(c: StrOr<'_, NamedLite<'_>>) -> Result<(), DecodeError> {
    match c {
        StrOr::Str(s) if matches!(s.as_ref(), "auto" | "none") => Ok(()),
        StrOr::Str(_) => Err(DecodeError::invalid(
            "function_call",
            "Invalid value: expected 'none', 'auto' or {\"name\": ...}.",
        )),
        StrOr::Other(o) if o.name.is_none() => Err(DecodeError::missing("function_call.name")),
        StrOr::Other(_) => Ok(()),
    }
}

fn response_format(f: ResponseFormatLite<'_>) -> Result<&'static str, DecodeError> {
    let kind = f
        .kind
        .ok_or_else(|| DecodeError::missing("response_format.type"))?;
    match kind.as_str() {
        "text" => Ok("text"),
        "json_object" => Ok("json_object"),
        "json_schema" if f.json_schema.is_none() => {
            Err(DecodeError::missing("response_format.json_schema"))
        }
        "json_schema" => Ok("json_schema"),
        other => Err(DecodeError::invalid(
            "response_format.type",
            format!(
                "Invalid value: '{other}'. Supported values are: 'text', 'json_object' and 'json_schema'."
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Errors with their path
// ---------------------------------------------------------------------------------------

/// Deserialises one top-level field; on failure, names the exact path at fault.
fn typed<'a, T: Deserialize<'a>>(key: &str, raw: &'a str) -> Result<T, DecodeError> {
    serde_json::from_str(raw).map_err(|_| explain::<T>(key, raw))
}

/// Reads the failed field again, tracking the path, and words the error for a client.
#[cold]
fn explain<'a, T: Deserialize<'a>>(key: &str, raw: &'a str) -> DecodeError {
    let mut de = serde_json::Deserializer::from_str(raw);
    let Err(e) = serde_path_to_error::deserialize::<_, T>(&mut de) else {
        return DecodeError::invalid(key, format!("Invalid value for '{key}'."));
    };
    let mut path = key.to_owned();
    for segment in e.path() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                let _ = write!(path, "[{index}]");
            }
            serde_path_to_error::Segment::Map { key } => {
                path.push('.');
                path.push_str(key);
            }
            _ => {}
        }
    }
    let detail = super::chat::strip_position(e.inner());
    let (message, code) = word(&path, &detail);
    DecodeError {
        message,
        param: Some(path),
        code,
    }
}

/// serde's "invalid type: integer `5`, expected a string" as OpenAI words it.
fn word(path: &str, detail: &str) -> (String, Option<&'static str>) {
    let split = |rest: &str| {
        rest.rsplit_once(", expected ").map(|(got, expected)| {
            let expected = expected.replace("a sequence", "an array");
            (got.to_owned(), expected)
        })
    };
    if let Some((got, expected)) = detail.strip_prefix("invalid type: ").and_then(split) {
        let got = match got.split([' ', '`']).next().unwrap_or_default() {
            "string" => "a string",
            "integer" => "an integer",
            "floating" => "a decimal number",
            "boolean" => "a boolean",
            "map" => "an object",
            "sequence" => "an array",
            "unit" | "null" => "null",
            _ => "another type",
        };
        return (
            format!("Invalid type for '{path}': expected {expected}, but got {got} instead."),
            Some("invalid_type"),
        );
    }
    if let Some((got, expected)) = detail.strip_prefix("invalid value: ").and_then(split) {
        return (
            format!("Invalid value for '{path}': expected {expected}, but got {got}."),
            Some("invalid_value"),
        );
    }
    (format!("Invalid value for '{path}': {detail}."), None)
}

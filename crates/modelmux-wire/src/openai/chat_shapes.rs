//! The shapes `chat_check` reads a Chat Completions body into: small serde types that borrow
//! from the raw body (a string without escapes is not copied) and skip what they do not name
//! (`IgnoredAny`), each saying in its own words what it expected (`a string`, `a number`, `an
//! object of strings`, `a string or an array of content parts`), so a failed read can be told
//! to the client as OpenAI would. `Str`, the number types, `Object`, `StrOr` and `Metadata` are
//! the primitives; the `*Lite` structs mirror the members of messages, parts, tool calls,
//! tools, tool choices and response formats that the gateway reads or translates.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor};

// ---------------------------------------------------------------------------------------
// Primitive shapes
// ---------------------------------------------------------------------------------------

/// A JSON string, borrowed from the body when it has no escapes.
pub(super) struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(super) struct StrVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Cow<'a, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(PhantomData)).map(Str)
    }
}

/// Defines a number type with its own visitor and "expected ..." text.
macro_rules! number_type {
    ($name:ident, $ty:ty, $expecting:literal, |$v:ident| $from_u64:expr, $from_i64:expr, $from_f64:expr) => {
        #[allow(dead_code, reason = "some numbers are only checked, never read")]
        pub(super) struct $name(pub $ty);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_u64<E: de::Error>(self, $v: u64) -> Result<$ty, E> {
                        $from_u64.ok_or_else(|| E::invalid_value(Unexpected::Unsigned($v), &self))
                    }
                    fn visit_i64<E: de::Error>(self, $v: i64) -> Result<$ty, E> {
                        $from_i64.ok_or_else(|| E::invalid_value(Unexpected::Signed($v), &self))
                    }
                    fn visit_f64<E: de::Error>(self, $v: f64) -> Result<$ty, E> {
                        $from_f64.ok_or_else(|| E::invalid_type(Unexpected::Float($v), &self))
                    }
                }
                d.deserialize_any(V).map($name)
            }
        }
    };
}

number_type!(
    Number,
    f64,
    "a number",
    |v| Some(v as f64),
    Some(v as f64),
    Some(v)
);
number_type!(
    UInt,
    u64,
    "a non-negative integer",
    |v| Some(v),
    u64::try_from(v).ok(),
    None::<u64>
);
number_type!(
    Int,
    i64,
    "an integer",
    |v| i64::try_from(v).ok(),
    Some(v),
    None::<i64>
);

/// Any JSON object; its members are skipped.
pub(super) struct Object;

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Object)
            }
        }
        d.deserialize_map(V)
    }
}

/// The other shape of a [`StrOr`]: what it is called, and whether it is an array.
pub(super) trait Shape {
    const EXPECTING: &'static str;
    const ARRAY: bool;
}

/// A value that is either a string or `T` (an array or an object).
pub(super) enum StrOr<'a, T> {
    Str(Cow<'a, str>),
    Other(T),
}

impl<'de: 'a, 'a, T: Deserialize<'de> + Shape> Deserialize<'de> for StrOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de> + Shape> Visitor<'de> for V<'a, T> {
            type Value = StrOr<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                if !T::ARRAY {
                    return Err(de::Error::invalid_type(Unexpected::Seq, &self));
                }
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(StrOr::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                if T::ARRAY {
                    return Err(de::Error::invalid_type(Unexpected::Map, &self));
                }
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StrOr::Other)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `metadata`: an object whose values are strings.
pub(super) struct Metadata(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Metadata;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Str<'_>>()? {
                    let v: Str<'_> = map.next_value()?;
                    out.push((k.0.into_owned(), v.0.into_owned()));
                }
                Ok(Metadata(out))
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------
// The fields' shapes
// ---------------------------------------------------------------------------------------

/// A message's content, or a tool result's.
pub(super) type Content<'a> = StrOr<'a, Vec<PartLite<'a>>>;

impl Shape for Vec<PartLite<'_>> {
    const EXPECTING: &'static str = "a string or an array of content parts";
    const ARRAY: bool = true;
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct MessageLite<'a> {
    #[serde(borrow)]
    pub role: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) name: Option<Str<'a>>,
    #[serde(borrow)]
    pub content: Option<Content<'a>>,
    #[serde(borrow)]
    pub(super) tool_call_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) tool_calls: Option<Vec<ToolCallLite<'a>>>,
    #[serde(borrow)]
    pub(super) function_call: Option<FunctionCallLite<'a>>,
    #[serde(borrow)]
    pub(super) refusal: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct PartLite<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub text: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) refusal: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) image_url: Option<StrOr<'a, UrlLite<'a>>>,
    #[serde(borrow)]
    pub(super) input_audio: Option<AudioLite<'a>>,
    #[serde(borrow)]
    pub(super) file: Option<FileLite<'a>>,
    #[serde(borrow)]
    pub(super) source: Option<SourceLite<'a>>,
    #[serde(borrow)]
    pub(super) id: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) name: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) tool_use_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) content: Option<Content<'a>>,
    #[serde(rename = "is_error")]
    pub(super) _is_error: Option<bool>,
    #[serde(borrow)]
    pub(super) thinking: Option<Str<'a>>,
    #[serde(borrow, rename = "signature")]
    pub(super) _signature: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) data: Option<Str<'a>>,
    #[serde(borrow, rename = "title")]
    pub(super) _title: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct UrlLite<'a> {
    #[serde(borrow)]
    pub(super) url: Option<Str<'a>>,
    #[serde(borrow, rename = "detail")]
    pub(super) _detail: Option<Str<'a>>,
}

impl Shape for UrlLite<'_> {
    const EXPECTING: &'static str = "a string or an object";
    const ARRAY: bool = false;
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct AudioLite<'a> {
    #[serde(borrow)]
    pub(super) data: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) format: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct FileLite<'a> {
    #[serde(borrow)]
    pub(super) file_data: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) file_id: Option<Str<'a>>,
    #[serde(borrow, rename = "filename")]
    pub(super) _filename: Option<Str<'a>>,
}

/// An Anthropic-style `source` pasted into an OpenAI message.
#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct SourceLite<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) media_type: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) data: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) url: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct ToolCallLite<'a> {
    #[serde(borrow)]
    pub(super) id: Option<Str<'a>>,
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) function: Option<FunctionCallLite<'a>>,
}

/// A call's `function` (or a legacy `function_call`): the arguments are JSON text.
#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct FunctionCallLite<'a> {
    #[serde(borrow)]
    pub(super) name: Option<Str<'a>>,
    #[serde(borrow, rename = "arguments")]
    pub(super) _arguments: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct ToolLite<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) function: Option<FunctionDefLite<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct FunctionDefLite<'a> {
    #[serde(borrow)]
    pub(super) name: Option<Str<'a>>,
    #[serde(borrow, rename = "description")]
    pub(super) _description: Option<Str<'a>>,
    #[serde(rename = "parameters")]
    pub(super) _parameters: Option<Object>,
    #[serde(rename = "strict")]
    pub(super) _strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct NamedLite<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) name: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) function: Option<Box<NamedLite<'a>>>,
}

impl Shape for NamedLite<'_> {
    const EXPECTING: &'static str = "a string or an object";
    const ARRAY: bool = false;
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct ResponseFormatLite<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) kind: Option<Str<'a>>,
    pub(super) json_schema: Option<JsonSchemaLite<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct JsonSchemaLite<'a> {
    #[serde(borrow, rename = "name")]
    pub(super) _name: Option<Str<'a>>,
    #[serde(borrow, rename = "description")]
    pub(super) _description: Option<Str<'a>>,
    #[serde(rename = "schema")]
    pub(super) _schema: Option<Object>,
    #[serde(rename = "strict")]
    pub(super) _strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
pub(super) struct StreamOptionsLite {
    pub(super) include_usage: Option<bool>,
}

pub(super) type Stop<'a> = StrOr<'a, Vec<Str<'a>>>;

impl Shape for Vec<Str<'_>> {
    const EXPECTING: &'static str = "a string or an array of strings";
    const ARRAY: bool = true;
}

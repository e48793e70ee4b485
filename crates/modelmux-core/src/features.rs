//! Request features, computed once per request from the decoded body, the headers and the
//! client key: the token estimate, requested output, modalities, tools and tool_choice,
//! output format, reasoning, streaming, message count, the episode turn, metadata and tags (`metadata.tags`
//! and the `x-modelmux-tags` header), key and team, and the intent label. Policy rules read
//! them as CEL variables through `VariableResolver`, which converts only the variables a rule
//! actually references (and `policy` reads them directly); explain shows them as JSON.

use cel::common::types::{CelBool, CelInt, CelNull, CelString};
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use http::HeaderMap;
use serde::Serialize;

use crate::ingress::Summary;

/// The variables a rule may use.
pub const VARIABLES: &[&str] = &[
    "requested",
    "format",
    "input_tokens",
    "max_output",
    "messages",
    "images",
    "tools",
    "tool_choice",
    "output_format",
    "reasoning",
    "stream",
    "tags",
    "metadata",
    "key",
    "team",
    "intent",
    "budget_remaining",
    "episode_turn",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct Features {
    /// The model the client asked for.
    pub requested: String,
    /// The client's wire format (`openai_chat`, `anthropic`, ...).
    pub format: &'static str,
    pub input_tokens: u64,
    pub max_output: Option<u64>,
    pub messages: u64,
    pub images: bool,
    pub tools: bool,
    /// `auto`, `none`, `required`, `named`, or empty when unset.
    pub tool_choice: &'static str,
    /// `text`, `json_object`, `json_schema`, or empty when unset.
    pub output_format: &'static str,
    pub reasoning: bool,
    pub stream: bool,
    pub tags: Vec<String>,
    pub metadata: Vec<(String, String)>,
    pub key: Option<String>,
    pub team: Option<String>,
    pub intent: Option<String>,
    /// Remaining budget of the key in USD, when it has one.
    pub budget_remaining: Option<f64>,
    /// Which request of its episode this is, 1 for the first (`episode::turn`).
    pub episode_turn: u64,
    /// Output tokens the chosen route's answers are expected to take (`cost::OutputStats`);
    /// what cost estimates assume. Not a rule variable.
    pub expected_output: u64,
}

impl Features {
    pub fn compute(
        summary: &Summary,
        format: modelmux_wire::WireFormat,
        headers: &HeaderMap,
    ) -> Self {
        let mut tags: Vec<String> = Vec::new();
        if let Some(h) = headers.get("x-modelmux-tags").and_then(|v| v.to_str().ok()) {
            tags.extend(
                h.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
        }
        if let Some((_, t)) = summary.metadata.iter().find(|(k, _)| k == "tags") {
            tags.extend(
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            );
        }
        Self {
            requested: summary.model.clone(),
            format: format.name(),
            input_tokens: summary.estimated_input_tokens,
            max_output: summary.max_output_tokens,
            messages: summary.message_count as u64,
            images: summary.has_images,
            tools: summary.has_tools,
            tool_choice: summary.tool_choice.unwrap_or(""),
            output_format: summary.output_format.unwrap_or(""),
            reasoning: summary.reasoning,
            stream: summary.stream,
            tags,
            metadata: summary.metadata.clone(),
            key: None,
            team: None,
            intent: None,
            budget_remaining: None,
            episode_turn: u64::from(crate::episode::turn(summary)),
            expected_output: crate::cost::DEFAULT_EXPECTED_OUTPUT,
        }
    }
}

fn int(n: u64) -> CowVal<'static, 'static> {
    CowVal::owned(CelInt::from(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn opt_str(s: Option<&str>) -> CowVal<'_, '_> {
    match s {
        Some(s) => CowVal::owned(CelString::from(s)),
        None => CowVal::owned(CelNull),
    }
}

impl VariableResolver for Features {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        Some(match variable {
            "requested" => CowVal::owned(CelString::from(self.requested.as_str())),
            "format" => CowVal::owned(CelString::from(self.format)),
            "input_tokens" => int(self.input_tokens),
            "max_output" => match self.max_output {
                Some(n) => int(n),
                None => CowVal::owned(CelNull),
            },
            "messages" => int(self.messages),
            "episode_turn" => int(self.episode_turn),
            "images" => CowVal::owned(CelBool::from(self.images)),
            "tools" => CowVal::owned(CelBool::from(self.tools)),
            "tool_choice" => CowVal::owned(CelString::from(self.tool_choice)),
            "output_format" => CowVal::owned(CelString::from(self.output_format)),
            "reasoning" => CowVal::owned(CelBool::from(self.reasoning)),
            "stream" => CowVal::owned(CelBool::from(self.stream)),
            "key" => opt_str(self.key.as_deref()),
            "team" => opt_str(self.team.as_deref()),
            "intent" => CowVal::owned(CelString::from(self.intent.as_deref().unwrap_or(""))),
            "budget_remaining" => match self.budget_remaining {
                Some(v) => CowVal::owned(cel::common::types::CelDouble::from(v)),
                None => CowVal::owned(CelNull),
            },
            "tags" => {
                let list = cel::Value::List(std::sync::Arc::new(
                    self.tags
                        .iter()
                        .map(|t| cel::Value::String(std::sync::Arc::new(t.clone())))
                        .collect(),
                ));
                CowVal::Owned(list.try_into().ok()?)
            }
            "metadata" => {
                let map: std::collections::HashMap<cel::objects::Key, cel::Value> = self
                    .metadata
                    .iter()
                    .map(|(k, v)| {
                        (
                            cel::objects::Key::String(std::sync::Arc::new(k.clone())),
                            cel::Value::String(std::sync::Arc::new(v.clone())),
                        )
                    })
                    .collect();
                let value = cel::Value::Map(cel::objects::Map {
                    map: std::sync::Arc::new(map),
                });
                CowVal::Owned(value.try_into().ok()?)
            }
            _ => return None,
        })
    }
}

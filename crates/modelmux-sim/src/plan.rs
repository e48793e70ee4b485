//! The format-neutral core: every wire format parses its request into a [`Request`] (model,
//! messages as role + text + tool calls + tool results, tools, tool choice, limits and stream
//! flags), and [`Request::answer`] decides what the simulated model says (tool calls, "The tool
//! returned: ...", the `ECHO:` text, a fixed reply or generated words, optionally after a
//! reasoning block). Format modules then render the neutral [`Answer`] in their own shapes.

use serde_json::Value;

use crate::behaviour::Behaviour;
use crate::text::{alnum, generated, pieces};
use crate::tools::{self, ToolCall};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of a conversation, as the simulator sees it.
#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub role: Role,
    /// All text of the message (tool result text included), for token estimates and echo.
    pub text: String,
    /// `(id, name)` of the tool calls an assistant message makes.
    pub tool_calls: Vec<(String, String)>,
    /// The text of each tool result the message carries.
    pub tool_results: Vec<String>,
}

impl Msg {
    pub(crate) fn text(role: Role, text: impl Into<String>) -> Msg {
        Msg {
            role,
            text: text.into(),
            tool_calls: Vec::new(),
            tool_results: Vec::new(),
        }
    }
}

/// A function tool offered to the model.
#[derive(Clone, Debug)]
pub(crate) struct Tool {
    pub name: String,
    pub schema: Option<Value>,
}

/// Which tools the model may or must call.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Named(String),
}

/// What the simulator reads from a request, whatever its format.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub model: String,
    pub messages: Vec<Msg>,
    pub tools: Vec<Tool>,
    pub tool_choice: ToolChoice,
    /// `Some(false)` when the request forbids parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub stream: bool,
    pub include_usage: bool,
    /// How this format's tool call ids begin (`call_`, `toolu_`, ...).
    pub call_id_prefix: &'static str,
}

impl Request {
    /// A request with no tools and default flags.
    pub(crate) fn new(model: impl Into<String>, messages: Vec<Msg>) -> Request {
        Request {
            model: model.into(),
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: None,
            max_tokens: None,
            stream: false,
            include_usage: false,
            call_id_prefix: "call_",
        }
    }

    /// Estimated prompt tokens: four characters a token plus three per message.
    pub(crate) fn prompt_tokens(&self) -> u32 {
        let chars: usize = self.messages.iter().map(|m| m.text.chars().count()).sum();
        u32::try_from(chars.div_ceil(4) + 3 * self.messages.len()).unwrap_or(u32::MAX)
    }

    /// Decide the answer: tool calls on a user turn that offers tools (the behaviour's scripted
    /// call when the request offers that tool), the tool results on a
    /// tool-result turn, the text after `ECHO:`, the fixed reply, or generated words.
    pub(crate) fn answer(&self, b: &Behaviour) -> Answer {
        let thinking = b.thinking.then(|| Thinking {
            pieces: pieces("Let me think about this step by step."),
            signature: format!("sig_{}", alnum(32)),
        });
        Answer {
            id: alnum(24),
            model: self.model.clone(),
            prompt_tokens: self.prompt_tokens(),
            include_usage: self.include_usage,
            thinking,
            output: self.output(b),
            latency_ms: 0,
        }
    }

    fn output(&self, b: &Behaviour) -> Output {
        // System messages inside the conversation (Claude Code sends one after the user's
        // turn) do not change whose turn it is.
        let turns = || self.messages.iter().filter(|m| m.role != Role::System);
        let last = turns().next_back();
        let results: Vec<String> = {
            let mut r: Vec<String> = turns()
                .rev()
                .take_while(|m| !m.tool_results.is_empty())
                .flat_map(|m| m.tool_results.iter().rev().cloned())
                .collect();
            r.reverse();
            r
        };
        let user_turn = last.is_some_and(|m| m.role == Role::User && m.tool_results.is_empty());
        if user_turn && !self.tools.is_empty() {
            if let Some(call) = b.tool_call.as_ref().and_then(|c| {
                tools::scripted(c, &self.tools, &self.tool_choice, self.call_id_prefix)
            }) {
                return Output::Tools(vec![call]);
            }
            let parallel = b.parallel_tool_calls && self.parallel_tool_calls != Some(false);
            let calls = tools::plan(
                &self.tools,
                &self.tool_choice,
                parallel,
                self.call_id_prefix,
            );
            if !calls.is_empty() {
                return Output::Tools(calls);
            }
        }
        let mut words = if !results.is_empty() {
            pieces(&format!("The tool returned: {}", results.join(" ")))
        } else if let Some(echo) = self.echo() {
            pieces(&echo)
        } else if let Some(reply) = &b.reply {
            pieces(reply)
        } else {
            generated(b.output_tokens)
        };
        let mut finish = Finish::Stop;
        if let Some(max) = self.max_tokens
            && words.len() > max as usize
        {
            words.truncate(max as usize);
            finish = Finish::Length;
        }
        Output::Text {
            pieces: words,
            finish,
        }
    }

    fn echo(&self) -> Option<String> {
        let user = self.messages.iter().rev().find(|m| m.role == Role::User)?;
        let (_, after) = user.text.split_once("ECHO:")?;
        Some(after.trim_start().to_owned())
    }
}

/// Why a text answer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    Stop,
    Length,
}

/// What the simulated model answers after its optional reasoning.
#[derive(Debug)]
pub(crate) enum Output {
    Text { pieces: Vec<String>, finish: Finish },
    Tools(Vec<ToolCall>),
}

/// A reasoning block: its text pieces and its signature.
#[derive(Debug)]
pub(crate) struct Thinking {
    pub pieces: Vec<String>,
    pub signature: String,
}

impl Thinking {
    pub(crate) fn text(&self) -> String {
        self.pieces.concat()
    }
}

/// A decided answer: a random id, usage inputs, the reasoning and the output.
#[derive(Debug)]
pub(crate) struct Answer {
    /// Random letters and digits; each format adds its prefix.
    pub id: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub include_usage: bool,
    pub thinking: Option<Thinking>,
    pub output: Output,
    /// Set by the exchange before rendering (Bedrock's `metrics.latencyMs`).
    pub latency_ms: u64,
}

impl Answer {
    /// Tokens of the output proper: one per word, or a quarter of the arguments' characters.
    pub(crate) fn output_tokens(&self) -> u32 {
        match &self.output {
            Output::Text { pieces, .. } => u32::try_from(pieces.len()).unwrap_or(u32::MAX),
            Output::Tools(calls) => {
                let n: usize = calls.iter().map(|c| c.arguments.len().div_ceil(4)).sum();
                u32::try_from(n.max(1)).unwrap_or(u32::MAX)
            }
        }
    }

    /// Tokens of the reasoning block (0 without one).
    pub(crate) fn thinking_tokens(&self) -> u32 {
        self.thinking
            .as_ref()
            .map_or(0, |t| u32::try_from(t.pieces.len()).unwrap_or(u32::MAX))
    }

    /// Output plus reasoning tokens.
    pub(crate) fn completion_tokens(&self) -> u32 {
        self.output_tokens().saturating_add(self.thinking_tokens())
    }

    #[cfg(test)]
    pub(crate) fn is_tools(&self) -> bool {
        matches!(self.output, Output::Tools(_))
    }

    pub(crate) fn finish(&self) -> Option<Finish> {
        match &self.output {
            Output::Text { finish, .. } => Some(*finish),
            Output::Tools(_) => None,
        }
    }
}

/// Split a string into 2-3 fragments (fewer only when too short), for streamed arguments.
pub(crate) fn fragments(args: &str) -> Vec<String> {
    let chars: Vec<char> = args.chars().collect();
    let n = match chars.len() {
        0 | 1 => 1,
        2..=5 => 2,
        _ => 3,
    };
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool_turn() -> Vec<Msg> {
        vec![
            Msg::text(Role::User, "Weather?"),
            Msg {
                tool_calls: vec![("c1".into(), "get_weather".into())],
                ..Msg::text(Role::Assistant, "")
            },
            Msg {
                tool_results: vec!["18C".into(), "sunny".into()],
                ..Msg::text(Role::User, "18C sunny")
            },
        ]
    }

    #[test]
    fn tool_results_are_echoed_and_no_tool_is_called_again() {
        let mut r = Request::new("m", tool_turn());
        r.messages.push(Msg::text(Role::System, "reminder"));
        r.tools = vec![Tool {
            name: "get_weather".into(),
            schema: None,
        }];
        let a = r.answer(&Behaviour::default());
        match a.output {
            Output::Text { pieces, .. } => {
                assert_eq!(pieces.concat(), "The tool returned: 18C sunny")
            }
            Output::Tools(_) => panic!("should answer the results"),
        }
        r.messages.truncate(1);
        assert!(r.answer(&Behaviour::default()).is_tools());
    }

    #[test]
    fn scripted_call_replaces_the_generated_one_on_a_user_turn_only() {
        let tool = |name: &str| Tool {
            name: name.into(),
            schema: None,
        };
        let b = Behaviour {
            tool_call: Some(crate::behaviour::ScriptedCall {
                name: "get_weather".into(),
                arguments: serde_json::json!({"city": "Oslo"}),
            }),
            ..Behaviour::default()
        };
        let mut r = Request::new("m", tool_turn());
        r.tools = vec![tool("now"), tool("get_weather")];
        assert!(
            !r.answer(&b).is_tools(),
            "a tool-result turn answers the results"
        );
        r.messages.truncate(1);
        r.messages.push(Msg::text(
            Role::System,
            "A system message after the user's turn.",
        ));
        match r.answer(&b).output {
            Output::Tools(calls) => {
                assert_eq!(calls.len(), 1);
                assert_eq!(calls[0].name, "get_weather");
                assert_eq!(calls[0].arguments, r#"{"city":"Oslo"}"#);
            }
            Output::Text { .. } => panic!("should call the scripted tool"),
        }
        r.tool_choice = ToolChoice::Named("now".into());
        match r.answer(&b).output {
            Output::Tools(calls) => assert_eq!(calls[0].name, "now"),
            Output::Text { .. } => panic!("should call the named tool"),
        }
        r.tool_choice = ToolChoice::None;
        assert!(!r.answer(&b).is_tools());
        r.tool_choice = ToolChoice::Auto;
        r.tools = vec![tool("now")];
        match r.answer(&b).output {
            Output::Tools(calls) => assert_eq!(calls[0].name, "now"),
            Output::Text { .. } => panic!("absent scripted tool: the generated call"),
        }
    }

    #[test]
    fn thinking_adds_a_signed_block_and_tokens() {
        let r = Request::new("m", vec![Msg::text(Role::User, "hi")]);
        let b = Behaviour {
            thinking: true,
            ..Behaviour::default()
        };
        let a = r.answer(&b);
        let t = a.thinking.as_ref().unwrap();
        assert!(t.signature.starts_with("sig_"));
        assert_eq!(a.completion_tokens(), 12 + a.thinking_tokens());
        assert!(r.answer(&Behaviour::default()).thinking.is_none());
    }

    #[test]
    fn fragments_concatenate() {
        for s in ["{}", "{\"city\":\"Paris\"}", "x"] {
            let f = fragments(s);
            assert_eq!(f.concat(), s);
            assert!(f.len() <= 3);
        }
        assert_eq!(fragments("{\"city\":\"Paris\"}").len(), 3);
    }
}

//! Policy rules evaluated natively. When the app state is built (`Compiled::new`, in
//! `rules`) each rule's CEL expression is compiled,
//! when it stays within a common subset (literals, the feature variables, `&&`, `||`, `!`,
//! `?:`, comparisons, `in`, `size`, `startsWith`/`endsWith`/`contains`, `has` and
//! indexing of `metadata` and `tags`), into a small tree (`compile`) that is evaluated over
//! the features without building CEL values (`eval`). The evaluator answers only when it
//! knows the interpreter's answer is that same boolean; for anything else (an error, a
//! non-boolean result, a type it does not model) it answers `None` and the rule runs in the
//! `cel` interpreter, so the interpreter stays the definition of what a rule means.

mod compile;
mod eval;
mod rules;

pub use compile::compile;
pub use rules::{Compiled, CompiledRule};

use crate::features::Features;

/// A feature variable a rule can read (see `features::VARIABLES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Requested,
    Format,
    InputTokens,
    MaxOutput,
    Messages,
    Images,
    Tools,
    ToolChoice,
    OutputFormat,
    Reasoning,
    Stream,
    Tags,
    Metadata,
    Key,
    Team,
    Intent,
    BudgetRemaining,
    EpisodeTurn,
}

/// A scalar literal of the expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Box<str>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A string method taking one string argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrFn {
    StartsWith,
    EndsWith,
    Contains,
}

/// An operand read without evaluating anything: a variable or a literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    Var(Var),
    Lit(Lit),
}

/// A comparison between two leaves, the most common rule term (`intent == "billing"`,
/// `input_tokens < 2000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    Eq,
    Ne,
    Cmp(Cmp),
}

/// A compiled rule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Lit(Lit),
    Var(Var),
    /// `a && b && ...`, however the operators nest: false when any term is false, true when
    /// all are true (see `eval`).
    All(Box<[Node]>),
    /// `a || b || ...`: true when any term is true, false when all are false.
    Any(Box<[Node]>),
    /// `leaf <op> leaf`.
    Test(Test, Box<(Leaf, Leaf)>),
    /// `var == "literal"` (true) or `var != "literal"` (false), for the most common term.
    StrIs(Var, Box<str>, bool),
    Not(Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Eq(Box<Node>, Box<Node>),
    Ne(Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    /// `x in [literals]`.
    InList(Box<Node>, Box<[Lit]>),
    /// `x in container`.
    In(Box<Node>, Box<Node>),
    Size(Box<Node>),
    Str(StrFn, Box<Node>, Box<Node>),
    /// `container[index]`.
    Index(Box<Node>, Box<Node>),
    /// `operand.field`.
    Field(Box<Node>, Box<str>),
    /// `has(operand.field)`.
    Has(Box<Node>, Box<str>),
}

impl Node {
    /// The rule's result over `f`, when it is surely the interpreter's `Ok(Bool(_))`.
    pub fn eval_bool(&self, f: &Features) -> Option<bool> {
        match eval::eval(self, f)? {
            eval::V::Bool(b) => Some(b),
            _ => None,
        }
    }
}

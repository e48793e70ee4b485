//! Compiling a parsed CEL expression into a `Node` tree, or `None` when any part of it lies
//! outside the subset the native evaluator models (the rule then always runs in the
//! interpreter).

use cel::IdedExpr;
use cel::common::ast::{CallExpr, Expr, LiteralValue, operators};

use super::{Cmp, Leaf, Lit, Node, StrFn, Test, Var};

/// The native form of `program`'s expression, if it has one.
pub fn compile(program: &cel::Program) -> Option<Node> {
    node(program.expression())
}

fn var(name: &str) -> Option<Var> {
    Some(match name {
        "requested" => Var::Requested,
        "format" => Var::Format,
        "input_tokens" => Var::InputTokens,
        "max_output" => Var::MaxOutput,
        "messages" => Var::Messages,
        "images" => Var::Images,
        "tools" => Var::Tools,
        "tool_choice" => Var::ToolChoice,
        "output_format" => Var::OutputFormat,
        "reasoning" => Var::Reasoning,
        "stream" => Var::Stream,
        "tags" => Var::Tags,
        "metadata" => Var::Metadata,
        "key" => Var::Key,
        "team" => Var::Team,
        "intent" => Var::Intent,
        "budget_remaining" => Var::BudgetRemaining,
        "episode_turn" => Var::EpisodeTurn,
        _ => return None,
    })
}

fn lit(l: &LiteralValue) -> Option<Lit> {
    Some(match l {
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::String(s) => Lit::Str(s.inner().into()),
        LiteralValue::Null => Lit::Null,
        LiteralValue::Bytes(_) => return None,
    })
}

fn boxed(e: &IdedExpr) -> Option<Box<Node>> {
    node(e).map(Box::new)
}

fn node(e: &IdedExpr) -> Option<Node> {
    match &e.expr {
        Expr::Literal(l) => lit(l).map(Node::Lit),
        Expr::Ident(name) => var(name).map(Node::Var),
        Expr::Select(s) => {
            let operand = boxed(&s.operand)?;
            let field = s.field.as_str().into();
            Some(if s.test {
                Node::Has(operand, field)
            } else {
                Node::Field(operand, field)
            })
        }
        Expr::Call(call) => match &call.target {
            None => function(call),
            Some(target) => method(call, target),
        },
        _ => None,
    }
}

/// A call without a target: an operator or `size(x)`.
fn function(call: &CallExpr) -> Option<Node> {
    let a = &call.args;
    let name = call.func_name.as_str();
    match a.len() {
        1 => match name {
            operators::LOGICAL_NOT => Some(Node::Not(boxed(&a[0])?)),
            "size" => Some(Node::Size(boxed(&a[0])?)),
            operators::NEGATE => match &a[0].expr {
                // Only a negated literal, folded here.
                Expr::Literal(LiteralValue::Int(i)) => {
                    i.inner().checked_neg().map(|n| Node::Lit(Lit::Int(n)))
                }
                Expr::Literal(LiteralValue::Double(d)) => Some(Node::Lit(Lit::Double(-d.inner()))),
                _ => None,
            },
            _ => None,
        },
        2 => {
            let pair = || Some((boxed(&a[0])?, boxed(&a[1])?));
            match name {
                operators::LOGICAL_AND | operators::LOGICAL_OR => {
                    let mut terms = Vec::new();
                    flatten(name, &a[0], &mut terms)?;
                    flatten(name, &a[1], &mut terms)?;
                    Some(if name == operators::LOGICAL_AND {
                        Node::All(terms.into())
                    } else {
                        Node::Any(terms.into())
                    })
                }
                operators::EQUALS => test(Test::Eq, pair()?),
                operators::NOT_EQUALS => test(Test::Ne, pair()?),
                operators::LESS => test(Test::Cmp(Cmp::Lt), pair()?),
                operators::LESS_EQUALS => test(Test::Cmp(Cmp::Le), pair()?),
                operators::GREATER => test(Test::Cmp(Cmp::Gt), pair()?),
                operators::GREATER_EQUALS => test(Test::Cmp(Cmp::Ge), pair()?),
                operators::INDEX => pair().map(|(l, r)| Node::Index(l, r)),
                operators::IN => match &a[1].expr {
                    Expr::List(list) => {
                        if !list.optional_indices.is_empty() {
                            return None;
                        }
                        let items = list
                            .elements
                            .iter()
                            .map(|e| match &e.expr {
                                Expr::Literal(l) => lit(l),
                                _ => None,
                            })
                            .collect::<Option<Vec<Lit>>>()?;
                        Some(Node::InList(boxed(&a[0])?, items.into()))
                    }
                    _ => pair().map(|(l, r)| Node::In(l, r)),
                },
                _ => None,
            }
        }
        3 if name == operators::CONDITIONAL => {
            Some(Node::Cond(boxed(&a[0])?, boxed(&a[1])?, boxed(&a[2])?))
        }
        _ => None,
    }
}

/// The terms of a chain of `op` (`_&&_` or `_||_`), left to right, however it nests.
fn flatten(op: &str, e: &IdedExpr, out: &mut Vec<Node>) -> Option<()> {
    if let Expr::Call(call) = &e.expr
        && call.target.is_none()
        && call.args.len() == 2
        && call.func_name == op
    {
        flatten(op, &call.args[0], out)?;
        return flatten(op, &call.args[1], out);
    }
    out.push(node(e)?);
    Some(())
}

/// A comparison: between two leaves as a `Test`, else on evaluated operands.
fn test(t: Test, (l, r): (Box<Node>, Box<Node>)) -> Option<Node> {
    let leaf = |n: &Node| match n {
        Node::Var(v) => Some(Leaf::Var(*v)),
        Node::Lit(l) => Some(Leaf::Lit(l.clone())),
        _ => None,
    };
    Some(match (leaf(&l), leaf(&r)) {
        (Some(Leaf::Var(v)), Some(Leaf::Lit(Lit::Str(s))))
        | (Some(Leaf::Lit(Lit::Str(s))), Some(Leaf::Var(v)))
            if matches!(t, Test::Eq | Test::Ne) =>
        {
            Node::StrIs(v, s, t == Test::Eq)
        }
        (Some(a), Some(b)) => Node::Test(t, Box::new((a, b))),
        _ => match t {
            Test::Eq => Node::Eq(l, r),
            Test::Ne => Node::Ne(l, r),
            Test::Cmp(c) => Node::Cmp(c, l, r),
        },
    })
}

/// A call on a target: `x.size()`, `s.startsWith(t)`, `s.endsWith(t)`, `s.contains(t)`.
fn method(call: &CallExpr, target: &IdedExpr) -> Option<Node> {
    let t = boxed(target)?;
    match (call.func_name.as_str(), call.args.as_slice()) {
        ("size", []) => Some(Node::Size(t)),
        ("startsWith", [arg]) => Some(Node::Str(StrFn::StartsWith, t, boxed(arg)?)),
        ("endsWith", [arg]) => Some(Node::Str(StrFn::EndsWith, t, boxed(arg)?)),
        ("contains", [arg]) => Some(Node::Str(StrFn::Contains, t, boxed(arg)?)),
        _ => None,
    }
}

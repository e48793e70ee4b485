//! Evaluating a `Node` over the features, with the `cel` interpreter's semantics: numeric
//! comparisons across int, uint and double, equality false across types, `&&`/`||` that
//! absorb an error on one side when the other decides. `None` means "ask the interpreter":
//! it is returned wherever the interpreter would fail or this module does not model a case.

use std::cmp::Ordering;

use super::{Cmp, Leaf, Lit, Node, StrFn, Test, Var};
use crate::features::Features;

/// A value during evaluation, borrowing the features and the tree.
#[derive(Debug, Clone, Copy)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(&'a str),
    Tags(&'a [String]),
    Meta(&'a [(String, String)]),
}

#[inline(always)]
fn lit(l: &Lit) -> V<'_> {
    match l {
        Lit::Null => V::Null,
        Lit::Bool(b) => V::Bool(*b),
        Lit::Int(i) => V::Int(*i),
        Lit::UInt(u) => V::UInt(*u),
        Lit::Double(d) => V::Double(*d),
        Lit::Str(s) => V::Str(s),
    }
}

#[inline(always)]
fn int(n: u64) -> V<'static> {
    V::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[inline(always)]
fn opt_str(s: Option<&str>) -> V<'_> {
    s.map_or(V::Null, V::Str)
}

#[inline(always)]
fn var(v: Var, f: &Features) -> V<'_> {
    match v {
        Var::Requested => V::Str(&f.requested),
        Var::Format => V::Str(f.format),
        Var::InputTokens => int(f.input_tokens),
        Var::MaxOutput => f.max_output.map_or(V::Null, int),
        Var::Messages => int(f.messages),
        Var::Images => V::Bool(f.images),
        Var::Tools => V::Bool(f.tools),
        Var::ToolChoice => V::Str(f.tool_choice),
        Var::OutputFormat => V::Str(f.output_format),
        Var::Reasoning => V::Bool(f.reasoning),
        Var::Stream => V::Bool(f.stream),
        Var::Tags => V::Tags(&f.tags),
        Var::Metadata => V::Meta(&f.metadata),
        Var::Key => opt_str(f.key.as_deref()),
        Var::Team => opt_str(f.team.as_deref()),
        Var::Intent => V::Str(f.intent.as_deref().unwrap_or("")),
        Var::BudgetRemaining => f.budget_remaining.map_or(V::Null, V::Double),
        Var::EpisodeTurn => int(f.episode_turn),
    }
}

/// The value of `key` in the metadata map. The interpreter's map is built from the pairs in
/// order, so a repeated key has its last value.
fn meta_get<'a>(m: &'a [(String, String)], key: &str) -> Option<&'a str> {
    m.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The interpreter's ordering of two values; `None` where it fails (incomparable types, NaN).
#[inline]
fn compare(a: V<'_>, b: V<'_>) -> Option<Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(&y)),
        (V::Int(x), V::UInt(y)) => Some(u64::try_from(x).map_or(Ordering::Less, |x| x.cmp(&y))),
        (V::Int(x), V::Double(y)) => (x as f64).partial_cmp(&y),
        (V::UInt(x), V::UInt(y)) => Some(x.cmp(&y)),
        (V::UInt(x), V::Int(y)) => Some(i64::try_from(x).map_or(Ordering::Greater, |x| x.cmp(&y))),
        (V::UInt(x), V::Double(y)) => (x as f64).partial_cmp(&y),
        (V::Double(x), V::Double(y)) => x.partial_cmp(&y),
        (V::Double(x), V::Int(y)) => x.partial_cmp(&(y as f64)),
        (V::Double(x), V::UInt(y)) => x.partial_cmp(&(y as f64)),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

#[inline(always)]
fn is_num(v: V<'_>) -> bool {
    matches!(v, V::Int(_) | V::UInt(_) | V::Double(_))
}

/// The interpreter's `==` on scalars; `None` where a list or map takes part.
#[inline(always)]
fn equals(a: V<'_>, b: V<'_>) -> Option<bool> {
    match (a, b) {
        (V::Str(x), V::Str(y)) => Some(x == y),
        (V::Tags(_) | V::Meta(_), _) | (_, V::Tags(_) | V::Meta(_)) => None,
        (V::Null, V::Null) => Some(true),
        (V::Bool(x), V::Bool(y)) => Some(x == y),
        // Numbers are equal when they compare equal; NaN equals nothing.
        (x, y) if is_num(x) && is_num(y) => Some(compare(x, y) == Some(Ordering::Equal)),
        _ => Some(false),
    }
}

fn size(v: V<'_>) -> Option<V<'static>> {
    let n = match v {
        V::Str(s) => s.chars().count(),
        V::Tags(t) => t.len(),
        V::Meta(m) => m
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !m[i + 1..].iter().any(|(k2, _)| k2 == k))
            .count(),
        _ => return None,
    };
    i64::try_from(n).ok().map(V::Int)
}

fn contains<'a>(container: V<'a>, x: V<'a>) -> Option<bool> {
    match (container, x) {
        // A list holds `x` when an element equals it; strings equal only strings.
        (V::Tags(t), V::Str(s)) => Some(t.iter().any(|e| e == s)),
        (V::Tags(_), V::Null | V::Bool(_) | V::Int(_) | V::UInt(_) | V::Double(_)) => Some(false),
        // Map keys are strings: other key types are never found.
        (V::Meta(m), V::Str(s)) => Some(m.iter().any(|(k, _)| k == s)),
        (V::Meta(_), V::Bool(_) | V::Int(_) | V::UInt(_)) => Some(false),
        _ => None,
    }
}

fn index<'a>(container: V<'a>, i: V<'a>) -> Option<V<'a>> {
    match (container, i) {
        (V::Meta(m), V::Str(k)) => meta_get(m, k).map(V::Str),
        (V::Tags(t), V::Int(i)) => usize::try_from(i)
            .ok()
            .and_then(|i| t.get(i))
            .map(|s| V::Str(s)),
        (V::Tags(t), V::UInt(i)) => usize::try_from(i)
            .ok()
            .and_then(|i| t.get(i))
            .map(|s| V::Str(s)),
        _ => None,
    }
}

#[inline(always)]
fn bool_of(v: Option<V<'_>>) -> Option<bool> {
    match v {
        Some(V::Bool(b)) => Some(b),
        _ => None,
    }
}

#[inline(always)]
fn leaf<'a>(l: &'a Leaf, f: &'a Features) -> V<'a> {
    match l {
        Leaf::Var(v) => var(*v, f),
        Leaf::Lit(l) => lit(l),
    }
}

#[inline(always)]
fn test(t: Test, a: V<'_>, b: V<'_>) -> Option<bool> {
    match t {
        Test::Eq => equals(a, b),
        Test::Ne => equals(a, b).map(|e| !e),
        Test::Cmp(op) => {
            let o = compare(a, b)?;
            Some(match op {
                Cmp::Lt => o == Ordering::Less,
                Cmp::Le => o != Ordering::Greater,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
            })
        }
    }
}

/// `var == s` (`is`) or `var != s`.
#[inline(always)]
fn str_is(v: Var, s: &str, is: bool, f: &Features) -> Option<bool> {
    equals(var(v, f), V::Str(s)).map(|e| e == is)
}

/// The answer of a term of `All`/`Any`: `None` when it is unknown or not a boolean.
#[inline(always)]
fn term(n: &Node, f: &Features) -> Option<bool> {
    match n {
        Node::StrIs(v, s, is) => str_is(*v, s, *is, f),
        Node::Test(t, ab) => test(*t, leaf(&ab.0, f), leaf(&ab.1, f)),
        _ => bool_of(eval(n, f)),
    }
}

/// `None` where the interpreter would fail or this module does not know its answer.
pub fn eval<'a>(n: &'a Node, f: &'a Features) -> Option<V<'a>> {
    match n {
        // Whatever the nesting of `&&`, the interpreter's answer is false when any term is
        // false (an error in another term is absorbed: `false && e`, `e && false`), true
        // when all are true, and an error or false otherwise: unknown here.
        Node::All(terms) => {
            let mut known = true;
            for t in terms.iter() {
                match term(t, f) {
                    Some(false) => return Some(V::Bool(false)),
                    Some(true) => {}
                    None => known = false,
                }
            }
            known.then_some(V::Bool(true))
        }
        Node::Any(terms) => {
            let mut known = true;
            for t in terms.iter() {
                match term(t, f) {
                    Some(true) => return Some(V::Bool(true)),
                    Some(false) => {}
                    None => known = false,
                }
            }
            known.then_some(V::Bool(false))
        }
        Node::Test(t, ab) => test(*t, leaf(&ab.0, f), leaf(&ab.1, f)).map(V::Bool),
        Node::StrIs(v, s, is) => str_is(*v, s, *is, f).map(V::Bool),
        Node::Var(v) => Some(var(*v, f)),
        Node::Lit(l) => Some(lit(l)),
        Node::Not(x) => Some(V::Bool(!term(x, f)?)),
        _ => other(n, f),
    }
}

/// The rarer nodes, kept out of `eval` so its frame stays small.
#[inline(never)]
fn other<'a>(n: &'a Node, f: &'a Features) -> Option<V<'a>> {
    Some(match n {
        Node::Lit(_)
        | Node::Var(_)
        | Node::All(_)
        | Node::Any(_)
        | Node::Test(..)
        | Node::StrIs(..)
        | Node::Not(_) => {
            return eval(n, f);
        }
        Node::Cond(c, a, b) => {
            if bool_of(eval(c, f))? {
                eval(a, f)?
            } else {
                eval(b, f)?
            }
        }
        Node::Eq(a, b) => V::Bool(equals(eval(a, f)?, eval(b, f)?)?),
        Node::Ne(a, b) => V::Bool(!equals(eval(a, f)?, eval(b, f)?)?),
        Node::Cmp(op, a, b) => V::Bool(test(Test::Cmp(*op), eval(a, f)?, eval(b, f)?)?),
        Node::InList(x, items) => {
            let x = eval(x, f)?;
            let mut found = false;
            for item in items.iter() {
                if equals(lit(item), x)? {
                    found = true;
                    break;
                }
            }
            V::Bool(found)
        }
        Node::In(x, c) => {
            let x = eval(x, f)?;
            V::Bool(contains(eval(c, f)?, x)?)
        }
        Node::Size(x) => size(eval(x, f)?)?,
        Node::Str(op, s, arg) => {
            let (V::Str(s), V::Str(arg)) = (eval(s, f)?, eval(arg, f)?) else {
                return None;
            };
            V::Bool(match op {
                StrFn::StartsWith => s.starts_with(arg),
                StrFn::EndsWith => s.ends_with(arg),
                StrFn::Contains => s.contains(arg),
            })
        }
        Node::Index(c, i) => {
            let c = eval(c, f)?;
            index(c, eval(i, f)?)?
        }
        Node::Field(m, field) => match eval(m, f)? {
            V::Meta(m) => V::Str(meta_get(m, field)?),
            _ => return None,
        },
        Node::Has(m, field) => match eval(m, f)? {
            V::Meta(m) => V::Bool(meta_get(m, field).is_some()),
            _ => return None,
        },
    })
}

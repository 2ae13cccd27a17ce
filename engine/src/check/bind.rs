//! Binding a parsed condition: fields against the catalogue, operators against field types,
//! literals parsed as the field type, list names expanded, macro names resolved.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use memchr::memmem;

use super::names::{FieldRefError, did_you_mean, resolve_field_ref};
use crate::eval::{Cmp, Glob, IpNet, Node, Ord3, PathPrefixes, StrValOp, Test, Transform, ValRhs};
use crate::events::{EventTypeSet, event_type_by_name, event_type_names};
use crate::fields::{Field, FieldType};
use crate::source::FieldArg;
use crate::syntax::{Check, Expr, FieldExpr, Literal, Op, Rhs, Span, unquote};

/// A condition with macros still referenced by index.
#[derive(Debug, Clone)]
pub(crate) enum Bound {
    And(Vec<Bound>),
    Or(Vec<Bound>),
    Not(Box<Bound>),
    Macro(usize),
    Node(Node),
}

/// One binding error, positioned in the condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BindError {
    pub code: &'static str,
    pub span: Span,
    pub message: String,
}

/// What the binder needs to know about the other items.
pub(crate) struct Env<'a> {
    /// Expanded list items by list name.
    pub list: &'a dyn Fn(&str) -> Option<&'a [String]>,
    pub macro_index: &'a dyn Fn(&str) -> Option<usize>,
    pub macro_names: &'a [&'a str],
}

pub(crate) struct Binder<'a> {
    pub env: Env<'a>,
    pub errors: Vec<BindError>,
    pub fields: BTreeSet<Field>,
    /// Binding the items of an `in (...)`-style list (a bare word there may be a missing list).
    in_list_literal: bool,
}

fn ord(op: Op) -> Option<Ord3> {
    Some(match op {
        Op::Eq => Ord3::Eq,
        Op::Ne => Ord3::Ne,
        Op::Lt => Ord3::Lt,
        Op::Le => Ord3::Le,
        Op::Gt => Ord3::Gt,
        Op::Ge => Ord3::Ge,
        _ => return None,
    })
}

fn type_words(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "a string",
        FieldType::U64 | FieldType::I64 => "a number",
        FieldType::Bool => "a boolean",
        FieldType::Ip => "an IP address",
        FieldType::IpNet => "an IP network",
        FieldType::AbsTime => "a timestamp",
        FieldType::RelTime => "a duration",
    }
}

fn allowed_ops(ty: FieldType, list: bool) -> &'static [Op] {
    use Op::*;
    if list {
        return &[Exists, In, Intersects];
    }
    match ty {
        FieldType::String => &[
            Eq,
            Ne,
            Contains,
            IContains,
            BContains,
            StartsWith,
            BStartsWith,
            EndsWith,
            Glob,
            IGlob,
            Pmatch,
            In,
            Intersects,
            Exists,
            Regex,
        ],
        FieldType::U64 | FieldType::I64 | FieldType::AbsTime | FieldType::RelTime => {
            &[Eq, Ne, Lt, Le, Gt, Ge, In, Intersects, Exists]
        }
        FieldType::Bool | FieldType::Ip | FieldType::IpNet => &[Eq, Ne, In, Intersects, Exists],
    }
}

/// A word that could name a list: a letter or `_` first, then letters, digits, `_` and `-`
/// (so `10.0.0.1` and `443` are not taken for one), and not `true`/`false`.
fn looks_like_list_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !s.eq_ignore_ascii_case("true")
        && !s.eq_ignore_ascii_case("false")
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i128::from_str_radix(h, 16).ok()?
    } else {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_net(s: &str) -> Option<IpNet> {
    match s.split_once('/') {
        Some((a, p)) => {
            let addr: IpAddr = a.trim().parse().ok()?;
            let prefix: u8 = p.trim().parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            (prefix <= max).then_some(IpNet { addr, prefix })
        }
        None => {
            let addr: IpAddr = s.trim().parse().ok()?;
            Some(IpNet {
                addr,
                prefix: if addr.is_ipv4() { 32 } else { 128 },
            })
        }
    }
}

/// A value with the span to blame if it does not parse.
struct Item<'s> {
    text: std::borrow::Cow<'s, str>,
    span: Span,
    from_list: Option<&'s str>,
}

impl<'a> Binder<'a> {
    pub fn new(env: Env<'a>) -> Self {
        Binder {
            env,
            errors: Vec::new(),
            fields: BTreeSet::new(),
            in_list_literal: false,
        }
    }

    fn error(&mut self, code: &'static str, span: Span, message: String) {
        self.errors.push(BindError {
            code,
            span,
            message,
        });
    }

    pub fn bind(&mut self, e: &Expr) -> Bound {
        match e {
            Expr::And(v) => Bound::And(v.iter().map(|e| self.bind(e)).collect()),
            Expr::Or(v) => Bound::Or(v.iter().map(|e| self.bind(e)).collect()),
            Expr::Not(e, _) => Bound::Not(Box::new(self.bind(e))),
            Expr::Macro(name, span) => match (self.env.macro_index)(name) {
                Some(i) => Bound::Macro(i),
                None => {
                    let msg = if (self.env.list)(name).is_some() {
                        format!(
                            "`{name}` is a list, not a macro; use a list with an operator, e.g. `proc.name in ({name})`"
                        )
                    } else {
                        let sugg = did_you_mean(name, self.env.macro_names.iter().copied())
                            .map(|s| format!(" — did you mean `{s}`?"))
                            .unwrap_or_default();
                        format!("undefined macro `{name}`{sugg}")
                    };
                    self.error("undefined-macro", *span, msg);
                    Bound::Node(Node::False)
                }
            },
            Expr::Check(c) => Bound::Node(self.check(c).unwrap_or(Node::False)),
        }
    }

    /// Resolve a field expression: field, argument, transformers (innermost first) and the
    /// type of the transformed values.
    fn field(
        &mut self,
        f: &FieldExpr,
    ) -> Option<(Field, FieldArg, Vec<Transform>, FieldType, bool)> {
        let (field, arg) = match resolve_field_ref(&f.name, f.arg.as_deref()) {
            Ok(x) => x,
            Err(e) => {
                let code = match e {
                    FieldRefError::Unknown { .. } => "unknown-field",
                    FieldRefError::MissingArg { .. } => "missing-field-arg",
                    _ => "bad-field-arg",
                };
                self.error(code, f.name_span, e.to_string());
                return None;
            }
        };
        self.fields.insert(field);
        let info = field.info();
        let mut ty = info.ty;
        let list = info.list;
        let mut ts = Vec::new();
        for (t, span) in f.transforms.iter().rev() {
            if ty != FieldType::String {
                self.error(
                    "bad-transformer",
                    *span,
                    format!(
                        "transformer `{}` needs a string, but `{}` is {}",
                        t.name(),
                        if ts.is_empty() {
                            info.name.to_string()
                        } else {
                            format!(
                                "{}(...)",
                                ts.last().map(|t: &Transform| t.name()).unwrap_or("")
                            )
                        },
                        type_words(ty)
                    ),
                );
                return None;
            }
            if *t == Transform::Len {
                ty = FieldType::U64;
            }
            ts.push(*t);
        }
        Some((field, arg, ts, ty, list))
    }

    fn check(&mut self, c: &Check) -> Option<Node> {
        let (field, arg, transforms, ty, list) = self.field(&c.field)?;
        let allowed = allowed_ops(ty, list);
        if !allowed.contains(&c.op) {
            let what = if transforms.is_empty() {
                format!("`{}`", field.name())
            } else {
                format!("`{}`", c.field.name)
            };
            self.error(
                "bad-operator",
                c.op_span,
                format!(
                    "operator `{}` cannot be used with {what}, which is {}{}; use {}",
                    c.op.name(),
                    if list { "a list of " } else { "" },
                    if list {
                        "values".to_string()
                    } else {
                        type_words(ty).to_string()
                    },
                    allowed
                        .iter()
                        .map(|o| o.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return None;
        }
        let evt_type = field == Field::EvtType && transforms.is_empty() && arg == FieldArg::None;
        let test = match &c.rhs {
            Rhs::None => Test::Exists,
            Rhs::Field(rf) => {
                let (rfield, rarg, rts, rty, _) = self.field(rf)?;
                let compatible = rty == ty || (rty.is_numeric() && ty.is_numeric());
                if !compatible {
                    self.error(
                        "bad-val",
                        rf.span,
                        format!(
                            "cannot compare `{}` ({}) with `val({})` ({})",
                            c.field.name,
                            type_words(ty),
                            rf.name,
                            type_words(rty)
                        ),
                    );
                    return None;
                }
                let rhs = Box::new(ValRhs {
                    field: rfield,
                    arg: rarg,
                    transforms: rts.into(),
                });
                match (ord(c.op), c.op) {
                    (Some(o), _) => Test::Val(o, rhs),
                    (None, Op::Contains) => Test::ValStr(StrValOp::Contains, rhs),
                    (None, Op::IContains) => Test::ValStr(StrValOp::IContains, rhs),
                    (None, Op::StartsWith) => Test::ValStr(StrValOp::StartsWith, rhs),
                    (None, Op::EndsWith) => Test::ValStr(StrValOp::EndsWith, rhs),
                    _ => {
                        self.error(
                            "bad-val",
                            c.op_span,
                            format!("`val()` cannot be used with `{}`", c.op.name()),
                        );
                        return None;
                    }
                }
            }
            Rhs::Value(lit) => {
                if c.op.takes_list() {
                    unreachable!("the parser reads lists after list operators")
                }
                if evt_type && matches!(c.op, Op::Eq | Op::Ne) {
                    let id = self.event_type(&lit.text, lit.span)?;
                    let mut set = EventTypeSet::empty();
                    set.insert(id);
                    let node = Node::EvtType(set);
                    return Some(if c.op == Op::Ne {
                        Node::EvtType(set.complement())
                    } else {
                        node
                    });
                }
                self.single(field, ty, c.op, lit)?
            }
            Rhs::List { items, .. } => {
                let items = self.expand(items);
                if evt_type && c.op != Op::Pmatch {
                    let mut set = EventTypeSet::empty();
                    let mut ok = true;
                    for it in &items {
                        match self.event_type(&it.text, it.span) {
                            Some(id) => set.insert(id),
                            None => ok = false,
                        }
                    }
                    return ok.then_some(Node::EvtType(set));
                }
                self.list(field, ty, c.op, &items)?
            }
        };
        Some(Node::Cmp(Box::new(Cmp {
            field,
            arg,
            transforms: transforms.into(),
            all_values: list && c.op == Op::In,
            test,
        })))
    }

    fn event_type(&mut self, name: &str, span: Span) -> Option<crate::events::EventTypeId> {
        match event_type_by_name(name) {
            Some(id) => Some(id),
            None => {
                let sugg = did_you_mean(name, event_type_names())
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                self.error(
                    "unknown-event-type",
                    span,
                    format!("unknown event type `{name}`{sugg}"),
                );
                None
            }
        }
    }

    /// List items with list names expanded (lists of lists were expanded when lists were
    /// compiled) and quoted items unquoted.
    fn expand<'s>(&self, items: &'s [Literal]) -> Vec<Item<'s>> {
        let mut out = Vec::new();
        for it in items {
            if !it.quoted
                && let Some(vals) = (self.env.list)(&it.text)
            {
                for v in vals {
                    out.push(Item {
                        text: std::borrow::Cow::Owned(unquote(v).unwrap_or_else(|| v.clone())),
                        span: it.span,
                        from_list: Some(&it.text),
                    });
                }
                continue;
            }
            out.push(Item {
                text: std::borrow::Cow::Borrowed(&it.text),
                span: it.span,
                from_list: None,
            });
        }
        out
    }

    fn bad_value(
        &mut self,
        field: Field,
        ty: FieldType,
        text: &str,
        span: Span,
        from_list: Option<&str>,
        extra: &str,
    ) {
        let origin = from_list
            .map(|l| format!(" (from list `{l}`)"))
            .unwrap_or_default();
        // A bare word where a number or address was expected is most often a list that is not
        // defined (it lives in a rules file that was not loaded).
        let undefined = if self.in_list_literal
            && from_list.is_none()
            && matches!(
                ty,
                FieldType::U64 | FieldType::I64 | FieldType::Ip | FieldType::IpNet
            )
            && looks_like_list_name(text)
        {
            format!(", and no list named `{text}` is defined")
        } else {
            String::new()
        };
        self.error(
            "bad-value",
            span,
            format!(
                "`{text}`{origin} is not {} for `{}`{extra}{undefined}",
                match ty {
                    FieldType::U64 => "a valid unsigned number",
                    FieldType::I64 | FieldType::AbsTime | FieldType::RelTime => "a valid number",
                    FieldType::Bool => "true or false",
                    FieldType::Ip => "a valid IP address",
                    FieldType::IpNet => "a valid IP network (CIDR such as 10.0.0.0/8) or address",
                    FieldType::String => "a valid string",
                },
                field.name()
            ),
        );
    }

    fn num(
        &mut self,
        field: Field,
        ty: FieldType,
        text: &str,
        span: Span,
        from_list: Option<&str>,
    ) -> Option<i128> {
        match parse_int(text) {
            Some(n) if n < 0 && ty == FieldType::U64 => {
                self.bad_value(field, ty, text, span, from_list, "");
                None
            }
            Some(n) => Some(n),
            None => {
                self.bad_value(field, ty, text, span, from_list, "");
                None
            }
        }
    }

    fn boolean(
        &mut self,
        field: Field,
        text: &str,
        span: Span,
        from_list: Option<&str>,
    ) -> Option<bool> {
        match text {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.bad_value(field, FieldType::Bool, text, span, from_list, "");
                None
            }
        }
    }

    fn ip(
        &mut self,
        field: Field,
        text: &str,
        span: Span,
        from_list: Option<&str>,
    ) -> Option<IpAddr> {
        match text.trim().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let extra = if text.contains('/') {
                    let net = match field {
                        Field::FdCip => "fd.cnet",
                        Field::FdSip => "fd.snet",
                        Field::FdLip => "fd.lnet",
                        Field::FdRip => "fd.rnet",
                        _ => "fd.net",
                    };
                    format!(" — to compare with a network use `{net}`")
                } else {
                    String::new()
                };
                self.bad_value(field, FieldType::Ip, text, span, from_list, &extra);
                None
            }
        }
    }

    fn net(
        &mut self,
        field: Field,
        text: &str,
        span: Span,
        from_list: Option<&str>,
    ) -> Option<IpNet> {
        let n = parse_net(text);
        if n.is_none() {
            self.bad_value(field, FieldType::IpNet, text, span, from_list, "");
        }
        n
    }

    fn single(&mut self, field: Field, ty: FieldType, op: Op, lit: &Literal) -> Option<Test> {
        let t = lit.text.as_str();
        let span = lit.span;
        Some(match ty {
            FieldType::String => match op {
                Op::Eq | Op::Ne => Test::StrCmp(ord(op).expect("eq/ne"), t.as_bytes().into()),
                Op::Contains => {
                    Test::Contains(Box::new(memmem::Finder::new(t.as_bytes()).into_owned()))
                }
                Op::IContains => Test::IContains(t.to_ascii_lowercase().into_bytes().into()),
                Op::StartsWith => Test::StartsWith(t.as_bytes().into()),
                Op::EndsWith => Test::EndsWith(t.as_bytes().into()),
                Op::BContains | Op::BStartsWith => {
                    let Some(bytes) = parse_hex(t) else {
                        self.error(
                            "bad-value",
                            span,
                            format!(
                                "`{}` takes bytes written in hex (e.g. `CAFEBABE`), not `{t}`",
                                op.name()
                            ),
                        );
                        return None;
                    };
                    if op == Op::BContains {
                        Test::Contains(Box::new(memmem::Finder::new(&bytes).into_owned()))
                    } else {
                        Test::StartsWith(bytes.into())
                    }
                }
                Op::Glob => Test::Glob(Glob::new(t.as_bytes(), false)),
                Op::IGlob => Test::Glob(Glob::new(t.as_bytes(), true)),
                Op::Regex => match regex::bytes::Regex::new(&format!("^(?:{t})$")) {
                    Ok(r) => Test::Regex(r),
                    Err(e) => {
                        let msg = e.to_string();
                        let last = msg
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .trim_start_matches("error: ")
                            .to_string();
                        self.error(
                            "bad-regex",
                            span,
                            format!("invalid regular expression `{t}`: {last}"),
                        );
                        return None;
                    }
                },
                _ => unreachable!("operators checked against the type"),
            },
            FieldType::U64 | FieldType::I64 | FieldType::AbsTime | FieldType::RelTime => {
                Test::NumCmp(
                    ord(op).expect("numeric op"),
                    self.num(field, ty, t, span, None)?,
                )
            }
            FieldType::Bool => {
                Test::BoolCmp(ord(op).expect("eq/ne"), self.boolean(field, t, span, None)?)
            }
            FieldType::Ip => Test::IpCmp(ord(op).expect("eq/ne"), self.ip(field, t, span, None)?),
            FieldType::IpNet => {
                Test::NetCmp(ord(op).expect("eq/ne"), self.net(field, t, span, None)?)
            }
        })
    }

    fn list(&mut self, field: Field, ty: FieldType, op: Op, items: &[Item<'_>]) -> Option<Test> {
        self.in_list_literal = true;
        let test = self.list_items(field, ty, op, items);
        self.in_list_literal = false;
        test
    }

    fn list_items(
        &mut self,
        field: Field,
        ty: FieldType,
        op: Op,
        items: &[Item<'_>],
    ) -> Option<Test> {
        if op == Op::Pmatch {
            return Some(Test::Pmatch(PathPrefixes::new(
                items.iter().map(|i| i.text.as_bytes()),
            )));
        }
        let mut ok = true;
        let test = match ty {
            FieldType::String => Test::StrIn(
                items
                    .iter()
                    .map(|i| i.text.as_bytes().to_vec().into_boxed_slice())
                    .collect::<HashSet<_>>(),
            ),
            FieldType::U64 | FieldType::I64 | FieldType::AbsTime | FieldType::RelTime => {
                let mut v = Vec::new();
                for i in items {
                    match self.num(field, ty, &i.text, i.span, i.from_list) {
                        Some(n) => v.push(n),
                        None => ok = false,
                    }
                }
                v.sort_unstable();
                v.dedup();
                Test::NumIn(v.into())
            }
            FieldType::Bool => {
                let mut v = Vec::new();
                for i in items {
                    match self.boolean(field, &i.text, i.span, i.from_list) {
                        Some(b) => v.push(b),
                        None => ok = false,
                    }
                }
                Test::BoolIn(v.into())
            }
            FieldType::Ip => {
                let mut v = Vec::new();
                for i in items {
                    match self.ip(field, &i.text, i.span, i.from_list) {
                        Some(b) => v.push(b),
                        None => ok = false,
                    }
                }
                Test::IpIn(v.into())
            }
            FieldType::IpNet => {
                let mut v = Vec::new();
                for i in items {
                    match self.net(field, &i.text, i.span, i.from_list) {
                        Some(b) => v.push(b),
                        None => ok = false,
                    }
                }
                Test::NetIn(v.into())
            }
        };
        ok.then_some(test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals() {
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_hex("CAFE babe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(parse_hex("ABC"), None);
        let n = parse_net("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(parse_net("10.0.0.0/33").is_none());
        assert!(parse_net("::1").unwrap().contains("::1".parse().unwrap()));
    }
}

//! The condition AST. Spans are byte ranges in the condition text.

use crate::eval::Transform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
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
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Pmatch => "pmatch",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Exists => "exists",
            Op::Regex => "regex",
        }
    }

    /// The operator spelled `s` (`==` is `=`).
    pub fn from_word(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "pmatch" => Op::Pmatch,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "exists" => Op::Exists,
            "regex" => Op::Regex,
            _ => return None,
        })
    }

    /// Operators whose right-hand side is a list: `in`, `intersects`, `pmatch`.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

/// A field with its argument and transformers: `tolower(proc.aname[2])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldExpr {
    pub name: String,
    pub arg: Option<String>,
    /// Outermost first, as written: `tolower(basename(x))` is `[tolower, basename]`.
    pub transforms: Vec<(Transform, Span)>,
    /// The field name and argument, without transformers.
    pub name_span: Span,
    pub span: Span,
}

/// A literal value: a bare word or a quoted string (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rhs {
    /// `exists`.
    None,
    Value(Literal),
    /// `(a, "b", list_name)`; `span` covers the parentheses. A bare list name without
    /// parentheses is a one-item list with `parens: false`.
    List {
        items: Vec<Literal>,
        span: Span,
        parens: bool,
    },
    /// `val(other.field)`.
    Field(FieldExpr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub field: FieldExpr,
    pub op: Op,
    pub op_span: Span,
    pub rhs: Rhs,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>, Span),
    /// A bare identifier: a macro reference.
    Macro(String, Span),
    Check(Box<Check>),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::And(v) | Expr::Or(v) => v
                .iter()
                .map(Expr::span)
                .reduce(Span::to)
                .unwrap_or_default(),
            Expr::Not(_, s) | Expr::Macro(_, s) => *s,
            Expr::Check(c) => c.span,
        }
    }
}

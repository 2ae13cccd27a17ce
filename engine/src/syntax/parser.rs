//! A recursive-descent parser for Falco conditions, context-sensitive like Falco's own: what
//! counts as a bare word depends on whether a field, an operator or a value is expected.
//!
//! ```text
//! expr   := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | atom
//! atom   := "(" expr ")" | check | macro-name
//! check  := field op [value | list | "val(" field ")"]
//! field  := transformer "(" field ")" | name ["[" arg "]"]
//! ```

use super::ast::*;
use crate::eval::Transform;

/// A syntax error with its span in the condition text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
}

const MAX_DEPTH: usize = 200;

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Characters that end a bare word value (Falco's RGX_BARESTR complement).
fn ends_bare(c: u8) -> bool {
    is_space(c) || matches!(c, b'(' | b')' | b',' | b'=' | b'"' | b'\'')
}

const WORD_OPS: [&str; 13] = [
    "exists",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "pmatch",
    "intersects",
    "in",
    "regex",
];

/// Parse a whole condition.
pub fn parse_condition(text: &str) -> Result<Expr, SyntaxError> {
    let mut p = P {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.i == p.b.len() {
        return Err(SyntaxError {
            span: Span::new(0, 0),
            message: "the condition is empty".into(),
        });
    }
    let e = p.or()?;
    p.ws();
    if p.i < p.b.len() {
        let span = p.token_span();
        let msg = if p.b[p.i] == b')' {
            "unbalanced parentheses: this `)` has no matching `(`".to_string()
        } else {
            format!(
                "unexpected `{}` — expected `and`, `or` or the end of the condition",
                p.token_text()
            )
        };
        return Err(SyntaxError { span, message: msg });
    }
    Ok(e)
}

impl<'a> P<'a> {
    fn ws(&mut self) {
        while self.i < self.b.len() && is_space(self.b[self.i]) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// The span of the token at the cursor (up to the next space or paren), for errors.
    fn token_span(&self) -> Span {
        let mut j = self.i;
        if j < self.b.len() && matches!(self.b[j], b'(' | b')' | b',') {
            return Span::new(j, j + 1);
        }
        while j < self.b.len() && !is_space(self.b[j]) && !matches!(self.b[j], b'(' | b')' | b',') {
            j += 1;
        }
        if j == self.i {
            Span::new(self.i, self.i)
        } else {
            Span::new(self.i, j)
        }
    }

    fn token_text(&self) -> &'a str {
        let s = self.token_span();
        &self.s[s.start..s.end.min(self.s.len())]
    }

    fn err<T>(&self, span: Span, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            span,
            message: message.into(),
        })
    }

    fn end_err<T>(&self, what: &str) -> Result<T, SyntaxError> {
        self.err(
            Span::new(self.b.len(), self.b.len()),
            format!("unexpected end of the condition — expected {what}"),
        )
    }

    /// Is the keyword `kw` at the cursor (followed by a non-identifier byte)?
    fn at_keyword(&self, kw: &str) -> bool {
        let k = kw.as_bytes();
        self.b[self.i..].starts_with(k)
            && self
                .b
                .get(self.i + k.len())
                .is_none_or(|c| !is_ident(*c) && *c != b'.')
    }

    fn ident(&mut self) -> Option<(&'a str, Span)> {
        let start = self.i;
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        while self.peek().is_some_and(is_ident) {
            self.i += 1;
        }
        Some((&self.s[start..self.i], Span::new(start, self.i)))
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(
                Span::new(self.i, self.i + 1),
                format!("the condition is nested too deeply (more than {MAX_DEPTH} levels)"),
            );
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        self.enter()?;
        let mut items = vec![self.and()?];
        loop {
            self.ws();
            if self.i < self.b.len() && self.at_keyword("or") {
                self.i += 2;
                self.ws();
                if self.i == self.b.len() {
                    return self.end_err("a condition after `or`");
                }
                items.push(self.and()?);
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut items = vec![self.not()?];
        loop {
            self.ws();
            if self.i < self.b.len() && self.at_keyword("and") {
                self.i += 3;
                self.ws();
                if self.i == self.b.len() {
                    return self.end_err("a condition after `and`");
                }
                items.push(self.not()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        self.ws();
        if self.i < self.b.len() && self.at_keyword("not") {
            let start = self.i;
            self.i += 3;
            self.ws();
            if self.i == self.b.len() {
                return self.end_err("a condition after `not`");
            }
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            let span = Span::new(start, inner.span().end);
            return Ok(Expr::Not(Box::new(inner), span));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        self.ws();
        let Some(c) = self.peek() else {
            return self.end_err("a condition");
        };
        if c == b'(' {
            let open = self.i;
            self.i += 1;
            self.ws();
            if self.peek() == Some(b')') {
                return self.err(Span::new(open, self.i + 1), "empty parentheses `()`");
            }
            if self.i == self.b.len() {
                return self.err(
                    Span::new(open, open + 1),
                    "unbalanced parentheses: this `(` is never closed",
                );
            }
            let e = self.or()?;
            self.ws();
            if self.peek() != Some(b')') {
                if self.i == self.b.len() {
                    return self.err(
                        Span::new(open, open + 1),
                        "unbalanced parentheses: this `(` is never closed",
                    );
                }
                let t = self.token_text();
                return self.err(
                    self.token_span(),
                    format!("unexpected `{t}` — expected `and`, `or` or `)`"),
                );
            }
            self.i += 1;
            return Ok(e);
        }
        if c == b')' {
            return self.err(
                Span::new(self.i, self.i + 1),
                "unexpected `)` — expected a condition",
            );
        }
        if !is_ident_start(c) {
            return self.err(
                self.token_span(),
                format!(
                    "unexpected `{}` — expected a field, a macro name, `not` or `(`",
                    self.token_text()
                ),
            );
        }
        for kw in ["and", "or"] {
            if self.at_keyword(kw) {
                return self.err(
                    Span::new(self.i, self.i + kw.len()),
                    format!("unexpected `{kw}` — expected a condition before it"),
                );
            }
        }
        let start = self.i;
        let field = self.field_or_macro()?;
        let field = match field {
            Err((name, span)) => {
                // A bare identifier: a macro, unless an operator follows.
                let save = self.i;
                self.ws();
                if self.peek_op().is_some() {
                    return self.err(
                        span,
                        format!(
                            "`{name}` is not a field (fields have a dot, like `proc.name`); \
                             a bare name is a macro and cannot be compared"
                        ),
                    );
                }
                self.i = save;
                return Ok(Expr::Macro(name.to_string(), span));
            }
            Ok(f) => f,
        };
        self.ws();
        let Some((op, op_span)) = self.peek_op() else {
            if self.i == self.b.len() {
                return self.end_err(&format!("an operator after `{}`", field.name));
            }
            return self.err(
                self.token_span(),
                format!(
                    "expected an operator after `{}` (=, !=, <, >, contains, startswith, in, exists...), found `{}`",
                    self.s[field.span.start..field.span.end].trim(),
                    self.token_text()
                ),
            );
        };
        self.i = op_span.end;
        let rhs = if op == Op::Exists {
            Rhs::None
        } else if op.takes_list() {
            self.list(op)?
        } else {
            self.value(op)?
        };
        let end = match &rhs {
            Rhs::None => op_span.end,
            Rhs::Value(l) => l.span.end,
            Rhs::List { span, .. } => span.end,
            Rhs::Field(f) => self.i.max(f.span.end),
        };
        Ok(Expr::Check(Box::new(Check {
            field,
            op,
            op_span,
            rhs,
            span: Span::new(start, end),
        })))
    }

    fn peek_op(&self) -> Option<(Op, Span)> {
        let rest = &self.b[self.i..];
        for sym in ["==", "!=", "<=", ">=", "=", "<", ">"] {
            if rest.starts_with(sym.as_bytes()) {
                return Some((
                    Op::from_word(sym).expect("known"),
                    Span::new(self.i, self.i + sym.len()),
                ));
            }
        }
        for w in WORD_OPS {
            if self.at_keyword(w) {
                return Some((
                    Op::from_word(w).expect("known"),
                    Span::new(self.i, self.i + w.len()),
                ));
            }
        }
        None
    }

    /// A field (possibly with transformers), or `Err((name, span))` for a bare identifier.
    #[allow(clippy::type_complexity)]
    fn field_or_macro(&mut self) -> Result<Result<FieldExpr, (&'a str, Span)>, SyntaxError> {
        let start = self.i;
        let Some((first, first_span)) = self.ident() else {
            return self.err(self.token_span(), "expected a field name");
        };
        if self.peek() == Some(b'(') {
            let Some(t) = Transform::from_name(first) else {
                return self.err(
                    first_span,
                    format!(
                        "unknown transformer `{first}` (expected tolower, toupper, b64, basename or len)"
                    ),
                );
            };
            self.i += 1;
            self.ws();
            self.enter()?;
            let inner = match self.field_or_macro()? {
                Ok(f) => f,
                Err((name, span)) => {
                    return self.err(
                        span,
                        format!("`{name}` is not a field (fields have a dot, like `proc.name`)"),
                    );
                }
            };
            self.depth -= 1;
            self.ws();
            if self.peek() != Some(b')') {
                return self.err(
                    Span::new(start, start + first.len() + 1),
                    format!("unbalanced parentheses: `{first}(` is never closed"),
                );
            }
            self.i += 1;
            let mut f = inner;
            f.transforms.insert(0, (t, first_span));
            f.span = Span::new(start, self.i);
            return Ok(Ok(f));
        }
        // Dotted name: segments of identifier characters.
        let mut has_dot = false;
        while self.peek() == Some(b'.') && self.b.get(self.i + 1).is_some_and(|c| is_ident(*c)) {
            has_dot = true;
            self.i += 1;
            while self.peek().is_some_and(is_ident) {
                self.i += 1;
            }
        }
        let name = &self.s[start..self.i];
        if !has_dot && self.peek() != Some(b'[') {
            return Ok(Err((name, Span::new(start, self.i))));
        }
        let mut arg = None;
        if self.peek() == Some(b'[') {
            let open = self.i;
            self.i += 1;
            let a = if matches!(self.peek(), Some(b'"' | b'\'')) {
                self.quoted()?.0
            } else {
                let s = self.i;
                while self
                    .peek()
                    .is_some_and(|c| !is_space(c) && !matches!(c, b'[' | b']' | b'"' | b'\''))
                {
                    self.i += 1;
                }
                self.s[s..self.i].to_string()
            };
            if self.peek() != Some(b']') {
                return self.err(
                    Span::new(open, open + 1),
                    format!("the `[` after `{name}` is never closed"),
                );
            }
            self.i += 1;
            arg = Some(a);
        }
        let span = Span::new(start, self.i);
        Ok(Ok(FieldExpr {
            name: name.to_string(),
            arg,
            transforms: Vec::new(),
            name_span: span,
            span,
        }))
    }

    /// A quoted string at the cursor: returns the unescaped text and its span.
    fn quoted(&mut self) -> Result<(String, Span), SyntaxError> {
        let start = self.i;
        let q = self.b[self.i];
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err(
                    Span::new(start, self.b.len()),
                    "unterminated string: the closing quote is missing",
                );
            };
            self.i += 1;
            if c == q {
                break;
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return self.err(
                    Span::new(start, self.b.len()),
                    "unterminated string: the closing quote is missing",
                );
            };
            self.i += 1;
            match e {
                b'\\' | b'"' | b'\'' | b'/' => out.push(e),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'x' => {
                    let hex = self
                        .s
                        .get(self.i..self.i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(v) => {
                            out.push(v);
                            self.i += 2;
                        }
                        None => {
                            return self.err(
                                Span::new(self.i - 2, (self.i + 2).min(self.b.len())),
                                "invalid escape `\\x`: expected two hex digits",
                            );
                        }
                    }
                }
                _ => {
                    // Falco keeps unknown escapes as written (regexes rely on it: "\d").
                    out.push(b'\\');
                    out.push(e);
                }
            }
        }
        let text = match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok((text, Span::new(start, self.i)))
    }

    fn literal(&mut self, what: &str) -> Result<Literal, SyntaxError> {
        self.ws();
        match self.peek() {
            None => self.end_err(what),
            Some(b'"' | b'\'') => {
                let (text, span) = self.quoted()?;
                Ok(Literal {
                    text,
                    quoted: true,
                    span,
                })
            }
            Some(c) if ends_bare(c) => self.err(
                self.token_span(),
                format!("unexpected `{}` — expected {what}", self.token_text()),
            ),
            Some(_) => {
                let start = self.i;
                while self.peek().is_some_and(|c| !ends_bare(c)) {
                    self.i += 1;
                }
                Ok(Literal {
                    text: self.s[start..self.i].to_string(),
                    quoted: false,
                    span: Span::new(start, self.i),
                })
            }
        }
    }

    fn value(&mut self, op: Op) -> Result<Rhs, SyntaxError> {
        self.ws();
        if self.b[self.i..].starts_with(b"val(") {
            let start = self.i;
            self.i += 4;
            self.ws();
            let f = match self.field_or_macro()? {
                Ok(f) => f,
                Err((name, span)) => {
                    return self.err(
                        span,
                        format!(
                            "`{name}` is not a field: `val()` takes a field such as `proc.pname`"
                        ),
                    );
                }
            };
            self.ws();
            if self.peek() != Some(b')') {
                return self.err(
                    Span::new(start, start + 4),
                    "unbalanced parentheses: `val(` is never closed",
                );
            }
            self.i += 1;
            return Ok(Rhs::Field(f));
        }
        let what = format!("a value after `{}`", op.name());
        Ok(Rhs::Value(self.literal(&what)?))
    }

    fn list(&mut self, op: Op) -> Result<Rhs, SyntaxError> {
        self.ws();
        let open = self.i;
        match self.peek() {
            Some(b'(') => {}
            None => return self.end_err(&format!("a list such as `(a, b)` after `{}`", op.name())),
            Some(c) if is_ident_start(c) => {
                // `in list_name` without parentheses.
                let l = self.literal("a list")?;
                let span = l.span;
                return Ok(Rhs::List {
                    items: vec![l],
                    span,
                    parens: false,
                });
            }
            Some(_) => {
                return self.err(
                    self.token_span(),
                    format!(
                        "expected a list such as `(a, b)` after `{}`, found `{}`",
                        op.name(),
                        self.token_text()
                    ),
                );
            }
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(Rhs::List {
                items,
                span: Span::new(open, self.i),
                parens: true,
            });
        }
        loop {
            self.ws();
            if self.i == self.b.len() {
                return self.err(
                    Span::new(open, open + 1),
                    "unbalanced parentheses: the list's `(` is never closed",
                );
            }
            if self.peek() == Some(b',') {
                return self.err(
                    Span::new(self.i, self.i + 1),
                    "empty list item: two commas in a row, or a comma first",
                );
            }
            items.push(self.literal("a list item")?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(b')') {
                        // Trailing comma: accepted.
                        self.i += 1;
                        break;
                    }
                }
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                None => {
                    return self.err(
                        Span::new(open, open + 1),
                        "unbalanced parentheses: the list's `(` is never closed",
                    );
                }
                Some(_) => {
                    return self.err(
                        self.token_span(),
                        format!(
                            "unexpected `{}` in a list — expected `,` or `)`",
                            self.token_text()
                        ),
                    );
                }
            }
        }
        Ok(Rhs::List {
            items,
            span: Span::new(open, self.i),
            parens: true,
        })
    }
}

/// If `s` is exactly one quoted string (`"a b"`, `'x'`), its unescaped content.
pub fn unquote(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 2 || !matches!(b[0], b'"' | b'\'') {
        return None;
    }
    let mut p = P {
        s,
        b,
        i: 0,
        depth: 0,
    };
    let (text, span) = p.quoted().ok()?;
    (span.end == s.len()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse_condition(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn err(s: &str) -> (String, String) {
        let e = parse_condition(s).unwrap_err();
        (
            e.message,
            s[e.span.start..e.span.end.min(s.len())].to_string(),
        )
    }

    #[test]
    fn parses_stable_rule_shapes() {
        ok(
            "(evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)",
        );
        ok("(not proc.name in (\"<NA>\",\"N/A\"))");
        ok(
            "proc.aname[2]=qualys-cloud-ag or proc.pname in (runc:[0:PARENT], runc:[1:CHILD], runc)",
        );
        ok("fd.nameraw contains '../' and fd.nameraw glob '*../*../*'");
        ok("not proc.pname exists or evt.arg.flags contains \"O_TRUNC\"");
        ok("proc.cmdline= \"sh -s unix:cmd\"");
        ok("tolower(basename(proc.exe)) = bash and proc.pname = val(proc.name)");
        ok("fd.name pmatch (/etc, /var/run) and proc.name in shell_binaries");
        ok("a and not(b) and (c or d)");
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let e = ok("a or b and c");
        let Expr::Or(items) = e else { panic!() };
        assert!(matches!(items[0], Expr::Macro(ref n, _) if n == "a"));
        assert!(matches!(items[1], Expr::And(_)));
        let e = ok("not a and b");
        let Expr::And(items) = e else { panic!() };
        assert!(matches!(items[0], Expr::Not(..)));
    }

    #[test]
    fn unescapes_strings() {
        let Expr::Check(c) = ok(r#"proc.cmdline = "a \"b\" \\ c\x41""#) else {
            panic!()
        };
        let Rhs::Value(l) = &c.rhs else { panic!() };
        assert_eq!(l.text, "a \"b\" \\ cA");
        let Expr::Check(c) = ok(r"proc.name regex '\d+'") else {
            panic!()
        };
        let Rhs::Value(l) = &c.rhs else { panic!() };
        assert_eq!(l.text, r"\d+");
    }

    #[test]
    fn reports_errors_with_spans() {
        assert_eq!(
            err("(proc.name = a"),
            (
                "unbalanced parentheses: this `(` is never closed".into(),
                "(".into()
            )
        );
        assert_eq!(
            err("proc.name = a)"),
            (
                "unbalanced parentheses: this `)` has no matching `(`".into(),
                ")".into()
            )
        );
        assert_eq!(
            err("proc.name").0,
            "unexpected end of the condition — expected an operator after `proc.name`"
        );
        assert_eq!(
            err("proc.name foo bar"),
            (
                "expected an operator after `proc.name` (=, !=, <, >, contains, startswith, in, exists...), found `foo`".into(),
                "foo".into()
            )
        );
        assert_eq!(
            err("a and").0,
            "unexpected end of the condition — expected a condition after `and`"
        );
        assert_eq!(err("proc.name in (a,,b)").1, ",");
        assert_eq!(err("proc.name = \"abc").1, "\"abc");
        assert_eq!(err("myfield = 3").1, "myfield");
        assert_eq!(err("lower(proc.name) = a").1, "lower");
        assert_eq!(err("").0, "the condition is empty");
        let deep = "(".repeat(500) + "a" + &")".repeat(500);
        assert!(err(&deep).0.contains("nested too deeply"));
    }
}

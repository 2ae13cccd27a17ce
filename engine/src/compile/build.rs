//! From merged items to a [`RuleSet`]: lists expanded, macros and rules parsed and bound,
//! exceptions turned into conditions, macros inlined, event-type sets computed.

use std::collections::{BTreeSet, HashMap};

use super::{CompiledRule, RuleSet};
use crate::check::{Bound, Env, bind::Binder};
use crate::diag::{Diagnostic, ItemKind, Pos, TextPos};
use crate::eval::Node;
use crate::events::EventTypeSet;
use crate::fields::Field;
use crate::load::items::{ExceptionDef, Located};
use crate::load::merge::{Collection, Joined, RuleState};
use crate::load::yaml::{Node as YNode, Yaml};
use crate::load::{CompileOptions, OtherSourceRule, Stats};
use crate::output::OutputTemplate;
use crate::syntax::{Expr, Op, Span, parse_condition};

/// Where a condition came from, to turn spans into positions.
enum Origin<'a> {
    Joined(&'a Joined),
    /// Generated text (exceptions): file, YAML position of the exception.
    Generated {
        file: usize,
        pos: Pos,
    },
}

struct Ctx<'a> {
    files: &'a [String],
    diags: &'a mut Vec<Diagnostic>,
}

fn line_col(text: &str, at: usize) -> (Pos, &str) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let col = text[line_start..at].chars().count() as u32 + 1;
    (Pos { line, col }, &text[line_start..line_end])
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn text_diag(
        &mut self,
        error: bool,
        code: &'static str,
        kind: ItemKind,
        name: &str,
        what: &str,
        text: &str,
        origin: &Origin<'_>,
        span: Span,
        message: String,
    ) {
        let (file, pos, seg_text, rel, source) = match origin {
            Origin::Joined(j) => {
                let (seg, t) = j.locate(span.start);
                let rel = span.start.saturating_sub(seg.start);
                let source = seg.map.as_ref().and_then(|m| m.locate(t, rel));
                (seg.file, seg.pos, t, rel, source)
            }
            Origin::Generated { file, pos } => (*file, *pos, text, span.start, None),
        };
        let (p, line) = line_col(seg_text, rel);
        let line_rest =
            line.chars().count() as u32 + 1 - p.col.min(line.chars().count() as u32 + 1);
        let span_chars = text
            .get(span.start..span.end.min(text.len()))
            .map_or(1, |s| s.chars().count() as u32);
        let d = if error {
            Diagnostic::error(code, self.files[file].clone(), message)
        } else {
            Diagnostic::warning(code, self.files[file].clone(), message)
        };
        self.diags.push(
            d.at(pos)
                .source_at(source)
                .item(kind, name)
                .in_text(TextPos {
                    what: what.to_string(),
                    pos: p,
                    len: span_chars.clamp(1, line_rest.max(1)),
                    line_text: line.to_string(),
                }),
        );
    }
}

/// How many items a list may have once the lists it names are expanded: lists naming a list
/// several times multiply at every level. Upstream's largest list has a few hundred.
pub(crate) const MAX_LIST_ITEMS: usize = 100_000;

/// Expand lists: items naming an earlier list take its items (Falco's visibility rule).
fn expand_lists(c: &Collection, ctx: &mut Ctx<'_>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (idx, l) in c.lists.iter().enumerate() {
        let mut items = Vec::new();
        for it in &l.items {
            if it.text == l.name {
                ctx.diags.push(
                    Diagnostic::error(
                        "list-self-reference",
                        ctx.files[it.file].clone(),
                        format!("list `{}` refers to itself", l.name),
                    )
                    .at(it.pos)
                    .item(ItemKind::List, &l.name),
                );
                continue;
            }
            match c.list(&it.text) {
                Some(j) if j < idx => {
                    let named = &out[&it.text];
                    if items.len() + named.len() > MAX_LIST_ITEMS {
                        ctx.diags.push(
                            Diagnostic::error(
                                "list-too-large",
                                ctx.files[it.file].clone(),
                                format!(
                                    "list `{}` grows past {MAX_LIST_ITEMS} items once the lists it names are expanded",
                                    l.name
                                ),
                            )
                            .at(it.pos)
                            .item(ItemKind::List, &l.name),
                        );
                        break;
                    }
                    items.extend(named.iter().cloned());
                }
                _ => items.push(it.text.clone()),
            }
        }
        out.insert(l.name.clone(), items);
    }
    out
}

/// Quote an exception value for the generated condition text, as Falco does for values that
/// need it (we quote anything that is not a plain word).
fn exception_value(v: &str) -> String {
    if crate::syntax::unquote(v).is_some() {
        return v.to_string();
    }
    let plain = !v.is_empty()
        && !v.bytes().any(|c| {
            c.is_ascii_whitespace() || matches!(c, b'(' | b')' | b',' | b'=' | b'"' | b'\'' | b'\\')
        });
    if plain {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn scalar_or_list(n: &YNode) -> Option<Result<Vec<String>, String>> {
    match &n.y {
        Yaml::Scalar { value, .. } => Some(Err(value.clone())),
        Yaml::Seq(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Ok),
        Yaml::Map(_) => None,
    }
}

/// Build the condition text of one exception, as Falco does; `Err` is a shape error.
fn exception_text(e: &ExceptionDef) -> Result<Option<String>, (Pos, String)> {
    let name = &e.name;
    let Some((fields, fpos)) = &e.fields else {
        return Err((
            e.pos,
            format!(
                "exception `{name}` has no `fields` (and no earlier exception of that name to add values to)"
            ),
        ));
    };
    if e.values.is_empty() {
        return Ok(None);
    }
    let check_op = |c: &Located| -> Result<Op, (Pos, String)> {
        Op::from_word(&c.text).filter(|o| *o != Op::Exists).ok_or_else(|| {
            (
                c.pos,
                format!("exception `{name}`: `{}` is not a comparison operator (expected =, !=, in, contains, startswith, pmatch...)", c.text),
            )
        })
    };
    match fields {
        Err(field) => {
            let comp = match &e.comps {
                None => "in".to_string(),
                Some((Err(c), _)) => {
                    check_op(c)?;
                    c.text.clone()
                }
                Some((Ok(_), p)) => {
                    return Err((
                        *p,
                        format!(
                            "exception `{name}`: `fields` is one field, so `comps` must be one operator, not a list"
                        ),
                    ));
                }
            };
            if !Op::from_word(&comp).is_some_and(Op::takes_list) {
                return Err((
                    e.comps.as_ref().map_or(*fpos, |c| c.1),
                    format!(
                        "exception `{name}`: with a single field the values form a list, so `comps` must be `in`, `intersects` or `pmatch`, not `{comp}`"
                    ),
                ));
            }
            let mut vals = Vec::new();
            for v in &e.values {
                match v.as_str() {
                    Some(s) => vals.push(exception_value(s)),
                    None => {
                        return Err((
                            v.pos,
                            format!(
                                "exception `{name}`: with a single field each value must be a string, found {}",
                                v.kind_name()
                            ),
                        ));
                    }
                }
            }
            Ok(Some(format!(
                "{} {} ({})",
                field.text,
                comp,
                vals.join(", ")
            )))
        }
        Ok(fields) => {
            let comps: Vec<String> = match &e.comps {
                None => vec!["=".to_string(); fields.len()],
                Some((Ok(c), p)) => {
                    if c.len() != fields.len() {
                        return Err((
                            *p,
                            format!(
                                "exception `{name}`: `fields` has {} entries but `comps` has {}",
                                fields.len(),
                                c.len()
                            ),
                        ));
                    }
                    for x in c {
                        check_op(x)?;
                    }
                    c.iter().map(|x| x.text.clone()).collect()
                }
                Some((Err(c), _)) => {
                    return Err((
                        c.pos,
                        format!(
                            "exception `{name}`: `fields` is a list, so `comps` must be a list of the same length"
                        ),
                    ));
                }
            };
            let mut tuples = Vec::new();
            for v in &e.values {
                let Yaml::Seq(items) = &v.y else {
                    return Err((
                        v.pos,
                        format!(
                            "exception `{name}`: each value must be a list of {} items (one per field), found {}",
                            fields.len(),
                            v.kind_name()
                        ),
                    ));
                };
                if items.len() != fields.len() {
                    return Err((
                        v.pos,
                        format!(
                            "exception `{name}`: this value has {} items but there are {} fields",
                            items.len(),
                            fields.len()
                        ),
                    ));
                }
                let mut parts = Vec::new();
                for ((f, comp), item) in fields.iter().zip(&comps).zip(items) {
                    let list_op = Op::from_word(comp).is_some_and(Op::takes_list);
                    let rhs = match scalar_or_list(item) {
                        Some(Ok(list)) => format!(
                            "({})",
                            list.iter()
                                .map(|s| exception_value(s))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Some(Err(s)) if list_op => {
                            if s.starts_with('(') {
                                s
                            } else {
                                format!("({})", exception_value(&s))
                            }
                        }
                        Some(Err(s)) => exception_value(&s),
                        None => {
                            return Err((
                                item.pos,
                                format!(
                                    "exception `{name}`: values must be strings or lists of strings, found {}",
                                    item.kind_name()
                                ),
                            ));
                        }
                    };
                    parts.push(format!("{} {} {}", f.text, comp, rhs));
                }
                tuples.push(format!("({})", parts.join(" and ")));
            }
            Ok(Some(tuples.join(" or ")))
        }
    }
}

/// The event types a condition can match, and whether it tests only `evt.type`.
/// Falco warns (LOAD_NO_EVTTYPE) when a rule's event-type set is empty or has more than 100
/// event codes; Falco counts an enter and an exit code per syscall, so that is 50 of ours.
pub(crate) const MAX_EVENT_TYPES_WITHOUT_WARNING: usize = 50;

/// The warning for a rule whose condition matches no event type or too many, if any.
fn event_type_warning(types: &EventTypeSet) -> Option<String> {
    if types.is_empty() {
        Some("the `evt.type` tests of the condition exclude each other, so the rule can never match (e.g. `evt.type=open and evt.type=execve`)".into())
    } else if types.is_all() {
        Some("the condition does not restrict `evt.type`, so the rule runs on every event (slow); add e.g. `evt.type in (open, openat)` or set `warn_evttypes: false`".into())
    } else if types.len() > MAX_EVENT_TYPES_WITHOUT_WARNING {
        Some(format!(
            "the condition matches {} event types (more than {MAX_EVENT_TYPES_WITHOUT_WARNING}, e.g. through `evt.type != X` or `not evt.type in (...)`), so the rule runs on almost every event (slow); list the event types it is about, or set `warn_evttypes: false`",
            types.len()
        ))
    } else {
        None
    }
}

fn event_types(n: &Node) -> (EventTypeSet, bool) {
    match n {
        Node::EvtType(s) => (*s, true),
        Node::True | Node::Cmp(_) => (EventTypeSet::all(), false),
        Node::False => (EventTypeSet::empty(), true),
        Node::And(v) => v.iter().fold((EventTypeSet::all(), true), |(acc, p), n| {
            let (s, q) = event_types(n);
            (acc.intersection(&s), p && q)
        }),
        Node::Or(v) => v.iter().fold((EventTypeSet::empty(), true), |(acc, p), n| {
            let (s, q) = event_types(n);
            (acc.union(&s), p && q)
        }),
        Node::Not(inner) => {
            let (s, pure) = event_types(inner);
            if pure {
                (s.complement(), true)
            } else {
                (EventTypeSet::all(), false)
            }
        }
    }
}

fn flatten(n: Node) -> Node {
    match n {
        Node::And(v) => {
            let mut out = Vec::new();
            for c in v.into_vec() {
                match flatten(c) {
                    Node::And(inner) => out.extend(inner.into_vec()),
                    Node::True => {}
                    other => out.push(other),
                }
            }
            if out.iter().any(|n| matches!(n, Node::False)) {
                return Node::False;
            }
            match out.len() {
                0 => Node::True,
                1 => out.pop().expect("one"),
                _ => Node::And(out.into()),
            }
        }
        Node::Or(v) => {
            let mut out = Vec::new();
            for c in v.into_vec() {
                match flatten(c) {
                    Node::Or(inner) => out.extend(inner.into_vec()),
                    Node::False => {}
                    other => out.push(other),
                }
            }
            if out.iter().any(|n| matches!(n, Node::True)) {
                return Node::True;
            }
            match out.len() {
                0 => Node::False,
                1 => out.pop().expect("one"),
                _ => Node::Or(out.into()),
            }
        }
        Node::Not(inner) => match flatten(*inner) {
            Node::True => Node::False,
            Node::False => Node::True,
            Node::Not(x) => *x,
            other => Node::Not(Box::new(other)),
        },
        other => other,
    }
}

struct Macros {
    bound: Vec<Option<Bound>>,
    /// Fields each macro reads directly.
    fields: Vec<BTreeSet<Field>>,
}

/// How deep macros may name macros (a chain `a` → `b` → ...). Real rule files stay below 15;
/// the limit keeps a crafted chain from exhausting the stack of the thread that compiles.
pub(crate) const MAX_MACRO_DEPTH: usize = 64;
/// How deep a condition may nest once its macros are inlined (each macro's own nesting is
/// already limited by the parser).
pub(crate) const MAX_INLINED_DEPTH: usize = 1000;
/// How many nodes a rule's condition may have once its macros are inlined. Macros that use a
/// macro twice double at every level (`m1: m2 and m2`, `m2: m3 and m3`...), so a few lines could
/// otherwise expand to billions of nodes. The largest upstream stable rule has a few hundred.
pub(crate) const MAX_INLINED_NODES: usize = 100_000;

/// Why a rule's macros could not be inlined.
enum InlineError {
    /// The macros of a reference loop.
    Cycle(Vec<usize>),
    /// The chain of macros that went past [`MAX_MACRO_DEPTH`] or [`MAX_INLINED_DEPTH`].
    TooDeep(Vec<usize>),
    /// More than [`MAX_INLINED_NODES`] nodes.
    TooLarge,
}

/// Inline macros (into at most `budget` nodes, `depth` deep so far).
fn inline(
    b: &Bound,
    m: &Macros,
    stack: &mut Vec<usize>,
    fields: &mut BTreeSet<Field>,
    budget: &mut usize,
    depth: usize,
) -> Result<Option<Node>, InlineError> {
    *budget = budget.checked_sub(1).ok_or(InlineError::TooLarge)?;
    if depth > MAX_INLINED_DEPTH {
        return Err(InlineError::TooDeep(stack.clone()));
    }
    Ok(Some(match b {
        Bound::And(v) => {
            let mut out = Vec::new();
            for x in v {
                match inline(x, m, stack, fields, budget, depth + 1)? {
                    Some(n) => out.push(n),
                    None => return Ok(None),
                }
            }
            Node::And(out.into())
        }
        Bound::Or(v) => {
            let mut out = Vec::new();
            for x in v {
                match inline(x, m, stack, fields, budget, depth + 1)? {
                    Some(n) => out.push(n),
                    None => return Ok(None),
                }
            }
            Node::Or(out.into())
        }
        Bound::Not(x) => match inline(x, m, stack, fields, budget, depth + 1)? {
            Some(n) => Node::Not(Box::new(n)),
            None => return Ok(None),
        },
        Bound::Node(n) => n.clone(),
        Bound::Macro(i) => {
            if let Some(at) = stack.iter().position(|s| s == i) {
                let mut cycle = stack[at..].to_vec();
                cycle.push(*i);
                return Err(InlineError::Cycle(cycle));
            }
            if stack.len() >= MAX_MACRO_DEPTH {
                let mut chain = stack.clone();
                chain.push(*i);
                return Err(InlineError::TooDeep(chain));
            }
            let Some(body) = &m.bound[*i] else {
                return Ok(None);
            };
            fields.extend(m.fields[*i].iter().copied());
            stack.push(*i);
            let r = inline(body, m, stack, fields, budget, depth + 1);
            stack.pop();
            return r;
        }
    }))
}

/// `a` → `b` → ... → `z` for a chain of macros, eliding the middle of a long one.
fn macro_chain(chain: &[usize], c: &Collection) -> String {
    let name = |i: &usize| format!("`{}`", c.macros[*i].name);
    if chain.len() <= 6 {
        return chain.iter().map(name).collect::<Vec<_>>().join(" → ");
    }
    format!(
        "{} → ... ({} more) → {}",
        chain[..3].iter().map(name).collect::<Vec<_>>().join(" → "),
        chain.len() - 5,
        chain[chain.len() - 2..]
            .iter()
            .map(name)
            .collect::<Vec<_>>()
            .join(" → ")
    )
}

/// The errors `skip-if-unknown-filter: true` turns into warnings, as Falco's
/// `err_is_unknown_type_or_field`: a field or an event type this engine does not know (rules
/// written for a newer Falco).
fn is_unknown_kind(code: &str) -> bool {
    matches!(code, "unknown-field" | "unknown-event-type")
}

/// The macros reachable from `direct` through the macros' own references (`refs[i]`: the macros
/// macro `i` names), sorted.
fn reachable(direct: &[usize], refs: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; refs.len()];
    let mut todo: Vec<usize> = direct.to_vec();
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            todo.extend(refs[i].iter().copied());
        }
    }
    (0..refs.len()).filter(|i| seen[*i]).collect()
}

/// The indices of the defined macros `e` names (directly).
fn macro_refs(e: &Expr, c: &Collection) -> Vec<usize> {
    let mut names = Vec::new();
    collect_macro_refs(e, &mut names);
    names.iter().filter_map(|n| c.macro_index(n)).collect()
}

pub(crate) struct Output {
    pub ruleset: RuleSet,
    pub stats: Stats,
    pub other: Vec<OtherSourceRule>,
}

pub(crate) fn build(
    files: &[String],
    c: &Collection,
    opts: &CompileOptions,
    diags: &mut Vec<Diagnostic>,
) -> Output {
    let mut ctx = Ctx { files, diags };
    let lists = expand_lists(c, &mut ctx);
    let macro_names: Vec<&str> = c.macros.iter().map(|m| m.name.as_str()).collect();
    let list_fn = |n: &str| lists.get(n).map(Vec::as_slice);
    let macro_fn = |n: &str| c.macro_index(n);
    let env = || Env {
        list: &list_fn,
        macro_index: &macro_fn,
        macro_names: &macro_names,
    };

    // Macros: parse and bind each once; report later, once we know which rules use them.
    let mut macros = Macros {
        bound: Vec::new(),
        fields: Vec::new(),
    };
    // (syntax error, code, span, message) per macro, and the macros each macro names.
    let mut macro_errors: Vec<Vec<(bool, &'static str, Span, String)>> = Vec::new();
    let mut macro_refs_of: Vec<Vec<usize>> = Vec::new();
    for m in &c.macros {
        let mut errs = Vec::new();
        let mut fields = BTreeSet::new();
        let mut refs = Vec::new();
        let bound = match parse_condition(&m.cond.text) {
            Err(e) => {
                errs.push((true, "syntax", e.span, e.message));
                None
            }
            Ok(ast) => {
                refs = macro_refs(&ast, c);
                let mut b = Binder::new(env());
                let bound = b.bind(&ast);
                fields = b.fields;
                for e in b.errors {
                    errs.push((false, e.code, e.span, e.message));
                }
                errs.is_empty().then_some(bound)
            }
        };
        macros.bound.push(bound);
        macros.fields.push(fields);
        macro_errors.push(errs);
        macro_refs_of.push(refs);
    }
    // Who uses each macro: a syscall rule that is compiled (its macros' errors are errors), a
    // rule skipped for `skip-if-unknown-filter`, a rule of another source (whose fields this
    // engine does not check).
    let mut used_checked = vec![false; c.macros.len()];
    let mut used_skipped = vec![false; c.macros.len()];
    let mut used_other = vec![false; c.macros.len()];

    // Rules: parse and bind (condition and exceptions), parse the output.
    struct Pending<'r> {
        r: &'r RuleState,
        bound: Option<Bound>,
        fields: BTreeSet<Field>,
        output: Option<OutputTemplate>,
    }
    let mut pending = Vec::new();
    let mut other = Vec::new();
    let mut stats = Stats {
        macros: c.macros.len(),
        lists: c.lists.len(),
        ..Stats::default()
    };
    for r in &c.rules {
        if r.source != "syscall" {
            other.push(OtherSourceRule {
                name: r.name.clone(),
                source: r.source.clone(),
                file: files[r.file].clone(),
            });
            ctx.diags.push(
                Diagnostic::warning(
                    "other-source",
                    files[r.file].clone(),
                    format!(
                        "source `{}` is not evaluated (only `syscall` rules are); the rule is kept aside",
                        r.source
                    ),
                )
                .at(r.pos)
                .item(ItemKind::Rule, &r.name),
            );
            if let Ok(ast) = parse_condition(&r.cond.text) {
                for i in reachable(&macro_refs(&ast, c), &macro_refs_of) {
                    used_other[i] = true;
                }
            }
            continue;
        }
        stats.rules += 1;
        let mut b = Binder::new(env());
        // Errors reported on the spot (exception shapes): never skipped.
        let mut shape_error = false;
        let mut errs: Vec<(String, String, Origin, Span, &'static str, String)> = Vec::new();
        let cond = match parse_condition(&r.cond.text) {
            Err(e) => {
                errs.push((
                    "condition".into(),
                    r.cond.text.clone(),
                    Origin::Joined(&r.cond),
                    e.span,
                    "syntax",
                    e.message,
                ));
                None
            }
            Ok(ast) => Some(ast),
        };
        let mut excs = Vec::new();
        for e in &r.exceptions {
            match exception_text(e) {
                Err((pos, msg)) => {
                    shape_error = true;
                    ctx.diags.push(
                        Diagnostic::error("bad-exception", files[e.file].clone(), msg)
                            .at(pos)
                            .item(ItemKind::Rule, &r.name),
                    );
                }
                Ok(None) => {}
                Ok(Some(text)) => match parse_condition(&text) {
                    Err(err) => {
                        errs.push((
                            format!("exception {:?}", e.name),
                            text.clone(),
                            Origin::Generated {
                                file: e.file,
                                pos: e.values_pos,
                            },
                            err.span,
                            "bad-exception",
                            err.message,
                        ));
                    }
                    Ok(ast) => excs.push((e, text, ast)),
                },
            }
        }
        let mut bound = None;
        let mut uses = Vec::new();
        if let Some(ast) = &cond {
            uses = reachable(&macro_refs(ast, c), &macro_refs_of);
            let bc = b.bind(ast);
            for e in std::mem::take(&mut b.errors) {
                errs.push((
                    "condition".into(),
                    r.cond.text.clone(),
                    Origin::Joined(&r.cond),
                    e.span,
                    e.code,
                    e.message,
                ));
            }
            let mut all = vec![bc];
            for (e, text, ast) in &excs {
                let be = b.bind(ast);
                for err in std::mem::take(&mut b.errors) {
                    errs.push((
                        format!("exception {:?}", e.name),
                        text.clone(),
                        Origin::Generated {
                            file: e.file,
                            pos: e.values_pos,
                        },
                        err.span,
                        err.code,
                        err.message,
                    ));
                }
                all.push(Bound::Not(Box::new(be)));
            }
            bound = Some(if all.len() == 1 {
                all.pop().expect("one")
            } else {
                Bound::And(all)
            });
        }
        let output = match OutputTemplate::parse_all(&r.output.text) {
            Ok(o) => {
                for (at, len) in o.container_info_spans() {
                    ctx.text_diag(
                        false,
                        "deprecated-item",
                        ItemKind::Rule,
                        &r.name,
                        "output",
                        &r.output.text,
                        &Origin::Joined(&r.output),
                        Span::new(*at, at + len),
                        "`%container.info` is deprecated (Falco 0.41 and later print nothing for it); it is expanded to `container_id=%container.id container_name=%container.name`".into(),
                    );
                }
                for pr in o.prefix_reads() {
                    ctx.text_diag(
                        false,
                        "output-field-prefix",
                        ItemKind::Rule,
                        &r.name,
                        "output",
                        &r.output.text,
                        &Origin::Joined(&r.output),
                        Span::new(pr.offset, pr.offset + pr.len),
                        format!(
                            "{}; read as `%{}` followed by the text `{}`, as Falco does (write `%{} {}` if a space is missing)",
                            pr.unknown, pr.field, pr.rest, pr.field, pr.rest
                        ),
                    );
                }
                Some(o)
            }
            Err(errors) => {
                for e in errors {
                    errs.push((
                        "output".into(),
                        r.output.text.clone(),
                        Origin::Joined(&r.output),
                        Span::new(e.offset, e.offset + e.len),
                        e.code,
                        e.message,
                    ));
                }
                None
            }
        };
        // Falco skips the rule, with a warning, when every error is an unknown field or event
        // type (in the condition, the exceptions, the output or a macro the rule uses).
        let macro_unknowns: Vec<(usize, &String)> = uses
            .iter()
            .flat_map(|&i| macro_errors[i].iter().map(move |e| (i, e)))
            .filter(|(_, (syntax, code, _, _))| !syntax && is_unknown_kind(code))
            .map(|(i, (_, _, _, msg))| (i, msg))
            .collect();
        let macro_other_errors = uses.iter().any(|&i| {
            macro_errors[i]
                .iter()
                .any(|(syntax, code, _, _)| *syntax || !is_unknown_kind(code))
        });
        let skip = r.skip_if_unknown_filter
            && !shape_error
            && !macro_other_errors
            && errs.iter().all(|e| is_unknown_kind(e.4))
            && (!errs.is_empty() || !macro_unknowns.is_empty());
        const SKIPPED: &str = "; the rule is skipped (it has `skip-if-unknown-filter: true`)";
        for (what, text, origin, span, code, msg) in &errs {
            let (error, msg) = if skip {
                (false, format!("{msg}{SKIPPED}"))
            } else {
                (true, msg.clone())
            };
            ctx.text_diag(
                error,
                if skip { "skipped-unknown-filter" } else { code },
                ItemKind::Rule,
                &r.name,
                what,
                text,
                origin,
                *span,
                msg,
            );
        }
        if skip {
            for (i, msg) in &macro_unknowns {
                ctx.diags.push(
                    Diagnostic::warning(
                        "skipped-unknown-filter",
                        files[r.file].clone(),
                        format!("macro `{}`: {msg}{SKIPPED}", c.macros[*i].name),
                    )
                    .at(r.pos)
                    .item(ItemKind::Rule, &r.name),
                );
            }
        }
        let used = if skip {
            &mut used_skipped
        } else {
            &mut used_checked
        };
        for i in uses {
            used[i] = true;
        }
        let ok = errs.is_empty() && !shape_error && !skip;
        pending.push(Pending {
            r,
            bound: if ok { bound } else { None },
            fields: b.fields,
            output,
        });
    }

    // Report macro errors: errors when a compiled rule uses the macro, warnings otherwise;
    // nothing for a macro only rules of another source use (their fields are not ours).
    for (i, errs) in macro_errors.iter().enumerate() {
        let m = &c.macros[i];
        for (syntax, code, span, msg) in errs {
            let (error, msg) = if *syntax || used_checked[i] {
                (true, msg.clone())
            } else if used_skipped[i] {
                (
                    false,
                    format!(
                        "{msg} (the macro is used only by rules skipped for `skip-if-unknown-filter: true`)"
                    ),
                )
            } else if used_other[i] {
                continue;
            } else {
                (false, format!("{msg} (the macro is not used by any rule)"))
            };
            ctx.text_diag(
                error,
                code,
                ItemKind::Macro,
                &m.name,
                "condition",
                &m.cond.text,
                &Origin::Joined(&m.cond),
                *span,
                msg,
            );
        }
    }

    // Inline macros, compute event types, build the rules.
    let mut rules = Vec::new();
    let mut cycle_reported = vec![false; c.macros.len()];
    for p in pending {
        let r = p.r;
        let (Some(bound), Some(output)) = (&p.bound, p.output) else {
            continue;
        };
        let mut fields = p.fields.clone();
        let mut budget = MAX_INLINED_NODES;
        let node = match inline(bound, &macros, &mut Vec::new(), &mut fields, &mut budget, 0) {
            Err(InlineError::TooDeep(chain)) => {
                ctx.diags.push(
                    Diagnostic::error(
                        "condition-too-deep",
                        files[r.file].clone(),
                        format!(
                            "the condition nests too deeply once its macros are expanded (at most {MAX_MACRO_DEPTH} macros within each other, {MAX_INLINED_DEPTH} levels in all): {}",
                            macro_chain(&chain, c)
                        ),
                    )
                    .at(r.pos)
                    .item(ItemKind::Rule, &r.name),
                );
                continue;
            }
            Err(InlineError::TooLarge) => {
                ctx.diags.push(
                    Diagnostic::error(
                        "condition-too-large",
                        files[r.file].clone(),
                        format!(
                            "the condition grows past {MAX_INLINED_NODES} terms once its macros are expanded (macros that use another macro several times multiply at every level)"
                        ),
                    )
                    .at(r.pos)
                    .item(ItemKind::Rule, &r.name),
                );
                continue;
            }
            Err(InlineError::Cycle(cycle)) => {
                let first = cycle[0];
                if !cycle_reported[first] {
                    for i in &cycle {
                        cycle_reported[*i] = true;
                    }
                    let m = &c.macros[first];
                    let path = cycle
                        .iter()
                        .map(|i| format!("`{}`", c.macros[*i].name))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    ctx.diags.push(
                        Diagnostic::error(
                            "macro-cycle",
                            files[m.file].clone(),
                            if cycle.len() == 2 {
                                format!("macro `{}` refers to itself", m.name)
                            } else {
                                format!("macros refer to each other in a loop: {path}")
                            },
                        )
                        .at(m.pos)
                        .item(ItemKind::Macro, &m.name),
                    );
                }
                continue;
            }
            Ok(None) => continue,
            Ok(Some(n)) => flatten(n),
        };
        let (types, _) = event_types(&node);
        if r.warn_evttypes
            && let Some(message) = event_type_warning(&types)
        {
            ctx.diags.push(
                Diagnostic::warning("no-event-type", files[r.file].clone(), message)
                    .at(r.pos)
                    .item(ItemKind::Rule, &r.name),
            );
        }
        if !r.enabled
            || r.priority < opts.min_priority
            || opts.disabled_rules.contains(&r.name)
            || r.tags.iter().any(|t| opts.disabled_tags.contains(t))
        {
            continue;
        }
        rules.push(CompiledRule {
            name: r.name.clone(),
            desc: r.desc.trim_end().to_string(),
            priority: r.priority,
            tags: r.tags.clone(),
            source: r.source.clone(),
            output,
            event_types: types,
            file: files[r.file].clone(),
            pos: r.pos,
            condition_fields: fields,
            expr: node,
        });
    }
    stats.enabled_rules = rules.len();
    stats.other_source_rules = other.len();
    Output {
        ruleset: RuleSet::from_rules(rules),
        stats,
        other,
    }
}

fn collect_macro_refs(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| collect_macro_refs(x, out)),
        Expr::Not(x, _) => collect_macro_refs(x, out),
        Expr::Macro(n, _) => out.push(n.clone()),
        Expr::Check(_) => {}
    }
}

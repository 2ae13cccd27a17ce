//! The evaluator: a compiled condition tree evaluated against a [`FieldSource`] with no
//! allocation per event (transformers write into reusable scratch buffers).

mod glob;
mod pmatch;
mod transform;

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::IpAddr;

use memchr::memmem;

use crate::events::EventTypeSet;
use crate::fields::Field;
use crate::source::{FieldArg, FieldSource, Value, Visit};

pub(crate) use glob::Glob;
pub(crate) use pmatch::PathPrefixes;
pub use transform::Transform;

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    True,
    False,
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    /// `evt.type` membership, answered from [`FieldSource::event_type`] without a field lookup.
    EvtType(EventTypeSet),
    Cmp(Box<Cmp>),
}

/// One field comparison.
#[derive(Debug, Clone)]
pub(crate) struct Cmp {
    pub field: Field,
    pub arg: FieldArg,
    pub transforms: Box<[Transform]>,
    /// A list field compared with `in`: every value must match (Falco's EPF_IS_LIST `in`);
    /// otherwise some value must.
    pub all_values: bool,
    pub test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ord3 {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Ord3 {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Ord3::Eq => o == Equal,
            Ord3::Ne => o != Equal,
            Ord3::Lt => o == Less,
            Ord3::Le => o != Greater,
            Ord3::Gt => o == Greater,
            Ord3::Ge => o != Less,
        }
    }
}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix as u32)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix as u32)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => self.contains(IpAddr::V4(v4)),
                None => false,
            },
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// What a comparison tests each (transformed) value against.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Exists,
    StrCmp(Ord3, Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    /// The needle is lowercased.
    IContains(Box<[u8]>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(Glob),
    Regex(regex::bytes::Regex),
    Pmatch(PathPrefixes),
    StrIn(HashSet<Box<[u8]>>),
    NumCmp(Ord3, i128),
    NumIn(Box<[i128]>),
    BoolCmp(Ord3, bool),
    BoolIn(Box<[bool]>),
    IpCmp(Ord3, IpAddr),
    IpIn(Box<[IpAddr]>),
    /// `fd.net = 10.0.0.0/8` (Ne negates), `fd.snet in (...)`.
    NetCmp(Ord3, IpNet),
    NetIn(Box<[IpNet]>),
    /// `val(other.field)`: compare with the other field's values.
    Val(Ord3, Box<ValRhs>),
    /// `in (val(f))`-like tests are not in Falco; `Val` covers `=`, `!=`, `<`...
    ValStr(StrValOp, Box<ValRhs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrValOp {
    Contains,
    IContains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
pub(crate) struct ValRhs {
    pub field: Field,
    pub arg: FieldArg,
    pub transforms: Box<[Transform]>,
}

/// A value after transformers, ready to compare.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cv<'a> {
    Str(&'a [u8]),
    Num(i128),
    Bool(bool),
    Ip(IpAddr),
}

impl<'a> Cv<'a> {
    fn from_value(v: Value<'a>) -> Self {
        match v {
            Value::Str(s) => Cv::Str(s),
            Value::U64(n) => Cv::Num(n as i128),
            Value::I64(n) => Cv::Num(n as i128),
            Value::Bool(b) => Cv::Bool(b),
            Value::Ip(ip) => Cv::Ip(ip),
        }
    }

    fn num(self) -> Option<i128> {
        match self {
            Cv::Num(n) => Some(n),
            Cv::Bool(b) => Some(b as i128),
            Cv::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            Cv::Ip(_) => None,
        }
    }

    fn boolean(self) -> Option<bool> {
        match self {
            Cv::Bool(b) => Some(b),
            Cv::Num(n) => Some(n != 0),
            Cv::Str(b"true") => Some(true),
            Cv::Str(b"false") => Some(false),
            _ => None,
        }
    }

    fn ip(self) -> Option<IpAddr> {
        match self {
            Cv::Ip(ip) => Some(ip),
            Cv::Str(s) => std::str::from_utf8(s).ok()?.parse().ok(),
            _ => None,
        }
    }
}

/// Reusable buffers for transformers; one per thread, reused across events.
#[derive(Debug, Default)]
pub struct Scratch {
    pool: Vec<Vec<u8>>,
}

impl Scratch {
    fn take(&mut self) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    fn give(&mut self, b: Vec<u8>) {
        self.pool.push(b);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch buffers (a fresh set if they are in use, e.g. when a
/// match callback evaluates another rule set).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

impl Node {
    pub(crate) fn eval(&self, ev: &dyn FieldSource, sc: &mut Scratch) -> bool {
        match self {
            Node::True => true,
            Node::False => false,
            Node::And(ns) => ns.iter().all(|n| n.eval(ev, sc)),
            Node::Or(ns) => ns.iter().any(|n| n.eval(ev, sc)),
            Node::Not(n) => !n.eval(ev, sc),
            Node::EvtType(set) => set.contains(ev.event_type()),
            Node::Cmp(c) => c.eval(ev, sc),
        }
    }
}

/// Visit the values of `field[arg]` after `transforms`, calling `f` on each; `f` returns true
/// to stop. Returns whether `f` stopped the visit.
fn visit_transformed(
    ev: &dyn FieldSource,
    field: Field,
    arg: &FieldArg,
    transforms: &[Transform],
    sc: &mut Scratch,
    f: &mut dyn FnMut(Cv<'_>, &mut Scratch) -> bool,
) -> bool {
    let mut stopped = false;
    if transforms.is_empty() {
        ev.visit(field, arg, &mut |v| {
            if f(Cv::from_value(v), sc) {
                stopped = true;
                Visit::Break(())
            } else {
                Visit::Continue(())
            }
        });
        return stopped;
    }
    let mut a = sc.take();
    let mut b = sc.take();
    ev.visit(field, arg, &mut |v| {
        if let Some(cv) = transform::apply(transforms, v, &mut a, &mut b)
            && f(cv, sc)
        {
            stopped = true;
            return Visit::Break(());
        }
        Visit::Continue(())
    });
    sc.give(b);
    sc.give(a);
    stopped
}

impl Cmp {
    fn eval(&self, ev: &dyn FieldSource, sc: &mut Scratch) -> bool {
        let test = &self.test;
        if !self.all_values {
            return visit_transformed(
                ev,
                self.field,
                &self.arg,
                &self.transforms,
                sc,
                &mut |v, sc| test.matches(ev, v, sc),
            );
        }
        let mut seen = false;
        let failed = visit_transformed(
            ev,
            self.field,
            &self.arg,
            &self.transforms,
            sc,
            &mut |v, sc| {
                seen = true;
                !test.matches(ev, v, sc)
            },
        );
        seen && !failed
    }
}

fn icontains(hay: &[u8], needle_lower: &[u8]) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if hay.len() < needle_lower.len() {
        return false;
    }
    hay.windows(needle_lower.len())
        .any(|w| w.eq_ignore_ascii_case(needle_lower))
}

impl Test {
    fn matches(&self, ev: &dyn FieldSource, v: Cv<'_>, sc: &mut Scratch) -> bool {
        match self {
            Test::Exists => true,
            Test::StrCmp(op, pat) => match v {
                Cv::Str(s) => op.holds(s.cmp(pat)),
                _ => false,
            },
            Test::Contains(f) => matches!(v, Cv::Str(s) if f.find(s).is_some()),
            Test::IContains(n) => matches!(v, Cv::Str(s) if icontains(s, n)),
            Test::StartsWith(p) => matches!(v, Cv::Str(s) if s.starts_with(p)),
            Test::EndsWith(p) => matches!(v, Cv::Str(s) if s.ends_with(p)),
            Test::Glob(g) => matches!(v, Cv::Str(s) if g.matches(s)),
            Test::Regex(r) => matches!(v, Cv::Str(s) if r.is_match(s)),
            Test::Pmatch(p) => matches!(v, Cv::Str(s) if p.matches(s)),
            Test::StrIn(set) => matches!(v, Cv::Str(s) if set.contains(s)),
            Test::NumCmp(op, n) => v.num().is_some_and(|x| op.holds(x.cmp(n))),
            Test::NumIn(ns) => v.num().is_some_and(|x| ns.binary_search(&x).is_ok()),
            Test::BoolCmp(op, b) => v.boolean().is_some_and(|x| op.holds(x.cmp(b))),
            Test::BoolIn(bs) => v.boolean().is_some_and(|x| bs.contains(&x)),
            Test::IpCmp(op, ip) => v.ip().is_some_and(|x| op.holds(x.cmp(ip))),
            Test::IpIn(ips) => v.ip().is_some_and(|x| ips.contains(&x)),
            Test::NetCmp(op, net) => v.ip().is_some_and(|x| {
                let inside = net.contains(x);
                if *op == Ord3::Ne { !inside } else { inside }
            }),
            Test::NetIn(nets) => v.ip().is_some_and(|x| nets.iter().any(|n| n.contains(x))),
            Test::Val(op, rhs) => {
                let op = *op;
                visit_transformed(ev, rhs.field, &rhs.arg, &rhs.transforms, sc, &mut |r, _| {
                    compare_values(op, v, r)
                })
            }
            Test::ValStr(op, rhs) => {
                let Cv::Str(s) = v else { return false };
                let op = *op;
                visit_transformed(
                    ev,
                    rhs.field,
                    &rhs.arg,
                    &rhs.transforms,
                    sc,
                    &mut |r, _| match r {
                        Cv::Str(p) => match op {
                            StrValOp::Contains => memmem::find(s, p).is_some(),
                            StrValOp::IContains => {
                                s.len() >= p.len()
                                    && s.windows(p.len().max(1)).any(|w| w.eq_ignore_ascii_case(p))
                            }
                            StrValOp::StartsWith => s.starts_with(p),
                            StrValOp::EndsWith => s.ends_with(p),
                        },
                        _ => false,
                    },
                )
            }
        }
    }
}

fn compare_values(op: Ord3, a: Cv<'_>, b: Cv<'_>) -> bool {
    match (a, b) {
        (Cv::Str(x), Cv::Str(y)) => op.holds(x.cmp(y)),
        (Cv::Ip(x), Cv::Ip(y)) => op.holds(x.cmp(&y)),
        (Cv::Bool(x), Cv::Bool(y)) => op.holds(x.cmp(&y)),
        (x, y) => match (x.num(), y.num()) {
            (Some(x), Some(y)) => op.holds(x.cmp(&y)),
            _ => false,
        },
    }
}

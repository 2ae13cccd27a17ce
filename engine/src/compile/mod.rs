//! The compiled rule set: each rule's evaluator tree, its event-type set and the per-event-type
//! index, so an event runs only the rules that can match its `evt.type`.

pub(crate) mod build;

use std::collections::BTreeSet;

use crate::diag::Pos;
use crate::events::EventTypeSet;
use crate::fields::Field;
use crate::output::OutputTemplate;
use crate::priority::Priority;
use crate::source::{FieldSource, Visit};

/// One enabled rule, ready to evaluate.
#[derive(Debug)]
pub struct CompiledRule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// Always `syscall` in a [`RuleSet`] (other sources are kept aside by the loader).
    pub source: String,
    pub output: OutputTemplate,
    /// The event types this rule can match ([`EventTypeSet::is_all`] when unconstrained).
    pub event_types: EventTypeSet,
    /// File and YAML position of the rule's (first) definition.
    pub file: String,
    pub pos: Pos,
    /// Fields the condition reads (including macros and exceptions).
    pub condition_fields: BTreeSet<Field>,
    pub(crate) expr: crate::eval::Node,
}

/// Compiled rules indexed by event type.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    /// For each event type id, the indices of the rules whose event types contain it, in order.
    pub(crate) by_type: Vec<Box<[u32]>>,
}

impl RuleSet {
    /// A rule set with no rules.
    pub fn empty() -> Self {
        RuleSet::default()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Union of the rules' event types; [`EventTypeSet::is_all`] when a rule is unconstrained.
    pub fn wanted_event_types(&self) -> EventTypeSet {
        self.rules
            .iter()
            .fold(EventTypeSet::empty(), |acc, r| acc.union(&r.event_types))
    }

    /// Every field read by a condition or an output of a rule.
    pub fn fields_used(&self) -> BTreeSet<Field> {
        let mut s = BTreeSet::new();
        for r in &self.rules {
            s.extend(r.condition_fields.iter().copied());
            s.extend(r.output.fields().iter().map(|f| f.field));
        }
        s
    }

    /// Evaluate `event` against the rules that can match its event type, in load order; call
    /// `on_match` for each rule whose condition holds. Stops early when `on_match` returns
    /// `Break`. Allocates nothing once warmed up.
    pub fn evaluate(
        &self,
        event: &dyn FieldSource,
        on_match: &mut dyn FnMut(&CompiledRule) -> Visit,
    ) -> Visit {
        let ty = event.event_type().0 as usize;
        let Some(candidates) = self.by_type.get(ty) else {
            return Visit::Continue(());
        };
        crate::eval::with_scratch(|scratch| {
            for &i in candidates.iter() {
                let rule = &self.rules[i as usize];
                if rule.expr.eval(event, scratch) {
                    on_match(rule)?;
                }
            }
            Visit::Continue(())
        })
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub(crate) fn from_rules(rules: Vec<CompiledRule>) -> Self {
        let n = crate::events::EVENT_TYPES.len();
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (i, r) in rules.iter().enumerate() {
            for t in r.event_types.iter() {
                if let Some(v) = by_type.get_mut(t.0 as usize) {
                    v.push(i as u32);
                }
            }
        }
        RuleSet {
            rules,
            by_type: by_type.into_iter().map(Vec::into_boxed_slice).collect(),
        }
    }
}

//! Merging items in load order: later definitions replace earlier ones (keeping their place),
//! `append: true` and `override:` modify the earlier definition.

use std::collections::HashMap;

use super::items::{ExceptionDef, Item, ListDef, Located, MacroDef, Mode, RuleDef};
use super::yaml::ValueMap;
use crate::diag::{Diagnostic, ItemKind, Pos};
use crate::priority::Priority;

/// Text assembled from appended pieces, remembering where each piece came from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Joined {
    pub text: String,
    pub segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Seg {
    pub start: usize,
    pub end: usize,
    pub file: usize,
    pub pos: Pos,
    /// Where the pieces of a multi-line value were written.
    pub map: Option<ValueMap>,
}

impl Joined {
    pub fn new(l: &Located) -> Joined {
        Joined {
            text: l.text.clone(),
            segs: vec![Seg {
                start: 0,
                end: l.text.len(),
                file: l.file,
                pos: l.pos,
                map: l.map.clone(),
            }],
        }
    }

    pub fn append(&mut self, l: &Located) {
        self.text.push(' ');
        let start = self.text.len();
        self.text.push_str(&l.text);
        self.segs.push(Seg {
            start,
            end: self.text.len(),
            file: l.file,
            pos: l.pos,
            map: l.map.clone(),
        });
    }

    /// The piece holding byte `at`, and its text.
    pub fn locate(&self, at: usize) -> (&Seg, &str) {
        let seg = self
            .segs
            .iter()
            .rev()
            .find(|s| s.start <= at)
            .unwrap_or(&self.segs[0]);
        (seg, &self.text[seg.start..seg.end])
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ListState {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub items: Vec<Located>,
}

#[derive(Debug, Clone)]
pub(crate) struct MacroState {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub cond: Joined,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleState {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub cond: Joined,
    pub output: Joined,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub exceptions: Vec<ExceptionDef>,
    pub source: String,
    pub skip_if_unknown_filter: bool,
    pub warn_evttypes: bool,
}

/// Everything defined, in definition order.
#[derive(Debug, Default)]
pub(crate) struct Collection {
    pub lists: Vec<ListState>,
    pub macros: Vec<MacroState>,
    pub rules: Vec<RuleState>,
    list_idx: HashMap<String, usize>,
    macro_idx: HashMap<String, usize>,
    rule_idx: HashMap<String, usize>,
    pub engine_versions: Vec<(usize, String)>,
    pub plugin_versions: Vec<(usize, String, String)>,
}

pub(crate) struct Merger<'a> {
    pub files: &'a [String],
    pub diags: &'a mut Vec<Diagnostic>,
    pub c: Collection,
    /// See [`crate::CompileOptions::warn_redefinitions`].
    pub warn_redefinitions: bool,
}

fn mode_of(overrides: &[(String, Mode, Pos)], key: &str) -> Option<Mode> {
    overrides
        .iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, m, _)| *m)
}

impl Merger<'_> {
    fn err(
        &mut self,
        code: &'static str,
        file: usize,
        pos: Pos,
        kind: ItemKind,
        name: &str,
        msg: String,
    ) {
        self.diags.push(
            Diagnostic::error(code, self.files[file].clone(), msg)
                .at(pos)
                .item(kind, name),
        );
    }

    /// A full definition replaces one from another file: Falco keeps the last, silently; two
    /// files (two teams' FalcoRules) defining the same name is most often a clash, so both
    /// places are told.
    fn replaced(&mut self, kind: ItemKind, name: &str, old: (usize, Pos), new: (usize, Pos)) {
        if !self.warn_redefinitions || old.0 == new.0 {
            return;
        }
        let (old_file, new_file) = (self.files[old.0].clone(), self.files[new.0].clone());
        let k = kind.as_str();
        self.diags.push(
            Diagnostic::warning(
                "redefined",
                new_file.clone(),
                format!(
                    "this {k} replaces the one defined in {old_file}:{} (the last definition wins; use `override:` or `append: true` to change parts of it)",
                    old.1.line
                ),
            )
            .at(new.1)
            .item(kind, name),
        );
        self.diags.push(
            Diagnostic::warning(
                "redefined",
                old_file,
                format!(
                    "this {k} is replaced by the one defined in {new_file}:{}",
                    new.1.line
                ),
            )
            .at(old.1)
            .item(kind, name),
        );
    }

    pub fn add(&mut self, file: usize, item: Item) {
        match item {
            Item::List(l) => self.list(l),
            Item::Macro(m) => self.macro_(m),
            Item::Rule(r) => self.rule(r),
            Item::EngineVersion(v) => self.c.engine_versions.push((file, v)),
            Item::PluginVersions(v) => {
                for (n, ver) in v {
                    self.c.plugin_versions.push((file, n, ver));
                }
            }
        }
    }

    fn missing_target(&mut self, kind: ItemKind, name: &str, file: usize, pos: Pos, how: &str) {
        let known: Vec<&str> = match kind {
            ItemKind::List => self.c.lists.iter().map(|l| l.name.as_str()).collect(),
            ItemKind::Macro => self.c.macros.iter().map(|l| l.name.as_str()).collect(),
            _ => self.c.rules.iter().map(|l| l.name.as_str()).collect(),
        };
        let sugg = crate::check::did_you_mean(name, known)
            .map(|s| format!(" — did you mean `{s}`?"))
            .unwrap_or_default();
        let name = name.to_string();
        self.err(
            "undefined-target",
            file,
            pos,
            kind,
            &name,
            format!(
                "{how} a {} that is not defined before it{sugg}",
                kind.as_str()
            ),
        );
    }

    fn list(&mut self, l: ListDef) {
        let existing = self.c.list_idx.get(&l.name).copied();
        let modifies = l.append || !l.overrides.is_empty();
        let items = l.items.clone().unwrap_or_default();
        match (existing, modifies) {
            (None, true) => self.missing_target(
                ItemKind::List,
                &l.name,
                l.file,
                l.pos,
                if l.append { "appends to" } else { "overrides" },
            ),
            (Some(i), true) => {
                let append = l.append || mode_of(&l.overrides, "items") == Some(Mode::Append);
                let st = &mut self.c.lists[i];
                if append {
                    st.items.extend(items);
                } else {
                    st.items = items;
                }
            }
            (Some(i), false) => {
                let old = (self.c.lists[i].file, self.c.lists[i].pos);
                self.replaced(ItemKind::List, &l.name, old, (l.file, l.pos));
                let st = &mut self.c.lists[i];
                st.items = items;
                st.file = l.file;
                st.pos = l.pos;
            }
            (None, false) => {
                self.c.list_idx.insert(l.name.clone(), self.c.lists.len());
                self.c.lists.push(ListState {
                    name: l.name,
                    file: l.file,
                    pos: l.pos,
                    items,
                });
            }
        }
    }

    fn macro_(&mut self, m: MacroDef) {
        let existing = self.c.macro_idx.get(&m.name).copied();
        let modifies = m.append || !m.overrides.is_empty();
        let Some(cond) = m.condition.clone() else {
            return;
        };
        match (existing, modifies) {
            (None, true) => self.missing_target(
                ItemKind::Macro,
                &m.name,
                m.file,
                m.pos,
                if m.append { "appends to" } else { "overrides" },
            ),
            (Some(i), true) => {
                let append = m.append || mode_of(&m.overrides, "condition") == Some(Mode::Append);
                let st = &mut self.c.macros[i];
                if append {
                    st.cond.append(&cond);
                } else {
                    st.cond = Joined::new(&cond);
                }
            }
            (Some(i), false) => {
                let old = (self.c.macros[i].file, self.c.macros[i].pos);
                self.replaced(ItemKind::Macro, &m.name, old, (m.file, m.pos));
                let st = &mut self.c.macros[i];
                st.cond = Joined::new(&cond);
                st.file = m.file;
                st.pos = m.pos;
            }
            (None, false) => {
                self.c.macro_idx.insert(m.name.clone(), self.c.macros.len());
                self.c.macros.push(MacroState {
                    name: m.name,
                    file: m.file,
                    pos: m.pos,
                    cond: Joined::new(&cond),
                });
            }
        }
    }

    fn rule(&mut self, r: RuleDef) {
        let existing = self.c.rule_idx.get(&r.name).copied();
        let modifies = r.append || !r.overrides.is_empty();
        let only_enabled = !modifies && r.keys.len() == 1 && r.enabled.is_some();
        if only_enabled {
            // `- rule: X` + `enabled: false`: toggles an existing rule (Falco's legacy form).
            match existing {
                Some(i) => self.c.rules[i].enabled = r.enabled.unwrap_or(true),
                None => self.missing_target(
                    ItemKind::Rule,
                    &r.name,
                    r.file,
                    r.pos,
                    "enables or disables",
                ),
            }
            return;
        }
        if modifies {
            let Some(i) = existing else {
                self.missing_target(
                    ItemKind::Rule,
                    &r.name,
                    r.file,
                    r.pos,
                    if r.append { "appends to" } else { "overrides" },
                );
                return;
            };
            let mode = |k: &str| {
                if r.append {
                    Some(Mode::Append)
                } else {
                    mode_of(&r.overrides, k)
                }
            };
            let st = &mut self.c.rules[i];
            if let Some(c) = &r.condition {
                match mode("condition") {
                    Some(Mode::Append) => st.cond.append(c),
                    _ => st.cond = Joined::new(c),
                }
            }
            if let Some(o) = &r.output {
                match mode("output") {
                    Some(Mode::Append) => st.output.append(o),
                    _ => st.output = Joined::new(o),
                }
            }
            if let Some(d) = &r.desc {
                match mode("desc") {
                    Some(Mode::Append) => {
                        st.desc.push(' ');
                        st.desc.push_str(&d.text);
                    }
                    _ => st.desc = d.text.clone(),
                }
            }
            if let Some(t) = &r.tags {
                match mode("tags") {
                    Some(Mode::Append) => {
                        for tag in t {
                            if !st.tags.contains(tag) {
                                st.tags.push(tag.clone());
                            }
                        }
                    }
                    _ => st.tags = t.clone(),
                }
            }
            if let Some((p, _)) = r.priority {
                st.priority = p;
            }
            if let Some(e) = r.enabled {
                st.enabled = e;
            }
            if let Some(w) = r.warn_evttypes {
                st.warn_evttypes = w;
            }
            if let Some(s) = r.skip_if_unknown_filter {
                st.skip_if_unknown_filter = s;
            }
            if let Some(ex) = &r.exceptions {
                if mode("exceptions") == Some(Mode::Replace) {
                    st.exceptions = ex.clone();
                } else {
                    for e in ex {
                        match st.exceptions.iter_mut().find(|x| x.name == e.name) {
                            Some(x) => x.values.extend(e.values.iter().cloned()),
                            None => st.exceptions.push(e.clone()),
                        }
                    }
                }
            }
            return;
        }
        // A full definition.
        let mut missing = Vec::new();
        if r.condition.is_none() {
            missing.push("condition");
        }
        if r.output.is_none() {
            missing.push("output");
        }
        if r.desc.is_none() {
            missing.push("desc");
        }
        if r.priority.is_none() {
            missing.push("priority");
        }
        if !missing.is_empty() {
            let name = r.name.clone();
            self.err(
                "missing-key",
                r.file,
                r.pos,
                ItemKind::Rule,
                &name,
                format!(
                    "a rule needs {} (missing {})",
                    "`condition`, `output`, `desc` and `priority`",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return;
        }
        let st = RuleState {
            name: r.name.clone(),
            file: r.file,
            pos: r.pos,
            cond: Joined::new(r.condition.as_ref().expect("checked")),
            output: Joined::new(r.output.as_ref().expect("checked")),
            desc: r.desc.map(|d| d.text).unwrap_or_default(),
            priority: r.priority.map(|p| p.0).unwrap_or(Priority::Debug),
            tags: r.tags.unwrap_or_default(),
            enabled: r.enabled.unwrap_or(true),
            exceptions: r.exceptions.unwrap_or_default(),
            source: r.source.unwrap_or_else(|| "syscall".into()),
            skip_if_unknown_filter: r.skip_if_unknown_filter.unwrap_or(false),
            warn_evttypes: r.warn_evttypes.unwrap_or(true),
        };
        match existing {
            Some(i) => {
                let old = (self.c.rules[i].file, self.c.rules[i].pos);
                self.replaced(ItemKind::Rule, &r.name, old, (r.file, r.pos));
                self.c.rules[i] = st;
            }
            None => {
                self.c.rule_idx.insert(r.name, self.c.rules.len());
                self.c.rules.push(st);
            }
        }
    }
}

impl Collection {
    pub fn list(&self, name: &str) -> Option<usize> {
        self.list_idx.get(name).copied()
    }

    pub fn macro_index(&self, name: &str) -> Option<usize> {
        self.macro_idx.get(name).copied()
    }
}

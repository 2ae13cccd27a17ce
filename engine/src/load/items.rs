//! Decoding YAML documents into items (rules, macros, lists, version requirements), checking
//! their shape: required keys, value types, override specifications.

use super::yaml::{Node, ValueMap, Yaml};
use crate::diag::{Diagnostic, ItemKind, Pos};
use crate::priority::Priority;

/// A string value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located {
    pub text: String,
    pub file: usize,
    pub pos: Pos,
    /// Where the pieces of a multi-line value were written.
    pub map: Option<ValueMap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Append,
    Replace,
}

/// `fields:`/`comps:` as written: a list (`Ok`) or one string (`Err`), with its position.
pub(crate) type OneOrMany = (Result<Vec<Located>, Located>, Pos);

#[derive(Debug, Clone)]
pub(crate) struct ExceptionDef {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    /// `fields:` as written: one field (`Err`) or a list (`Ok`).
    pub fields: Option<OneOrMany>,
    pub comps: Option<OneOrMany>,
    pub values: Vec<Node>,
    pub values_pos: Pos,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RuleDef {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub condition: Option<Located>,
    pub output: Option<Located>,
    pub desc: Option<Located>,
    pub priority: Option<(Priority, Pos)>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub exceptions: Option<Vec<ExceptionDef>>,
    pub source: Option<String>,
    pub skip_if_unknown_filter: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub append: bool,
    /// `override:` entries: key, mode, position.
    pub overrides: Vec<(String, Mode, Pos)>,
    /// Keys present in the item (other than `rule`, `append`, `override`).
    pub keys: Vec<(String, Pos)>,
}

#[derive(Debug, Clone)]
pub(crate) struct MacroDef {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub condition: Option<Located>,
    pub append: bool,
    pub overrides: Vec<(String, Mode, Pos)>,
    pub keys: Vec<(String, Pos)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ListDef {
    pub name: String,
    pub file: usize,
    pub pos: Pos,
    pub items: Option<Vec<Located>>,
    pub append: bool,
    pub overrides: Vec<(String, Mode, Pos)>,
    pub keys: Vec<(String, Pos)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Rule(RuleDef),
    Macro(MacroDef),
    List(ListDef),
    EngineVersion(String),
    PluginVersions(Vec<(String, String)>),
}

/// Decodes the items of one file, collecting diagnostics.
pub(crate) struct Decoder<'a> {
    pub file: usize,
    pub file_name: &'a str,
    pub diags: &'a mut Vec<Diagnostic>,
}

/// The keys that say what a top-level item is.
const ITEM_KEYS: &[&str] = &[
    "rule",
    "macro",
    "list",
    "required_engine_version",
    "required_plugin_versions",
];

const RULE_KEYS: &[&str] = &[
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "enabled",
    "exceptions",
    "source",
    "skip-if-unknown-filter",
    "warn_evttypes",
    "capture",
    "capture_duration",
];

/// When a mapping wraps rules files (a Helm values file of Falco's chart has them as strings
/// under `customRules:`; a Kubernetes object has them under `data:` or `spec:`), say so.
fn wrapped_rules_hint(root: &Node) -> String {
    let Yaml::Map(entries) = &root.y else {
        return String::new();
    };
    let keys: Vec<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
    if keys.contains(&"customRules") {
        return " — this looks like a Helm values file of Falco's chart: the rules files are the strings under `customRules:`; save each one to its own file".into();
    }
    if keys.contains(&"apiVersion") && keys.contains(&"kind") {
        return " — this looks like a Kubernetes object: the rules are inside it (a ConfigMap's `data:` values, a FalcoRule's `spec:`); apply FalcoRules with kubectl".into();
    }
    if let Some(k) = keys
        .iter()
        .find(|k| matches!(**k, "rule" | "macro" | "list"))
    {
        return format!(" — an item must be a list element: write `- {k}: ...`");
    }
    String::new()
}

impl Decoder<'_> {
    fn err(&mut self, code: &'static str, pos: Pos, item: Option<(ItemKind, &str)>, msg: String) {
        let mut d = Diagnostic::error(code, self.file_name, msg).at(pos);
        if let Some((k, n)) = item {
            d = d.item(k, n);
        }
        self.diags.push(d);
    }

    fn warn(&mut self, code: &'static str, pos: Pos, item: Option<(ItemKind, &str)>, msg: String) {
        let mut d = Diagnostic::warning(code, self.file_name, msg).at(pos);
        if let Some((k, n)) = item {
            d = d.item(k, n);
        }
        self.diags.push(d);
    }

    /// Decode a document root.
    pub fn document(&mut self, root: &Node, out: &mut Vec<Item>) {
        let items = match &root.y {
            Yaml::Seq(items) => items,
            _ if root.is_null() => return,
            _ => {
                self.err(
                    "yaml-shape",
                    root.pos,
                    None,
                    format!(
                        "a rules file must be a list of items (`- rule: ...`, `- macro: ...`, `- list: ...`), found {}{}",
                        root.kind_name(),
                        wrapped_rules_hint(root)
                    ),
                );
                return;
            }
        };
        for item in items {
            if let Some(i) = self.item(item) {
                out.push(i);
            }
        }
    }

    fn item(&mut self, node: &Node) -> Option<Item> {
        let Yaml::Map(kv) = &node.y else {
            self.err(
                "yaml-shape",
                node.pos,
                None,
                format!(
                    "each item must be a mapping with a `rule`, `macro` or `list` key, found {}",
                    node.kind_name()
                ),
            );
            return None;
        };
        let kinds: Vec<&str> = kv
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| ITEM_KEYS.contains(k))
            .collect();
        match kinds.as_slice() {
            [] => {
                // Falco: "Unknown top level item" is a warning (LOAD_UNKNOWN_ITEM), the rest of
                // the file loads.
                let keys: Vec<_> = kv.iter().filter_map(|(k, _)| k.as_str()).collect();
                let sugg = keys
                    .iter()
                    .find_map(|k| crate::check::did_you_mean(k, ITEM_KEYS.iter().copied()))
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                self.warn(
                    "unknown-item",
                    node.pos,
                    None,
                    format!(
                        "unknown top-level item with {} is ignored (an item is a `rule`, `macro`, `list`, `required_engine_version` or `required_plugin_versions`){sugg}",
                        match keys.as_slice() {
                            [] => "no key".to_string(),
                            [k] => format!("key `{k}`"),
                            ks => format!(
                                "keys {}",
                                ks.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                            ),
                        }
                    ),
                );
                None
            }
            [one] => {
                match *one {
                    "rule" => self.rule(node, kv).map(Item::Rule),
                    "macro" => self.macro_(node, kv).map(Item::Macro),
                    "list" => self.list(node, kv).map(Item::List),
                    "required_engine_version" => {
                        let v = &kv.iter().find(|(k, _)| k.as_str() == Some(*one))?.1;
                        match v.as_str() {
                            Some(s) if !v.is_null() => Some(Item::EngineVersion(s.to_string())),
                            _ => {
                                self.err(
                                "yaml-shape",
                                v.pos,
                                None,
                                format!("`required_engine_version` must be a version string, found {}", v.kind_name()),
                            );
                                None
                            }
                        }
                    }
                    _ => self.plugin_versions(kv),
                }
            }
            many => {
                self.err(
                    "yaml-shape",
                    node.pos,
                    None,
                    format!(
                        "an item must define exactly one thing, found {}",
                        many.iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                );
                None
            }
        }
    }

    fn plugin_versions(&mut self, kv: &[(Node, Node)]) -> Option<Item> {
        let v = &kv
            .iter()
            .find(|(k, _)| k.as_str() == Some("required_plugin_versions"))?
            .1;
        let Yaml::Seq(entries) = &v.y else {
            self.err(
                "yaml-shape",
                v.pos,
                None,
                format!("`required_plugin_versions` must be a list of `name`/`version` mappings, found {}", v.kind_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        for e in entries {
            let get = |k: &str| match &e.y {
                Yaml::Map(kv) => kv
                    .iter()
                    .find(|(kk, _)| kk.as_str() == Some(k))
                    .and_then(|(_, v)| v.as_str().map(str::to_string)),
                _ => None,
            };
            match (get("name"), get("version")) {
                (Some(n), Some(ver)) => out.push((n, ver)),
                _ => self.err(
                    "yaml-shape",
                    e.pos,
                    Some((ItemKind::RequiredPluginVersions, "")),
                    "each entry needs a `name` and a `version`".into(),
                ),
            }
        }
        Some(Item::PluginVersions(out))
    }

    fn name(&mut self, kind: ItemKind, node: &Node, kv: &[(Node, Node)]) -> Option<String> {
        let key = kind.as_str();
        let v = &kv.iter().find(|(k, _)| k.as_str() == Some(key))?.1;
        match (&v.y, v.is_null()) {
            (Yaml::Scalar { value, .. }, false) if !value.trim().is_empty() => Some(value.clone()),
            _ => {
                self.err(
                    "yaml-shape",
                    if v.is_null() { node.pos } else { v.pos },
                    None,
                    format!(
                        "the {key} name must be a non-empty string, found {}",
                        v.kind_name()
                    ),
                );
                None
            }
        }
    }

    fn string(&mut self, kind: ItemKind, name: &str, key: &str, v: &Node) -> Option<Located> {
        match &v.y {
            Yaml::Scalar { value, .. } if !v.is_null() || key == "desc" || key == "output" => {
                Some(Located {
                    text: if v.is_null() {
                        String::new()
                    } else {
                        value.clone()
                    },
                    file: self.file,
                    pos: v.pos,
                    map: v.map.clone(),
                })
            }
            _ => {
                self.err(
                    "yaml-shape",
                    v.pos,
                    Some((kind, name)),
                    format!("`{key}` must be a string, found {}", v.kind_name()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, kind: ItemKind, name: &str, key: &str, v: &Node) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            let found = match v.as_str() {
                Some(s) if !v.is_null() => format!("`{s}`"),
                _ => v.kind_name().to_string(),
            };
            self.err(
                "yaml-shape",
                v.pos,
                Some((kind, name)),
                format!("`{key}` must be a boolean (true/false, yes/no, on/off), found {found}"),
            );
        }
        b
    }

    fn string_list(
        &mut self,
        kind: ItemKind,
        name: &str,
        key: &str,
        v: &Node,
    ) -> Option<Vec<Located>> {
        if v.is_null() {
            return Some(Vec::new());
        }
        let Yaml::Seq(items) = &v.y else {
            self.err(
                "yaml-shape",
                v.pos,
                Some((kind, name)),
                format!("`{key}` must be a list, found {}", v.kind_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        for i in items {
            match &i.y {
                Yaml::Scalar { value, .. } => out.push(Located {
                    text: value.clone(),
                    file: self.file,
                    pos: i.pos,
                    map: i.map.clone(),
                }),
                _ => {
                    self.err(
                        "yaml-shape",
                        i.pos,
                        Some((kind, name)),
                        format!(
                            "the items of `{key}` must be strings, found {}",
                            i.kind_name()
                        ),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn overrides(
        &mut self,
        kind: ItemKind,
        name: &str,
        v: &Node,
        allowed: &[(&str, bool, bool)],
    ) -> Vec<(String, Mode, Pos)> {
        let Yaml::Map(kv) = &v.y else {
            self.err(
                "bad-override",
                v.pos,
                Some((kind, name)),
                format!(
                    "`override` must be a mapping of keys to `append` or `replace`, found {}",
                    v.kind_name()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, m) in kv {
            let key = k.as_str().unwrap_or_default().to_string();
            let mode = match m.as_str() {
                Some("append") => Mode::Append,
                Some("replace") => Mode::Replace,
                _ => {
                    self.err(
                        "bad-override",
                        m.pos,
                        Some((kind, name)),
                        format!(
                            "the override of `{key}` must be `append` or `replace`, found {}",
                            m.kind_name()
                        ),
                    );
                    continue;
                }
            };
            match allowed.iter().find(|(a, _, _)| *a == key) {
                None => self.err(
                    "bad-override",
                    k.pos,
                    Some((kind, name)),
                    format!(
                        "`{key}` cannot be overridden in a {}; overridable keys: {}",
                        kind.as_str(),
                        allowed
                            .iter()
                            .map(|(a, _, _)| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some((_, can_append, can_replace)) => {
                    if (mode == Mode::Append && !can_append)
                        || (mode == Mode::Replace && !can_replace)
                    {
                        self.err(
                            "bad-override",
                            m.pos,
                            Some((kind, name)),
                            format!(
                                "`{key}` can only be {}",
                                if *can_append { "appended" } else { "replaced" }
                            ),
                        );
                    } else {
                        out.push((key, mode, k.pos));
                    }
                }
            }
        }
        out
    }

    /// Common checks for `append`/`override` and the keys an override item may carry.
    fn check_override_keys(
        &mut self,
        kind: ItemKind,
        name: &str,
        append: bool,
        overrides: &[(String, Mode, Pos)],
        keys: &[(String, Pos)],
        had_override: Option<Pos>,
    ) {
        if let Some(p) = had_override {
            if append {
                self.err(
                    "bad-override",
                    p,
                    Some((kind, name)),
                    "`append` and `override` cannot be used together".into(),
                );
            }
            for (k, p) in keys {
                if !overrides.iter().any(|(o, _, _)| o == k) {
                    self.err(
                        "bad-override",
                        *p,
                        Some((kind, name)),
                        format!("`{k}` is given but `override` does not say whether to append or replace it"),
                    );
                }
            }
            for (o, _, p) in overrides {
                if !keys.iter().any(|(k, _)| k == o) {
                    self.err(
                        "bad-override",
                        *p,
                        Some((kind, name)),
                        format!(
                            "`override` names `{o}` but the {} gives no `{o}`",
                            kind.as_str()
                        ),
                    );
                }
            }
        }
    }

    fn rule(&mut self, node: &Node, kv: &[(Node, Node)]) -> Option<RuleDef> {
        let name = self.name(ItemKind::Rule, node, kv)?;
        let mut r = RuleDef {
            name: name.clone(),
            file: self.file,
            pos: node.pos,
            ..RuleDef::default()
        };
        let k = ItemKind::Rule;
        let mut had_override = None;
        let mut ok = true;
        for (key, v) in kv {
            let Some(key_s) = key.as_str() else { continue };
            match key_s {
                "rule" => {}
                "append" => r.append = self.boolean(k, &name, "append", v).unwrap_or(false),
                "override" => {
                    had_override = Some(key.pos);
                    r.overrides = self.overrides(
                        k,
                        &name,
                        v,
                        &[
                            ("condition", true, true),
                            ("output", true, true),
                            ("desc", true, true),
                            ("tags", true, true),
                            ("exceptions", true, true),
                            ("priority", false, true),
                            ("enabled", false, true),
                            ("warn_evttypes", false, true),
                            ("capture", false, true),
                            ("capture_duration", false, true),
                            ("skip-if-unknown-filter", false, true),
                        ],
                    );
                }
                "condition" => {
                    r.condition = self.string(k, &name, key_s, v);
                    ok &= r.condition.is_some();
                }
                "output" => {
                    r.output = self.string(k, &name, key_s, v);
                    ok &= r.output.is_some();
                }
                "desc" => {
                    r.desc = self.string(k, &name, key_s, v);
                    ok &= r.desc.is_some();
                }
                "priority" => match v.as_str().filter(|_| !v.is_null()) {
                    Some(p) => match Priority::parse(p) {
                        Some(p) => r.priority = Some((p, v.pos)),
                        None => {
                            ok = false;
                            self.err(
                                "unknown-priority",
                                v.pos,
                                Some((k, &name)),
                                format!(
                                    "unknown priority `{p}` (expected one of emergency, alert, critical, error, warning, notice, informational, debug)"
                                ),
                            );
                        }
                    },
                    None => {
                        ok = false;
                        self.err(
                            "yaml-shape",
                            v.pos,
                            Some((k, &name)),
                            format!(
                                "`priority` must be a string such as WARNING, found {}",
                                v.kind_name()
                            ),
                        );
                    }
                },
                "tags" => {
                    r.tags = self
                        .string_list(k, &name, key_s, v)
                        .map(|t| t.into_iter().map(|l| l.text).collect());
                    ok &= r.tags.is_some();
                }
                "enabled" => {
                    r.enabled = self.boolean(k, &name, key_s, v);
                    ok &= r.enabled.is_some();
                }
                "skip-if-unknown-filter" => {
                    r.skip_if_unknown_filter = self.boolean(k, &name, key_s, v);
                }
                "warn_evttypes" => r.warn_evttypes = self.boolean(k, &name, key_s, v),
                "source" => r.source = self.string(k, &name, key_s, v).map(|l| l.text),
                "exceptions" => {
                    r.exceptions = self.exceptions(&name, v);
                    ok &= r.exceptions.is_some();
                }
                // Not acted on (Kestrel records no captures), but checked as Falco does.
                "capture" => {
                    ok &= self.boolean(k, &name, key_s, v).is_some();
                }
                "capture_duration" => {}
                other => {
                    let sugg = crate::check::did_you_mean(other, RULE_KEYS.iter().copied())
                        .map(|s| format!(" — did you mean `{s}`?"))
                        .unwrap_or_default();
                    self.warn(
                        "unknown-key",
                        key.pos,
                        Some((k, &name)),
                        format!("unknown key `{other}` is ignored{sugg}"),
                    );
                    continue;
                }
            }
            if !matches!(key_s, "rule" | "append" | "override") {
                r.keys.push((key_s.to_string(), key.pos));
            }
        }
        let before = self.diags.len();
        self.check_override_keys(k, &name, r.append, &r.overrides, &r.keys, had_override);
        if r.append {
            for (key, p) in &r.keys {
                if !matches!(
                    key.as_str(),
                    "condition" | "exceptions" | "output" | "desc" | "tags"
                ) {
                    self.err(
                        "bad-append",
                        *p,
                        Some((k, &name)),
                        format!("`{key}` cannot be appended; use `override: {{{key}: replace}}` to change it"),
                    );
                }
            }
            if !r
                .keys
                .iter()
                .any(|(k, _)| k == "condition" || k == "exceptions")
                && r.keys.is_empty()
            {
                self.err(
                    "bad-append",
                    node.pos,
                    Some((k, &name)),
                    "an appended rule must give a `condition` or `exceptions` to append".into(),
                );
            }
        }
        if self.diags[before..].iter().any(Diagnostic::is_error) {
            ok = false;
        }
        ok.then_some(r)
    }

    fn exceptions(&mut self, rule: &str, v: &Node) -> Option<Vec<ExceptionDef>> {
        let k = ItemKind::Rule;
        if v.is_null() {
            return Some(Vec::new());
        }
        let Yaml::Seq(items) = &v.y else {
            self.err(
                "bad-exception",
                v.pos,
                Some((k, rule)),
                format!("`exceptions` must be a list, found {}", v.kind_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for e in items {
            let Yaml::Map(kv) = &e.y else {
                self.err(
                    "bad-exception",
                    e.pos,
                    Some((k, rule)),
                    format!("each exception must be a mapping with `name`, `fields`, `comps` and `values`, found {}", e.kind_name()),
                );
                ok = false;
                continue;
            };
            let get = |key: &str| kv.iter().find(|(kk, _)| kk.as_str() == Some(key));
            let Some(name) = get("name").and_then(|(_, n)| n.as_str().filter(|s| !s.is_empty()))
            else {
                self.err(
                    "bad-exception",
                    e.pos,
                    Some((k, rule)),
                    "an exception needs a `name`".into(),
                );
                ok = false;
                continue;
            };
            let one_or_many = |d: &mut Self, key: &str| -> Option<Option<OneOrMany>> {
                let Some((_, n)) = get(key) else {
                    return Some(None);
                };
                match &n.y {
                    Yaml::Scalar { value, .. } if !n.is_null() => Some(Some((
                        Err(Located {
                            text: value.clone(),
                            file: d.file,
                            pos: n.pos,
                            map: n.map.clone(),
                        }),
                        n.pos,
                    ))),
                    Yaml::Seq(_) => d
                        .string_list(k, rule, &format!("exceptions.{name}.{key}"), n)
                        .map(|l| Some((Ok(l), n.pos))),
                    _ => {
                        d.err(
                            "bad-exception",
                            n.pos,
                            Some((k, rule)),
                            format!("exception `{name}`: `{key}` must be a string or a list of strings, found {}", n.kind_name()),
                        );
                        None
                    }
                }
            };
            let Some(fields) = one_or_many(self, "fields") else {
                ok = false;
                continue;
            };
            let Some(comps) = one_or_many(self, "comps") else {
                ok = false;
                continue;
            };
            let (values, values_pos) = match get("values") {
                None => (Vec::new(), e.pos),
                Some((_, n)) if n.is_null() => (Vec::new(), n.pos),
                Some((_, n)) => match &n.y {
                    Yaml::Seq(vs) => (vs.clone(), n.pos),
                    _ => {
                        self.err(
                            "bad-exception",
                            n.pos,
                            Some((k, rule)),
                            format!(
                                "exception `{name}`: `values` must be a list, found {}",
                                n.kind_name()
                            ),
                        );
                        ok = false;
                        continue;
                    }
                },
            };
            for (kk, _) in kv {
                if let Some(s) = kk.as_str()
                    && !matches!(s, "name" | "fields" | "comps" | "values")
                {
                    self.warn(
                        "unknown-key",
                        kk.pos,
                        Some((k, rule)),
                        format!("exception `{name}`: unknown key `{s}` is ignored"),
                    );
                }
            }
            out.push(ExceptionDef {
                name: name.to_string(),
                file: self.file,
                pos: e.pos,
                fields,
                comps,
                values,
                values_pos,
            });
        }
        ok.then_some(out)
    }

    fn macro_(&mut self, node: &Node, kv: &[(Node, Node)]) -> Option<MacroDef> {
        let name = self.name(ItemKind::Macro, node, kv)?;
        let k = ItemKind::Macro;
        let mut m = MacroDef {
            name: name.clone(),
            file: self.file,
            pos: node.pos,
            condition: None,
            append: false,
            overrides: Vec::new(),
            keys: Vec::new(),
        };
        let mut had_override = None;
        let before = self.diags.len();
        for (key, v) in kv {
            let Some(key_s) = key.as_str() else { continue };
            match key_s {
                "macro" => continue,
                "append" => {
                    m.append = self.boolean(k, &name, key_s, v).unwrap_or(false);
                    continue;
                }
                "override" => {
                    had_override = Some(key.pos);
                    m.overrides = self.overrides(k, &name, v, &[("condition", true, true)]);
                    continue;
                }
                "condition" => m.condition = self.string(k, &name, key_s, v),
                other => {
                    self.warn(
                        "unknown-key",
                        key.pos,
                        Some((k, &name)),
                        format!("unknown key `{other}` is ignored"),
                    );
                    continue;
                }
            }
            m.keys.push((key_s.to_string(), key.pos));
        }
        self.check_override_keys(k, &name, m.append, &m.overrides, &m.keys, had_override);
        if m.condition.is_none() && !self.diags[before..].iter().any(Diagnostic::is_error) {
            self.err(
                "missing-key",
                node.pos,
                Some((k, &name)),
                "a macro needs a `condition`".into(),
            );
        }
        (!self.diags[before..].iter().any(Diagnostic::is_error)).then_some(m)
    }

    fn list(&mut self, node: &Node, kv: &[(Node, Node)]) -> Option<ListDef> {
        let name = self.name(ItemKind::List, node, kv)?;
        let k = ItemKind::List;
        let mut l = ListDef {
            name: name.clone(),
            file: self.file,
            pos: node.pos,
            items: None,
            append: false,
            overrides: Vec::new(),
            keys: Vec::new(),
        };
        let mut had_override = None;
        let before = self.diags.len();
        for (key, v) in kv {
            let Some(key_s) = key.as_str() else { continue };
            match key_s {
                "list" => continue,
                "append" => {
                    l.append = self.boolean(k, &name, key_s, v).unwrap_or(false);
                    continue;
                }
                "override" => {
                    had_override = Some(key.pos);
                    l.overrides = self.overrides(k, &name, v, &[("items", true, true)]);
                    continue;
                }
                "items" => l.items = self.string_list(k, &name, key_s, v),
                other => {
                    self.warn(
                        "unknown-key",
                        key.pos,
                        Some((k, &name)),
                        format!("unknown key `{other}` is ignored"),
                    );
                    continue;
                }
            }
            l.keys.push((key_s.to_string(), key.pos));
        }
        self.check_override_keys(k, &name, l.append, &l.overrides, &l.keys, had_override);
        if l.items.is_none() && !self.diags[before..].iter().any(Diagnostic::is_error) {
            self.err(
                "missing-key",
                node.pos,
                Some((k, &name)),
                "a list needs `items`".into(),
            );
        }
        (!self.diags[before..].iter().any(Diagnostic::is_error)).then_some(l)
    }
}

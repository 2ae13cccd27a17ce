//! A small YAML tree with positions, built from granit-parser's events.

use std::collections::HashMap;
use std::sync::Arc;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::diag::Pos;

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    /// A scalar; `plain` when unquoted (so `null`, `true`, `12` may be typed).
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub y: Yaml,
    pub pos: Pos,
    /// For a scalar written over several lines: where each piece of its value was written.
    pub map: Option<ValueMap>,
}

/// Where the pieces of a multi-line scalar's value were written in the file: for each run of
/// the value that sits on one source line, its byte offset in the value and the file position
/// of its first character. Folded (`>`) and plain scalars join their lines, so a position in
/// the value (`condition 1:306`) is turned back into the file's line and column with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueMap(Arc<[(usize, Pos)]>);

impl ValueMap {
    /// Align the value's non-blank characters with the source's (the value drops indentation,
    /// line breaks, quotes and escapes, but keeps every other character in order). `None` when
    /// the value sits on one line or the alignment fails.
    fn build(value: &str, src: &[char], start: &granit_parser::Marker) -> Option<ValueMap> {
        let mut anchors: Vec<(usize, Pos)> = Vec::new();
        let (mut line, mut col) = (start.line() as u32, start.col() as u32 + 1);
        let mut si = start.index();
        // Where the previous matched character ended, in the value and in the file.
        let (mut prev_end, mut prev_line, mut prev_col_end) = (0usize, 0u32, 0u32);
        for (at, c) in value.char_indices() {
            if c.is_whitespace() {
                continue;
            }
            loop {
                let sc = *src.get(si)?;
                if sc == c {
                    break;
                }
                if sc == '\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
                si += 1;
            }
            // A new piece starts where the value stops following the file character for
            // character: a new line, or characters the value dropped (quotes, escapes).
            let contiguous = prev_col_end + value[prev_end..at].chars().count() as u32;
            if anchors.is_empty() || line != prev_line || col != contiguous {
                anchors.push((at, Pos { line, col }));
            }
            si += 1;
            col += 1;
            (prev_end, prev_line, prev_col_end) = (at + c.len_utf8(), line, col);
        }
        let lines = anchors.first().map(|(_, p)| p.line) != anchors.last().map(|(_, p)| p.line);
        lines.then(|| ValueMap(anchors.into()))
    }

    /// The file position of byte `at` of `value` (the value this map was built for).
    pub fn locate(&self, value: &str, at: usize) -> Option<Pos> {
        let (start, pos) = self.0.iter().rev().find(|(s, _)| *s <= at)?;
        let chars = value.get(*start..at)?.chars().count() as u32;
        Some(Pos {
            line: pos.line,
            col: pos.col + chars,
        })
    }
}

impl Node {
    /// What the node is, in words, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.y {
            Yaml::Scalar { value, plain: true } if is_null(value) => "nothing (null)",
            Yaml::Scalar { value, plain: true } if value == "true" || value == "false" => {
                "a boolean"
            }
            Yaml::Scalar { value, plain: true } if value.parse::<f64>().is_ok() => "a number",
            Yaml::Scalar { .. } => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.y, Yaml::Scalar { value, plain: true } if is_null(value))
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.y {
            Yaml::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The scalar as a boolean, as yaml-cpp's `as<bool>()` (which Falco uses) reads it: `true`/
    /// `false`, `yes`/`no`, `y`/`n`, `on`/`off`, written in lower case, upper case or capitalised
    /// (`True`, `YES`), quoted or not.
    pub fn as_bool(&self) -> Option<bool> {
        match &self.y {
            Yaml::Scalar { value, .. } => parse_bool(value),
            _ => None,
        }
    }
}

/// yaml-cpp's boolean words; `None` for anything else (including mixed case such as `tRUE`,
/// which yaml-cpp rejects too).
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    let mut chars = v.chars();
    let first = chars.next()?;
    let rest = chars.as_str();
    let flexible_case = v.chars().all(|c| c.is_ascii_lowercase())
        || v.chars().all(|c| c.is_ascii_uppercase())
        || (first.is_ascii_uppercase() && rest.chars().all(|c| c.is_ascii_lowercase()));
    if !flexible_case {
        return None;
    }
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" => Some(true),
        "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

fn is_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

/// A YAML syntax error (or a duplicate key), with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(m: &granit_parser::Marker) -> Pos {
    Pos {
        line: m.line() as u32,
        col: m.col() as u32 + 1,
    }
}

enum Frame {
    Seq(Vec<Node>, Pos, usize),
    Map(Vec<(Node, Node)>, Option<Node>, Pos, usize),
}

/// How many nodes the aliases (`*name`) of one text may copy in all.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

/// The number of nodes of a tree (the parser bounds its nesting).
fn node_count(y: &Yaml) -> usize {
    match y {
        Yaml::Scalar { .. } => 1,
        Yaml::Seq(items) => 1 + items.iter().map(|n| node_count(&n.y)).sum::<usize>(),
        Yaml::Map(items) => {
            1 + items
                .iter()
                .map(|(k, v)| node_count(&k.y) + node_count(&v.y))
                .sum::<usize>()
        }
    }
}

/// Parse every document of `text`; returns the root node of each non-empty document.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut alias_nodes = 0usize;
    // The text as characters (the parser's markers count characters), made on first need.
    let mut src_chars: Option<Vec<char>> = None;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| YamlError {
            pos: pos_of(e.marker()),
            message: e.info(),
        })?;
        let pos = pos_of(&span.start);
        let (node, anchor) = match ev {
            Event::DocumentEnd => {
                if let Some(r) = root.take() {
                    docs.push(r);
                }
                continue;
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), pos, anchor));
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, pos, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, p, anchor)) => (
                    Node {
                        y: Yaml::Seq(items),
                        pos: p,
                        map: None,
                    },
                    anchor,
                ),
                _ => unreachable!("the parser balances sequences"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(items, _, p, anchor)) => (
                    Node {
                        y: Yaml::Map(items),
                        pos: p,
                        map: None,
                    },
                    anchor,
                ),
                _ => unreachable!("the parser balances mappings"),
            },
            Event::Scalar(value, style, anchor, _) => {
                let map = if span.end.line() > span.start.line() {
                    let src = src_chars.get_or_insert_with(|| text.chars().collect());
                    ValueMap::build(&value, src, &span.start)
                } else {
                    None
                };
                (
                    Node {
                        y: Yaml::Scalar {
                            value: value.into_owned(),
                            plain: style == ScalarStyle::Plain,
                        },
                        pos,
                        map,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(n) => {
                    // Each alias copies its anchor's tree: a few lines of nested aliases
                    // would otherwise expand to billions of nodes ("billion laughs").
                    alias_nodes += node_count(&n.y);
                    if alias_nodes > MAX_ALIAS_NODES {
                        return Err(YamlError {
                            pos,
                            message: format!(
                                "aliases expand to more than {MAX_ALIAS_NODES} nodes; write the values out instead"
                            ),
                        });
                    }
                    (
                        Node {
                            y: n.y.clone(),
                            pos,
                            map: None,
                        },
                        0,
                    )
                }
                None => {
                    return Err(YamlError {
                        pos,
                        message: "alias to an unknown anchor".into(),
                    });
                }
            },
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _, _)) => items.push(node),
            Some(Frame::Map(items, key, _, _)) => match key.take() {
                None => {
                    if let Some(k) = node.as_str()
                        && let Some((prev, _)) = items.iter().find(|(pk, _)| pk.as_str() == Some(k))
                    {
                        return Err(YamlError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key `{k}` (first at line {})",
                                prev.pos.line
                            ),
                        });
                    }
                    *key = Some(node);
                }
                Some(k) => items.push((k, node)),
            },
        }
    }
    if let Some(r) = root.take() {
        docs.push(r);
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions() {
        let docs =
            parse("- rule: a\n  condition: >\n    x and\n    y\n- list: l\n  items: [a, 'b']\n")
                .unwrap();
        assert_eq!(docs.len(), 1);
        let Yaml::Seq(items) = &docs[0].y else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos { line: 5, col: 3 });
        let Yaml::Map(kv) = &items[0].y else { panic!() };
        assert_eq!(kv[1].1.as_str(), Some("x and y\n"));
        assert_eq!(kv[0].0.pos, Pos { line: 1, col: 3 });
    }

    #[test]
    fn reads_booleans_as_yaml_cpp_does() {
        for (t, want) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("yes", true),
            ("Yes", true),
            ("YES", true),
            ("y", true),
            ("Y", true),
            ("on", true),
            ("ON", true),
            ("false", false),
            ("False", false),
            ("no", false),
            ("NO", false),
            ("n", false),
            ("N", false),
            ("off", false),
            ("Off", false),
        ] {
            assert_eq!(parse_bool(t), Some(want), "{t}");
        }
        for t in ["", "tRUE", "yEs", "maybe", "1", "0", "t", "nope", "true "] {
            assert_eq!(parse_bool(t), None, "{t:?}");
        }
        let docs = parse("- a: yes\n  b: 'Off'\n  c: \"maybe\"\n  d: [true]\n").unwrap();
        let Yaml::Seq(items) = &docs[0].y else {
            panic!()
        };
        let Yaml::Map(kv) = &items[0].y else { panic!() };
        let got: Vec<Option<bool>> = kv.iter().map(|(_, v)| v.as_bool()).collect();
        assert_eq!(got, [Some(true), Some(false), None, None]);
    }

    #[test]
    fn rejects_duplicate_keys() {
        let e = parse("- rule: a\n  rule: b\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 3 });
        assert_eq!(e.message, "duplicate key `rule` (first at line 1)");
    }
}

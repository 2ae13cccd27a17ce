//! Output templates: `%field`, `%field[arg]`, `%evt.arg.name`, `%(field)`, rendered as Falco
//! prints them (`<NA>` for missing values, `(a,b)` for several values, evt.time as
//! `HH:MM:SS.nnnnnnnnn`).

mod time;

use std::fmt::Write;

use crate::check::{FieldRefError, resolve_field_ref};
use crate::fields::{Field, FieldType};
use crate::source::{FieldArg, FieldSource, Value, Visit};

/// One `%field` of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputField {
    pub field: Field,
    pub arg: FieldArg,
    /// As written in the template, without `%` (`proc.aname[2]`, `evt.arg.flags`): the key
    /// Falco uses in `output_fields`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Field(usize),
}

/// A parsed output template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputTemplate {
    text: String,
    parts: Vec<Part>,
    fields: Vec<OutputField>,
    /// Byte offset and length of each `%container.info` token.
    container_info: Vec<(usize, usize)>,
    /// `%name` tokens read as a shorter field followed by text, as Falco reads them.
    prefix_reads: Vec<PrefixRead>,
}

/// A `%token` whose whole name is no field but which starts with one (`%evt.typeproc.args`):
/// Falco prints the longest field the token starts with and the rest as text, and so does
/// Kestrel; the checker warns about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixRead {
    /// Byte offset of the `%` and length of the whole token as written.
    pub offset: usize,
    pub len: usize,
    /// The field it is read as (`evt.type`) and the text that follows it (`proc.args`).
    pub field: String,
    pub rest: String,
    /// Why the whole token is no field (the message of the unknown-field error).
    pub unknown: String,
}

/// A problem in a template: byte offset and length inside the text, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// `unknown-field`, `missing-field-arg`, `bad-field-arg` or `bad-output` (the template's own
    /// syntax), as for conditions.
    pub code: &'static str,
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

/// The deprecated `%container.info` token and what Falco up to 0.40 expanded it to (Falco 0.41+
/// drops it, since its container plugin adds the container fields itself).
pub const CONTAINER_INFO: &str = "container.info";
const CONTAINER_INFO_EXPANSION: [(&str, Field, &str); 2] = [
    ("container_id=", Field::ContainerId, "container.id"),
    (" container_name=", Field::ContainerName, "container.name"),
];

/// The longest strict prefix of `name` that is a field taking no required argument, with its
/// byte length and resolution.
fn longest_field_prefix(name: &str) -> Option<(usize, (Field, FieldArg))> {
    (1..name.len())
        .rev()
        .filter(|&k| name.as_bytes()[k - 1] != b'.')
        .find_map(|k| resolve_field_ref(&name[..k], None).ok().map(|r| (k, r)))
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.'
}

impl OutputTemplate {
    /// Parse `text`. Unknown fields and bad arguments are errors, as in Falco. A leading `*`
    /// (Falco: print the line even when some values are missing, which Kestrel always does) is
    /// not printed. `%container.info` (deprecated) is expanded to
    /// `container_id=%container.id container_name=%container.name`, as Falco up to 0.40 did;
    /// [`Self::container_info_spans`] says where it was.
    pub fn parse(text: &str) -> Result<OutputTemplate, TemplateError> {
        Self::parse_all(text).map_err(|mut errors| errors.swap_remove(0))
    }

    /// [`Self::parse`], reporting every bad `%token` of the template (at least one on `Err`).
    pub fn parse_all(text: &str) -> Result<OutputTemplate, Vec<TemplateError>> {
        let mut errors = Vec::new();
        let b = text.as_bytes();
        let mut parts = Vec::new();
        let mut fields: Vec<OutputField> = Vec::new();
        let mut container_info = Vec::new();
        let mut prefix_reads = Vec::new();
        let mut lit = String::new();
        let mut i = usize::from(b.first() == Some(&b'*'));
        while i < b.len() {
            if b[i] != b'%' {
                let next = text[i..].find('%').map_or(b.len(), |n| i + n);
                lit.push_str(&text[i..next]);
                i = next;
                continue;
            }
            let start = i;
            let paren = b.get(i + 1) == Some(&b'(');
            let name_start = if paren { i + 2 } else { i + 1 };
            if !b.get(name_start).is_some_and(|c| c.is_ascii_alphabetic()) {
                lit.push('%');
                i += 1;
                continue;
            }
            let mut end = name_start;
            while end < b.len() && is_name_byte(b[end]) {
                end += 1;
            }
            // A trailing dot ends a sentence, not a field name.
            while end > name_start && b[end - 1] == b'.' {
                end -= 1;
            }
            let mut name_end = end;
            let mut arg: Option<&str> = None;
            if b.get(end) == Some(&b'[') {
                match text[end..].find(']') {
                    Some(close) => {
                        arg = Some(&text[end + 1..end + close]);
                        name_end = end + close + 1;
                    }
                    None => {
                        errors.push(TemplateError {
                            code: "bad-output",
                            offset: end,
                            len: 1,
                            message: "unclosed `[` after the field name".into(),
                        });
                        break;
                    }
                }
            }
            let name = &text[name_start..end];
            let is_container_info = name == CONTAINER_INFO && arg.is_none();
            let resolved = if is_container_info {
                None
            } else {
                match resolve_field_ref(name, arg) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        // Falco reads `%evt.typeproc.args` as `%evt.type` then `proc.args`:
                        // the longest known field the token starts with (not in `%(...)`).
                        let prefix = match &e {
                            FieldRefError::Unknown { .. } if !paren => longest_field_prefix(name),
                            _ => None,
                        };
                        let Some((plen, r)) = prefix else {
                            errors.push(TemplateError {
                                code: match e {
                                    FieldRefError::Unknown { .. } => "unknown-field",
                                    FieldRefError::MissingArg { .. } => "missing-field-arg",
                                    _ => "bad-field-arg",
                                },
                                offset: start,
                                len: name_end - start,
                                message: e.to_string(),
                            });
                            i = name_end;
                            continue;
                        };
                        prefix_reads.push(PrefixRead {
                            offset: start,
                            len: name_end - start,
                            field: name[..plen].to_string(),
                            rest: text[name_start + plen..name_end].to_string(),
                            unknown: e.to_string(),
                        });
                        name_end = name_start + plen;
                        Some(r)
                    }
                }
            };
            let mut after = name_end;
            if paren {
                if b.get(after) != Some(&b')') {
                    errors.push(TemplateError {
                        code: "bad-output",
                        offset: start,
                        len: after - start,
                        message: "missing `)` after `%(field`".into(),
                    });
                    i = after;
                    continue;
                }
                after += 1;
            }
            let mut push_field = |parts: &mut Vec<Part>, field, arg, written: &str| {
                let idx = match fields.iter().position(|f| f.name == written) {
                    Some(idx) => idx,
                    None => {
                        fields.push(OutputField {
                            field,
                            arg,
                            name: written.to_string(),
                        });
                        fields.len() - 1
                    }
                };
                parts.push(Part::Field(idx));
            };
            match resolved {
                Some((field, farg)) => {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    push_field(&mut parts, field, farg, &text[name_start..name_end]);
                }
                None => {
                    container_info.push((start, after - start));
                    for (label, field, written) in CONTAINER_INFO_EXPANSION {
                        lit.push_str(label);
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                        push_field(&mut parts, field, FieldArg::None, written);
                    }
                }
            }
            i = after;
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(OutputTemplate {
            text: text.to_string(),
            parts,
            fields,
            container_info,
            prefix_reads,
        })
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte offset and length, in [`Self::text`], of each deprecated `%container.info`.
    pub fn container_info_spans(&self) -> &[(usize, usize)] {
        &self.container_info
    }

    /// The `%tokens` read as a shorter field followed by text (see [`PrefixRead`]).
    pub fn prefix_reads(&self) -> &[PrefixRead] {
        &self.prefix_reads
    }

    /// The distinct `%fields` of the template, in order of first use.
    pub fn fields(&self) -> &[OutputField] {
        &self.fields
    }

    /// Append the rendered text for `event` to `out`.
    pub fn render(&self, event: &dyn FieldSource, out: &mut String) {
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Field(i) => {
                    let f = &self.fields[*i];
                    render_field(event, f.field, &f.arg, out);
                }
            }
        }
    }

    /// The rendered text for `event`.
    pub fn render_to_string(&self, event: &dyn FieldSource) -> String {
        let mut s = String::new();
        self.render(event, &mut s);
        s
    }

    /// Render one field of [`Self::fields`] (for JSON `output_fields`); `false` when the event
    /// has no value for it (Falco prints `<NA>` in text and `null` in JSON).
    pub fn render_field(&self, index: usize, event: &dyn FieldSource, out: &mut String) -> bool {
        let f = &self.fields[index];
        render_field(event, f.field, &f.arg, out)
    }
}

/// Render the values of `field[arg]` as Falco prints them: `<NA>` when missing, a single value
/// as is, several values as `(a,b,c)`. Returns whether a value was present.
pub fn render_field(
    event: &dyn FieldSource,
    field: Field,
    arg: &FieldArg,
    out: &mut String,
) -> bool {
    let start = out.len();
    let mut n = 0usize;
    let ty = field.ty();
    event.visit(field, arg, &mut |v| {
        if n > 0 {
            out.push(',');
        }
        write_value(field, ty, v, out);
        n += 1;
        Visit::Continue(())
    });
    match n {
        0 => {
            out.push_str("<NA>");
            false
        }
        1 => true,
        _ => {
            out.insert(start, '(');
            out.push(')');
            true
        }
    }
}

/// Write a string value that a process controls (a command line, a file name): control
/// characters as `\n`, `\r`, `\t` or `\xNN` and bytes that are not UTF-8 as `\xNN`, so a
/// value can neither start a forged alert line nor send escape sequences to a terminal, and two
/// different names never print the same.
pub fn write_escaped(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.contains(|c: char| c.is_control()) {
            out.push_str(valid);
        } else {
            for c in valid.chars() {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => {
                        let mut buf = [0u8; 4];
                        for b in c.encode_utf8(&mut buf).bytes() {
                            let _ = write!(out, "\\x{b:02x}");
                        }
                    }
                    c => out.push(c),
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

fn write_value(field: Field, ty: FieldType, v: Value<'_>, out: &mut String) {
    match v {
        Value::Str(s) => write_escaped(s, out),
        Value::U64(n) if ty == FieldType::AbsTime => time::write_abstime(field, n, out),
        Value::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapEvent;

    fn render(tpl: &str, json: &str) -> String {
        let t = OutputTemplate::parse(tpl).unwrap();
        t.render_to_string(&MapEvent::from_json(json).unwrap())
    }

    #[test]
    fn renders_like_falco() {
        let ev = r#"{"evt.type":"openat","proc.name":"cat","fd.num":3,"evt.time":1709622489000000123,"proc.aname":["bash","sshd"],"evt.arg.flags":"O_RDONLY","fd.sip":"10.0.0.1","evt.is_open_read":true}"#;
        assert_eq!(
            render("%evt.time: %proc.name read fd=%fd.num user=%user.name", ev),
            "07:08:09.000000123: cat read fd=3 user=<NA>"
        );
        assert_eq!(
            render("gp=%proc.aname[2] all=%proc.aname", ev),
            "gp=sshd all=(bash,sshd)"
        );
        assert_eq!(
            render("flags=%evt.arg.flags ip=%fd.sip r=%evt.is_open_read", ev),
            "flags=O_RDONLY ip=10.0.0.1 r=true"
        );
        assert_eq!(
            render("(%(proc.name)) 100% sure. %proc.name.", ev),
            "(cat) 100% sure. cat."
        );
        assert_eq!(render("type=%evt.type", ev), "type=openat");
    }

    #[test]
    fn lists_fields_and_rejects_unknown_ones() {
        let t = OutputTemplate::parse("%proc.name %fd.name %proc.name %proc.aname[2]").unwrap();
        let names: Vec<&str> = t.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["proc.name", "fd.name", "proc.aname[2]"]);
        let e = OutputTemplate::parse("x %proc.nmae").unwrap_err();
        assert_eq!((e.offset, e.len), (2, 10));
        assert_eq!(
            e.message,
            "unknown field `proc.nmae` — did you mean `proc.name`?"
        );
        assert!(OutputTemplate::parse("%evt.arg").is_err());
        assert_eq!(e.code, "unknown-field");
        let e = OutputTemplate::parse("a %proc.aname[x").unwrap_err();
        assert_eq!((e.code, e.offset, e.len), ("bad-output", 13, 1));
    }

    #[test]
    fn reads_the_longest_field_a_token_starts_with_as_falco_does() {
        let ev = r#"{"evt.type":"openat","proc.name":"cat","proc.aname":["bash","sshd"]}"#;
        assert_eq!(
            render("e=%evt.typeproc.args n=%proc.namex", ev),
            "e=openatproc.args n=catx"
        );
        // The bracket belongs to the unknown token: it stays text.
        assert_eq!(render("%proc.namey[2]", ev), "caty[2]");
        let t = OutputTemplate::parse("e=%evt.typeproc.args").unwrap();
        let names: Vec<&str> = t.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["evt.type"]);
        assert_eq!(
            t.prefix_reads(),
            [PrefixRead {
                offset: 2,
                len: 18,
                field: "evt.type".into(),
                rest: "proc.args".into(),
                unknown: "unknown field `evt.typeproc.args`".into(),
            }]
        );
        // No field is a prefix: still an error, with the suggestion.
        assert!(OutputTemplate::parse("%proc.nmae").is_err());
        // Not inside `%(...)`, where the name is delimited.
        assert!(OutputTemplate::parse("%(proc.namex)").is_err());
    }

    #[test]
    fn escapes_control_characters_and_bytes_that_are_not_utf8() {
        let mut out = String::new();
        write_escaped(
            b"ok \xc3\xa9 /tmp/a\nb\r\x1b[2J\x07\tz\xff\xfe \xc2\x85",
            &mut out,
        );
        assert_eq!(
            out,
            "ok \u{e9} /tmp/a\\nb\\r\\x1b[2J\\x07\\tz\\xff\\xfe \\xc2\\x85"
        );
        // A forged second alert line stays on the first.
        let ev =
            r#"{"evt.type":"execve","proc.cmdline":"x \n08:51:00.000000000: Critical FORGED"}"#;
        assert_eq!(
            render("cmd=%proc.cmdline", ev),
            "cmd=x \\n08:51:00.000000000: Critical FORGED"
        );
    }

    #[test]
    fn strips_a_leading_star() {
        let ev = r#"{"evt.type":"execve","evt.num":7,"proc.name":"cat"}"#;
        assert_eq!(render("*%evt.num %proc.name", ev), "7 cat");
        assert_eq!(render("*x %user.name", ev), "x <NA>");
        // Only a leading one.
        assert_eq!(render("a *%proc.name*", ev), "a *cat*");
        assert_eq!(render("**%proc.name", ev), "*cat");
        let t = OutputTemplate::parse("*%proc.name").unwrap();
        assert_eq!(t.text(), "*%proc.name");
        // Error offsets stay those of the text as written.
        let e = OutputTemplate::parse("*%proc.nmae").unwrap_err();
        assert_eq!((e.offset, e.len), (1, 10));
    }

    #[test]
    fn expands_container_info() {
        let ev = r#"{"evt.type":"execve","proc.name":"cat","container.id":"0123456789ab","container.name":"web"}"#;
        assert_eq!(
            render("exec by %proc.name %container.info.", ev),
            "exec by cat container_id=0123456789ab container_name=web."
        );
        assert_eq!(
            render(
                "(%(container.info))",
                r#"{"evt.type":"execve","container.id":"host"}"#
            ),
            "(container_id=host container_name=<NA>)"
        );
        let t = OutputTemplate::parse("id=%container.id %container.info %container.info").unwrap();
        let names: Vec<&str> = t.fields().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["container.id", "container.name"]);
        assert_eq!(t.container_info_spans(), [(17, 15), (33, 15)]);
        assert!(
            OutputTemplate::parse("%proc.name")
                .unwrap()
                .container_info_spans()
                .is_empty()
        );
        // `container.info` with an argument is not the deprecated token: an unknown field.
        let e = OutputTemplate::parse("%container.info[1]").unwrap_err();
        assert_eq!(e.code, "unknown-field");
    }
}

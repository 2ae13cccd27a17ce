//! Field references (`proc.aname[2]`, `evt.arg.flags`) resolved against the catalogue, and
//! did-you-mean suggestions.

use crate::fields::{ArgKind, Field};
use crate::source::FieldArg;

/// Why a field reference is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldRefError {
    #[error("unknown field `{name}`{}", hint(.suggestion, name))]
    Unknown {
        name: String,
        suggestion: Option<&'static str>,
    },
    #[error("field `{field}` requires an argument, e.g. `{field}[{example}]`")]
    MissingArg {
        field: &'static str,
        example: &'static str,
    },
    #[error("field `{field}` does not take an argument (found `[{arg}]`)")]
    ForbiddenArg { field: &'static str, arg: String },
    #[error("field `{field}` takes a numeric index, not `{arg}`")]
    NotAnIndex { field: &'static str, arg: String },
    #[error("field `{field}` has an empty argument `[]`")]
    EmptyArg { field: &'static str },
}

fn hint(s: &Option<&'static str>, name: &str) -> String {
    if let Some(plugin) = plugin_of(name) {
        return format!(
            " — a field of Falco's `{plugin}` plugin; Kestrel evaluates syscall rules only and loads no plugins"
        );
    }
    match s {
        Some(s) => format!(" — did you mean `{s}`?"),
        None => String::new(),
    }
}

/// Field-name prefixes of Falco's plugins and the plugin that defines them.
const PLUGIN_FIELD_PREFIXES: &[(&str, &str)] = &[
    ("k8smeta.", "k8smeta"),
    ("ka.", "k8saudit"),
    ("jevt.", "json"),
    ("json.", "json"),
    ("ct.", "cloudtrail"),
    ("s3.", "cloudtrail"),
    ("ec2.", "cloudtrail"),
    ("gcp.", "gcpaudit"),
    ("github.", "github"),
    ("okta.", "okta"),
    ("dummy.", "dummy"),
];

/// The plugin whose fields start like `name`, if any.
pub fn plugin_of(name: &str) -> Option<&'static str> {
    PLUGIN_FIELD_PREFIXES
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, plugin)| *plugin)
}

/// Levenshtein distance (bytes).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.len() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

fn example(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::Index { .. } => "1",
        ArgKind::Key { .. } => "NAME",
        _ => "0",
    }
}

/// Resolve `name` (possibly dotted, `evt.arg.flags`) and the text inside `[...]`.
pub fn resolve_field_ref(
    name: &str,
    bracket: Option<&str>,
) -> Result<(Field, FieldArg), FieldRefError> {
    let (field, dotted) = match Field::from_name(name) {
        Some(f) => (f, None),
        None => match Field::split_dotted(name) {
            Some((f, rest)) => (f, Some(rest)),
            None => {
                return Err(FieldRefError::Unknown {
                    name: name.to_string(),
                    suggestion: did_you_mean(name, Field::ALL.iter().map(|f| f.name())),
                });
            }
        },
    };
    let info = field.info();
    let arg_text = match (dotted, bracket) {
        (Some(d), None) => Some(d),
        (None, b) => b,
        (Some(_), Some(b)) => {
            return Err(FieldRefError::ForbiddenArg {
                field: info.name,
                arg: b.to_string(),
            });
        }
    };
    let Some(arg) = arg_text else {
        if info.arg.required() {
            return Err(FieldRefError::MissingArg {
                field: info.name,
                example: example(info.arg),
            });
        }
        return Ok((field, FieldArg::None));
    };
    if arg.is_empty() {
        return Err(FieldRefError::EmptyArg { field: info.name });
    }
    let arg = match info.arg {
        ArgKind::None => {
            return Err(FieldRefError::ForbiddenArg {
                field: info.name,
                arg: arg.to_string(),
            });
        }
        ArgKind::Index { .. } => match arg.trim().parse::<i64>() {
            Ok(i) if i >= 0 => FieldArg::Index(i),
            _ => {
                return Err(FieldRefError::NotAnIndex {
                    field: info.name,
                    arg: arg.to_string(),
                });
            }
        },
        ArgKind::Key { .. } => FieldArg::Key(arg.into()),
        ArgKind::IndexOrKey { .. } => match arg.parse::<i64>() {
            Ok(i) if i >= 0 && dotted.is_none() => FieldArg::Index(i),
            _ => FieldArg::Key(arg.into()),
        },
    };
    Ok((field, arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_arguments() {
        assert_eq!(
            resolve_field_ref("proc.aname", Some("2")),
            Ok((Field::ProcAname, FieldArg::Index(2)))
        );
        assert_eq!(
            resolve_field_ref("proc.aname", None),
            Ok((Field::ProcAname, FieldArg::None))
        );
        assert_eq!(
            resolve_field_ref("evt.arg.flags", None),
            Ok((Field::EvtArg, FieldArg::Key("flags".into())))
        );
        assert_eq!(
            resolve_field_ref("evt.arg", Some("0")),
            Ok((Field::EvtArg, FieldArg::Index(0)))
        );
        assert_eq!(
            resolve_field_ref("proc.env", Some("HOME")),
            Ok((Field::ProcEnv, FieldArg::Key("HOME".into())))
        );
        assert_eq!(
            resolve_field_ref("proc.nmae", None)
                .unwrap_err()
                .to_string(),
            "unknown field `proc.nmae` — did you mean `proc.name`?"
        );
        assert_eq!(
            resolve_field_ref("evt.arg", None).unwrap_err().to_string(),
            "field `evt.arg` requires an argument, e.g. `evt.arg[0]`"
        );
        assert_eq!(
            resolve_field_ref("proc.name", Some("1"))
                .unwrap_err()
                .to_string(),
            "field `proc.name` does not take an argument (found `[1]`)"
        );
        assert_eq!(
            resolve_field_ref("proc.aname", Some("x"))
                .unwrap_err()
                .to_string(),
            "field `proc.aname` takes a numeric index, not `x`"
        );
        assert_eq!(
            did_you_mean("opneat", ["openat", "open", "execve"]),
            Some("openat")
        );
        assert_eq!(did_you_mean("zzzzzz", ["openat"]), None);
    }
}

//! The field catalogue: every Falco field the engine knows, its type, its argument and a
//! description. Adding a field is one line in [`catalogue.rs`](catalogue) (the `fields!` table);
//! the node agent then declares which fields it fills by matching on [`Field`].

mod catalogue;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use catalogue::Field;

/// The type of a field's values, which decides the operators it accepts and how literals parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text (Falco's charbuf, fspath, bytebuf). Sources yield [`crate::Value::Str`].
    String,
    /// Unsigned number (also ports, uids, counts, flags). Sources yield `U64` (or `I64`).
    U64,
    /// Signed number (pids, fd numbers, return values). Sources yield `I64` (or `U64`).
    I64,
    /// `true`/`false`. Sources yield [`crate::Value::Bool`].
    Bool,
    /// An IPv4/IPv6 address. Sources yield [`crate::Value::Ip`].
    Ip,
    /// An address compared against networks (`fd.net = 10.0.0.0/8`). Sources yield `Ip`.
    IpNet,
    /// Nanoseconds since the epoch. Sources yield `U64`.
    AbsTime,
    /// A duration in nanoseconds. Sources yield `U64`.
    RelTime,
}

impl FieldType {
    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::U64 => "unsigned number",
            FieldType::I64 => "number",
            FieldType::Bool => "boolean",
            FieldType::Ip => "IP address",
            FieldType::IpNet => "IP network",
            FieldType::AbsTime => "absolute time",
            FieldType::RelTime => "duration",
        }
    }

    /// Whether values are numbers (`<`, `>`... apply).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::U64 | FieldType::I64 | FieldType::AbsTime | FieldType::RelTime
        )
    }
}

/// What may follow a field name: `proc.aname[2]`, `proc.env[HOME]`, `evt.arg.flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// No argument allowed.
    None,
    /// A numeric index (`proc.aname[2]`).
    Index { required: bool },
    /// A key (`proc.env[HOME]`, `k8s.pod.label[app]`).
    Key { required: bool },
    /// Either (`evt.arg[0]`, `evt.arg.flags`, `container.mount[/etc]`).
    IndexOrKey { required: bool },
}

impl ArgKind {
    pub fn required(self) -> bool {
        match self {
            ArgKind::None => false,
            ArgKind::Index { required }
            | ArgKind::Key { required }
            | ArgKind::IndexOrKey { required } => required,
        }
    }

    pub fn allows_index(self) -> bool {
        matches!(self, ArgKind::Index { .. } | ArgKind::IndexOrKey { .. })
    }

    pub fn allows_key(self) -> bool {
        matches!(self, ArgKind::Key { .. } | ArgKind::IndexOrKey { .. })
    }
}

/// The static description of one field.
#[derive(Debug)]
pub struct FieldInfo {
    pub name: &'static str,
    pub ty: FieldType,
    pub arg: ArgKind,
    /// The argument may also be written after a dot: `evt.arg.flags`, `k8s.pod.label.app`.
    pub dotted_arg: bool,
    /// A list field (Falco's EPF_IS_LIST, e.g. `fd.types`): `in` means every value is in the
    /// set, `intersects` means some value is; only `exists`, `in` and `intersects` apply.
    pub list: bool,
    pub desc: &'static str,
}

impl Field {
    /// The Falco name (`proc.name`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The type of the field's values.
    pub fn ty(self) -> FieldType {
        self.info().ty
    }

    /// The field named exactly `name` (no argument), e.g. `proc.aname`.
    pub fn from_name(name: &str) -> Option<Field> {
        static MAP: OnceLock<HashMap<&'static str, Field>> = OnceLock::new();
        MAP.get_or_init(|| Field::ALL.iter().map(|f| (f.name(), *f)).collect())
            .get(name)
            .copied()
    }

    /// Split `text` such as `evt.arg.flags` or `k8s.pod.label.app` into the longest field name
    /// that accepts a dotted argument and the argument. Returns `None` if no such field.
    pub fn split_dotted(text: &str) -> Option<(Field, &str)> {
        let mut best = None;
        for (i, c) in text.char_indices() {
            if c == '.'
                && let Some(f) = Field::from_name(&text[..i])
                && f.info().dotted_arg
                && i + 1 < text.len()
            {
                best = Some((f, &text[i + 1..]));
            }
        }
        best
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let mut names = std::collections::HashSet::new();
        for f in Field::ALL {
            assert!(names.insert(f.name()), "duplicate field name {}", f.name());
            assert_eq!(Field::from_name(f.name()), Some(*f));
            assert!(!f.info().desc.is_empty(), "{} has no description", f.name());
            assert!(
                f.name().contains('.'),
                "{} is not a dotted Falco name",
                f.name()
            );
        }
        assert!(Field::ALL.len() > 200, "catalogue has {}", Field::ALL.len());
    }

    #[test]
    fn looks_up_fields() {
        assert_eq!(Field::from_name("proc.name"), Some(Field::ProcName));
        assert_eq!(Field::ProcName.name(), "proc.name");
        assert_eq!(Field::FdNet.ty(), FieldType::IpNet);
        assert_eq!(Field::ProcPid.ty(), FieldType::I64);
        assert_eq!(
            Field::ProcAname.info().arg,
            ArgKind::Index { required: false }
        );
        assert_eq!(Field::from_name("proc.nmae"), None);
        assert_eq!(
            Field::split_dotted("evt.arg.flags"),
            Some((Field::EvtArg, "flags"))
        );
        assert_eq!(
            Field::split_dotted("k8s.pod.label.app.kubernetes.io/name"),
            Some((Field::K8sPodLabel, "app.kubernetes.io/name"))
        );
        assert_eq!(Field::split_dotted("proc.name.x"), None);
    }
}

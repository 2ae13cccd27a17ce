//! [`MapEvent`]: a [`FieldSource`] built from field-name → value strings, typed by the catalogue.
//! Used by tests and by the `replay`/`test` commands (events as JSON lines such as
//! `{"evt.type":"openat","fd.name":"/etc/passwd","proc.name":"cat"}`). It allocates when built,
//! never in [`FieldSource::visit`].

use std::net::IpAddr;

use crate::check::{FieldRefError, resolve_field_ref};
use crate::events::{EventTypeId, event_type_by_name};
use crate::fields::{Field, FieldType};
use crate::source::{FieldArg, FieldSource, Value, Visit};

/// Why a [`MapEvent`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapEventError {
    #[error(transparent)]
    Field(#[from] FieldRefError),
    #[error("`{value}` is not a valid {ty} for field `{field}`")]
    BadValue {
        field: String,
        ty: &'static str,
        value: String,
    },
    #[error("unknown event type `{0}`")]
    UnknownEventType(String),
    #[error("the event has no `evt.type`")]
    MissingEventType,
    #[error("invalid JSON event: {0}")]
    Json(String),
    #[error(
        "field `{0}` has a value that is neither a string, a number, a boolean nor a list of them"
    )]
    BadJsonValue(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Str(Box<[u8]>),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
}

impl Owned {
    fn as_value(&self) -> Value<'_> {
        match self {
            Owned::Str(s) => Value::Str(s),
            Owned::U64(n) => Value::U64(*n),
            Owned::I64(n) => Value::I64(*n),
            Owned::Bool(b) => Value::Bool(*b),
            Owned::Ip(ip) => Value::Ip(*ip),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    field: Field,
    arg: FieldArg,
    values: Vec<Owned>,
}

/// An event made of explicit field values.
#[derive(Debug, Clone)]
pub struct MapEvent {
    ty: EventTypeId,
    entries: Vec<Entry>,
}

/// For ancestor fields without index: index 0 is the process itself.
fn ancestor_self(f: Field) -> Option<Field> {
    Some(match f {
        Field::ProcAname => Field::ProcName,
        Field::ProcApid => Field::ProcPid,
        Field::ProcAexe => Field::ProcExe,
        Field::ProcAexepath => Field::ProcExepath,
        Field::ProcAcmdline => Field::ProcCmdline,
        _ => return None,
    })
}

fn parse_value(field: Field, text: &str) -> Result<Owned, MapEventError> {
    let ty = field.ty();
    let bad = || MapEventError::BadValue {
        field: field.name().to_string(),
        ty: ty.name(),
        value: text.to_string(),
    };
    let t = text.trim();
    Ok(match ty {
        FieldType::String => Owned::Str(text.as_bytes().into()),
        FieldType::U64 | FieldType::AbsTime | FieldType::RelTime => match t.parse::<u64>() {
            Ok(n) => Owned::U64(n),
            Err(_) => Owned::I64(t.parse::<i64>().map_err(|_| bad())?),
        },
        FieldType::I64 => Owned::I64(t.parse().map_err(|_| bad())?),
        FieldType::Bool => match t {
            "true" => Owned::Bool(true),
            "false" => Owned::Bool(false),
            _ => return Err(bad()),
        },
        FieldType::Ip | FieldType::IpNet => Owned::Ip(t.parse().map_err(|_| bad())?),
    })
}

/// Split `proc.aname[2]` into `proc.aname` and `2`.
fn split_name(text: &str) -> (&str, Option<&str>) {
    match (text.find('['), text.ends_with(']')) {
        (Some(i), true) => (&text[..i], Some(&text[i + 1..text.len() - 1])),
        _ => (text, None),
    }
}

impl MapEvent {
    /// An event of type `evt_type` (`openat`, `execve`, `procexit`...) with no other field.
    pub fn new(evt_type: &str) -> Result<MapEvent, MapEventError> {
        let ty = event_type_by_name(evt_type)
            .ok_or_else(|| MapEventError::UnknownEventType(evt_type.to_string()))?;
        Ok(MapEvent {
            ty,
            entries: vec![Entry {
                field: Field::EvtType,
                arg: FieldArg::None,
                values: vec![Owned::Str(evt_type.as_bytes().into())],
            }],
        })
    }

    /// Set `name` (`proc.name`, `proc.aname[2]`, `evt.arg.flags`) to `values` (several for
    /// multi-valued fields such as `proc.aname` without index), parsed by the field's type.
    pub fn set(&mut self, name: &str, values: &[&str]) -> Result<&mut Self, MapEventError> {
        let (base, bracket) = split_name(name.trim());
        let (field, arg) = resolve_field_ref(base, bracket)?;
        if field == Field::EvtType {
            let [one] = values else {
                return Err(MapEventError::MissingEventType);
            };
            self.ty = event_type_by_name(one)
                .ok_or_else(|| MapEventError::UnknownEventType(one.to_string()))?;
        }
        let values = values
            .iter()
            .map(|v| parse_value(field, v))
            .collect::<Result<Vec<_>, _>>()?;
        match self
            .entries
            .iter_mut()
            .find(|e| e.field == field && e.arg == arg)
        {
            Some(e) => e.values = values,
            None => self.entries.push(Entry { field, arg, values }),
        }
        Ok(self)
    }

    /// Build from `(name, value)` pairs; one of them must be `evt.type`. A name given twice gets
    /// several values.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<MapEvent, MapEventError> {
        let ty = pairs
            .iter()
            .find(|(k, _)| k.trim() == "evt.type")
            .ok_or(MapEventError::MissingEventType)?
            .1;
        let mut ev = MapEvent::new(ty)?;
        let mut done: Vec<&str> = vec!["evt.type"];
        for (k, _) in pairs {
            if done.contains(k) {
                continue;
            }
            let vals: Vec<&str> = pairs
                .iter()
                .filter(|(k2, _)| k2 == k)
                .map(|(_, v)| *v)
                .collect();
            ev.set(k, &vals)?;
            done.push(k);
        }
        Ok(ev)
    }

    /// Build from one JSON object: keys are field names, values strings, numbers, booleans or
    /// arrays of them (several values). `evt.type` is required.
    pub fn from_json(line: &str) -> Result<MapEvent, MapEventError> {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| MapEventError::Json(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| MapEventError::Json("expected an object".into()))?;
        let ty = obj
            .get("evt.type")
            .and_then(|t| t.as_str())
            .ok_or(MapEventError::MissingEventType)?;
        let mut ev = MapEvent::new(ty)?;
        for (k, v) in obj {
            if k == "evt.type" {
                continue;
            }
            let scalar = |v: &serde_json::Value| -> Option<String> {
                match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                }
            };
            let vals: Vec<String> = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| scalar(x).ok_or_else(|| MapEventError::BadJsonValue(k.clone())))
                    .collect::<Result<_, _>>()?,
                other => vec![scalar(other).ok_or_else(|| MapEventError::BadJsonValue(k.clone()))?],
            };
            let refs: Vec<&str> = vals.iter().map(String::as_str).collect();
            ev.set(k, &refs)?;
        }
        Ok(ev)
    }

    fn entry(&self, field: Field, arg: &FieldArg) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.field == field && e.arg == *arg)
    }
}

impl FieldSource for MapEvent {
    fn event_type(&self) -> EventTypeId {
        self.ty
    }

    fn visit(&self, field: Field, arg: &FieldArg, sink: &mut dyn FnMut(Value<'_>) -> Visit) {
        if let Some(e) = self.entry(field, arg) {
            for v in &e.values {
                if sink(v.as_value()).is_break() {
                    return;
                }
            }
            return;
        }
        // proc.aname[k] from the proc.aname list (parent first); [0] is the process itself.
        if let (FieldArg::Index(k), Some(own)) = (arg, ancestor_self(field)) {
            let v = if *k == 0 {
                self.entry(own, &FieldArg::None)
                    .and_then(|e| e.values.first())
            } else {
                self.entry(field, &FieldArg::None)
                    .and_then(|e| e.values.get(*k as usize - 1))
            };
            if let Some(v) = v {
                let _ = sink(v.as_value());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ev: &MapEvent, name: &str) -> Vec<String> {
        let (base, b) = split_name(name);
        let (f, a) = resolve_field_ref(base, b).unwrap();
        let mut out = Vec::new();
        ev.visit(f, &a, &mut |v| {
            out.push(format!("{v:?}"));
            Visit::Continue(())
        });
        out
    }

    #[test]
    fn builds_from_json() {
        let ev = MapEvent::from_json(
            r#"{"evt.type":"openat","fd.name":"/etc/passwd","proc.name":"cat","fd.num":3,"proc.aname":["bash","sshd"],"evt.is_open_read":true,"fd.sip":"10.0.0.1"}"#,
        )
        .unwrap();
        assert_eq!(ev.event_type().name(), "openat");
        assert_eq!(values(&ev, "fd.num"), ["I64(3)"]);
        assert_eq!(
            values(&ev, "proc.aname[1]"),
            [format!("{:?}", Value::Str(b"bash"))]
        );
        assert_eq!(
            values(&ev, "proc.aname[2]"),
            [format!("{:?}", Value::Str(b"sshd"))]
        );
        assert_eq!(
            values(&ev, "proc.aname[0]"),
            [format!("{:?}", Value::Str(b"cat"))]
        );
        assert!(values(&ev, "proc.aname[3]").is_empty());
        assert_eq!(values(&ev, "proc.aname").len(), 2);
        assert_eq!(values(&ev, "evt.is_open_read"), ["Bool(true)"]);
        assert_eq!(values(&ev, "fd.sip"), ["Ip(10.0.0.1)"]);
        assert!(values(&ev, "user.name").is_empty());
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(
            MapEvent::from_json(r#"{"evt.type":"openat","fd.num":"x"}"#)
                .unwrap_err()
                .to_string(),
            "`x` is not a valid number for field `fd.num`"
        );
        assert_eq!(
            MapEvent::from_json(r#"{"fd.num":1}"#).unwrap_err(),
            MapEventError::MissingEventType
        );
        assert_eq!(
            MapEvent::from_json(r#"{"evt.type":"opne"}"#)
                .unwrap_err()
                .to_string(),
            "unknown event type `opne`"
        );
        assert!(matches!(
            MapEvent::from_json(r#"{"evt.type":"openat","proc.nmae":"x"}"#).unwrap_err(),
            MapEventError::Field(FieldRefError::Unknown { .. })
        ));
    }
}

//! Falco event types.
//!
//! An [`EventTypeId`] below [`SYSCALL_SLOTS`] is the x86_64 syscall number of the syscall of the
//! same name (so the agent maps a raw syscall to its id without a table); the ids after that are
//! Falco's non-syscall events used in rules (`procexit`, `container`, `signaldeliver`, `switch`...).
//! The table was generated from `/usr/include/x86_64-linux-gnu/asm/unistd_64.h` and extended with
//! the syscalls of newer kernels.

mod table;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

pub use table::{EVENT_TYPES, SYSCALL_SLOTS};

/// Index into [`EVENT_TYPES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventTypeId(pub u16);

impl EventTypeId {
    /// The event type of the x86_64 syscall `nr`, if the table knows it.
    pub fn from_syscall_nr(nr: u32) -> Option<EventTypeId> {
        let i = nr as usize;
        (i < SYSCALL_SLOTS && !EVENT_TYPES[i].is_empty()).then_some(EventTypeId(nr as u16))
    }

    /// The x86_64 syscall number of this event type, `None` for Falco's non-syscall events.
    pub fn syscall_nr(self) -> Option<u32> {
        ((self.0 as usize) < SYSCALL_SLOTS).then_some(self.0 as u32)
    }

    /// The Falco name (`openat`, `procexit`...).
    pub fn name(self) -> &'static str {
        EVENT_TYPES.get(self.0 as usize).copied().unwrap_or("")
    }
}

impl fmt::Display for EventTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn by_name() -> &'static HashMap<&'static str, EventTypeId> {
    static MAP: OnceLock<HashMap<&'static str, EventTypeId>> = OnceLock::new();
    MAP.get_or_init(|| {
        EVENT_TYPES
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
            .map(|(i, n)| (*n, EventTypeId(i as u16)))
            .collect()
    })
}

/// The event type named `name` (Falco spelling, case-sensitive as in Falco).
pub fn event_type_by_name(name: &str) -> Option<EventTypeId> {
    by_name().get(name).copied()
}

/// Every known event type name (non-empty entries of [`EVENT_TYPES`]).
pub fn event_type_names() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().copied().filter(|n| !n.is_empty())
}

const WORDS: usize = 8;
const CAPACITY: usize = WORDS * 64;
const _: () = assert!(CAPACITY >= 496, "EventTypeSet too small for the table");

/// A fixed-size set of event types (one bit per [`EventTypeId`]); copying it allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventTypeSet {
    bits: [u64; WORDS],
}

impl EventTypeSet {
    /// The empty set.
    pub const fn empty() -> Self {
        EventTypeSet { bits: [0; WORDS] }
    }

    /// Every known event type.
    pub fn all() -> Self {
        let mut s = Self::empty();
        for (i, n) in EVENT_TYPES.iter().enumerate() {
            if !n.is_empty() {
                s.insert(EventTypeId(i as u16));
            }
        }
        s
    }

    pub fn insert(&mut self, id: EventTypeId) {
        let i = id.0 as usize;
        if i < CAPACITY {
            self.bits[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn remove(&mut self, id: EventTypeId) {
        let i = id.0 as usize;
        if i < CAPACITY {
            self.bits[i / 64] &= !(1 << (i % 64));
        }
    }

    pub fn contains(&self, id: EventTypeId) -> bool {
        let i = id.0 as usize;
        i < CAPACITY && self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn union(&self, other: &Self) -> Self {
        let mut s = *self;
        for (a, b) in s.bits.iter_mut().zip(other.bits) {
            *a |= b;
        }
        s
    }

    pub fn intersection(&self, other: &Self) -> Self {
        let mut s = *self;
        for (a, b) in s.bits.iter_mut().zip(other.bits) {
            *a &= b;
        }
        s
    }

    /// Every known event type not in `self`.
    pub fn complement(&self) -> Self {
        let all = Self::all();
        let mut s = all;
        for (a, b) in s.bits.iter_mut().zip(self.bits) {
            *a &= !b;
        }
        s
    }

    /// True when the set holds every known event type.
    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members, in id order.
    pub fn iter(&self) -> impl Iterator<Item = EventTypeId> + '_ {
        (0..CAPACITY)
            .filter(|i| self.bits[i / 64] & (1 << (i % 64)) != 0)
            .map(|i| EventTypeId(i as u16))
    }

    /// The syscall numbers in the set (for the probe's wanted-syscall map).
    pub fn syscall_nrs(&self) -> impl Iterator<Item = u32> + '_ {
        self.iter().filter_map(EventTypeId::syscall_nr)
    }
}

impl FromIterator<EventTypeId> for EventTypeSet {
    fn from_iter<T: IntoIterator<Item = EventTypeId>>(iter: T) -> Self {
        let mut s = Self::empty();
        for id in iter {
            s.insert(id);
        }
        s
    }
}

impl fmt::Debug for EventTypeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("EventTypeSet(all)");
        }
        f.debug_set()
            .entries(self.iter().map(|id| id.name()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_syscall_numbers() {
        assert_eq!(event_type_by_name("read"), Some(EventTypeId(0)));
        assert_eq!(event_type_by_name("openat"), Some(EventTypeId(257)));
        assert_eq!(event_type_by_name("execve"), Some(EventTypeId(59)));
        assert_eq!(event_type_by_name("connect"), Some(EventTypeId(42)));
        assert_eq!(event_type_by_name("openat2"), Some(EventTypeId(437)));
        assert_eq!(event_type_by_name("execveat"), Some(EventTypeId(322)));
        assert_eq!(EventTypeId::from_syscall_nr(59).unwrap().name(), "execve");
        assert_eq!(EventTypeId::from_syscall_nr(400), None);
        let pe = event_type_by_name("procexit").unwrap();
        assert_eq!(pe.syscall_nr(), None);
        assert_eq!(event_type_by_name("nosuch"), None);
    }

    #[test]
    fn set_operations() {
        let a: EventTypeSet = ["open", "openat"]
            .iter()
            .map(|n| event_type_by_name(n).unwrap())
            .collect();
        let b: EventTypeSet = ["openat", "execve"]
            .iter()
            .map(|n| event_type_by_name(n).unwrap())
            .collect();
        assert_eq!(a.intersection(&b).len(), 1);
        assert_eq!(a.union(&b).len(), 3);
        let c = a.complement();
        assert!(!c.contains(event_type_by_name("open").unwrap()));
        assert!(c.contains(event_type_by_name("execve").unwrap()));
        assert_eq!(c.len() + 2, EventTypeSet::all().len());
        assert!(c.union(&a).is_all());
        assert_eq!(
            a.iter().map(|i| i.name()).collect::<Vec<_>>(),
            ["open", "openat"]
        );
        assert_eq!(EventTypeSet::all().len(), event_type_names().count());
    }
}

//! The set of syscalls (and lifecycle events) the kernel side captures.

use crate::error::ProbeError;
use crate::event::{limits, want};
use crate::syscalls;

const WORDS: usize = (limits::MAX_SYSCALLS as usize).div_ceil(64);

/// Which results of a wanted syscall produce an event (filtered in the kernel at
/// `sys_exit`, before the event is built). Success means a return value >= 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcomes {
    /// Every call.
    Any,
    /// Only calls that returned >= 0 (e.g. opens that produced an fd).
    Success,
    /// Only calls that returned < 0 (an errno).
    Failure,
}

impl Outcomes {
    fn bits(self) -> u8 {
        match self {
            Outcomes::Any => want::ANY,
            Outcomes::Success => want::SUCCESS,
            Outcomes::Failure => want::FAILURE,
        }
    }
}

/// A set of x86_64 syscall numbers (each with the [`Outcomes`] to capture) plus the three
/// lifecycle events.
///
/// Everything not in the set is dropped at `sys_enter` before any other work. The node
/// agent adds what its own state tracking needs (execve, clone, close, dup...) to the
/// syscalls the rules use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WantedSyscalls {
    success: [u64; WORDS],
    failure: [u64; WORDS],
    proc_fork: bool,
    proc_exec: bool,
    proc_exit: bool,
}

fn get(bits: &[u64; WORDS], nr: u32) -> bool {
    nr < limits::MAX_SYSCALLS && bits[nr as usize / 64] & (1 << (nr % 64)) != 0
}

fn set(bits: &mut [u64; WORDS], nr: u32, on: bool) {
    let (w, b) = (nr as usize / 64, nr % 64);
    if on {
        bits[w] |= 1 << b;
    } else {
        bits[w] &= !(1 << b);
    }
}

impl WantedSyscalls {
    /// The empty set: nothing is captured.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set from syscall names (kernel names, e.g. `"openat"`).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, ProbeError> {
        let mut w = Self::new();
        for n in names {
            w.insert_name(n)?;
        }
        Ok(w)
    }

    /// Adds syscall `nr` (every outcome); true if it was not there yet.
    pub fn insert(&mut self, nr: u32) -> Result<bool, ProbeError> {
        self.insert_outcomes(nr, Outcomes::Any)
    }

    /// Adds syscall `nr` for the given outcomes (added to those already wanted); true if
    /// the syscall was not there yet.
    pub fn insert_outcomes(&mut self, nr: u32, outcomes: Outcomes) -> Result<bool, ProbeError> {
        if nr >= limits::MAX_SYSCALLS {
            return Err(ProbeError::SyscallOutOfRange(nr));
        }
        let was = self.contains(nr);
        let bits = outcomes.bits();
        if bits & want::SUCCESS != 0 {
            set(&mut self.success, nr, true);
        }
        if bits & want::FAILURE != 0 {
            set(&mut self.failure, nr, true);
        }
        Ok(!was)
    }

    /// Adds the syscall called `name` (every outcome).
    pub fn insert_name(&mut self, name: &str) -> Result<bool, ProbeError> {
        self.insert_name_outcomes(name, Outcomes::Any)
    }

    /// Adds the syscall called `name` for the given outcomes.
    pub fn insert_name_outcomes(
        &mut self,
        name: &str,
        outcomes: Outcomes,
    ) -> Result<bool, ProbeError> {
        let nr = syscalls::nr(name).ok_or_else(|| ProbeError::UnknownSyscall(name.to_string()))?;
        self.insert_outcomes(nr, outcomes)
    }

    /// Removes syscall `nr`; true if it was there.
    pub fn remove(&mut self, nr: u32) -> bool {
        if !self.contains(nr) {
            return false;
        }
        set(&mut self.success, nr, false);
        set(&mut self.failure, nr, false);
        true
    }

    /// True if syscall `nr` is in the set (for any outcome).
    pub fn contains(&self, nr: u32) -> bool {
        get(&self.success, nr) || get(&self.failure, nr)
    }

    /// The outcomes wanted for syscall `nr`, None if it is not in the set.
    pub fn outcomes(&self, nr: u32) -> Option<Outcomes> {
        match (get(&self.success, nr), get(&self.failure, nr)) {
            (true, true) => Some(Outcomes::Any),
            (true, false) => Some(Outcomes::Success),
            (false, true) => Some(Outcomes::Failure),
            (false, false) => None,
        }
    }

    /// The syscall numbers in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..limits::MAX_SYSCALLS).filter(|nr| self.contains(*nr))
    }

    /// Number of syscalls in the set (lifecycle events not counted).
    pub fn syscall_count(&self) -> usize {
        self.success
            .iter()
            .zip(&self.failure)
            .map(|(s, f)| (s | f).count_ones() as usize)
            .sum()
    }

    /// True when no syscall and no lifecycle event is wanted.
    pub fn is_empty(&self) -> bool {
        self.syscall_count() == 0 && !self.proc_fork && !self.proc_exec && !self.proc_exit
    }

    /// Adds every syscall (with its outcomes) and lifecycle event of `other`.
    pub fn extend_from(&mut self, other: &WantedSyscalls) {
        for (a, b) in self.success.iter_mut().zip(other.success) {
            *a |= b;
        }
        for (a, b) in self.failure.iter_mut().zip(other.failure) {
            *a |= b;
        }
        self.proc_fork |= other.proc_fork;
        self.proc_exec |= other.proc_exec;
        self.proc_exit |= other.proc_exit;
    }

    /// Enables or disables [`EventKind::ProcFork`](crate::EventKind::ProcFork).
    pub fn set_proc_fork(&mut self, on: bool) -> &mut Self {
        self.proc_fork = on;
        self
    }

    /// Enables or disables [`EventKind::ProcExec`](crate::EventKind::ProcExec).
    pub fn set_proc_exec(&mut self, on: bool) -> &mut Self {
        self.proc_exec = on;
        self
    }

    /// Enables or disables [`EventKind::ProcExit`](crate::EventKind::ProcExit).
    pub fn set_proc_exit(&mut self, on: bool) -> &mut Self {
        self.proc_exit = on;
        self
    }

    /// Enables all three lifecycle events.
    pub fn with_lifecycle(mut self) -> Self {
        self.proc_fork = true;
        self.proc_exec = true;
        self.proc_exit = true;
        self
    }

    /// True if lifecycle fork events are wanted.
    pub fn proc_fork(&self) -> bool {
        self.proc_fork
    }

    /// True if lifecycle exec events are wanted.
    pub fn proc_exec(&self) -> bool {
        self.proc_exec
    }

    /// True if lifecycle exit events are wanted.
    pub fn proc_exit(&self) -> bool {
        self.proc_exit
    }

    /// Value of a slot of the kernel `wanted` map.
    pub(crate) fn slot(&self, slot: u32) -> u8 {
        match slot {
            limits::SLOT_PROC_FORK => self.proc_fork as u8,
            limits::SLOT_PROC_EXEC => self.proc_exec as u8,
            limits::SLOT_PROC_EXIT => self.proc_exit as u8,
            nr => self.outcomes(nr).map_or(0, Outcomes::bits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_contains_and_slots() {
        let mut w = WantedSyscalls::from_names(["openat", "close"]).unwrap();
        assert!(w.contains(257) && w.contains(3) && !w.contains(2));
        assert_eq!(w.iter().collect::<Vec<_>>(), vec![3, 257]);
        assert_eq!(w.syscall_count(), 2);
        assert!(!w.insert(3).unwrap());
        assert!(w.insert(511).unwrap());
        assert!(matches!(
            w.insert(512),
            Err(ProbeError::SyscallOutOfRange(512))
        ));
        assert!(matches!(
            w.insert_name("nope"),
            Err(ProbeError::UnknownSyscall(_))
        ));
        assert!(w.remove(3) && !w.remove(3));
        assert_eq!(w.slot(257), 3);
        assert_eq!(w.slot(3), 0);
        assert_eq!(w.slot(limits::SLOT_PROC_EXEC), 0);
        w.set_proc_exec(true);
        assert_eq!(w.slot(limits::SLOT_PROC_EXEC), 1);
        assert_eq!(w.slot(limits::SLOT_PROC_FORK), 0);
    }

    #[test]
    fn outcomes_per_syscall() {
        let mut w = WantedSyscalls::new();
        w.insert_name_outcomes("openat", Outcomes::Success).unwrap();
        w.insert_name_outcomes("connect", Outcomes::Failure)
            .unwrap();
        assert_eq!(w.outcomes(257), Some(Outcomes::Success));
        assert_eq!(w.outcomes(42), Some(Outcomes::Failure));
        assert_eq!((w.slot(257), w.slot(42)), (1, 2));
        assert!(
            !w.insert_outcomes(257, Outcomes::Failure).unwrap(),
            "already there"
        );
        assert_eq!(w.outcomes(257), Some(Outcomes::Any));
        assert_eq!(w.syscall_count(), 2);
        let mut u = WantedSyscalls::new();
        u.insert_name_outcomes("connect", Outcomes::Success)
            .unwrap();
        u.extend_from(&w);
        assert_eq!(u.outcomes(42), Some(Outcomes::Any));
        assert!(u.remove(42) && u.outcomes(42).is_none());
    }

    #[test]
    fn empty_and_extend() {
        let mut a = WantedSyscalls::new();
        assert!(a.is_empty());
        let b = WantedSyscalls::new().with_lifecycle();
        assert!(!b.is_empty() && b.syscall_count() == 0);
        a.extend_from(&b);
        assert!(a.proc_fork() && a.proc_exec() && a.proc_exit());
    }
}

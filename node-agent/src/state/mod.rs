//! What the agent knows about the host beyond one event: processes, their fds, containers, users.

pub mod cgroups;
pub mod containers;
pub mod fds;
pub mod procfs;
pub mod procs;
pub mod users;

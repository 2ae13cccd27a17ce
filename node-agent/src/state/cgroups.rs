//! cgroup v2 id → cgroup path. The probe stamps every event with the cgroup id of the task
//! (`bpf_get_current_cgroup_id`), which is the inode number of the cgroup's directory in cgroupfs.
//! Resolving it through the directory tree works after the process is gone (short-lived `sh -c`
//! in a container), unlike `/proc/<pid>/cgroup`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where cgroup v2 is mounted, from `/proc/self/mountinfo` (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on hybrid hosts).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        if post.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        Some(PathBuf::from(pre.split_whitespace().nth(4)?))
    })
}

/// Cached cgroup id → path (relative to the cgroup2 root, starting with `/`).
pub struct CgroupPaths {
    root: Option<PathBuf>,
    cache: HashMap<u64, Option<String>>,
    last_walk: Option<Instant>,
    /// Walks of the tree done (a miss costs one, at most one per `min_walk_interval`).
    pub walks: u64,
    min_walk_interval: Duration,
}

const MAX_DEPTH: usize = 16;

impl CgroupPaths {
    pub fn new(root: Option<PathBuf>) -> Self {
        Self {
            root,
            cache: HashMap::new(),
            last_walk: None,
            walks: 0,
            min_walk_interval: Duration::from_secs(1),
        }
    }

    pub fn detect() -> Self {
        Self::new(cgroup2_mount())
    }

    /// The path of cgroup `id`. A cached path is checked with one `stat` (inode numbers of
    /// deleted cgroups get reused); an id never seen walks the tree; an id a walk did not find is
    /// looked for again at most once per `min_walk_interval`.
    pub fn path(&mut self, id: u64) -> Option<&str> {
        let root = self.root.clone()?;
        let stale = match self.cache.get(&id) {
            Some(Some(rel)) => std::fs::metadata(root.join(rel.trim_start_matches('/')))
                .map_or(true, |m| m.ino() != id),
            Some(None) => self
                .last_walk
                .is_none_or(|t| t.elapsed() >= self.min_walk_interval),
            None => true,
        };
        if stale {
            self.cache.remove(&id);
            self.last_walk = Some(Instant::now());
            self.walks += 1;
            self.walk(&root, &root, 0);
            self.cache.entry(id).or_insert(None);
        }
        self.cache.get(&id).and_then(|p| p.as_deref())
    }

    /// Up to `max` processes living in cgroup `id` now (its `cgroup.procs`), empty when unknown.
    pub fn live_pids(&mut self, id: u64, max: usize) -> Vec<u32> {
        let Some(root) = self.root.clone() else {
            return Vec::new();
        };
        let Some(rel) = self.path(id) else {
            return Vec::new();
        };
        let file = root.join(rel.trim_start_matches('/')).join("cgroup.procs");
        std::fs::read_to_string(file)
            .map(|s| {
                s.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .take(max)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn walk(&mut self, root: &Path, dir: &Path, depth: usize) {
        if let Ok(meta) = std::fs::metadata(dir) {
            let rel = dir
                .strip_prefix(root)
                .map(|r| format!("/{}", r.display()))
                .unwrap_or_else(|_| "/".into());
            self.cache.insert(meta.ino(), Some(rel));
        }
        if depth == MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                self.walk(root, &e.path(), depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_own_cgroup() {
        let Some(root) = cgroup2_mount() else { return };
        let mut paths = CgroupPaths::new(Some(root.clone()));
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let rel = crate::state::containers::parse_proc_cgroup(&own)
            .unwrap()
            .to_owned();
        let ino = std::fs::metadata(root.join(rel.trim_start_matches('/')))
            .unwrap()
            .ino();
        assert_eq!(paths.path(ino), Some(rel.as_str()));
        assert_eq!(paths.walks, 1);
        // cached now
        assert_eq!(paths.path(ino), Some(rel.as_str()));
        assert_eq!(paths.walks, 1);
        // an unknown id is remembered as unknown
        assert_eq!(paths.path(u64::MAX), None);
    }
}

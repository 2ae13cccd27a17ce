//! uid → user and gid → group names, read from a passwd/group file (the host's, or a container's
//! own `/proc/<pid>/root/etc/passwd`, as Falco does).

use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub homedir: Vec<u8>,
    pub shell: Vec<u8>,
}

/// Users and groups of one root filesystem.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserDb {
    users: HashMap<u32, User>,
    groups: HashMap<u32, Vec<u8>>,
}

impl UserDb {
    /// Read `<root>/etc/passwd` and `<root>/etc/group`; missing files give an empty database.
    pub fn load(root: &Path) -> Self {
        let passwd = std::fs::read(root.join("etc/passwd")).unwrap_or_default();
        let group = std::fs::read(root.join("etc/group")).unwrap_or_default();
        Self::parse(&passwd, &group)
    }

    /// Like [`UserDb::load`], but `None` when `<root>/etc/passwd` cannot be read (the process
    /// whose root this was is gone), so the caller can try another root instead of keeping an
    /// empty database.
    pub fn try_load(root: &Path) -> Option<Self> {
        let passwd = std::fs::read(root.join("etc/passwd")).ok()?;
        let group = std::fs::read(root.join("etc/group")).unwrap_or_default();
        Some(Self::parse(&passwd, &group))
    }

    pub fn parse(passwd: &[u8], group: &[u8]) -> Self {
        let mut db = UserDb::default();
        for line in passwd.split(|b| *b == b'\n') {
            let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
            if f.len() < 7 || line.starts_with(b"#") {
                continue;
            }
            let Some(uid) = std::str::from_utf8(f[2]).ok().and_then(|s| s.parse().ok()) else {
                continue;
            };
            db.users.entry(uid).or_insert(User {
                name: f[0].to_vec(),
                homedir: f[5].to_vec(),
                shell: f[6].to_vec(),
            });
        }
        for line in group.split(|b| *b == b'\n') {
            let f: Vec<&[u8]> = line.split(|b| *b == b':').collect();
            if f.len() < 3 || line.starts_with(b"#") {
                continue;
            }
            let Some(gid) = std::str::from_utf8(f[2]).ok().and_then(|s| s.parse().ok()) else {
                continue;
            };
            db.groups.entry(gid).or_insert_with(|| f[0].to_vec());
        }
        db
    }

    /// Every user and group, sorted by id (what a capture file records).
    #[allow(clippy::type_complexity)]
    pub fn entries(&self) -> (Vec<(u32, &User)>, Vec<(u32, &[u8])>) {
        let mut users: Vec<(u32, &User)> = self.users.iter().map(|(k, v)| (*k, v)).collect();
        users.sort_by_key(|(k, _)| *k);
        let mut groups: Vec<(u32, &[u8])> = self
            .groups
            .iter()
            .map(|(k, v)| (*k, v.as_slice()))
            .collect();
        groups.sort_by_key(|(k, _)| *k);
        (users, groups)
    }

    pub fn insert_user(&mut self, uid: u32, user: User) {
        self.users.insert(uid, user);
    }

    pub fn insert_group(&mut self, gid: u32, name: Vec<u8>) {
        self.groups.insert(gid, name);
    }

    pub fn user(&self, uid: u32) -> Option<&User> {
        self.users.get(&uid)
    }

    pub fn group(&self, gid: u32) -> Option<&[u8]> {
        self.groups.get(&gid).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group() {
        let db = UserDb::parse(
            b"root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            b"root:x:0:\nnogroup:x:65534:\n",
        );
        assert_eq!(db.user(0).unwrap().name, b"root");
        assert_eq!(db.user(0).unwrap().shell, b"/bin/bash");
        assert_eq!(db.user(65534).unwrap().homedir, b"/nonexistent");
        assert_eq!(db.user(1000), None);
        assert_eq!(db.group(65534), Some(&b"nogroup"[..]));
    }

    #[test]
    fn host_has_root() {
        let db = UserDb::load(Path::new("/"));
        assert_eq!(db.user(0).map(|u| u.name.as_slice()), Some(&b"root"[..]));
    }
}

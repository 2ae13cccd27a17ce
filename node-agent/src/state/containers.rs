//! Container identity from a cgroup v2 path, the way Falco derives `container.id`.
//!
//! Runtimes name the leaf cgroup of a container after its 64-hex id: containerd
//! (`cri-containerd-<id>.scope` or `/kubepods/.../<id>`), CRI-O (`crio-<id>.scope`), Docker
//! (`docker-<id>.scope` or `/docker/<id>`), podman (`libpod-<id>.scope`). Kubernetes adds the pod
//! uid in a parent component (`kubepods-besteffort-pod<uid>.slice` or `pod<uid>`).

/// The container runtime a cgroup path points at (`container.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Containerd,
    CriO,
    Docker,
    Podman,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
        }
    }
}

/// What the cgroup path tells about the container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupContainer {
    /// The full 64-hex container id.
    pub full_id: String,
    pub runtime: Runtime,
    /// The Kubernetes pod uid, with dashes, when the path names one.
    pub pod_uid: Option<String>,
}

impl CgroupContainer {
    /// `container.id` as Falco prints it: the first 12 characters of the full id.
    pub fn short_id(&self) -> &str {
        &self.full_id[..12]
    }
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn leaf_id(component: &str) -> Option<(String, Runtime)> {
    let stem = component.strip_suffix(".scope").unwrap_or(component);
    const PREFIXES: [(&str, Runtime); 5] = [
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
        ("containerd-", Runtime::Containerd),
    ];
    for (prefix, runtime) in PREFIXES {
        if let Some(id) = stem.strip_prefix(prefix)
            && is_container_id(id)
        {
            return Some((id.to_owned(), runtime));
        }
    }
    None
}

fn pod_uid(component: &str) -> Option<String> {
    // systemd driver: kubepods-burstable-pod1234_5678.slice ; cgroupfs driver: pod1234-5678
    let stem = component.strip_suffix(".slice").unwrap_or(component);
    let idx = stem.rfind("pod")?;
    let uid = &stem[idx + 3..];
    let ok = uid.len() == 36
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// Parse a cgroup v2 path (the third field of a `/proc/<pid>/cgroup` line) into container identity.
/// Returns `None` for host processes.
pub fn parse_cgroup_path(path: &str) -> Option<CgroupContainer> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    // The container is the deepest component that names one (nested cgroups inside a container,
    // e.g. systemd in a container, keep the container's id).
    let (pos, (full_id, mut runtime)) =
        components.iter().enumerate().rev().find_map(|(i, c)| {
            leaf_id(c)
                .or_else(|| {
                    // cgroupfs layouts: /kubepods/<qos>/pod<uid>/<id> and /docker/<id>
                    if !is_container_id(c) || i == 0 {
                        return None;
                    }
                    let parent = components[i - 1];
                    if parent == "docker" {
                        Some(((*c).to_owned(), Runtime::Docker))
                    } else if parent.starts_with("pod")
                        || components.iter().any(|p| p.starts_with("kubepods"))
                    {
                        Some(((*c).to_owned(), Runtime::Containerd))
                    } else {
                        None
                    }
                })
                .map(|found| (i, found))
        })?;
    let pod_uid = components[..pos].iter().rev().find_map(|c| pod_uid(c));
    if components[..pos].iter().any(|c| c.contains("crio")) {
        runtime = Runtime::CriO;
    }
    Some(CgroupContainer {
        full_id,
        runtime,
        pod_uid,
    })
}

/// Parse the content of `/proc/<pid>/cgroup` (cgroup v2: the `0::` line).
pub fn parse_proc_cgroup(content: &str) -> Option<&str> {
    content.lines().find_map(|l| l.strip_prefix("0::"))
}

/// The container of a process from the whole content of `/proc/<pid>/cgroup`: the cgroup v2 line
/// first, then the v1 controller lines (hybrid and v1-only hosts put containers there).
pub fn container_from_proc_cgroup(content: &str) -> Option<CgroupContainer> {
    let path_of = |l: &str| l.splitn(3, ':').nth(2).map(str::to_owned);
    let mut lines: Vec<String> = Vec::new();
    if let Some(v2) = parse_proc_cgroup(content) {
        lines.push(v2.to_owned());
    }
    lines.extend(
        content
            .lines()
            .filter(|l| !l.starts_with("0::"))
            .filter_map(path_of),
    );
    lines.iter().find_map(|p| parse_cgroup_path(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4b2a1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

    #[test]
    fn containerd_systemd_driver() {
        let p = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/cri-containerd-{ID}.scope"
        );
        let c = parse_cgroup_path(&p).unwrap();
        assert_eq!(c.full_id, ID);
        assert_eq!(c.short_id(), "3f4b2a1c9d8e");
        assert_eq!(c.runtime, Runtime::Containerd);
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")
        );
    }

    #[test]
    fn containerd_cgroupfs_driver() {
        let p = format!("/kubepods/besteffort/pod0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/{ID}");
        let c = parse_cgroup_path(&p).unwrap();
        assert_eq!(c.full_id, ID);
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d")
        );
    }

    #[test]
    fn crio() {
        let p = format!(
            "/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/crio-{ID}.scope"
        );
        let c = parse_cgroup_path(&p).unwrap();
        assert_eq!(c.runtime, Runtime::CriO);
        assert_eq!(c.full_id, ID);
    }

    #[test]
    fn docker_layouts() {
        let c = parse_cgroup_path(&format!("/system.slice/docker-{ID}.scope")).unwrap();
        assert_eq!((c.runtime, c.pod_uid), (Runtime::Docker, None));
        let c = parse_cgroup_path(&format!("/docker/{ID}")).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
    }

    #[test]
    fn nested_cgroup_inside_container_keeps_container() {
        let c = parse_cgroup_path(&format!("/system.slice/docker-{ID}.scope/init.scope")).unwrap();
        assert_eq!(c.full_id, ID);
    }

    #[test]
    fn host_paths_are_not_containers() {
        for p in [
            "/",
            "/init.scope",
            "/user.slice/user-0.slice/session-3.scope",
            "/system.slice/sshd.service",
        ] {
            assert_eq!(parse_cgroup_path(p), None, "{p}");
        }
        // a 64-hex component that is not under a runtime or kubepods parent is not a container
        assert_eq!(parse_cgroup_path(&format!("/mygroup/{ID}")), None);
    }

    #[test]
    fn hybrid_hierarchy_uses_v1_lines() {
        let content = format!("4:memory:/docker/{ID}\n1:cpu:/docker/{ID}\n0::/\n");
        assert_eq!(container_from_proc_cgroup(&content).unwrap().full_id, ID);
        assert_eq!(
            container_from_proc_cgroup("4:memory:/user.slice\n0::/\n"),
            None
        );
    }

    #[test]
    fn proc_cgroup_v2_line() {
        assert_eq!(
            parse_proc_cgroup("0::/user.slice/session-1.scope\n"),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(parse_proc_cgroup("12:cpu:/x\n"), None);
    }
}

/// Kubernetes facts about the pod a container belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: Vec<(String, String)>,
    pub ip: Option<String>,
}

/// What the agent knows about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub full_id: String,
    pub runtime: Runtime,
    pub pod_uid: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
    pub pod: Option<PodMeta>,
    /// `user.name` inside the container comes from its own /etc/passwd.
    pub users: Option<super::users::UserDb>,
    /// `container.privileged`, from the pod spec (unknown without one).
    pub privileged: Option<bool>,
    /// `container.start_ts`: when the container started (ns since the epoch), from the pod status.
    pub start_ts: Option<u64>,
}

impl Container {
    pub fn short_id(&self) -> &str {
        &self.full_id[..12.min(self.full_id.len())]
    }

    /// `container.image.repository` and `container.image.tag` split from `container.image`.
    pub fn image_parts(&self) -> Option<(&str, &str)> {
        let image = self.image.as_deref()?;
        let image = image.split('@').next().unwrap_or(image);
        let slash = image.rfind('/').map_or(0, |i| i + 1);
        match image[slash..].rfind(':') {
            Some(c) => Some((&image[..slash + c], &image[slash + c + 1..])),
            None => Some((image, "latest")),
        }
    }
}

/// Kubernetes facts about a container known before (or after) its processes were seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownContainer {
    pub name: String,
    pub image: String,
    pub pod: PodMeta,
    pub privileged: Option<bool>,
    pub start_ts: Option<u64>,
}

/// Containers by slot; processes hold the slot of theirs.
#[derive(Debug, Default)]
pub struct ContainerRegistry {
    slots: Vec<Container>,
    by_id: std::collections::HashMap<String, u32>,
    /// From the pod watch, by full container id.
    known: std::collections::HashMap<String, KnownContainer>,
}

impl ContainerRegistry {
    /// The slot of a container, registered on first sight.
    pub fn intern(&mut self, c: CgroupContainer) -> u32 {
        if let Some(slot) = self.by_id.get(&c.full_id) {
            return *slot;
        }
        let slot = self.slots.len() as u32;
        self.by_id.insert(c.full_id.clone(), slot);
        let known = self.known.get(&c.full_id);
        self.slots.push(Container {
            name: known.map(|k| k.name.clone()),
            image: known.map(|k| k.image.clone()),
            pod: known.map(|k| k.pod.clone()),
            privileged: known.and_then(|k| k.privileged),
            start_ts: known.and_then(|k| k.start_ts),
            full_id: c.full_id,
            runtime: c.runtime,
            pod_uid: c.pod_uid,
            users: None,
        });
        slot
    }

    /// Put a container at a known slot (replaying a capture).
    pub fn insert_at(&mut self, slot: u32, c: Container) {
        let i = slot as usize;
        if self.slots.len() <= i {
            // fill gaps with placeholders that no process points to
            while self.slots.len() < i {
                let n = self.slots.len();
                self.slots.push(Container {
                    full_id: format!("{n:064}"),
                    runtime: Runtime::Containerd,
                    pod_uid: None,
                    name: None,
                    image: None,
                    pod: None,
                    users: None,
                    privileged: None,
                    start_ts: None,
                });
            }
            self.by_id.insert(c.full_id.clone(), slot);
            self.slots.push(c);
        } else {
            self.by_id.insert(c.full_id.clone(), slot);
            self.slots[i] = c;
        }
    }

    /// What the pod watch says about a container: applied now if we saw it, at first sight if not.
    pub fn learn(&mut self, full_id: &str, k: KnownContainer) {
        if let Some(slot) = self.by_id.get(full_id).copied()
            && let Some(c) = self.slots.get_mut(slot as usize)
        {
            c.name = Some(k.name.clone());
            c.image = Some(k.image.clone());
            c.pod = Some(k.pod.clone());
            c.privileged = k.privileged;
            c.start_ts = k.start_ts;
        }
        self.known.insert(full_id.to_owned(), k);
    }

    /// Forget the pod watch's facts about a deleted pod (containers already seen keep theirs).
    pub fn forget_pod(&mut self, pod_uid: &str) {
        self.known.retain(|_, k| k.pod.uid != pod_uid);
    }

    pub fn get(&self, slot: u32) -> Option<&Container> {
        self.slots.get(slot as usize)
    }

    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Container> {
        self.slots.get_mut(slot as usize)
    }

    pub fn by_full_id(&self, id: &str) -> Option<&Container> {
        self.by_id.get(id).and_then(|s| self.get(*s))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Container> {
        self.slots.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn intern_is_stable_and_image_splits() {
        let mut r = ContainerRegistry::default();
        let c = CgroupContainer {
            full_id: "a".repeat(64),
            runtime: Runtime::Containerd,
            pod_uid: None,
        };
        let s1 = r.intern(c.clone());
        let s2 = r.intern(c);
        assert_eq!(s1, s2);
        assert_eq!(r.len(), 1);
        let cont = r.get_mut(s1).unwrap();
        assert_eq!(cont.short_id(), "aaaaaaaaaaaa");
        cont.image = Some("registry.k8s.io:5000/nginx:1.27@sha256:abc".into());
        assert_eq!(
            cont.image_parts(),
            Some(("registry.k8s.io:5000/nginx", "1.27"))
        );
        cont.image = Some("busybox".into());
        assert_eq!(cont.image_parts(), Some(("busybox", "latest")));
    }
}

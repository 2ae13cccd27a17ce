//! Capability bit sets rendered as Falco prints `thread.cap_*`: the names of the set bits,
//! `CAP_CHOWN CAP_DAC_OVERRIDE ...`, in bit order, separated by spaces.

/// Names by bit number (`linux/capability.h`, up to CAP_CHECKPOINT_RESTORE = 40).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Append the names of the bits set in `caps` to `out` (unknown future bits as `CAP_<n>`).
pub fn render(caps: u64, out: &mut Vec<u8>) {
    for bit in 0..64u32 {
        if caps & (1 << bit) == 0 {
            continue;
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        match NAMES.get(bit as usize) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => {
                use std::io::Write as _;
                let _ = write!(out, "CAP_{bit}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(caps: u64) -> String {
        let mut v = Vec::new();
        render(caps, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn names_in_bit_order() {
        assert_eq!(text(0), "");
        assert_eq!(text(1), "CAP_CHOWN");
        assert_eq!(
            text((1 << 21) | (1 << 16) | 1),
            "CAP_CHOWN CAP_SYS_MODULE CAP_SYS_ADMIN"
        );
        assert_eq!(text(1 << 40), "CAP_CHECKPOINT_RESTORE");
        assert_eq!(text(1 << 45), "CAP_45");
    }

    #[test]
    fn full_root_set_names_every_capability() {
        let all = (1u64 << 41) - 1;
        let t = text(all);
        assert_eq!(t.split(' ').count(), 41);
        assert!(t.contains("CAP_BPF CAP_CHECKPOINT_RESTORE"));
    }
}

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Kestrel probe: the event ABI shared by the kernel side (C) and the user side
 * (Rust, `src/event.rs`). Every struct and enum here has a `#[repr(C)]` mirror
 * in Rust; the layout tests compare sizes, field offsets and enum values taken
 * from the BTF of an object compiled from this header (see build.rs).
 *
 * Record format (one ring buffer record = one event, described in full, with
 * the kinds table, in the crate documentation, src/lib.rs "Event format"):
 *
 *   struct kestrel_event_header     96 bytes
 *   fixed part                      header.fixed_len bytes, struct chosen by kind
 *   __u16 param_len[nparams]
 *   param bytes                     concatenated, no padding, no NUL
 *
 * Only x86_64 is supported; all integers are little endian.
 */
#ifndef KESTREL_EVENT_H
#define KESTREL_EVENT_H

/* Event kinds: select the fixed-part struct and the parameter list. */
enum kestrel_event_kind {
	KESTREL_EV_GENERIC = 1,    /* any wanted syscall without a dedicated kind */
	KESTREL_EV_EXECVE = 2,     /* execve, execveat */
	KESTREL_EV_OPEN = 3,       /* open, openat, openat2, creat */
	KESTREL_EV_SOCKET = 4,     /* socket */
	KESTREL_EV_SOCKOP = 5,     /* connect, accept, accept4, bind, listen */
	KESTREL_EV_FILEOP = 6,     /* unlink(at), rename(at,at2), rmdir, mkdir(at),
				      chmod, fchmod, fchmodat, fchmodat2, chdir, fchdir */
	KESTREL_EV_MOUNT = 7,      /* mount, umount2 */
	KESTREL_EV_SETID = 8,      /* setuid, setgid, setreuid, setregid, setresuid, setresgid */
	KESTREL_EV_PTRACE = 9,     /* ptrace */
	KESTREL_EV_MODULE = 10,    /* init_module, finit_module */
	KESTREL_EV_CLONE = 11,     /* clone, clone3, fork, vfork */
	KESTREL_EV_FDOP = 12,      /* dup, dup2, dup3, fcntl(F_DUPFD*), close */
	KESTREL_EV_PROC_FORK = 32, /* tp_btf/sched_process_fork (header = parent) */
	KESTREL_EV_PROC_EXEC = 33, /* tp_btf/sched_process_exec (header = new image) */
	KESTREL_EV_PROC_EXIT = 34, /* tp_btf/sched_process_exit (header = exiting task) */
};

/* Bits of kestrel_event_header.flags. */
enum kestrel_event_flags {
	KESTREL_F_TRUNCATED = 1,   /* a parameter hit its size limit, or the event
				      hit its total size limit (later params empty) */
	KESTREL_F_READ_FAILED = 2, /* a memory read failed; that parameter is empty */
};

/* kestrel_exec.exe_flags */
enum kestrel_exe_flags {
	KESTREL_EXE_KNOWN = 1,       /* exe_ino, exe_ctime_ns and exe_mtime_ns are set */
	KESTREL_EXE_OVERLAY = 2,     /* the executable is on an overlayfs (a container image) */
	KESTREL_EXE_UPPER_LAYER = 4, /* ... with its data in the upper, writable layer: written
					or modified after the container started */
};

/* Indexes of the per-CPU drop/diagnostic counters (map `drop_counts`). */
enum kestrel_drop_reason {
	KESTREL_DROP_RINGBUF_FULL = 0, /* event lost: ring buffer full */
	KESTREL_DROP_READ_FAILED = 1,  /* a parameter read failed (event sent, param empty) */
	KESTREL_DROP_STASH_MISS = 2,   /* sys_exit of a wanted syscall without its sys_enter */
	KESTREL_DROP_STASH_FULL = 3,   /* event lost: per-thread stash not allocated */
	KESTREL_DROP_COMPAT = 4,       /* i386-ABI syscall skipped (number collided with a
					  wanted x86_64 syscall); not decoded */
	KESTREL_DROP_NR = 5,           /* number of counters */
};

/* Sizes and slots. */
enum kestrel_limits {
	KESTREL_MAX_SYSCALLS = 512,      /* wanted[] slots 0..511 = x86_64 syscall nrs */
	KESTREL_SLOT_PROC_FORK = 512,    /* wanted[] slot enabling KESTREL_EV_PROC_FORK */
	KESTREL_SLOT_PROC_EXEC = 513,    /* wanted[] slot enabling KESTREL_EV_PROC_EXEC */
	KESTREL_SLOT_PROC_EXIT = 514,    /* wanted[] slot enabling KESTREL_EV_PROC_EXIT */
	KESTREL_WANTED_SLOTS = 515,      /* max_entries of the wanted map */
	KESTREL_MAX_PATH = 4096,         /* max bytes of a path/string parameter (incl. NUL read) */
	KESTREL_MAX_ARGV = 4096,         /* max bytes of the argv block */
	KESTREL_MAX_ARGS = 64,           /* max argv entries read from a failed execve's array */
	KESTREL_MAX_SOCKADDR = 128,      /* max bytes of a user sockaddr parameter */
	KESTREL_MAX_PATH_COMPONENTS = 48,/* max dentries walked when building a kernel path */
	KESTREL_DATA_LIMIT = 16383,      /* a param starts at an offset <= this; mask */
	KESTREL_SCRATCH_BYTES = 24576,   /* per-CPU scratch the event is built in */
	KESTREL_MAX_EVENT_BYTES = 20480, /* no record is longer than this */
	KESTREL_HEADER_BYTES = 104,      /* sizeof(struct kestrel_event_header) */
};

/* Values of the wanted map for syscall slots: which outcomes are emitted (an
 * in-kernel filter applied at sys_exit, before the event is built). Success
 * means a return value >= 0. Lifecycle slots use any non-zero value. */
enum kestrel_want {
	KESTREL_WANT_SUCCESS = 1,
	KESTREL_WANT_FAILURE = 2,
	KESTREL_WANT_ANY = 3,
};

/* header.syscall_nr of lifecycle events. */
enum kestrel_no_syscall {
	KESTREL_NO_SYSCALL = 0xffffffffu,
};

/* Parameter indexes and counts per kind. */
enum kestrel_params {
	/* KESTREL_EV_EXECVE and KESTREL_EV_PROC_EXEC */
	KESTREL_EXEC_P_FILENAME = 0, /* syscall: as passed to execve, read at sys_enter; if that
					read failed (page not faulted in yet): re-read at exit
					(failure) or bprm->filename (success: for execveat with a
					relative path that is "/dev/fd/<dirfd>/<path>").
					proc: bprm->filename */
	KESTREL_EXEC_P_ARGV = 1,     /* NUL-separated; from the new mm (success) or the
					user argv array (failure) */
	KESTREL_EXEC_P_EXE = 2,      /* path of the executed file, from the kernel (success) */
	KESTREL_EXEC_P_CWD = 3,      /* current working directory, from the kernel */
	KESTREL_EXEC_P_INTERP = 4,   /* bprm->interp when it differs from filename (proc only) */
	KESTREL_EXEC_NPARAMS = 5,
	/* KESTREL_EV_OPEN */
	KESTREL_OPEN_P_PATH = 0,
	KESTREL_OPEN_NPARAMS = 1,
	/* KESTREL_EV_SOCKOP */
	KESTREL_SOCKOP_P_USER_ADDR = 0,  /* raw struct sockaddr from connect/bind arguments */
	KESTREL_SOCKOP_P_LOCAL_UNIX = 1, /* AF_UNIX: sun_path bound to the socket */
	KESTREL_SOCKOP_P_PEER_UNIX = 2,  /* AF_UNIX: sun_path of the peer */
	KESTREL_SOCKOP_NPARAMS = 3,
	/* KESTREL_EV_FILEOP */
	KESTREL_FILEOP_P_PATH = 0,   /* path / oldpath */
	KESTREL_FILEOP_P_PATH2 = 1,  /* newpath (rename*) */
	KESTREL_FILEOP_NPARAMS = 2,
	/* KESTREL_EV_MOUNT */
	KESTREL_MOUNT_P_SOURCE = 0,
	KESTREL_MOUNT_P_TARGET = 1,
	KESTREL_MOUNT_P_FSTYPE = 2,
	KESTREL_MOUNT_NPARAMS = 3,
	/* KESTREL_EV_MODULE */
	KESTREL_MODULE_P_UARGS = 0,
	KESTREL_MODULE_NPARAMS = 1,
	/* every other kind has no parameters */
};

/* Common header of every event. */
struct kestrel_event_header {
	__u64 ts_boot_ns;  /* bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME) at emission */
	__u64 cgroup_id;   /* bpf_get_current_cgroup_id() (cgroup v2 id) */
	__s64 ret;         /* syscall return value (lifecycle events: 0) */
	__u64 cap_effective; /* effective capability bits (bit n = capability n) */
	__u32 len;         /* total record length in bytes, header included */
	__u16 kind;        /* enum kestrel_event_kind */
	__u16 flags;       /* enum kestrel_event_flags bits */
	__u32 syscall_nr;  /* x86_64 syscall nr; 0xffffffff for lifecycle events */
	__u32 tid;         /* host (init pid namespace) thread id */
	__u32 tgid;        /* host process id */
	__u32 ns_tid;      /* thread id in the task's own pid namespace */
	__u32 ns_tgid;     /* process id in the task's own pid namespace */
	__u32 ptgid;       /* host process id of the real parent */
	__u32 uid;         /* real uid */
	__u32 gid;         /* real gid */
	__u32 euid;        /* effective uid */
	__u32 egid;        /* effective gid */
	__u32 loginuid;    /* audit login uid (0xffffffff when unset) */
	__u16 nparams;     /* number of variable-length params */
	__u16 fixed_len;   /* bytes of the fixed part after the header */
	char comm[16];     /* task comm (after exec for a successful execve) */
};

/* KESTREL_EV_GENERIC: the six raw syscall arguments. */
struct kestrel_generic {
	__u64 args[6];
};

/* KESTREL_EV_EXECVE / KESTREL_EV_PROC_EXEC. */
struct kestrel_exec {
	__s32 dirfd;   /* execveat dirfd; AT_FDCWD (-100) for execve and proc exec */
	__u32 flags;   /* execveat flags */
	__u32 old_tid; /* tid that called execve (differs from header.tid when a
			  non-leader thread exec'd and took over the leader's tid) */
	__u32 exe_flags;     /* enum kestrel_exe_flags bits (successful exec only) */
	__u64 exe_ino;       /* inode number of the executed file */
	__u64 exe_ctime_ns;  /* its inode change time, ns since the epoch */
	__u64 exe_mtime_ns;  /* its modification time, ns since the epoch */
};

/* KESTREL_EV_OPEN. */
struct kestrel_open {
	__s32 dirfd;    /* AT_FDCWD (-100) for open/creat */
	__u32 flags;    /* open flags (creat: O_CREAT|O_WRONLY|O_TRUNC) */
	__u32 mode;
	__u32 _pad;
	__u64 resolve;  /* openat2 how.resolve, else 0 */
};

/* KESTREL_EV_SOCKET. */
struct kestrel_socket {
	__u32 domain;
	__u32 type;
	__u32 protocol;
	__u32 _pad;
};

/* Addresses of a kernel socket, read at syscall exit. */
struct kestrel_sock_tuple {
	__u16 family;      /* sk_family; 0 when the fd is not a socket */
	__u16 type;        /* sk_type (SOCK_STREAM, ...) */
	__u16 protocol;    /* sk_protocol (IPPROTO_TCP, ...) */
	__u16 local_port;  /* host byte order */
	__u16 remote_port; /* host byte order */
	__u16 _pad[3];
	__u8 local_addr[16];  /* AF_INET: 4 bytes, network order; AF_INET6: 16 bytes */
	__u8 remote_addr[16];
};

/* KESTREL_EV_SOCKOP. */
struct kestrel_sockop {
	__s32 fd;    /* the syscall's socket fd argument */
	__u32 arg;   /* connect/bind: addrlen; accept4: flags; listen: backlog */
	struct kestrel_sock_tuple tuple; /* accept(4) success: of the new fd (= ret);
					    else of `fd` */
};

/* KESTREL_EV_FILEOP. */
struct kestrel_fileop {
	__s32 fd;     /* dirfd of *at calls (olddirfd for renameat*), the fd of
			 fchmod/fchdir, else AT_FDCWD (-100) */
	__s32 fd2;    /* newdirfd of renameat*, else AT_FDCWD */
	__u32 flags;  /* unlinkat/renameat2/fchmodat2 flags */
	__u32 mode;   /* mkdir*, chmod* */
};

/* KESTREL_EV_MOUNT. */
struct kestrel_mount {
	__u64 flags;  /* mount flags / umount2 flags */
};

/* KESTREL_EV_SETID: the ids in argument order; unused slots 0xffffffff. */
struct kestrel_setid {
	__u32 ids[3];
	__u32 _pad;
};

/* KESTREL_EV_PTRACE. */
struct kestrel_ptrace {
	__s64 request;
	__s64 pid;
	__u64 addr;
	__u64 data;
};

/* KESTREL_EV_MODULE. */
struct kestrel_module {
	__s32 fd;     /* finit_module fd; -1 for init_module */
	__u32 flags;  /* finit_module flags */
	__u64 len;    /* init_module image length */
};

/* KESTREL_EV_CLONE. header.ret is the child pid as seen by the caller (0 in the
 * child, which also produces an event). */
struct kestrel_clone {
	__u64 flags;     /* clone flags (clone3: clone_args.flags; fork: SIGCHLD;
			    vfork: CLONE_VM|CLONE_VFORK|SIGCHLD) */
	__u32 child_tid; /* host tid of the child (parent side, success), else 0 */
	__u32 _pad;
};

/* KESTREL_EV_FDOP. header.ret is the new fd for dup, dup2, dup3 and fcntl. */
struct kestrel_fdop {
	__s32 fd;     /* oldfd / fd */
	__s32 fd2;    /* dup2/dup3 newfd; fcntl F_DUPFD* lowest fd; else -1 */
	__u32 flags;  /* dup3 flags */
	__s32 cmd;    /* fcntl cmd; else -1 */
};

/* KESTREL_EV_PROC_FORK. The header describes the parent. */
struct kestrel_proc_fork {
	__u32 child_tid;
	__u32 child_tgid;
	__u32 child_ns_tid;
	__u32 child_ns_tgid;
};

/* KESTREL_EV_PROC_EXIT. */
struct kestrel_proc_exit {
	__s32 exit_code;  /* task->exit_code: wait status (code << 8, or signal nr) */
	__u32 group_dead; /* 1 when this was the last thread of the process */
};

#endif /* KESTREL_EVENT_H */

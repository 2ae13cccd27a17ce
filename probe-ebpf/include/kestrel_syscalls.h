/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * x86_64 numbers of the syscalls the kernel side decodes into a dedicated
 * event kind. The layout tests check every value against the complete table
 * in `src/syscalls.rs` (by name, without the KESTREL_NR_ prefix).
 */
#ifndef KESTREL_SYSCALLS_H
#define KESTREL_SYSCALLS_H

enum kestrel_nr {
	KESTREL_NR_open = 2,
	KESTREL_NR_close = 3,
	KESTREL_NR_dup = 32,
	KESTREL_NR_dup2 = 33,
	KESTREL_NR_socket = 41,
	KESTREL_NR_connect = 42,
	KESTREL_NR_accept = 43,
	KESTREL_NR_bind = 49,
	KESTREL_NR_listen = 50,
	KESTREL_NR_clone = 56,
	KESTREL_NR_fork = 57,
	KESTREL_NR_vfork = 58,
	KESTREL_NR_execve = 59,
	KESTREL_NR_exit = 60,
	KESTREL_NR_fcntl = 72,
	KESTREL_NR_chdir = 80,
	KESTREL_NR_fchdir = 81,
	KESTREL_NR_rename = 82,
	KESTREL_NR_mkdir = 83,
	KESTREL_NR_rmdir = 84,
	KESTREL_NR_creat = 85,
	KESTREL_NR_unlink = 87,
	KESTREL_NR_chmod = 90,
	KESTREL_NR_fchmod = 91,
	KESTREL_NR_ptrace = 101,
	KESTREL_NR_setuid = 105,
	KESTREL_NR_setgid = 106,
	KESTREL_NR_setreuid = 113,
	KESTREL_NR_setregid = 114,
	KESTREL_NR_setresuid = 117,
	KESTREL_NR_setresgid = 119,
	KESTREL_NR_mount = 165,
	KESTREL_NR_umount2 = 166,
	KESTREL_NR_init_module = 175,
	KESTREL_NR_exit_group = 231,
	KESTREL_NR_openat = 257,
	KESTREL_NR_mkdirat = 258,
	KESTREL_NR_unlinkat = 263,
	KESTREL_NR_renameat = 264,
	KESTREL_NR_fchmodat = 268,
	KESTREL_NR_accept4 = 288,
	KESTREL_NR_dup3 = 292,
	KESTREL_NR_finit_module = 313,
	KESTREL_NR_renameat2 = 316,
	KESTREL_NR_execveat = 322,
	KESTREL_NR_clone3 = 435,
	KESTREL_NR_openat2 = 437,
	KESTREL_NR_fchmodat2 = 452,
};

#endif /* KESTREL_SYSCALLS_H */

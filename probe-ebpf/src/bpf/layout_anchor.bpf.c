// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Not loaded: compiled only so that its BTF describes every ABI struct and enum
 * of kestrel_event.h / kestrel_syscalls.h exactly as the probe object sees
 * them. build.rs turns that BTF into the tables the Rust layout tests check.
 */
#include "vmlinux.h"
#include "kestrel_event.h"
#include "kestrel_syscalls.h"

struct kestrel_layout_anchor {
	struct kestrel_event_header header;
	struct kestrel_generic generic;
	struct kestrel_exec exec;
	struct kestrel_open open;
	struct kestrel_socket socket;
	struct kestrel_sock_tuple sock_tuple;
	struct kestrel_sockop sockop;
	struct kestrel_fileop fileop;
	struct kestrel_mount mount;
	struct kestrel_setid setid;
	struct kestrel_ptrace ptrace;
	struct kestrel_module module;
	struct kestrel_clone clone;
	struct kestrel_fdop fdop;
	struct kestrel_proc_fork proc_fork;
	struct kestrel_proc_exit proc_exit;
	enum kestrel_event_kind kind;
	enum kestrel_event_flags flags;
	enum kestrel_exe_flags exe_flags;
	enum kestrel_drop_reason drop_reason;
	enum kestrel_limits limits;
	enum kestrel_no_syscall no_syscall;
	enum kestrel_want want;
	enum kestrel_params params;
	enum kestrel_nr nr;
};

__attribute__((used)) struct kestrel_layout_anchor kestrel_layout_anchor;


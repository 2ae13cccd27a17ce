// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Kestrel syscall probe (kernel side).
 *
 * tp_btf/sys_enter: drop unwanted syscalls first (one array lookup), then
 *   ignored processes, then stash the six arguments per tid.
 * tp_btf/sys_exit: pair with the stash and emit one event with the return value.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "kestrel_event.h"
#include "kestrel_syscalls.h"
#include "kestrel_maps.h"
#include "kestrel_task.h"
#include "kestrel_emit.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(kestrel_sys_enter, struct pt_regs *regs, long id)
{
	__u32 nr = (__u32)id;
	if (id < 0 || id >= KESTREL_MAX_SYSCALLS || !is_wanted(nr))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task_in_compat_syscall(task)) {
		count_drop(KESTREL_DROP_COMPAT);
		return 0;
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (is_ignored(pid_tgid >> 32))
		return 0;

	struct kestrel_stash st = {};
	st.args[0] = BPF_CORE_READ(regs, di);
	st.args[1] = BPF_CORE_READ(regs, si);
	st.args[2] = BPF_CORE_READ(regs, dx);
	st.args[3] = BPF_CORE_READ(regs, r10);
	st.args[4] = BPF_CORE_READ(regs, r8);
	st.args[5] = BPF_CORE_READ(regs, r9);
	st.nr = nr;
	__u32 tid = (__u32)pid_tgid;
	if (bpf_map_update_elem(&stash, &tid, &st, BPF_ANY))
		count_drop(KESTREL_DROP_STASH_FULL);
	return 0;
}

static __always_inline void emit_generic(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_ev e;
	struct kestrel_generic *f =
		ev_begin(&e, task, KESTREL_EV_GENERIC, st->nr, ret, sizeof(*f), 0);
	if (!f)
		return;
#pragma unroll
	for (int i = 0; i < 6; i++)
		f->args[i] = st->args[i];
	ev_submit(&e);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(kestrel_sys_exit, struct pt_regs *regs, long ret)
{
	long id = BPF_CORE_READ(regs, orig_ax);
	__u32 nr = (__u32)id;
	if (id < 0 || id >= KESTREL_MAX_SYSCALLS || !is_wanted(nr))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct kestrel_stash *sp = bpf_map_lookup_elem(&stash, &tid);
	if (!sp) {
		count_drop(KESTREL_DROP_STASH_MISS);
		return 0;
	}
	struct kestrel_stash st = *sp;
	bpf_map_delete_elem(&stash, &tid);
	if (st.nr != nr) {
		count_drop(KESTREL_DROP_STASH_MISS);
		return 0;
	}
	struct task_struct *task = bpf_get_current_task_btf();
	emit_generic(task, &st, ret);
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Reading task identity through CO-RE. */
#ifndef KESTREL_TASK_H
#define KESTREL_TASK_H

#include "kestrel_event.h"

/* x86 thread_info.status bit set while in an i386-ABI (int 0x80 / compat) syscall. */
#define KESTREL_TS_COMPAT 0x0002

/*
 * Direct loads through BTF pointers (bpf_get_current_task_btf(), tp_btf
 * arguments) compile to plain CO-RE-relocated loads the verifier turns into
 * fault-safe PROBE_MEM loads: no helper call per field, unlike BPF_CORE_READ.
 * These run for every event.
 */

/* Id of `pid` in the pid namespace at its own level (what the task itself sees). */
static __always_inline __u32 pid_vnr(struct pid *pid)
{
	if (!pid)
		return 0;
	unsigned int level = pid->level;
	struct upid upid = {};
	/* numbers[] is indexed by a runtime value: read through a helper */
	bpf_probe_read_kernel(&upid, sizeof(upid),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
				      (level & 31) * sizeof(struct upid));
	return upid.nr;
}

static __always_inline __u32 task_ns_tid(struct task_struct *task)
{
	return pid_vnr(task->thread_pid);
}

static __always_inline __u32 task_ns_tgid(struct task_struct *task)
{
	return pid_vnr(task->group_leader->thread_pid);
}

static __always_inline void task_fill_ids(struct task_struct *task, struct kestrel_event_header *h)
{
	const struct cred *cred = task->cred;
	h->euid = cred->euid.val;
	h->egid = cred->egid.val;
	/* kernel_cap_t is a u64 (6.3+) or u32[2] (older): 8 bytes either way */
	if (bpf_probe_read_kernel(&h->cap_effective, sizeof(h->cap_effective), &cred->cap_effective))
		h->cap_effective = 0;
	if (bpf_core_field_exists(task->loginuid))
		h->loginuid = task->loginuid.val;
	else
		h->loginuid = 0xffffffff;
	h->ptgid = task->real_parent->tgid;
	struct pid *pid = task->thread_pid;
	if (pid && pid->level == 0) {
		/* initial pid namespace: the ids are the host ids, no helper reads */
		h->ns_tid = h->tid;
		h->ns_tgid = h->tgid;
	} else {
		h->ns_tid = pid_vnr(pid);
		h->ns_tgid = task_ns_tgid(task);
	}
}

static __always_inline int task_in_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & KESTREL_TS_COMPAT;
}

#endif /* KESTREL_TASK_H */

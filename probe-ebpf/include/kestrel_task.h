/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Reading task identity through CO-RE. */
#ifndef KESTREL_TASK_H
#define KESTREL_TASK_H

#include "kestrel_event.h"

/* x86 thread_info.status bit set while in an i386-ABI (int 0x80 / compat) syscall. */
#define KESTREL_TS_COMPAT 0x0002

/* Id of `pid` in the pid namespace at its own level (what the task itself sees). */
static __always_inline __u32 pid_vnr(struct pid *pid)
{
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};
	BPF_CORE_READ_INTO(&upid, pid, numbers[level]);
	return upid.nr;
}

static __always_inline __u32 task_ns_tid(struct task_struct *task)
{
	return pid_vnr(BPF_CORE_READ(task, thread_pid));
}

static __always_inline __u32 task_ns_tgid(struct task_struct *task)
{
	return pid_vnr(BPF_CORE_READ(task, group_leader, thread_pid));
}

static __always_inline void task_fill_ids(struct task_struct *task, struct kestrel_event_header *h)
{
	struct cred *cred = (struct cred *)BPF_CORE_READ(task, cred);
	h->euid = BPF_CORE_READ(cred, euid.val);
	h->egid = BPF_CORE_READ(cred, egid.val);
	if (bpf_core_field_exists(task->loginuid))
		h->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		h->loginuid = 0xffffffff;
	h->ptgid = BPF_CORE_READ(task, real_parent, tgid);
	h->ns_tid = task_ns_tid(task);
	h->ns_tgid = task_ns_tgid(task);
}

static __always_inline int task_in_compat_syscall(struct task_struct *task)
{
	return BPF_CORE_READ(task, thread_info.status) & KESTREL_TS_COMPAT;
}

#endif /* KESTREL_TASK_H */

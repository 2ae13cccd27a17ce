// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * Kestrel syscall probe (kernel side). Event format: include/kestrel_event.h.
 *
 * tp_btf/sys_enter    drop unwanted syscalls first (one array lookup), then
 *                     i386-ABI syscalls and ignored processes, then in-kernel
 *                     filters (fcntl: only F_DUPFD*), then stash the six
 *                     arguments per tid (execve*: also the filename, whose
 *                     memory is gone at exit).
 * tp_btf/sys_exit     pair with the stash and emit one event carrying the
 *                     return value and what is only known at exit (argv and
 *                     comm of the new image, socket addresses, child pid...).
 * tp_btf/sched_process_fork|exec|exit
 *                     lifecycle events (each gated by its own wanted slot),
 *                     plus stash bookkeeping: clone child tid, the tid change
 *                     of a multi-threaded exec, cleanup at thread exit.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "kestrel_event.h"
#include "kestrel_syscalls.h"
#include "kestrel_maps.h"
#include "kestrel_task.h"
#include "kestrel_emit.h"
#include "kestrel_path.h"
#include "kestrel_sock.h"

char LICENSE[] SEC("license") = "GPL";

#define KESTREL_AT_FDCWD (-100)
#define KESTREL_F_DUPFD 0
#define KESTREL_F_DUPFD_CLOEXEC 1030
#define KESTREL_O_CREAT_WRONLY_TRUNC 01101 /* creat() == open(O_CREAT|O_WRONLY|O_TRUNC) */
#define KESTREL_SIGCHLD 17
#define KESTREL_CLONE_VM 0x00000100
#define KESTREL_CLONE_VFORK 0x00004000

static __always_inline int is_clone_nr(__u32 nr)
{
	return nr == KESTREL_NR_clone || nr == KESTREL_NR_clone3 || nr == KESTREL_NR_fork ||
	       nr == KESTREL_NR_vfork;
}

static __always_inline int is_exec_nr(__u32 nr)
{
	return nr == KESTREL_NR_execve || nr == KESTREL_NR_execveat;
}

/* ---------------------------------------------------------------- enter */

/* The filename into the thread's exec_filenames slot; no slot if unreadable
 * (the exit path then falls back, see emit_execve). */
static __always_inline void stash_filename(struct task_struct *task, const char *filename, int user)
{
	struct kestrel_exec_filename *fn =
		bpf_task_storage_get(&exec_filenames, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!fn)
		return;
	long n = user ? bpf_probe_read_user_str(fn->path, KESTREL_MAX_PATH, filename)
		      : bpf_probe_read_kernel_str(fn->path, KESTREL_MAX_PATH, filename);
	if (n < 0)
		bpf_task_storage_delete(&exec_filenames, task);
}

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

	__u64 a1 = regs->si;
	if (nr == KESTREL_NR_fcntl && a1 != KESTREL_F_DUPFD && a1 != KESTREL_F_DUPFD_CLOEXEC)
		return 0; /* only fd-duplicating fcntl calls matter */
	struct kestrel_stash *st = bpf_task_storage_get(&stash, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count_drop(KESTREL_DROP_STASH_FULL);
		return 0;
	}
	st->args[0] = regs->di;
	st->args[1] = a1;
	st->args[2] = regs->dx;
	st->args[3] = regs->r10;
	st->args[4] = regs->r8;
	st->args[5] = regs->r9;
	st->nr = nr;
	st->aux = 0;
	st->active = 1;
	if (nr == KESTREL_NR_execve)
		stash_filename(task, (const char *)st->args[0], 1);
	else if (nr == KESTREL_NR_execveat)
		stash_filename(task, (const char *)st->args[1], 1);
	return 0;
}

/* ---------------------------------------------------------------- fillers */

static __always_inline void emit_generic(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_GENERIC, st->nr, ret, sizeof(struct kestrel_generic), 0);
	if (!s)
		return;
	struct kestrel_generic *f = ev_fixed(s);
#pragma unroll
	for (int i = 0; i < 6; i++)
		f->args[i] = st->args[i];
	ev_submit(s);
}

/* argv of the current (new) image: the block mm->arg_start..arg_end, as Falco. */
static __always_inline void ev_mm_argv(struct kestrel_scratch *s, __u32 idx, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	if (!mm) {
		ev_empty(s, idx);
		return;
	}
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	ev_bytes(s, idx, (const void *)start, end > start ? end - start : 0, KESTREL_MAX_ARGV, 1);
}

/* argv from a user `char *const argv[]` (failed execve: the old image is intact). */
static __always_inline void ev_user_argv(struct kestrel_scratch *s, __u32 idx, const char *const *argv)
{
	if (!argv) {
		ev_empty(s, idx);
		return;
	}
	if (!ev_room(s, idx))
		return;
	__u32 base = s->off & KESTREL_DATA_LIMIT;
	__u32 a = 0;
	for (int i = 0; i < KESTREL_MAX_ARGS; i++) {
		const char *p = NULL;
		if (bpf_probe_read_user(&p, sizeof(p), &argv[i])) {
			ev_read_failed(s);
			break;
		}
		if (!p)
			break;
		if (a >= KESTREL_MAX_ARGV) {
			s->flags |= KESTREL_F_TRUNCATED;
			break;
		}
		long n = bpf_probe_read_user_str(s->buf + base + (a & (KESTREL_MAX_ARGV - 1)),
						 KESTREL_MAX_ARGV - a, p);
		if (n < 0) {
			ev_read_failed(s);
			break;
		}
		a += n;
	}
	if (a > KESTREL_MAX_ARGV)
		a = KESTREL_MAX_ARGV;
	ev_set_len(s, idx, a);
	s->off = base + a;
}

static __always_inline void emit_execve(struct task_struct *task, struct kestrel_stash *st, long ret, __u32 tid)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_EXECVE, st->nr, ret, sizeof(struct kestrel_exec), KESTREL_EXEC_NPARAMS);
	if (!s)
		goto out;
	struct kestrel_exec *f = ev_fixed(s);
	int at = st->nr == KESTREL_NR_execveat;
	f->dirfd = at ? (__s32)st->args[0] : KESTREL_AT_FDCWD;
	f->flags = at ? (__u32)st->args[4] : 0;
	f->old_tid = st->aux ? st->aux : tid;

	/* Read at sys_enter; if that failed (page not yet faulted in, common for
	 * literals right after fork): on failure the old image is still there and
	 * the kernel has faulted the string in, so read it again; on success
	 * sched_process_exec stored bprm->filename. */
	struct kestrel_exec_filename *fn = bpf_task_storage_get(&exec_filenames, task, 0, 0);
	if (fn)
		ev_kernel_str(s, KESTREL_EXEC_P_FILENAME, fn->path);
	else if (ret != 0)
		ev_user_str(s, KESTREL_EXEC_P_FILENAME, (const char *)(at ? st->args[1] : st->args[0]));
	else
		ev_read_failed(s);
	if (ret == 0) {
		exec_exe_info(f, BPF_CORE_READ(task, mm, exe_file));
		ev_mm_argv(s, KESTREL_EXEC_P_ARGV, task);
		ev_task_exe(s, KESTREL_EXEC_P_EXE, task);
	} else {
		ev_user_argv(s, KESTREL_EXEC_P_ARGV, (const char *const *)(at ? st->args[2] : st->args[1]));
		ev_empty(s, KESTREL_EXEC_P_EXE);
	}
	ev_task_cwd(s, KESTREL_EXEC_P_CWD, task);
	ev_empty(s, KESTREL_EXEC_P_INTERP);
	ev_submit(s);
out:
	bpf_task_storage_delete(&exec_filenames, task);
}

static __always_inline void emit_open(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_OPEN, st->nr, ret, sizeof(struct kestrel_open), KESTREL_OPEN_NPARAMS);
	if (!s)
		return;
	struct kestrel_open *f = ev_fixed(s);
	const char *path;
	switch (st->nr) {
	case KESTREL_NR_open:
		f->dirfd = KESTREL_AT_FDCWD;
		path = (const char *)st->args[0];
		f->flags = st->args[1];
		f->mode = st->args[2];
		break;
	case KESTREL_NR_creat:
		f->dirfd = KESTREL_AT_FDCWD;
		path = (const char *)st->args[0];
		f->flags = KESTREL_O_CREAT_WRONLY_TRUNC;
		f->mode = st->args[1];
		break;
	case KESTREL_NR_openat2: {
		struct open_how how = {};
		f->dirfd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		if (bpf_probe_read_user(&how, sizeof(how), (const void *)st->args[2]) == 0) {
			f->flags = how.flags;
			f->mode = how.mode;
			f->resolve = how.resolve;
		} else {
			ev_read_failed(s);
		}
		break;
	}
	default: /* openat */
		f->dirfd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		f->flags = st->args[2];
		f->mode = st->args[3];
		break;
	}
	ev_user_str(s, KESTREL_OPEN_P_PATH, path);
	ev_submit(s);
}

static __always_inline void emit_socket(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_SOCKET, st->nr, ret, sizeof(struct kestrel_socket), 0);
	if (!s)
		return;
	struct kestrel_socket *f = ev_fixed(s);
	f->domain = st->args[0];
	f->type = st->args[1];
	f->protocol = st->args[2];
	ev_submit(s);
}

static __always_inline void emit_sockop(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_SOCKOP, st->nr, ret, sizeof(struct kestrel_sockop), KESTREL_SOCKOP_NPARAMS);
	if (!s)
		return;
	struct kestrel_sockop *f = ev_fixed(s);
	long sock_fd = (long)st->args[0];
	f->fd = (__s32)st->args[0];
	switch (st->nr) {
	case KESTREL_NR_connect:
	case KESTREL_NR_bind:
		f->arg = st->args[2];
		ev_bytes(s, KESTREL_SOCKOP_P_USER_ADDR, (const void *)st->args[1], (__u32)st->args[2],
			 KESTREL_MAX_SOCKADDR, 1);
		break;
	case KESTREL_NR_accept4:
		f->arg = st->args[3];
		ev_empty(s, KESTREL_SOCKOP_P_USER_ADDR);
		if (ret >= 0)
			sock_fd = ret;
		break;
	case KESTREL_NR_accept:
		ev_empty(s, KESTREL_SOCKOP_P_USER_ADDR);
		if (ret >= 0)
			sock_fd = ret;
		break;
	default: /* listen */
		f->arg = st->args[1];
		ev_empty(s, KESTREL_SOCKOP_P_USER_ADDR);
		break;
	}
	ev_sock_tuple(s, &f->tuple, task_fd_socket(task, sock_fd), KESTREL_SOCKOP_P_LOCAL_UNIX,
		      KESTREL_SOCKOP_P_PEER_UNIX);
	ev_submit(s);
}

static __always_inline void emit_fileop(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_FILEOP, st->nr, ret, sizeof(struct kestrel_fileop), KESTREL_FILEOP_NPARAMS);
	if (!s)
		return;
	struct kestrel_fileop *f = ev_fixed(s);
	const char *path = NULL, *path2 = NULL;
	f->fd = KESTREL_AT_FDCWD;
	f->fd2 = KESTREL_AT_FDCWD;
	switch (st->nr) {
	case KESTREL_NR_unlink:
	case KESTREL_NR_rmdir:
	case KESTREL_NR_chdir:
		path = (const char *)st->args[0];
		break;
	case KESTREL_NR_unlinkat:
		f->fd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		f->flags = st->args[2];
		break;
	case KESTREL_NR_mkdir:
	case KESTREL_NR_chmod:
		path = (const char *)st->args[0];
		f->mode = st->args[1];
		break;
	case KESTREL_NR_mkdirat:
	case KESTREL_NR_fchmodat:
		f->fd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		f->mode = st->args[2];
		break;
	case KESTREL_NR_fchmodat2:
		f->fd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		f->mode = st->args[2];
		f->flags = st->args[3];
		break;
	case KESTREL_NR_fchmod:
		f->fd = (__s32)st->args[0];
		f->mode = st->args[1];
		break;
	case KESTREL_NR_fchdir:
		f->fd = (__s32)st->args[0];
		break;
	case KESTREL_NR_rename:
		path = (const char *)st->args[0];
		path2 = (const char *)st->args[1];
		break;
	default: /* renameat, renameat2 */
		f->fd = (__s32)st->args[0];
		path = (const char *)st->args[1];
		f->fd2 = (__s32)st->args[2];
		path2 = (const char *)st->args[3];
		if (st->nr == KESTREL_NR_renameat2)
			f->flags = st->args[4];
		break;
	}
	ev_user_str(s, KESTREL_FILEOP_P_PATH, path);
	ev_user_str(s, KESTREL_FILEOP_P_PATH2, path2);
	ev_submit(s);
}

static __always_inline void emit_mount(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_MOUNT, st->nr, ret, sizeof(struct kestrel_mount), KESTREL_MOUNT_NPARAMS);
	if (!s)
		return;
	struct kestrel_mount *f = ev_fixed(s);
	if (st->nr == KESTREL_NR_mount) {
		f->flags = st->args[3];
		ev_user_str(s, KESTREL_MOUNT_P_SOURCE, (const char *)st->args[0]);
		ev_user_str(s, KESTREL_MOUNT_P_TARGET, (const char *)st->args[1]);
		ev_user_str(s, KESTREL_MOUNT_P_FSTYPE, (const char *)st->args[2]);
	} else { /* umount2 */
		f->flags = st->args[1];
		ev_empty(s, KESTREL_MOUNT_P_SOURCE);
		ev_user_str(s, KESTREL_MOUNT_P_TARGET, (const char *)st->args[0]);
		ev_empty(s, KESTREL_MOUNT_P_FSTYPE);
	}
	ev_submit(s);
}

static __always_inline void emit_setid(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_SETID, st->nr, ret, sizeof(struct kestrel_setid), 0);
	if (!s)
		return;
	struct kestrel_setid *f = ev_fixed(s);
	f->ids[0] = st->args[0];
	f->ids[1] = 0xffffffff;
	f->ids[2] = 0xffffffff;
	if (st->nr == KESTREL_NR_setreuid || st->nr == KESTREL_NR_setregid ||
	    st->nr == KESTREL_NR_setresuid || st->nr == KESTREL_NR_setresgid)
		f->ids[1] = st->args[1];
	if (st->nr == KESTREL_NR_setresuid || st->nr == KESTREL_NR_setresgid)
		f->ids[2] = st->args[2];
	ev_submit(s);
}

static __always_inline void emit_ptrace(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_PTRACE, st->nr, ret, sizeof(struct kestrel_ptrace), 0);
	if (!s)
		return;
	struct kestrel_ptrace *f = ev_fixed(s);
	f->request = (__s64)st->args[0];
	f->pid = (__s64)(__s32)st->args[1];
	f->addr = st->args[2];
	f->data = st->args[3];
	ev_submit(s);
}

static __always_inline void emit_module(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_MODULE, st->nr, ret, sizeof(struct kestrel_module), KESTREL_MODULE_NPARAMS);
	if (!s)
		return;
	struct kestrel_module *f = ev_fixed(s);
	if (st->nr == KESTREL_NR_init_module) {
		f->fd = -1;
		f->len = st->args[1];
		ev_user_str(s, KESTREL_MODULE_P_UARGS, (const char *)st->args[2]);
	} else { /* finit_module */
		f->fd = (__s32)st->args[0];
		f->flags = st->args[2];
		ev_user_str(s, KESTREL_MODULE_P_UARGS, (const char *)st->args[1]);
	}
	ev_submit(s);
}

/* Used for the parent side (stash) and the child side (args from its regs). */
static __always_inline void emit_clone(struct task_struct *task, __u32 nr, __u64 arg0, __u32 child_tid, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_CLONE, nr, ret, sizeof(struct kestrel_clone), 0);
	if (!s)
		return;
	struct kestrel_clone *f = ev_fixed(s);
	switch (nr) {
	case KESTREL_NR_clone:
		f->flags = arg0;
		break;
	case KESTREL_NR_clone3: {
		__u64 flags = 0; /* struct clone_args starts with __u64 flags */
		if (bpf_probe_read_user(&flags, sizeof(flags), (const void *)arg0))
			ev_read_failed(s);
		f->flags = flags;
		break;
	}
	case KESTREL_NR_vfork:
		f->flags = KESTREL_CLONE_VM | KESTREL_CLONE_VFORK | KESTREL_SIGCHLD;
		break;
	default: /* fork */
		f->flags = KESTREL_SIGCHLD;
		break;
	}
	f->child_tid = ret > 0 ? child_tid : 0;
	ev_submit(s);
}

static __always_inline void emit_fdop(struct task_struct *task, struct kestrel_stash *st, long ret)
{
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_FDOP, st->nr, ret, sizeof(struct kestrel_fdop), 0);
	if (!s)
		return;
	struct kestrel_fdop *f = ev_fixed(s);
	f->fd = (__s32)st->args[0];
	f->fd2 = -1;
	f->cmd = -1;
	switch (st->nr) {
	case KESTREL_NR_dup2:
		f->fd2 = (__s32)st->args[1];
		break;
	case KESTREL_NR_dup3:
		f->fd2 = (__s32)st->args[1];
		f->flags = st->args[2];
		break;
	case KESTREL_NR_fcntl:
		f->cmd = (__s32)st->args[1];
		f->fd2 = (__s32)st->args[2];
		break;
	default: /* dup, close */
		break;
	}
	ev_submit(s);
}

/* ---------------------------------------------------------------- exit */

SEC("tp_btf/sys_exit")
int BPF_PROG(kestrel_sys_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	__u32 nr = (__u32)id;
	if (id < 0 || id >= KESTREL_MAX_SYSCALLS)
		return 0;
	/* A successful execveat returns with orig_ax == __NR_execve (the new image's
	 * registers), so the stash, not orig_ax, names the syscall that exits. */
	__u8 want = wanted_bits(nr);
	if (!want && (nr != KESTREL_NR_execve || !is_wanted(KESTREL_NR_execveat)))
		return 0;
	__u8 outcome = ret < 0 ? KESTREL_WANT_FAILURE : KESTREL_WANT_SUCCESS;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct task_struct *task = bpf_get_current_task_btf();
	struct kestrel_stash *sp = bpf_task_storage_get(&stash, task, 0, 0);
	if (!sp || !sp->active) {
		/* A new task returning from clone/fork: it never entered the syscall.
		 * Its registers are a copy of the parent's, so arg0 is valid. */
		if (is_clone_nr(nr) && ret == 0) {
			if (!(want & KESTREL_WANT_SUCCESS) || task_in_compat_syscall(task) ||
			    is_ignored(pid_tgid >> 32))
				return 0;
			emit_clone(task, nr, regs->di, 0, 0);
			return 0;
		}
		/* Enters skipped on purpose have no stash either: not a miss. */
		if (nr == KESTREL_NR_fcntl || task_in_compat_syscall(task) ||
		    is_ignored(pid_tgid >> 32))
			return 0;
		count_drop(KESTREL_DROP_STASH_MISS);
		return 0;
	}
	struct kestrel_stash st = *sp;
	sp->active = 0;
	if (st.nr != nr && !(st.nr == KESTREL_NR_execveat && nr == KESTREL_NR_execve)) {
		count_drop(KESTREL_DROP_STASH_MISS);
		return 0;
	}
	if (st.nr != nr) /* execveat */
		want = wanted_bits(st.nr);
	nr = st.nr;
	if (!(want & outcome)) { /* in-kernel filter on the result */
		if (is_exec_nr(nr))
			bpf_task_storage_delete(&exec_filenames, task);
		return 0;
	}

	switch (nr) {
	case KESTREL_NR_execve:
	case KESTREL_NR_execveat:
		emit_execve(task, &st, ret, tid);
		break;
	case KESTREL_NR_open:
	case KESTREL_NR_openat:
	case KESTREL_NR_openat2:
	case KESTREL_NR_creat:
		emit_open(task, &st, ret);
		break;
	case KESTREL_NR_socket:
		emit_socket(task, &st, ret);
		break;
	case KESTREL_NR_connect:
	case KESTREL_NR_accept:
	case KESTREL_NR_accept4:
	case KESTREL_NR_bind:
	case KESTREL_NR_listen:
		emit_sockop(task, &st, ret);
		break;
	case KESTREL_NR_unlink:
	case KESTREL_NR_unlinkat:
	case KESTREL_NR_rename:
	case KESTREL_NR_renameat:
	case KESTREL_NR_renameat2:
	case KESTREL_NR_rmdir:
	case KESTREL_NR_mkdir:
	case KESTREL_NR_mkdirat:
	case KESTREL_NR_chmod:
	case KESTREL_NR_fchmod:
	case KESTREL_NR_fchmodat:
	case KESTREL_NR_fchmodat2:
	case KESTREL_NR_chdir:
	case KESTREL_NR_fchdir:
		emit_fileop(task, &st, ret);
		break;
	case KESTREL_NR_mount:
	case KESTREL_NR_umount2:
		emit_mount(task, &st, ret);
		break;
	case KESTREL_NR_setuid:
	case KESTREL_NR_setgid:
	case KESTREL_NR_setreuid:
	case KESTREL_NR_setregid:
	case KESTREL_NR_setresuid:
	case KESTREL_NR_setresgid:
		emit_setid(task, &st, ret);
		break;
	case KESTREL_NR_ptrace:
		emit_ptrace(task, &st, ret);
		break;
	case KESTREL_NR_init_module:
	case KESTREL_NR_finit_module:
		emit_module(task, &st, ret);
		break;
	case KESTREL_NR_clone:
	case KESTREL_NR_clone3:
	case KESTREL_NR_fork:
	case KESTREL_NR_vfork:
		emit_clone(task, nr, st.args[0], st.aux, ret);
		break;
	case KESTREL_NR_dup:
	case KESTREL_NR_dup2:
	case KESTREL_NR_dup3:
	case KESTREL_NR_fcntl:
	case KESTREL_NR_close:
		emit_fdop(task, &st, ret);
		break;
	default:
		emit_generic(task, &st, ret);
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- lifecycle */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(kestrel_proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 child_tid = child->pid;
	struct kestrel_stash *sp = bpf_task_storage_get(&stash, parent, 0, 0);
	if (sp && sp->active && is_clone_nr(sp->nr))
		sp->aux = child_tid; /* reported by the clone exit event */

	if (!is_wanted(KESTREL_SLOT_PROC_FORK) || is_ignored(pid_tgid >> 32))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_PROC_FORK, KESTREL_NO_SYSCALL, 0, sizeof(struct kestrel_proc_fork), 0);
	if (!s)
		return 0;
	struct kestrel_proc_fork *f = ev_fixed(s);
	f->child_tid = child_tid;
	f->child_tgid = BPF_CORE_READ(child, tgid);
	f->child_ns_tid = task_ns_tid(child);
	f->child_ns_tgid = task_ns_tgid(child);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(kestrel_proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 old_tid = (__u32)old_pid;

	/* A non-leader thread that execs takes over the leader's tid but keeps its
	 * task_struct, and with it its stash. */
	struct kestrel_stash *sp = bpf_task_storage_get(&stash, p, 0, 0);
	if (sp && sp->active && is_exec_nr(sp->nr)) {
		sp->aux = old_tid;
		/* the user filename could not be read at sys_enter: keep the kernel's copy */
		if (!bpf_task_storage_get(&exec_filenames, p, 0, 0))
			stash_filename(p, BPF_CORE_READ(bprm, filename), 0);
	}

	if (!is_wanted(KESTREL_SLOT_PROC_EXEC) || is_ignored(pid_tgid >> 32))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_PROC_EXEC, KESTREL_NO_SYSCALL, 0, sizeof(struct kestrel_exec), KESTREL_EXEC_NPARAMS);
	if (!s)
		return 0;
	struct kestrel_exec *f = ev_fixed(s);
	f->dirfd = KESTREL_AT_FDCWD;
	f->old_tid = old_tid;
	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	ev_kernel_str(s, KESTREL_EXEC_P_FILENAME, filename);
	ev_mm_argv(s, KESTREL_EXEC_P_ARGV, task);
	exec_exe_info(f, BPF_CORE_READ(bprm, file));
	ev_file_path(s, KESTREL_EXEC_P_EXE, BPF_CORE_READ(bprm, file));
	ev_task_cwd(s, KESTREL_EXEC_P_CWD, task);
	if (interp && interp != filename)
		ev_kernel_str(s, KESTREL_EXEC_P_INTERP, interp);
	else
		ev_empty(s, KESTREL_EXEC_P_INTERP);
	ev_submit(s);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kestrel_proc_exit, struct task_struct *p)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* (per-thread storage is freed with the task: nothing to clean up) */

	if (!is_wanted(KESTREL_SLOT_PROC_EXIT) || is_ignored(pid_tgid >> 32))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct kestrel_scratch *s =
		ev_begin(task, KESTREL_EV_PROC_EXIT, KESTREL_NO_SYSCALL, 0, sizeof(struct kestrel_proc_exit), 0);
	if (!s)
		return 0;
	struct kestrel_proc_exit *f = ev_fixed(s);
	f->exit_code = BPF_CORE_READ(task, exit_code);
	f->group_dead = BPF_CORE_READ(task, signal, live.counter) == 0;
	ev_submit(s);
	return 0;
}

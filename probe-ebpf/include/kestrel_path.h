/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Kernel paths (exe, cwd) by walking dentries and mounts, as the task sees them
 * (up to the root of its mount namespace). bpf_d_path is not usable from
 * tracepoint programs, so this is the usual approximation: no " (deleted)"
 * suffix, at most KESTREL_MAX_PATH_COMPONENTS components (else the result is
 * the tail of the path and KESTREL_F_TRUNCATED is set).
 */
#ifndef KESTREL_PATH_H
#define KESTREL_PATH_H

#include "kestrel_emit.h"

#define KESTREL_NAME_MAX 255

static __always_inline void ev_kernel_path(struct kestrel_scratch *s, __u32 idx, const struct path *path)
{
	__u32 zero = 0;
	struct kestrel_path_scratch *ps = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!ps || !path) {
		ev_empty(s, idx);
		return;
	}
	struct dentry *dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	if (!dentry || !vfsmnt) {
		ev_empty(s, idx);
		return;
	}
	if (!ev_room(s, idx))
		return;
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct mount *mnt = (void *)vfsmnt - mnt_off;
	int n = 0, complete = 0;

	/* Walk leaf to root; component i goes to names[i] (length 0: a mount
	 * crossing). Both continuing branches leave the same verifier state. */
	for (int i = 0; i < KESTREL_MAX_PATH_COMPONENTS; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == mnt_root) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (!mnt_parent || mnt_parent == mnt) {
				complete = 1; /* root of the mount tree */
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (void *)mnt_parent + mnt_off;
			ps->lens[i] = 0;
			n = i + 1;
			continue;
		}
		if (!parent || dentry == parent) {
			complete = 1; /* root of a filesystem outside the mount tree */
			break;
		}
		__u32 len = BPF_CORE_READ(dentry, d_name.len);
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		if (len > KESTREL_NAME_MAX)
			len = KESTREL_NAME_MAX;
		if (bpf_probe_read_kernel(ps->names[i], len & KESTREL_NAME_MAX, name))
			len = 0;
		ps->lens[i] = len;
		dentry = parent;
		n = i + 1;
	}
	if (!complete)
		s->flags |= KESTREL_F_TRUNCATED;

	/* Copy root to leaf: "/" name for each component. */
	__u32 base = s->off & KESTREL_DATA_LIMIT;
	__u32 a = 0;
	for (int j = KESTREL_MAX_PATH_COMPONENTS - 1; j >= 0; j--) {
		if (j >= n)
			continue;
		__u32 len = ps->lens[j] & KESTREL_NAME_MAX;
		if (a + len + 1 > KESTREL_MAX_PATH) {
			s->flags |= KESTREL_F_TRUNCATED;
			break;
		}
		s->buf[base + (a & (KESTREL_MAX_PATH - 1))] = '/';
		bpf_probe_read_kernel(s->buf + base + ((a + 1) & (KESTREL_MAX_PATH - 1)), len, ps->names[j]);
		a += len + ((len + KESTREL_NAME_MAX) >> 8); /* len ? len + 1 : 0, branch-free */
	}
	if (a == 0) {
		s->buf[base] = '/';
		a = 1;
	}
	a &= 2 * KESTREL_MAX_PATH - 1;
	ev_set_len(s, idx, a);
	s->off = base + a;
}

static __always_inline void ev_task_cwd(struct kestrel_scratch *s, __u32 idx, struct task_struct *task)
{
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	if (!fs) {
		ev_empty(s, idx);
		return;
	}
	ev_kernel_path(s, idx, &fs->pwd);
}

static __always_inline void ev_file_path(struct kestrel_scratch *s, __u32 idx, struct file *file)
{
	if (!file) {
		ev_empty(s, idx);
		return;
	}
	ev_kernel_path(s, idx, &file->f_path);
}

/* Inode timestamps moved across kernels: i_ctime/i_mtime (timespec64) before 6.6,
 * __i_ctime from 6.6, __i_mtime from 6.7, i_ctime_sec/i_ctime_nsec... from 6.11. */
struct inode___pre66 {
	struct timespec64 i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___v66 {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

struct inode___v67 {
	struct timespec64 __i_ctime;
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));

static __always_inline __u64 ts_ns(__s64 sec, __s64 nsec)
{
	return sec < 0 ? 0 : (__u64)sec * 1000000000ull + (__u64)nsec;
}

static __always_inline void inode_times(struct inode *inode, __u64 *ctime, __u64 *mtime)
{
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		/* bit 31 of i_ctime_nsec is the multigrain I_CTIME_QUERIED flag (6.13+) */
		*ctime = ts_ns(BPF_CORE_READ(inode, i_ctime_sec), BPF_CORE_READ(inode, i_ctime_nsec) & 0x7fffffff);
		*mtime = ts_ns(BPF_CORE_READ(inode, i_mtime_sec), BPF_CORE_READ(inode, i_mtime_nsec));
		return;
	}
	struct inode___v67 *v67 = (void *)inode;
	if (bpf_core_field_exists(v67->__i_mtime)) {
		*ctime = ts_ns(BPF_CORE_READ(v67, __i_ctime.tv_sec), BPF_CORE_READ(v67, __i_ctime.tv_nsec));
		*mtime = ts_ns(BPF_CORE_READ(v67, __i_mtime.tv_sec), BPF_CORE_READ(v67, __i_mtime.tv_nsec));
		return;
	}
	struct inode___v66 *v66 = (void *)inode;
	if (bpf_core_field_exists(v66->__i_ctime)) {
		*ctime = ts_ns(BPF_CORE_READ(v66, __i_ctime.tv_sec), BPF_CORE_READ(v66, __i_ctime.tv_nsec));
		*mtime = ts_ns(BPF_CORE_READ(v66, i_mtime.tv_sec), BPF_CORE_READ(v66, i_mtime.tv_nsec));
		return;
	}
	struct inode___pre66 *old = (void *)inode;
	*ctime = ts_ns(BPF_CORE_READ(old, i_ctime.tv_sec), BPF_CORE_READ(old, i_ctime.tv_nsec));
	*mtime = ts_ns(BPF_CORE_READ(old, i_mtime.tv_sec), BPF_CORE_READ(old, i_mtime.tv_nsec));
}

#define KESTREL_OVERLAYFS_SUPER_MAGIC 0x794c7630

/* Inode number, times and overlayfs layer of the executed file. struct ovl_inode (in the
 * overlay module, whose BTF is not in vmlinux) has `struct dentry *__upperdentry` right after
 * its embedded `struct inode vfs_inode`: non-NULL when the file has an upper-layer copy. */
static __always_inline void exec_exe_info(struct kestrel_exec *f, struct file *file)
{
	if (!file)
		return;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if (!inode)
		return;
	f->exe_ino = BPF_CORE_READ(inode, i_ino);
	inode_times(inode, &f->exe_ctime_ns, &f->exe_mtime_ns);
	f->exe_flags |= KESTREL_EXE_KNOWN;
	if (BPF_CORE_READ(inode, i_sb, s_magic) != KESTREL_OVERLAYFS_SUPER_MAGIC)
		return;
	f->exe_flags |= KESTREL_EXE_OVERLAY;
	struct dentry *upper = 0;
	if (!bpf_probe_read_kernel(&upper, sizeof(upper), (char *)inode + bpf_core_type_size(struct inode)) && upper)
		f->exe_flags |= KESTREL_EXE_UPPER_LAYER;
}

static __always_inline void ev_task_exe(struct kestrel_scratch *s, __u32 idx, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	ev_file_path(s, idx, exe);
}

#endif /* KESTREL_PATH_H */

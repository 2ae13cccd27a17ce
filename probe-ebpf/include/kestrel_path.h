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

static __always_inline void ev_task_exe(struct kestrel_scratch *s, __u32 idx, struct task_struct *task)
{
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	ev_file_path(s, idx, exe);
}

#endif /* KESTREL_PATH_H */

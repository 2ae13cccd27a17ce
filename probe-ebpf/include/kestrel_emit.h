/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Building one event in the per-CPU scratch and sending it to the ring buffer.
 *
 *   struct kestrel_scratch *s = ev_begin(task, KIND, nr, ret, sizeof(struct kestrel_open), NPARAMS);
 *   if (!s) return;
 *   struct kestrel_open *f = ev_fixed(s);   // zeroed by ev_begin
 *   f->flags = ...;
 *   ev_user_str(s, 0, uptr);                // params, in index order, each exactly once
 *   ev_submit(s);
 *
 * Every param start offset is masked with KESTREL_DATA_LIMIT and every param is
 * at most KESTREL_MAX_PATH bytes, so the verifier can prove all writes stay in
 * the scratch; params that would start past the limit are emitted empty with
 * KESTREL_F_TRUNCATED.
 */
#ifndef KESTREL_EMIT_H
#define KESTREL_EMIT_H

#include "kestrel_maps.h"
#include "kestrel_task.h"

_Static_assert(sizeof(struct kestrel_event_header) == KESTREL_HEADER_BYTES, "header size");
_Static_assert(KESTREL_DATA_LIMIT + KESTREL_MAX_PATH < KESTREL_MAX_EVENT_BYTES, "event bound");
/* argv from a user array: base <= DATA_LIMIT, offset < MAX_ARGV, size <= MAX_ARGV */
_Static_assert(KESTREL_DATA_LIMIT + 2 * KESTREL_MAX_ARGV <= KESTREL_SCRATCH_BYTES, "scratch bound");

/* Fills the common header for the current task and zeroes the fixed part;
 * NULL if the scratch is unavailable. fixed_len: multiple of 8, at most 64. */
static __always_inline struct kestrel_scratch *ev_begin(struct task_struct *task, __u16 kind, __u32 nr,
							__s64 ret, __u32 fixed_len, __u32 nparams)
{
	__u32 zero = 0;
	struct kestrel_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return NULL;
	struct kestrel_event_header *h = (void *)s->buf;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->ret = ret;
	h->len = 0;
	h->kind = kind;
	h->flags = 0;
	h->syscall_nr = nr;
	h->tid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	task_fill_ids(task, h);
	h->nparams = nparams;
	h->fixed_len = fixed_len;
	/* task->comm is always NUL-terminated within its 16 bytes: two loads, no helper */
	*(__u64 *)&h->comm[0] = *(__u64 *)&task->comm[0];
	*(__u64 *)&h->comm[8] = *(__u64 *)&task->comm[8];

	__u64 *fixed = (void *)(s->buf + sizeof(*h));
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (i * 8 >= fixed_len)
			break;
		fixed[i] = 0;
	}
	s->lens = sizeof(*h) + fixed_len;
	s->off = s->lens + 2 * nparams;
	s->flags = 0;
	return s;
}

static __always_inline void *ev_fixed(struct kestrel_scratch *s)
{
	return s->buf + sizeof(struct kestrel_event_header);
}

static __always_inline void ev_set_len(struct kestrel_scratch *s, __u32 idx, __u32 len)
{
	__u32 at = s->lens + 2 * idx;
	*(__u16 *)(s->buf + (at & 255)) = len;
}

static __always_inline void ev_read_failed(struct kestrel_scratch *s)
{
	s->flags |= KESTREL_F_READ_FAILED;
	count_drop(KESTREL_DROP_READ_FAILED);
}

/* An empty parameter. */
static __always_inline void ev_empty(struct kestrel_scratch *s, __u32 idx)
{
	ev_set_len(s, idx, 0);
}

/* Records a string result n (bytes incl. NUL, or < 0) of a *_str read at off. */
static __always_inline void ev_str_done(struct kestrel_scratch *s, __u32 idx, __u32 off, long n, __u32 max)
{
	if (n <= 0) {
		if (n < 0)
			ev_read_failed(s);
		n = 0;
	} else {
		if (n >= max)
			s->flags |= KESTREL_F_TRUNCATED;
		n -= 1; /* drop the NUL */
	}
	n &= KESTREL_MAX_PATH - 1;
	ev_set_len(s, idx, n);
	s->off = off + n;
}

/* 1 if param idx may start; else emits it empty (event full) and returns 0. */
static __always_inline int ev_room(struct kestrel_scratch *s, __u32 idx)
{
	if (s->off > KESTREL_DATA_LIMIT) {
		s->flags |= KESTREL_F_TRUNCATED;
		ev_set_len(s, idx, 0);
		return 0;
	}
	return 1;
}

/* NUL-terminated string from user memory (up to KESTREL_MAX_PATH). */
static __always_inline void ev_user_str(struct kestrel_scratch *s, __u32 idx, const void *uptr)
{
	if (!uptr) {
		ev_empty(s, idx);
		return;
	}
	if (!ev_room(s, idx))
		return;
	__u32 off = s->off & KESTREL_DATA_LIMIT;
	long n = bpf_probe_read_user_str(s->buf + off, KESTREL_MAX_PATH, uptr);
	ev_str_done(s, idx, off, n, KESTREL_MAX_PATH);
}

/* NUL-terminated string from kernel memory (up to KESTREL_MAX_PATH). */
static __always_inline void ev_kernel_str(struct kestrel_scratch *s, __u32 idx, const void *kptr)
{
	if (!kptr) {
		ev_empty(s, idx);
		return;
	}
	if (!ev_room(s, idx))
		return;
	__u32 off = s->off & KESTREL_DATA_LIMIT;
	long n = bpf_probe_read_kernel_str(s->buf + off, KESTREL_MAX_PATH, kptr);
	ev_str_done(s, idx, off, n, KESTREL_MAX_PATH);
}

/* len raw bytes (clamped to max <= KESTREL_MAX_PATH) from user or kernel memory. */
static __always_inline void ev_bytes(struct kestrel_scratch *s, __u32 idx, const void *ptr, __u64 len, __u32 max,
				     int user)
{
	if (!ptr || !len) {
		ev_empty(s, idx);
		return;
	}
	if (!ev_room(s, idx))
		return;
	if (len > max) {
		len = max;
		s->flags |= KESTREL_F_TRUNCATED;
	}
	__u32 off = s->off & KESTREL_DATA_LIMIT;
	__u32 n = len & (2 * KESTREL_MAX_PATH - 1);
	if (n > KESTREL_MAX_PATH)
		n = KESTREL_MAX_PATH;
	long err = user ? bpf_probe_read_user(s->buf + off, n, ptr) : bpf_probe_read_kernel(s->buf + off, n, ptr);
	if (err) {
		ev_read_failed(s);
		n = 0;
	}
	ev_set_len(s, idx, n);
	s->off = off + n;
}

/* Sends the event. Wake-ups are batched: the reader is only woken when this
 * event makes the unread data cross kestrel_wakeup_threshold (threshold 0:
 * the kernel's default policy, a wake-up whenever the reader has caught up).
 * The reader also polls on a short timer, so nothing waits long. */
static __always_inline void ev_submit(struct kestrel_scratch *s)
{
	struct kestrel_event_header *h = (void *)s->buf;
	__u32 len = s->off;
	if (len > KESTREL_MAX_EVENT_BYTES)
		len = KESTREL_MAX_EVENT_BYTES;
	h->len = len;
	h->flags = s->flags;

	__u64 thr = kestrel_wakeup_threshold;
	__u64 flags = 0;
	if (thr) {
		__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
		flags = (avail < thr && avail + len >= thr) ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	if (bpf_ringbuf_output(&events, s->buf, len, flags))
		count_drop(KESTREL_DROP_RINGBUF_FULL);
}

#endif /* KESTREL_EMIT_H */

/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * Maps of the Kestrel probe. The user side (src/loader.rs) refers to them by
 * these names; sizes marked "set by the loader" are overridden at load time.
 */
#ifndef KESTREL_MAPS_H
#define KESTREL_MAPS_H

#include "kestrel_event.h"

/* Load-time configuration (.rodata, set by the loader with override_global). */
/* Wake the reader when the unread data in the ring buffer crosses this. */
const volatile __u64 kestrel_wakeup_threshold = 256 * 1024;

/* The only ring buffer: every event goes here. Size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* wanted[nr] != 0: syscall nr is captured; the value's enum kestrel_want bits
 * select successful and/or failed calls. Slots KESTREL_SLOT_PROC_* enable the
 * lifecycle events. Written by the user side only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KESTREL_WANTED_SLOTS);
	__type(key, __u32);
	__type(value, __u8);
} wanted SEC(".maps");

/* Processes (tgid) whose syscalls and lifecycle events are not captured. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} ignored_tgids SEC(".maps");

/* Per-CPU counters indexed by enum kestrel_drop_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KESTREL_DROP_NR);
	__type(key, __u32);
	__type(value, __u64);
} drop_counts SEC(".maps");

/* Syscall arguments saved at sys_enter, consumed at sys_exit. Not ABI. */
struct kestrel_stash {
	__u64 args[6];
	__u32 nr;
	__u32 aux;    /* clone: child host tid (set by sched_process_fork);
			 execve: tid before exec (set by sched_process_exec) */
	__u32 active; /* set at sys_enter, cleared at sys_exit */
	__u32 _pad;
};

/*
 * The per-thread stash is task-local storage: one slot per thread (task_struct),
 * found without hashing or a global lock, freed with the thread, and kept by a
 * thread whose tid changes when it execs from a non-leader thread. (Measured on
 * the 6.18 VM: a hash map keyed by tid cost ~190 ns per sys_enter for the update
 * alone.) Kernel-only: the loader creates it without user-space access.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct kestrel_stash);
} stash SEC(".maps");

/* execve/execveat filename read at sys_enter (the old mm is gone at exit);
 * created at sys_enter, deleted at sys_exit. */
struct kestrel_exec_filename {
	char path[KESTREL_MAX_PATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct kestrel_exec_filename);
} exec_filenames SEC(".maps");

/* Per-CPU scratch the event is built in before bpf_ringbuf_output, with the
 * builder's state. The state lives in the map (not on the stack) on purpose:
 * values read back from map memory are unknown to the verifier, so the states
 * of the many paths through a parameter (string lengths, path components)
 * converge again right after it instead of multiplying. */
struct kestrel_scratch {
	__u8 buf[KESTREL_SCRATCH_BYTES];
	__u32 off;   /* where the next param's bytes go */
	__u32 lens;  /* offset of param_len[0] */
	__u32 flags; /* header flags accumulated while filling */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kestrel_scratch);
} scratch SEC(".maps");

/* Per-CPU scratch for kernel paths: the dentry walk stores component i in
 * names[i] (fixed offsets, so the walk has no variable-offset writes), then
 * the components are copied into the event root first. */
#define KESTREL_NAME_SLOT 256
struct kestrel_path_scratch {
	__u8 names[KESTREL_MAX_PATH_COMPONENTS][KESTREL_NAME_SLOT];
	__u16 lens[KESTREL_MAX_PATH_COMPONENTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kestrel_path_scratch);
} path_scratch SEC(".maps");

static __always_inline void count_drop(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&drop_counts, &reason);
	if (c)
		*c += 1;
}

/* The wanted-map value of slot (0: not wanted; else enum kestrel_want bits). */
static __always_inline __u8 wanted_bits(__u32 slot)
{
	__u8 *w = bpf_map_lookup_elem(&wanted, &slot);
	return w ? *w : 0;
}

static __always_inline int is_wanted(__u32 slot)
{
	return wanted_bits(slot) != 0;
}

static __always_inline int is_ignored(__u32 tgid)
{
	return bpf_map_lookup_elem(&ignored_tgids, &tgid) != NULL;
}

#endif /* KESTREL_MAPS_H */

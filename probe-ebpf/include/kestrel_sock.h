/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/* Socket addresses read from the kernel socket behind an fd. */
#ifndef KESTREL_SOCK_H
#define KESTREL_SOCK_H

#include "kestrel_emit.h"

#define KESTREL_AF_UNIX 1
#define KESTREL_AF_INET 2
#define KESTREL_AF_INET6 10
#define KESTREL_SUN_PATH_MAX 108

/* task->files->fdt->fd[fd]->private_data, checked to be a socket (socket->file
 * points back at the file). NULL when fd is not an open socket. */
static __always_inline struct socket *task_fd_socket(struct task_struct *task, long fd)
{
	if (fd < 0)
		return NULL;
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt)
		return NULL;
	unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max_fds)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return sock;
}

/* sun_path bound to an AF_UNIX sock (unix_sk(sk)->addr). */
static __always_inline void ev_unix_addr(struct kestrel_scratch *s, __u32 idx, struct sock *sk)
{
	if (!sk) {
		ev_empty(s, idx);
		return;
	}
	struct unix_sock *us = (struct unix_sock *)sk;
	struct unix_address *addr = BPF_CORE_READ(us, addr);
	if (!addr) {
		ev_empty(s, idx);
		return;
	}
	int len = BPF_CORE_READ(addr, len) - (int)sizeof(__u16); /* minus sun_family */
	if (len <= 0) {
		ev_empty(s, idx);
		return;
	}
	void *sun_path = (void *)addr + bpf_core_field_offset(struct unix_address, name) + sizeof(__u16);
	ev_bytes(s, idx, sun_path, len, KESTREL_SUN_PATH_MAX, 0);
}

/* Fills the tuple from `sock` and the two AF_UNIX params (empty for other families). */
static __always_inline void ev_sock_tuple(struct kestrel_scratch *s, struct kestrel_sock_tuple *t, struct socket *sock,
					  __u32 idx_local_unix, __u32 idx_peer_unix)
{
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk) {
		ev_empty(s, idx_local_unix);
		ev_empty(s, idx_peer_unix);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->family = family;
	t->type = BPF_CORE_READ(sk, sk_type);
	t->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (family == KESTREL_AF_INET || family == KESTREL_AF_INET6) {
		t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
		t->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
	if (family == KESTREL_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)t->local_addr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->remote_addr, sk, __sk_common.skc_daddr);
	} else if (family == KESTREL_AF_INET6) {
		BPF_CORE_READ_INTO((struct in6_addr *)t->local_addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)t->remote_addr, sk, __sk_common.skc_v6_daddr);
	}
	if (family == KESTREL_AF_UNIX) {
		ev_unix_addr(s, idx_local_unix, sk);
		ev_unix_addr(s, idx_peer_unix, BPF_CORE_READ((struct unix_sock *)sk, peer));
	} else {
		ev_empty(s, idx_local_unix);
		ev_empty(s, idx_peer_unix);
	}
}

#endif /* KESTREL_SOCK_H */

/* The host memory one process may use for its runs: an even share, among the CPU workers of the
 * host, of what the host has available when they start. Allocations past it fail (LC_ERR_OOM, a
 * clear line, exit 1) instead of waking the kernel's OOM killer: the device's own buffers are
 * held to the share, and the process's data limit (RLIMIT_DATA) makes any other allocation,
 * a kernel's tile lists or a reference copy, fail in the same way. */
#ifndef LC_HOST_MEMORY_H
#define LC_HOST_MEMORY_H

#include <stddef.h>

/* MemAvailable (what can be had without swapping), or the physical total where it is unknown. */
size_t host_memory_available(void);
/* Takes this process's share of the available memory among processes_on_host; call it once,
 * on a process that runs on the CPU only (a GPU runtime maps large regions of its own). */
void host_memory_take_share(int processes_on_host);
/* Bytes this process may hold in run buffers: its share once taken, else 90 % of the host's. */
size_t host_memory_share(void);
/* Workers the share was divided among (1 before it was taken). */
int host_memory_sharers(void);

#endif

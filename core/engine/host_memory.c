/* The host memory share (core/engine/host_memory.h). */
#define _DEFAULT_SOURCE /* getrlimit */
#include "core/engine/host_memory.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Room above the share for the process itself: MPI's buffers, thread stacks, the event queues. */
#define HOST_MEMORY_OVERHEAD ((size_t)512 << 20)

static size_t share_bytes;
static int sharers = 1;

size_t host_memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) break;
    if (f) fclose(f);
    if (kib) return (size_t)kib << 10;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
}

void host_memory_take_share(int processes_on_host)
{
    size_t avail = host_memory_available();
    if (!avail) return;
    sharers = processes_on_host > 0 ? processes_on_host : 1;
    share_bytes = avail / 10 * 9 / (size_t)sharers;
#if !defined(__SANITIZE_ADDRESS__) /* AddressSanitizer's shadow memory counts as data */
    struct rlimit lim;
    rlim_t want = (rlim_t)(share_bytes + HOST_MEMORY_OVERHEAD);
    if (getrlimit(RLIMIT_DATA, &lim) == 0 && (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > want)) {
        lim.rlim_cur = want;
        setrlimit(RLIMIT_DATA, &lim);
    }
#endif
}

size_t host_memory_share(void)
{
    if (share_bytes) return share_bytes;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 10 * 9 : 0;
}

int host_memory_sharers(void) { return sharers; }

#include "profiling/nvtx.h"

#if defined(LONGCA_HAVE_CUDA)
#include <nvtx3/nvToolsExt.h>
#include <pthread.h>
#include <stdio.h>

enum { LEVEL_RUN = 0, LEVEL_ITER, LEVEL_STEP, LEVELS };

static const char *const level_format[LEVELS] = {"run %d", "iter %d", "cp step %d"};
static const uint32_t level_color[LEVELS] = {0xFF4E79A7u, 0xFF59A14Fu, 0xFFF28E2Bu};
static const char *const level_category[LEVELS] = {"run", "iteration", "cp step"};

static nvtxDomainHandle_t domain;
static pthread_once_t domain_once = PTHREAD_ONCE_INIT;

static void create_domain(void)
{
    domain = nvtxDomainCreateA("longca");
    for (int l = 0; l < LEVELS; l++) nvtxDomainNameCategoryA(domain, (uint32_t)l + 1, level_category[l]);
}

/* What this thread has open: the value of each level, -1 where no range is open. */
static _Thread_local int open_value[LEVELS] = {-1, -1, -1};

static void push(int level, int value)
{
    char message[32];
    snprintf(message, sizeof message, level_format[level], value);
    nvtxEventAttributes_t a = {0};
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.category = (uint32_t)level + 1;
    a.colorType = NVTX_COLOR_ARGB;
    a.color = level_color[level];
    a.payloadType = NVTX_PAYLOAD_TYPE_INT64;
    a.payload.llValue = value;
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = message;
    nvtxDomainRangePushEx(domain, &a);
}

void prof_nvtx_mark(int run_id, int iter, int cp_step)
{
    pthread_once(&domain_once, create_domain);
    const int next[LEVELS] = {run_id, iter, cp_step};
    int first = 0;
    while (first < LEVELS && open_value[first] == (next[first] < 0 ? -1 : next[first])) first++;
    for (int l = LEVELS - 1; l >= first; l--)
        if (open_value[l] >= 0) {
            nvtxDomainRangePop(domain);
            open_value[l] = -1;
        }
    for (int l = first; l < LEVELS; l++)
        if (next[l] >= 0) {
            push(l, next[l]);
            open_value[l] = next[l];
        }
}

#else

void prof_nvtx_mark(int run_id, int iter, int cp_step)
{
    (void)run_id, (void)iter, (void)cp_step; /* no NVTX headers without CUDA: nothing can listen */
}

#endif

/* What a device activity record is, from its name. CUPTI reports kernels by their mangled
 * symbol: NCCL's are `ncclDevKernel_<Coll>_...` (`ncclSymkDevKernel_...` for symmetric memory,
 * `ncclKernel_...` before 2.19), matched as substrings so mangling does not hide them. */
#ifndef LC_PROF_KERNEL_NAMES_H
#define LC_PROF_KERNEL_NAMES_H

#include <stddef.h>

#include "core/model/event.h"

/* IV_COMM for NCCL kernels, IV_MEMORY for memcpy / memset work, IV_COMPUTE otherwise. */
enum interval_kind prof_kernel_kind(const char *name);

/* A readable name in out (len bytes, NUL-terminated): the qualified function name of an
 * Itanium-mangled symbol without template arguments or parameters
 * ("_ZN5flash9fwd_kernelILi128EEEvNS_6ParamsE" -> "flash::fwd_kernel"); leading scopes are
 * dropped first when it does not fit. Names that are not mangled, or that this small reader
 * cannot follow, are copied (truncated). Kineto and HTA show demangled names too, and HTA
 * recognises NCCL kernels by a name that starts with "nccl". */
void prof_kernel_short_name(const char *name, char *out, size_t len);

#endif

/* NVTX3 ranges in the "longca" domain for each run, timed iteration and CP step, so Nsight
 * Systems (or any NVTX tool) shows where the work of each comes from. Header-only NVTX: with no
 * tool attached every call returns at once. Built without CUDA, these do nothing. */
#ifndef LC_PROF_NVTX_H
#define LC_PROF_NVTX_H

/* The calling thread is now in run_id / iter / cp_step (-1: outside): ranges of the levels that
 * changed are closed (innermost first) and the new ones opened ("run 3", "iter 7",
 * "cp step 2", the number also as payload). Ranges nest per thread, as NVTX push/pop do. */
void prof_nvtx_mark(int run_id, int iter, int cp_step);

#endif

/* Registers every kernel this build has into core's registry (CPU always, CUDA when built). */
#ifndef LC_KERNELS_H
#define LC_KERNELS_H

void kernels_register_all(void);

#endif

/* Element types of attention inputs, and host-side conversions (round to nearest even). */
#ifndef LC_DTYPE_H
#define LC_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum lc_dtype { LC_FP32 = 0, LC_BF16, LC_FP16, LC_DTYPE_COUNT };

const char *dtype_name(enum lc_dtype dtype);
int dtype_parse(const char *name, enum lc_dtype *out); /* 0 on success */
size_t dtype_size(enum lc_dtype dtype);
/* Tolerance used by --check: max |out - ref| must stay under atol + rtol * |ref|. */
void dtype_tolerance(enum lc_dtype dtype, double *atol, double *rtol);

static inline uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

/* Convert n floats into buf of the given dtype, and back. */
void dtype_from_f32(enum lc_dtype dtype, void *dst, const float *src, size_t n);
void dtype_to_f32(enum lc_dtype dtype, float *dst, const void *src, size_t n);

#endif

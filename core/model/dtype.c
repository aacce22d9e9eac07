#include "core/model/dtype.h"

#include <math.h>

const char *dtype_name(enum lc_dtype dtype)
{
    switch (dtype) {
    case LC_FP32: return "fp32";
    case LC_BF16: return "bf16";
    case LC_FP16: return "fp16";
    default: return "?";
    }
}

int dtype_parse(const char *name, enum lc_dtype *out)
{
    for (int d = 0; d < LC_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_name((enum lc_dtype)d)) == 0) {
            *out = (enum lc_dtype)d;
            return 0;
        }
    return -1;
}

size_t dtype_size(enum lc_dtype dtype) { return dtype == LC_FP32 ? 4 : 2; }

void dtype_tolerance(enum lc_dtype dtype, double *atol, double *rtol)
{
    /* Outputs are averages of V rows; bf16 keeps 8 mantissa bits, fp16 11. */
    switch (dtype) {
    case LC_FP32: *atol = 1e-4; *rtol = 1e-3; break;
    case LC_FP16: *atol = 4e-3; *rtol = 1e-2; break;
    default: *atol = 2e-2; *rtol = 2e-2; break;
    }
}

uint16_t f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (absu < 0x38800000u) {                                   /* subnormal half */
        float a;
        memcpy(&a, &absu, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f)); /* a / 2^-24 */
    }
    uint32_t mant = absu + 0xfffu + ((absu >> 13) & 1u);
    return (uint16_t)(sign | ((mant - 0x38000000u) >> 13));
}

float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    float f;
    if (exp == 0) {
        f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    uint32_t u = exp == 31 ? sign | 0x7f800000u | (mant << 13) : sign | ((exp + 112u) << 23) | (mant << 13);
    memcpy(&f, &u, 4);
    return f;
}

void dtype_from_f32(enum lc_dtype dtype, void *dst, const float *src, size_t n)
{
    if (dtype == LC_FP32) {
        memcpy(dst, src, n * 4);
        return;
    }
    uint16_t *out = dst;
    for (size_t i = 0; i < n; i++) out[i] = dtype == LC_BF16 ? f32_to_bf16(src[i]) : f32_to_f16(src[i]);
}

void dtype_to_f32(enum lc_dtype dtype, float *dst, const void *src, size_t n)
{
    if (dtype == LC_FP32) {
        memcpy(dst, src, n * 4);
        return;
    }
    const uint16_t *in = src;
    for (size_t i = 0; i < n; i++) dst[i] = dtype == LC_BF16 ? bf16_to_f32(in[i]) : f16_to_f32(in[i]);
}

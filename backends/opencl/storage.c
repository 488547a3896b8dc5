/* backends/opencl/storage.c - host <-> device storage conversions: at the
 * partition's seams (run) and for the weight upload (realise). float32 is
 * stored as float, or as half in fp16 (converted here, round to nearest
 * even); bool as 0/1 in the same type; the integer dtypes as long. */
#include <math.h>
#include <string.h>

#include "ocl_builder.h"

uint16_t ocl_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xffu) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) ++h;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h; /* may carry into the exponent: still right */
    return (uint16_t)(sign | h);
}

float ocl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) x = sign | 0x7f800000u | (man << 13);
    else x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

int ocl_needs_stage(const ocl_state *s, engine_dtype dt) {
    return dt == ENGINE_DTYPE_I64 ? 0 : dt == ENGINE_DTYPE_F32 ? s->fp16 : 1;
}

void ocl_to_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count) {
    if (dclass(dt) == 1) {
        for (size_t e = 0; e < count; ++e) ((int64_t *)dst)[e] = int_at(dt, src, e);
        return;
    }
    for (size_t e = 0; e < count; ++e) {
        float v = dt == ENGINE_DTYPE_BOOL ? (float)(((const uint8_t *)src)[e] != 0) : ((const float *)src)[e];
        if (s->fp16) ((uint16_t *)dst)[e] = ocl_f32_to_f16(v);
        else ((float *)dst)[e] = v;
    }
}

void ocl_from_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count) {
    if (dclass(dt) == 1) {
        /* the kernels keep values wrapped to the width: plain narrowing */
        const int64_t *q = src;
        for (size_t e = 0; e < count; ++e) {
            switch (dt) {
            case ENGINE_DTYPE_I64: ((int64_t *)dst)[e] = q[e]; break;
            case ENGINE_DTYPE_I32: ((int32_t *)dst)[e] = (int32_t)q[e]; break;
            case ENGINE_DTYPE_I8: ((int8_t *)dst)[e] = (int8_t)q[e]; break;
            default: ((uint8_t *)dst)[e] = (uint8_t)q[e]; break;
            }
        }
        return;
    }
    for (size_t e = 0; e < count; ++e) {
        float v = s->fp16 ? ocl_f16_to_f32(((const uint16_t *)src)[e]) : ((const float *)src)[e];
        if (dt == ENGINE_DTYPE_BOOL) ((uint8_t *)dst)[e] = v != 0.0f;
        else ((float *)dst)[e] = v;
    }
}

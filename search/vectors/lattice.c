/* lattice.c - a query's unigram segmentation over the encoder's pieces (see pieces.py).
 *
 * The same lattice and the same arithmetic as Pieces._segment in pieces.py, which
 * follows sentencepiece's EncodeOptimized: every substring of the normalised text
 * (UTF-8, whole characters, up to the longest piece) is looked up among the pieces
 * by its CRC-32 (the sorted ``crc`` array, ``ids`` in the same order; ``buckets``
 * holds where each value of a CRC's top 16 bits begins in it, so that a look-up reads
 * one bucket of about two entries instead of binary-searching 128k) and confirmed
 * byte for byte; the best-scoring path wins, scores rounded to single
 * precision at each step as the library's are (a user-defined piece's bonus is
 * compared before rounding, as the library compares it in double precision); a
 * character no single piece covers costs the unknown score; a run of unknown
 * tokens is merged into one. The CRC of a substring is extended a byte at a time
 * from the one before it, so each start costs one pass over at most ``longest``
 * bytes. Python does the same in about 2 ms a headline; this in 0.13 ms, normalisation
 * included (bench/pieces.py; 0.36 ms by binary search).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t crc_table[256];

__attribute__((constructor)) static void crc_init(void) {  /* once, as the library loads */
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

/* The arguments lattice_segment takes (2: buckets instead of the pieces' count): a library
 * built from an older source is not called with them (pieces.py checks it). */
int64_t lattice_version(void) { return 2; }

/* The id of the piece whose bytes are data[0:length] and whose CRC-32 is crc, or -1. */
static int32_t find(uint32_t crc, const uint8_t *data, int64_t length, const uint32_t *crcs,
                    const int32_t *ids, const uint32_t *buckets, const int64_t *starts, const uint8_t *bytes) {
    for (uint32_t at = buckets[crc >> 16], end = buckets[(crc >> 16) + 1]; at < end; at++) {
        if (crcs[at] != crc) continue;
        int32_t id = ids[at];
        if (starts[id + 1] - starts[id] == length && memcmp(bytes + starts[id], data, (size_t)length) == 0)
            return id;
    }
    return -1;
}

/* Writes the ids of data[0:size]'s pieces to out (room for size ids) and returns how many,
 * or -1 if memory ran out. */
int64_t lattice_segment(const uint8_t *data, int64_t size, const uint32_t *crcs, const int32_t *ids,
                        const uint32_t *buckets, const int64_t *starts, const uint8_t *bytes, const float *scores,
                        const uint8_t *user, double max_score, double unk_score, int64_t longest,
                        int32_t *out) {
    if (size <= 0) return 0;
    double *score = malloc(sizeof(double) * (size_t)(size + 1));
    int64_t *start = malloc(sizeof(int64_t) * (size_t)(size + 1));
    int32_t *piece_at = malloc(sizeof(int32_t) * (size_t)(size + 1));
    int64_t *chars = malloc(sizeof(int64_t) * (size_t)(size + 1));
    if (!score || !start || !piece_at || !chars) {
        free(score); free(start); free(piece_at); free(chars);
        return -1;
    }
    int64_t n = 0;
    for (int64_t i = 0; i < size; i++)
        if ((data[i] & 0xC0) != 0x80) chars[n++] = i;
    chars[n] = size;
    for (int64_t i = 0; i <= size; i++) { score[i] = 0.0; start[i] = -1; piece_at[i] = 0; }
    for (int64_t k = 0; k < n; k++) {
        int64_t a = chars[k], next_char = chars[k + 1];
        double base = score[a];
        int single = 0;
        uint32_t c = 0xFFFFFFFFu;
        int64_t read = a;
        for (int64_t j = k + 1; j <= n && chars[j] - a <= longest; j++) {
            int64_t b = chars[j];
            for (; read < b; read++) c = crc_table[(c ^ data[read]) & 0xFF] ^ (c >> 8);
            int32_t piece = find(c ^ 0xFFFFFFFFu, data + a, b - a, crcs, ids, buckets, starts, bytes);
            if (piece < 0) continue;
            double candidate;
            if (user[piece])
                candidate = (double)(float)((double)(b - a) * max_score) - 0.1 + base;
            else
                candidate = (double)(float)((double)scores[piece] + base);
            if (start[b] == -1 || candidate > score[b]) {
                score[b] = (double)(float)candidate;
                start[b] = a;
                piece_at[b] = piece;
            }
            single = single || b == next_char;
        }
        double candidate = (double)(float)(unk_score + base);
        if (!single && (start[next_char] == -1 || candidate > score[next_char])) {
            score[next_char] = candidate;
            start[next_char] = a;
            piece_at[next_char] = 0;
        }
    }
    int64_t found = 0;
    for (int64_t end = size; end > 0; end = start[end]) out[found++] = piece_at[end];
    for (int64_t i = 0, j = found - 1; i < j; i++, j--) {  /* into text order */
        int32_t swap = out[i]; out[i] = out[j]; out[j] = swap;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < found; i++)  /* a run of unknowns merged into one */
        if (out[i] != 0 || kept == 0 || out[kept - 1] != 0) out[kept++] = out[i];
    free(score); free(start); free(piece_at); free(chars);
    return kept;
}

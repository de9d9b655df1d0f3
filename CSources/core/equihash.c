/*
 * equihash.c: the Equihash proof of work (Biryukov & Khovratovich): a
 * verifier and a multi-threaded solver (Wagner's algorithm), exchangeable
 * with libequihash 1.0.6 (same hash, same solution bytes; see smtorp_core.h
 * for the construction and the ordering rule).
 *
 * Untrusted input: the seed and the solution given to the verifier come from
 * a peer. Every length is checked before any byte is read, indices come out
 * of a bounded bit reader, the verifier allocates nothing and its work is
 * bounded by 2^k <= 128 hashes.
 * Specs: A. Biryukov, D. Khovratovich, "Equihash: asymmetric proof-of-work
 * based on the generalized birthday problem", NDSS 2016 (section 4: the
 * algorithm-bound proof, Wagner's algorithm with index trees); libequihash
 * 1.0.6's hash and encoding (determined by running it as an oracle).
 *
 * Solver layout (all allocated by smtorp_equihash_solver_new, reused for
 * every round and nonce, no allocation inside a solve unless a list
 * overflows its margins, which then grows the tables by a quarter and
 * redoes that nonce, so no solution is lost; after EH_REGROWS_MAX growths
 * rows beyond the margins are dropped instead, as libequihash always does.
 * That is only ever seen with a tiny d and a large k, where the list sizes
 * are unstable (a list's excess doubles every round); never at the default
 * nor anywhere d >= 12 in the tests):
 *  - a list T_r holds about 2^(d+1) rows; row = the d-bit digits r..k still
 *    to collide (one uint32 each, the XOR of its leaves) -- the leaves
 *    themselves are NOT stored;
 *  - T_r is bucket-sorted by the top d - S bits of digit r into 2^(d-S)
 *    buckets; each bucket has one fixed-size segment per thread, so threads
 *    write without atomics and a bucket (~2^(S+1) rows) stays in L1/L2;
 *  - inside a bucket, rows are chained by the low S bits of digit r
 *    (head/next arrays), which yields every pair equal on all d bits;
 *  - a pair becomes a row of T_{r+1} plus one (position, position) entry
 *    in refs[r+1]: the index tree is kept as pairs of pointers, one array
 *    per level, and walked back only for the final candidates;
 *  - two data buffers alternate between rounds (the row width shrinks by
 *    one digit each round).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "smtorp_core.h"
#include "equihash_internal.h"

#define EH_K_MAX 7u                    /* k + 1 digits of a 32-byte hash   */
#define EH_LEAVES_MAX (1u << EH_K_MAX)
#define EH_D_MIN 7u                    /* indices of d + 1 >= 8 bits       */
#define EH_D_MAX_VERIFY 31u            /* indices of d + 1 <= 32 bits      */
#define EH_D_MAX_SOLVE 28u             /* positions must fit in uint32     */
#define EH_NONCE_FIRST 2u              /* libequihash starts at 2 ...      */
#define EH_NONCE_LAST 0xFFFFFu         /* ... and stops after 0xFFFFF      */
#define EH_SUB_BITS 8u                 /* digit bits resolved in a bucket  */
#define EH_NONE 0xFFFFFFFFu
#define EH_CANDIDATES_INITIAL 64u      /* final pairs per thread and nonce */
#define EH_REGROWS_MAX 4u              /* tables at most ~2.4x the initial  */

/* ------------------------------------------------------------------ */
/* Parameters and constants                                           */
/* ------------------------------------------------------------------ */

/* (n, k) as libequihash can exchange them: 1 <= k <= 7 (k + 1 32-bit words
 * of the 32-byte digest), n a multiple of k + 1 (libequihash silently drops
 * the remainder), 7 <= d <= 31 (libequihash's bit packer breaks on indices
 * narrower than 8 bits: a shift by a negative count), and a whole number
 * of bytes of packed indices (libequihash truncates a last partial byte). */
static int eh_parameters(unsigned n, unsigned k, unsigned *d_out) {
    if (k < 1 || k > EH_K_MAX) return 0;
    if (n == 0 || n % (k + 1) != 0) return 0;
    unsigned d = n / (k + 1);
    if (d < EH_D_MIN || d > EH_D_MAX_VERIFY) return 0;
    if (((1u << k) * (d + 1)) % 8 != 0) return 0;
    if (d_out != NULL) *d_out = d;
    return 1;
}

/* What the solver takes on top: d <= 28 (positions fit in 32 bits) and
 * d >= k + 3. Below that the lists are unstable (a list's excess over
 * 2^(d+1) doubles every round) and fill up with trees that repeat an index;
 * e.g. (64, 7) finds nothing in tens of thousands of nonces, and
 * libequihash needs thousands there too. */
static int eh_solver_parameters(unsigned n, unsigned k, unsigned *d_out) {
    unsigned d;
    if (!eh_parameters(n, k, &d)) return 0;
    if (d > EH_D_MAX_SOLVE || d < k + 3) return 0;
    *d_out = d;
    return 1;
}

static int eh_seed_ok(const uint8_t *seed, size_t seed_len) {
    if (seed == NULL && seed_len > 0) return 0;
    return seed_len % 4 == 0 && seed_len <= SMTORP_EQUIHASH_SEED_MAX;
}

SMTORP_API unsigned smtorp_equihash_default_n(void) {
    return SMTORP_EQUIHASH_DEFAULT_N;
}
SMTORP_API unsigned smtorp_equihash_default_k(void) {
    return SMTORP_EQUIHASH_DEFAULT_K;
}
SMTORP_API size_t smtorp_equihash_seed_max(void) {
    return SMTORP_EQUIHASH_SEED_MAX;
}
SMTORP_API unsigned smtorp_equihash_threads_max(void) {
    return SMTORP_EQUIHASH_THREADS_MAX;
}

SMTORP_API size_t smtorp_equihash_solution_length(unsigned n, unsigned k) {
    unsigned d;
    if (!eh_parameters(n, k, &d)) return 0;
    return 4 + ((size_t)1 << k) * (d + 1) / 8;
}

SMTORP_API const char *smtorp_pow_result_string(smtorp_pow_result result) {
    switch (result) {
    case SMTORP_POW_OK:
        return "success";
    case SMTORP_POW_BAD_PARAMETERS:
        return "unsupported Equihash parameters (n, k)";
    case SMTORP_POW_BAD_SEED:
        return "seed is NULL, too long or not a multiple of 4 bytes";
    case SMTORP_POW_BAD_LENGTH:
        return "solution length does not match (n, k)";
    case SMTORP_POW_INDEX_OUT_OF_RANGE:
        return "an index is beyond the list of 2^(n/(k+1)+1)";
    case SMTORP_POW_DUPLICATE_INDEX:
        return "an index appears twice";
    case SMTORP_POW_NONZERO_XOR:
        return "the hashes do not collide (XOR not zero at some level)";
    case SMTORP_POW_WRONG_ORDER:
        return "the indices are not in canonical order";
    case SMTORP_POW_NO_MEMORY:
        return "out of memory";
    case SMTORP_POW_CANCELLED:
        return "cancelled";
    case SMTORP_POW_NO_SOLUTION:
        return "no solution for any nonce";
    case SMTORP_POW_INVALID_ARGUMENT:
        return "invalid argument";
    case SMTORP_POW_THREAD:
        return "a worker thread could not be started";
    }
    return "unknown result";
}

/* ------------------------------------------------------------------ */
/* The hash: BLAKE2b-256(seed || LE32(nonce) || LE32(index))          */
/* ------------------------------------------------------------------ */

/* Kept on the stack (the libsodium state wants 64-byte alignment). Seeds
 * that leave room in BLAKE2b's single 128-byte block are hashed in one shot
 * from `block`; longer seeds are absorbed once and the state copied. */
typedef struct eh_hasher {
    crypto_generichash_state prefix;
    uint8_t block[128];
    size_t block_len;
    int use_state;
    unsigned k, d;
} eh_hasher;

static void eh_store_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t eh_load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void eh_hasher_init(eh_hasher *h, unsigned k, unsigned d,
                           const uint8_t *seed, size_t seed_len,
                           uint32_t nonce) {
    uint8_t le_nonce[4];
    eh_store_le32(le_nonce, nonce);
    h->k = k;
    h->d = d;
    if (seed_len + 8 <= sizeof h->block) {
        h->use_state = 0;
        if (seed_len > 0) memcpy(h->block, seed, seed_len);
        memcpy(h->block + seed_len, le_nonce, 4);
        h->block_len = seed_len + 8;
    } else {
        h->use_state = 1;
        h->block_len = 0;
        (void)crypto_generichash_init(&h->prefix, NULL, 0, 32);
        (void)crypto_generichash_update(&h->prefix, seed, seed_len);
        (void)crypto_generichash_update(&h->prefix, le_nonce, 4);
    }
}

/* The k + 1 digits of `index`: digit j is the top d bits of the j-th
 * little-endian 32-bit word of the digest. */
static void eh_hash_digits(eh_hasher *h, uint32_t index, uint32_t *digits) {
    uint8_t out[32];
    if (!h->use_state) {
        eh_store_le32(h->block + h->block_len - 4, index);
        (void)crypto_generichash(out, 32, h->block, h->block_len, NULL, 0);
    } else {
        crypto_generichash_state st = h->prefix;
        uint8_t le_index[4];
        eh_store_le32(le_index, index);
        (void)crypto_generichash_update(&st, le_index, 4);
        (void)crypto_generichash_final(&st, out, 32);
    }
    for (unsigned j = 0; j <= h->k; j++)
        digits[j] = eh_load_le32(out + 4 * j) >> (32 - h->d);
}

/*
 * Four indices at once (the solver's fill, 2^(d+1) hashes, is most of a
 * solve): BLAKE2b-256 of the single final block seed || LE32(nonce) ||
 * LE32(i), one 64-bit state word of four hashes per AVX2 register. Used
 * only when the block fits in 128 bytes and the CPU and OS support AVX2;
 * otherwise, and for the verifier (which thus cross-checks every solution
 * the solver emits), libsodium's crypto_generichash.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EH_X4 1
#include <cpuid.h>
#include <immintrin.h>

static const uint64_t eh_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

static const uint8_t eh_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

static int eh_x4_disabled; /* tests and benchmarks compare both paths */

SMTORP_INTERNAL void smtorp_equihash_set_simd(int enabled) {
    eh_x4_disabled = !enabled;
}

/* AVX2 usable: the CPU has it (CPUID.7.0:EBX[5]) and the OS saves the
 * YMM registers (OSXSAVE, then XCR0 bits 1 and 2). */
static int eh_x4_supported(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v >= 0) return v;
    unsigned a, b, c, d;
    v = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) &&
        (c & (1u << 28))) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 6u) == 6u && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
            (b & (1u << 5)))
            v = 1;
    }
    __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    return v;
}

#define EH_X4_ROTR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define EH_X4_ROTR24(x) _mm256_shuffle_epi8((x), rot24)
#define EH_X4_ROTR16(x) _mm256_shuffle_epi8((x), rot16)
#define EH_X4_ROTR63(x) \
    _mm256_or_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))
#define EH_X4_G(a, b, c, d, x, y)                                  \
    do {                                                           \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), x);           \
        d = EH_X4_ROTR32(_mm256_xor_si256(d, a));                  \
        c = _mm256_add_epi64(c, d);                                \
        b = EH_X4_ROTR24(_mm256_xor_si256(b, c));                  \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), y);           \
        d = EH_X4_ROTR16(_mm256_xor_si256(d, a));                  \
        c = _mm256_add_epi64(c, d);                                \
        b = EH_X4_ROTR63(_mm256_xor_si256(b, c));                  \
    } while (0)

/* The digests' first 32 bytes of indices first..first+3, as out[i][lane]
 * = 64-bit word i (i = 0..3) of lane's digest. `m` is the message block
 * with zeros where the index goes; the index is in word `iw`, shifted by
 * `shift` (0 or 32); `len` is the block's byte count. */
__attribute__((target("avx2"))) static void eh_x4_hash(
    const uint64_t m[16], unsigned iw, unsigned shift, uint32_t first,
    uint64_t len, uint64_t out[4][4]) {
    const __m256i rot16 = _mm256_setr_epi8(
        2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6,
        7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    const __m256i rot24 = _mm256_setr_epi8(
        3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7,
        0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    __m256i w[16];
    for (unsigned j = 0; j < 16; j++) w[j] = _mm256_set1_epi64x((long long)m[j]);
    w[iw] = _mm256_setr_epi64x((long long)(m[iw] | (uint64_t)first << shift),
                               (long long)(m[iw] | (uint64_t)(first + 1) << shift),
                               (long long)(m[iw] | (uint64_t)(first + 2) << shift),
                               (long long)(m[iw] | (uint64_t)(first + 3) << shift));
    /* Parameter block: 32-byte digest, no key, fanout 1, depth 1. */
    const uint64_t h0 = eh_iv[0] ^ 0x01010020ULL;
    __m256i v0 = _mm256_set1_epi64x((long long)h0);
    __m256i v1 = _mm256_set1_epi64x((long long)eh_iv[1]);
    __m256i v2 = _mm256_set1_epi64x((long long)eh_iv[2]);
    __m256i v3 = _mm256_set1_epi64x((long long)eh_iv[3]);
    __m256i v4 = _mm256_set1_epi64x((long long)eh_iv[4]);
    __m256i v5 = _mm256_set1_epi64x((long long)eh_iv[5]);
    __m256i v6 = _mm256_set1_epi64x((long long)eh_iv[6]);
    __m256i v7 = _mm256_set1_epi64x((long long)eh_iv[7]);
    __m256i v8 = _mm256_set1_epi64x((long long)eh_iv[0]);
    __m256i v9 = v1, v10 = v2, v11 = v3;
    __m256i v12 = _mm256_set1_epi64x((long long)(eh_iv[4] ^ len));
    __m256i v13 = _mm256_set1_epi64x((long long)eh_iv[5]);
    __m256i v14 = _mm256_set1_epi64x((long long)~eh_iv[6]); /* last block */
    __m256i v15 = _mm256_set1_epi64x((long long)eh_iv[7]);
    for (unsigned r = 0; r < 12; r++) {
        const uint8_t *sg = eh_sigma[r];
        EH_X4_G(v0, v4, v8, v12, w[sg[0]], w[sg[1]]);
        EH_X4_G(v1, v5, v9, v13, w[sg[2]], w[sg[3]]);
        EH_X4_G(v2, v6, v10, v14, w[sg[4]], w[sg[5]]);
        EH_X4_G(v3, v7, v11, v15, w[sg[6]], w[sg[7]]);
        EH_X4_G(v0, v5, v10, v15, w[sg[8]], w[sg[9]]);
        EH_X4_G(v1, v6, v11, v12, w[sg[10]], w[sg[11]]);
        EH_X4_G(v2, v7, v8, v13, w[sg[12]], w[sg[13]]);
        EH_X4_G(v3, v4, v9, v14, w[sg[14]], w[sg[15]]);
    }
    _mm256_storeu_si256((__m256i *)out[0], _mm256_xor_si256(
        _mm256_set1_epi64x((long long)h0), _mm256_xor_si256(v0, v8)));
    _mm256_storeu_si256((__m256i *)out[1], _mm256_xor_si256(
        _mm256_set1_epi64x((long long)eh_iv[1]), _mm256_xor_si256(v1, v9)));
    _mm256_storeu_si256((__m256i *)out[2], _mm256_xor_si256(
        _mm256_set1_epi64x((long long)eh_iv[2]), _mm256_xor_si256(v2, v10)));
    _mm256_storeu_si256((__m256i *)out[3], _mm256_xor_si256(
        _mm256_set1_epi64x((long long)eh_iv[3]), _mm256_xor_si256(v3, v11)));
}
#else
SMTORP_INTERNAL void smtorp_equihash_set_simd(int enabled) { (void)enabled; }
#endif

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/* BE32(nonce), then `count` indices of `bits` bits, MSB first. */
static void eh_decode(const uint8_t *in, unsigned count, unsigned bits,
                      uint32_t *nonce, uint32_t *indices) {
    *nonce = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
             (uint32_t)in[2] << 8 | in[3];
    in += 4;
    uint64_t acc = 0;
    unsigned have = 0;
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    for (unsigned i = 0; i < count; i++) {
        while (have < bits) {
            acc = acc << 8 | *in++;
            have += 8;
        }
        have -= bits;
        indices[i] = (uint32_t)((acc >> have) & mask);
    }
}

static void eh_encode(uint32_t nonce, const uint32_t *indices, unsigned count,
                      unsigned bits, uint8_t *out) {
    out[0] = (uint8_t)(nonce >> 24);
    out[1] = (uint8_t)(nonce >> 16);
    out[2] = (uint8_t)(nonce >> 8);
    out[3] = (uint8_t)nonce;
    out += 4;
    uint64_t acc = 0;
    unsigned have = 0;
    for (unsigned i = 0; i < count; i++) {
        acc = acc << bits | indices[i];
        have += bits;
        while (have >= 8) {
            have -= 8;
            *out++ = (uint8_t)(acc >> have);
        }
    }
}

/* ------------------------------------------------------------------ */
/* The tree: binding and canonical order                              */
/* ------------------------------------------------------------------ */

/*
 * The canonical order is the order in which libequihash's solver creates
 * the nodes: a node of height h >= 1 is created while scanning the list of
 * height h - 1 bucket by bucket, the bucket being the XOR of digit h - 1
 * over its children's leaves, and within a bucket in creation order of the
 * children. So subtrees compare by (XOR of digit h-1 over the left child,
 * left child, right child), and leaves by index. In every node the left
 * subtree must compare below the right one.
 */
static int eh_compare(const uint32_t (*digits)[EH_K_MAX + 1],
                      const uint32_t *indices, unsigned a, unsigned b,
                      unsigned height) {
    if (height == 0)
        return indices[a] < indices[b] ? -1 : indices[a] > indices[b];
    unsigned half = 1u << (height - 1);
    uint32_t va = 0, vb = 0;
    for (unsigned i = 0; i < half; i++) {
        va ^= digits[a + i][height - 1];
        vb ^= digits[b + i][height - 1];
    }
    if (va != vb) return va < vb ? -1 : 1;
    int c = eh_compare(digits, indices, a, b, height - 1);
    if (c != 0) return c;
    return eh_compare(digits, indices, a + half, b + half, height - 1);
}

static void eh_sort_u32(uint32_t *v, unsigned count) {
    for (unsigned i = 1; i < count; i++) {
        uint32_t x = v[i];
        unsigned j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static int eh_has_duplicate(const uint32_t *indices, unsigned count) {
    uint32_t sorted[EH_LEAVES_MAX];
    memcpy(sorted, indices, count * sizeof *indices);
    eh_sort_u32(sorted, count);
    for (unsigned i = 1; i < count; i++)
        if (sorted[i] == sorted[i - 1]) return 1;
    return 0;
}

/* Binding: in every node of height h + 1 both children agree on digit h
 * (their XORs over their leaves), and at the root digit k XORs to zero. */
static int eh_collides(const uint32_t (*digits)[EH_K_MAX + 1], unsigned k) {
    uint32_t node[EH_LEAVES_MAX][EH_K_MAX + 1];
    unsigned count = 1u << k;
    memcpy(node, digits, count * sizeof node[0]);
    for (unsigned h = 0; h < k; h++) {
        count /= 2;
        for (unsigned i = 0; i < count; i++) {
            if (node[2 * i][h] != node[2 * i + 1][h]) return 0;
            for (unsigned j = h + 1; j <= k; j++)
                node[i][j] = node[2 * i][j] ^ node[2 * i + 1][j];
        }
    }
    return node[0][k] == 0;
}

static int eh_ordered(const uint32_t (*digits)[EH_K_MAX + 1],
                      const uint32_t *indices, unsigned k) {
    for (unsigned h = 1; h <= k; h++) {
        unsigned size = 1u << h;
        for (unsigned s = 0; s < (1u << k); s += size)
            if (eh_compare(digits, indices, s, s + size / 2, h - 1) >= 0)
                return 0;
    }
    return 1;
}

/* Puts a valid tree into canonical order, children before parents. */
static void eh_canonicalize(uint32_t (*digits)[EH_K_MAX + 1],
                            uint32_t *indices, unsigned k) {
    for (unsigned h = 1; h <= k; h++) {
        unsigned size = 1u << h, half = size / 2;
        for (unsigned s = 0; s < (1u << k); s += size) {
            if (eh_compare((const uint32_t (*)[EH_K_MAX + 1])digits, indices,
                           s, s + half, h - 1) <= 0)
                continue;
            for (unsigned i = 0; i < half; i++) {
                uint32_t t = indices[s + i];
                indices[s + i] = indices[s + half + i];
                indices[s + half + i] = t;
                uint32_t row[EH_K_MAX + 1];
                memcpy(row, digits[s + i], sizeof row);
                memcpy(digits[s + i], digits[s + half + i], sizeof row);
                memcpy(digits[s + half + i], row, sizeof row);
            }
        }
    }
}

/* Checks a decoded proof; every check named, cheapest first. */
static smtorp_pow_result eh_check(unsigned k, unsigned d, const uint8_t *seed,
                                  size_t seed_len, uint32_t nonce,
                                  const uint32_t *indices) {
    const unsigned count = 1u << k;
    for (unsigned i = 0; i < count; i++)
        if ((uint64_t)indices[i] >> (d + 1) != 0)
            return SMTORP_POW_INDEX_OUT_OF_RANGE;
    if (eh_has_duplicate(indices, count)) return SMTORP_POW_DUPLICATE_INDEX;
    uint32_t digits[EH_LEAVES_MAX][EH_K_MAX + 1];
    eh_hasher hasher;
    eh_hasher_init(&hasher, k, d, seed, seed_len, nonce);
    for (unsigned i = 0; i < count; i++)
        eh_hash_digits(&hasher, indices[i], digits[i]);
    sodium_memzero(&hasher, sizeof hasher);
    if (!eh_collides((const uint32_t (*)[EH_K_MAX + 1])digits, k))
        return SMTORP_POW_NONZERO_XOR;
    if (!eh_ordered((const uint32_t (*)[EH_K_MAX + 1])digits, indices, k))
        return SMTORP_POW_WRONG_ORDER;
    return SMTORP_POW_OK;
}

/* ------------------------------------------------------------------ */
/* Verification                                                       */
/* ------------------------------------------------------------------ */

SMTORP_API smtorp_pow_result smtorp_equihash_verify_indices(
    unsigned n, unsigned k, const uint8_t *seed, size_t seed_len,
    uint32_t nonce, const uint32_t *indices, size_t count) {
    unsigned d;
    if (!eh_parameters(n, k, &d)) return SMTORP_POW_BAD_PARAMETERS;
    if (!eh_seed_ok(seed, seed_len)) return SMTORP_POW_BAD_SEED;
    if (indices == NULL) return SMTORP_POW_INVALID_ARGUMENT;
    if (count != ((size_t)1 << k)) return SMTORP_POW_BAD_LENGTH;
    if (sodium_init() < 0) return SMTORP_POW_NO_MEMORY;
    return eh_check(k, d, seed, seed_len, nonce, indices);
}

SMTORP_API smtorp_pow_result smtorp_equihash_verify(
    unsigned n, unsigned k, const uint8_t *seed, size_t seed_len,
    const uint8_t *solution, size_t solution_len) {
    unsigned d;
    if (!eh_parameters(n, k, &d)) return SMTORP_POW_BAD_PARAMETERS;
    if (!eh_seed_ok(seed, seed_len)) return SMTORP_POW_BAD_SEED;
    if (solution == NULL) return SMTORP_POW_INVALID_ARGUMENT;
    if (solution_len != smtorp_equihash_solution_length(n, k))
        return SMTORP_POW_BAD_LENGTH;
    if (sodium_init() < 0) return SMTORP_POW_NO_MEMORY;
    uint32_t nonce, indices[EH_LEAVES_MAX];
    eh_decode(solution, 1u << k, d + 1, &nonce, indices);
    return eh_check(k, d, seed, seed_len, nonce, indices);
}

/* ------------------------------------------------------------------ */
/* Solver                                                             */
/* ------------------------------------------------------------------ */

/* A reusable barrier (pthread_barrier_t is missing on macOS) whose
 * participant count can shrink when a thread fails to start. */
typedef struct eh_barrier {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    unsigned count, waiting, generation;
} eh_barrier;

static void eh_barrier_wait(eh_barrier *b) {
    pthread_mutex_lock(&b->mutex);
    unsigned generation = b->generation;
    if (++b->waiting >= b->count) {
        b->waiting = 0;
        b->generation++;
        pthread_cond_broadcast(&b->cond);
    } else {
        while (generation == b->generation)
            pthread_cond_wait(&b->cond, &b->mutex);
    }
    pthread_mutex_unlock(&b->mutex);
}

typedef struct eh_worker {
    struct smtorp_equihash_solver *solver;
    unsigned id;
    uint32_t *head;       /* 2^S chain heads of the bucket being matched */
    uint32_t *next;       /* chain links, one per row of the bucket     */
    uint32_t *rows;       /* positions of the bucket's rows             */
    uint32_t *candidates; /* final pairs (position, position)           */
    unsigned candidate_count;
    int overflow;         /* a segment or the candidate list was full   */
} eh_worker;

/* Sizes that depend on (n, k, threads) and the growth factor. */
typedef struct eh_layout {
    unsigned d, sub_bits, bucket_bits;
    uint32_t buckets;      /* 2^(d - S)                                   */
    uint32_t count_stride; /* counters per thread, padded to 64 bytes     */
    uint32_t cap;          /* rows per (bucket, thread) segment           */
    size_t slots;          /* buckets * threads * cap                     */
    unsigned candidate_max;
    size_t bytes;
} eh_layout;

struct smtorp_equihash_solver {
    unsigned n, k, threads;
    eh_layout layout;
    uint32_t *data[2];     /* rows of T_r in data[r & 1]                  */
    uint32_t *refs0;       /* T_0: the leaf index of each position        */
    uint32_t *refs[EH_K_MAX]; /* T_l, l = 1..k-1: pairs of positions      */
    uint32_t *counts[2];   /* rows per segment, [thread][bucket]          */
    uint8_t *found;        /* encoded solutions of one nonce              */
    eh_worker *workers;
    unsigned regrows;
    /* The job of the current phase, written by the calling thread while
     * the workers wait at the barrier. */
    const uint8_t *seed;
    size_t seed_len;
    uint32_t nonce;
    unsigned phase;        /* 0: fill T_0; r = 1..k-1: T_r; k: final     */
    const int *cancel_flag;
    int stop;
    int aborted;           /* atomic: a worker saw the cancel flag        */
    eh_barrier barrier;
};

static uint32_t eh_isqrt(uint64_t x) {
    uint64_t r = 0;
    while ((r + 1) * (r + 1) <= x) r++;
    return (uint32_t)r;
}

static int eh_cancelled(const int *flag) {
    return flag != NULL && __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

SMTORP_API void smtorp_equihash_cancel(int *cancel_flag) {
    if (cancel_flag != NULL) __atomic_store_n(cancel_flag, 1, __ATOMIC_RELEASE);
}

/*
 * Segment capacity: the mean rows per segment, plus a global margin (the
 * list size drifts from 2^(d+1) by a relative ~2^r / sqrt(2^(d+1)) after r
 * rounds: allow three of those at round k - 1), plus six standard
 * deviations of the bucket's own Poisson noise. `grow` (0, 1, ...) adds a
 * quarter each time a nonce overflowed.
 */
static int eh_make_layout(unsigned n, unsigned k, unsigned threads,
                          unsigned grow, eh_layout *l) {
    memset(l, 0, sizeof *l);
    if (!eh_solver_parameters(n, k, &l->d)) return 0;
    if (threads < 1 || threads > SMTORP_EQUIHASH_THREADS_MAX) return 0;
    l->sub_bits = l->d < EH_SUB_BITS ? l->d : EH_SUB_BITS;
    l->bucket_bits = l->d - l->sub_bits;
    l->buckets = (uint32_t)1 << l->bucket_bits;
    l->count_stride = (l->buckets + 15u) & ~15u;
    uint64_t list = (uint64_t)1 << (l->d + 1);
    uint64_t mean = ((uint64_t)2 << l->sub_bits) / threads + 1;
    uint64_t global = mean * 3 * ((uint64_t)1 << (k - 1)) / eh_isqrt(list);
    if (global > mean) global = mean;
    uint64_t cap = mean + global + 6 * eh_isqrt(mean) + 8;
    for (unsigned g = 0; g < grow; g++) cap += cap / 4 + 8;
    l->cap = (uint32_t)cap;
    uint64_t slots = (uint64_t)l->buckets * threads * cap;
    if (cap > 0x3FFFFFFFu || slots >= EH_NONE) return 0;
    l->slots = (size_t)slots;
    l->candidate_max = EH_CANDIDATES_INITIAL << (grow < 8 ? grow : 8);
    size_t sol_len = smtorp_equihash_solution_length(n, k);
    size_t b = 0;
    b += l->slots * (k + 1) * 4;                  /* data[0]              */
    b += l->slots * k * 4;                        /* data[1]              */
    b += l->slots * 4;                            /* refs0                */
    b += (size_t)(k - 1) * l->slots * 8;          /* refs[1..k-1]         */
    b += 2 * (size_t)threads * l->count_stride * 4; /* counts             */
    b += (size_t)threads * l->candidate_max * sol_len; /* found          */
    b += (size_t)threads * sizeof(eh_worker);
    b += (size_t)threads * (((size_t)1 << l->sub_bits) +      /* head   */
                            2 * (size_t)threads * l->cap +    /* next, rows */
                            2 * (size_t)l->candidate_max) * 4; /* cands */
    b += sizeof(struct smtorp_equihash_solver);
    l->bytes = b;
    return 1;
}

SMTORP_API size_t smtorp_equihash_memory_bytes(unsigned n, unsigned k) {
    eh_layout l;
    return eh_make_layout(n, k, 1, 0, &l) ? l.bytes : 0;
}

static void eh_free_tables(smtorp_equihash_solver *s) {
    free(s->data[0]);
    free(s->data[1]);
    free(s->refs0);
    for (unsigned l = 0; l < EH_K_MAX; l++) free(s->refs[l]);
    free(s->counts[0]);
    free(s->counts[1]);
    free(s->found);
    if (s->workers != NULL) {
        for (unsigned t = 0; t < s->threads; t++) {
            free(s->workers[t].head);
            free(s->workers[t].next);
            free(s->workers[t].rows);
            free(s->workers[t].candidates);
        }
        free(s->workers);
    }
    s->data[0] = s->data[1] = s->refs0 = NULL;
    for (unsigned l = 0; l < EH_K_MAX; l++) s->refs[l] = NULL;
    s->counts[0] = s->counts[1] = NULL;
    s->found = NULL;
    s->workers = NULL;
}

static int eh_alloc_tables(smtorp_equihash_solver *s, unsigned grow) {
    eh_layout *l = &s->layout;
    if (!eh_make_layout(s->n, s->k, s->threads, grow, l)) return 0;
    const unsigned k = s->k, t_count = s->threads;
    s->data[0] = malloc(l->slots * (k + 1) * 4);
    s->data[1] = malloc(l->slots * k * 4);
    s->refs0 = malloc(l->slots * 4);
    int ok = s->data[0] && s->data[1] && s->refs0;
    for (unsigned lv = 1; lv < k; lv++) {
        s->refs[lv] = malloc(l->slots * 8);
        ok = ok && s->refs[lv];
    }
    s->counts[0] = calloc((size_t)t_count * l->count_stride, 4);
    s->counts[1] = calloc((size_t)t_count * l->count_stride, 4);
    s->found = malloc((size_t)t_count * l->candidate_max *
                      smtorp_equihash_solution_length(s->n, k));
    s->workers = calloc(t_count, sizeof *s->workers);
    ok = ok && s->counts[0] && s->counts[1] && s->found && s->workers;
    for (unsigned t = 0; ok && t < t_count; t++) {
        eh_worker *w = &s->workers[t];
        w->solver = s;
        w->id = t;
        w->head = malloc(((size_t)1 << l->sub_bits) * 4);
        w->next = malloc((size_t)t_count * l->cap * 4);
        w->rows = malloc((size_t)t_count * l->cap * 4);
        w->candidates = malloc((size_t)l->candidate_max * 8);
        ok = w->head && w->next && w->rows && w->candidates;
    }
    if (!ok) eh_free_tables(s);
    return ok;
}

SMTORP_API smtorp_pow_result smtorp_equihash_solver_new(
    unsigned n, unsigned k, unsigned threads, smtorp_equihash_solver **out) {
    if (out == NULL) return SMTORP_POW_INVALID_ARGUMENT;
    *out = NULL;
    if (threads < 1 || threads > SMTORP_EQUIHASH_THREADS_MAX)
        return SMTORP_POW_INVALID_ARGUMENT;
    unsigned d;
    if (!eh_solver_parameters(n, k, &d)) return SMTORP_POW_BAD_PARAMETERS;
    if (sodium_init() < 0) return SMTORP_POW_NO_MEMORY;
    /* A thread works on whole buckets: more threads than the 2^(d-S)
     * buckets would idle (tiny parameters run on one). */
    unsigned buckets_log = d > EH_SUB_BITS ? d - EH_SUB_BITS : 0;
    if (buckets_log < 6 && threads > (1u << buckets_log))
        threads = 1u << buckets_log;
    smtorp_equihash_solver *s = calloc(1, sizeof *s);
    if (s == NULL) return SMTORP_POW_NO_MEMORY;
    s->n = n;
    s->k = k;
    s->threads = threads;
    if (!eh_alloc_tables(s, 0)) {
        free(s);
        return SMTORP_POW_NO_MEMORY;
    }
    if (pthread_mutex_init(&s->barrier.mutex, NULL) != 0) {
        eh_free_tables(s);
        free(s);
        return SMTORP_POW_NO_MEMORY;
    }
    if (pthread_cond_init(&s->barrier.cond, NULL) != 0) {
        pthread_mutex_destroy(&s->barrier.mutex);
        eh_free_tables(s);
        free(s);
        return SMTORP_POW_NO_MEMORY;
    }
    *out = s;
    return SMTORP_POW_OK;
}

SMTORP_API void smtorp_equihash_solver_free(smtorp_equihash_solver *solver) {
    if (solver == NULL) return;
    eh_free_tables(solver);
    pthread_cond_destroy(&solver->barrier.cond);
    pthread_mutex_destroy(&solver->barrier.mutex);
    free(solver);
}

SMTORP_API size_t smtorp_equihash_solver_memory_bytes(
    const smtorp_equihash_solver *solver) {
    return solver == NULL ? 0 : solver->layout.bytes;
}

SMTORP_INTERNAL unsigned smtorp_equihash_solver_regrows(
    const smtorp_equihash_solver *solver) {
    return solver == NULL ? 0 : solver->regrows;
}

static void eh_expand(const smtorp_equihash_solver *s, unsigned level,
                      uint32_t pos, uint32_t *leaves) {
    if (level == 0) {
        leaves[0] = s->refs0[pos];
        return;
    }
    eh_expand(s, level - 1, s->refs[level][2 * (size_t)pos], leaves);
    eh_expand(s, level - 1, s->refs[level][2 * (size_t)pos + 1],
              leaves + (1u << (level - 1)));
}

static int eh_equal_rest(const uint32_t *a, const uint32_t *b,
                         unsigned stride) {
    for (unsigned j = 2; j < stride; j++)
        if (a[j] != b[j]) return 0;
    return 1;
}

/* 1 when the subtrees at positions pa and pb of T_level share a leaf. */
static int eh_shares_leaf(const smtorp_equihash_solver *s, unsigned level,
                          uint32_t pa, uint32_t pb) {
    uint32_t leaves[EH_LEAVES_MAX];
    const unsigned half = 1u << level;
    eh_expand(s, level, pa, leaves);
    eh_expand(s, level, pb, leaves + half);
    return eh_has_duplicate(leaves, 2 * half);
}

/* Phase 0: hash this thread's share of the 2^(d+1) indices into T_0. */
static inline void eh_fill_row(eh_worker *w, const uint32_t *digits,
                               uint32_t index, uint32_t *count) {
    smtorp_equihash_solver *s = w->solver;
    const eh_layout *l = &s->layout;
    const unsigned stride = s->k + 1;
    uint32_t bucket = digits[0] >> l->sub_bits;
    uint32_t c = count[bucket];
    if (c >= l->cap) {
        w->overflow = 1;
        return;
    }
    count[bucket] = c + 1;
    size_t pos = ((size_t)bucket * s->threads + w->id) * l->cap + c;
    memcpy(s->data[0] + pos * stride, digits, stride * 4);
    s->refs0[pos] = index;
}

static void eh_fill(eh_worker *w) {
    smtorp_equihash_solver *s = w->solver;
    const eh_layout *l = &s->layout;
    const unsigned k = s->k, t = w->id;
    const uint64_t list = (uint64_t)1 << (l->d + 1);
    const uint32_t lo = (uint32_t)(list * t / s->threads);
    uint32_t hi = (uint32_t)(list * (t + 1) / s->threads);
    uint32_t *count = s->counts[0] + (size_t)t * l->count_stride;
    memset(count, 0, (size_t)l->buckets * 4);
    eh_hasher hasher;
    eh_hasher_init(&hasher, k, l->d, s->seed, s->seed_len, s->nonce);
    uint32_t digits[4][EH_K_MAX + 1];
    uint32_t i = lo;
#ifdef EH_X4
    if (!hasher.use_state && !eh_x4_disabled && eh_x4_supported()) {
        /* The message block as 16 little-endian words, index zeroed. */
        uint8_t block[128] = {0};
        memcpy(block, hasher.block, hasher.block_len - 4);
        uint64_t m[16];
        for (unsigned j = 0; j < 16; j++)
            m[j] = (uint64_t)eh_load_le32(block + 8 * j) |
                   (uint64_t)eh_load_le32(block + 8 * j + 4) << 32;
        const size_t at = hasher.block_len - 4;
        const unsigned iw = (unsigned)(at / 8), shift = at % 8 ? 32 : 0;
        for (; i + 4 <= hi; i += 4) {
            if ((i & 1023u) < 4 && eh_cancelled(s->cancel_flag)) {
                __atomic_store_n(&s->aborted, 1, __ATOMIC_RELAXED);
                hi = i;
                break;
            }
            uint64_t out[4][4];
            eh_x4_hash(m, iw, shift, i, hasher.block_len, out);
            for (unsigned lane = 0; lane < 4; lane++)
                for (unsigned j = 0; j <= k; j++)
                    digits[lane][j] =
                        (uint32_t)(out[j / 2][lane] >> (j % 2 ? 32 : 0)) >>
                        (32 - l->d);
            for (unsigned lane = 0; lane < 4; lane++)
                eh_fill_row(w, digits[lane], i + lane, count);
        }
        sodium_memzero(m, sizeof m);
        sodium_memzero(block, sizeof block);
    }
#endif
    for (; i < hi; i++) {
        if ((i & 1023u) == 0 && eh_cancelled(s->cancel_flag)) {
            __atomic_store_n(&s->aborted, 1, __ATOMIC_RELAXED);
            break;
        }
        eh_hash_digits(&hasher, i, digits[0]);
        eh_fill_row(w, digits[0], i, count);
    }
    sodium_memzero(&hasher, sizeof hasher);
}

/* Phase r = 1..k: pair the rows of T_{r-1} that agree on digit r - 1.
 * r < k: each pair becomes a row of T_r; r == k: a pair that also agrees
 * on digit k is a candidate solution. */
static void eh_round(eh_worker *w, unsigned r) {
    smtorp_equihash_solver *s = w->solver;
    const eh_layout *l = &s->layout;
    const unsigned k = s->k, t = w->id, threads = s->threads;
    const unsigned in_stride = k + 2 - r, out_stride = k + 1 - r;
    const int final = r == k;
    const uint32_t *in = s->data[(r - 1) & 1];
    const uint32_t *in_count = s->counts[(r - 1) & 1];
    uint32_t *out = s->data[r & 1];
    uint32_t *out_count = s->counts[r & 1] + (size_t)t * l->count_stride;
    uint32_t *refs = final ? NULL : s->refs[r];
    const uint32_t *child_refs = r >= 2 ? s->refs[r - 1] : NULL;
    const uint32_t sub_mask = ((uint32_t)1 << l->sub_bits) - 1;
    const uint32_t lo = (uint32_t)((uint64_t)l->buckets * t / threads);
    const uint32_t hi = (uint32_t)((uint64_t)l->buckets * (t + 1) / threads);
    if (!final) memset(out_count, 0, (size_t)l->buckets * 4);
    w->candidate_count = 0;
    for (uint32_t bucket = lo; bucket < hi; bucket++) {
        if (eh_cancelled(s->cancel_flag)) {
            __atomic_store_n(&s->aborted, 1, __ATOMIC_RELAXED);
            return;
        }
        uint32_t n_rows = 0;
        for (unsigned u = 0; u < threads; u++) {
            uint32_t c = in_count[(size_t)u * l->count_stride + bucket];
            uint32_t base = (uint32_t)(((size_t)bucket * threads + u) * l->cap);
            for (uint32_t i = 0; i < c; i++) w->rows[n_rows++] = base + i;
        }
        memset(w->head, 0xFF, ((size_t)sub_mask + 1) * 4);
        for (uint32_t i = 0; i < n_rows; i++) {
            const uint32_t pb = w->rows[i];
            const uint32_t *eb = in + (size_t)pb * in_stride;
            const uint32_t sub = eb[0] & sub_mask;
            for (uint32_t q = w->head[sub]; q != EH_NONE; q = w->next[q]) {
                const uint32_t pa = w->rows[q];
                const uint32_t *ea = in + (size_t)pa * in_stride;
                if (final && ea[1] != eb[1]) continue;
                /* Two subtrees sharing a child can only give trees with a
                 * repeated index: drop them here (exact, and it keeps the
                 * lists and the candidates from filling with them). */
                if (child_refs != NULL) {
                    const uint32_t *ca = child_refs + 2 * (size_t)pa;
                    const uint32_t *cb = child_refs + 2 * (size_t)pb;
                    if (ca[0] == cb[0] || ca[0] == cb[1] || ca[1] == cb[0] ||
                        ca[1] == cb[1])
                        continue;
                }
                if (final) {
                    if (w->candidate_count >= l->candidate_max) {
                        w->overflow = 1;
                        continue;
                    }
                    w->candidates[2 * w->candidate_count] = pa;
                    w->candidates[2 * w->candidate_count + 1] = pb;
                    w->candidate_count++;
                    continue;
                }
                const uint32_t x0 = ea[1] ^ eb[1];
                /* Equal on every remaining digit: almost surely the same
                 * leaves twice over (a zero row would pair with every row
                 * of its bucket). Dropped once the leaves confirm it. */
                if (x0 == 0 && eh_equal_rest(ea, eb, in_stride) &&
                    eh_shares_leaf(s, r - 1, pa, pb))
                    continue;
                const uint32_t ob = x0 >> l->sub_bits;
                const uint32_t c = out_count[ob];
                if (c >= l->cap) {
                    w->overflow = 1;
                    continue;
                }
                out_count[ob] = c + 1;
                const size_t pos = ((size_t)ob * threads + t) * l->cap + c;
                uint32_t *e = out + pos * out_stride;
                e[0] = x0;
                for (unsigned j = 1; j < out_stride; j++)
                    e[j] = ea[j + 1] ^ eb[j + 1];
                refs[2 * pos] = pa;
                refs[2 * pos + 1] = pb;
            }
            w->next[i] = w->head[sub];
            w->head[sub] = i;
        }
    }
}

static void eh_run_phase(eh_worker *w) {
    if (w->solver->phase == 0)
        eh_fill(w);
    else
        eh_round(w, w->solver->phase);
}

/* A started thread: which worker it is. */
typedef struct eh_thread {
    smtorp_equihash_solver *solver;
    unsigned id;
    pthread_t thread;
} eh_thread;

static void *eh_worker_main(void *arg) {
    const eh_thread *w = arg;
    smtorp_equihash_solver *s = w->solver;
    for (;;) {
        eh_barrier_wait(&s->barrier);
        if (s->stop) break;
        eh_run_phase(&s->workers[w->id]);
        eh_barrier_wait(&s->barrier);
    }
    return NULL;
}

/* Runs one phase on every thread; the calling thread is worker 0. */
static void eh_phase(smtorp_equihash_solver *s, unsigned phase) {
    s->phase = phase;
    if (s->threads > 1) eh_barrier_wait(&s->barrier);
    eh_run_phase(&s->workers[0]);
    if (s->threads > 1) eh_barrier_wait(&s->barrier);
}

/* Turns the candidates of this nonce into encoded, canonical, distinct
 * solutions in s->found, sorted bytewise; returns how many. */
static size_t eh_collect(smtorp_equihash_solver *s) {
    const unsigned k = s->k, d = s->layout.d, count = 1u << k;
    const size_t sol_len = smtorp_equihash_solution_length(s->n, k);
    size_t found = 0;
    eh_hasher hasher;
    eh_hasher_init(&hasher, k, d, s->seed, s->seed_len, s->nonce);
    for (unsigned t = 0; t < s->threads; t++) {
        const eh_worker *w = &s->workers[t];
        for (unsigned c = 0; c < w->candidate_count; c++) {
            uint32_t leaves[EH_LEAVES_MAX];
            uint32_t digits[EH_LEAVES_MAX][EH_K_MAX + 1];
            eh_expand(s, k - 1, w->candidates[2 * c], leaves);
            eh_expand(s, k - 1, w->candidates[2 * c + 1],
                      leaves + count / 2);
            if (eh_has_duplicate(leaves, count)) continue;
            for (unsigned i = 0; i < count; i++)
                eh_hash_digits(&hasher, leaves[i], digits[i]);
            eh_canonicalize(digits, leaves, k);
            /* A self-check that costs 2^k hashes: never fails unless the
             * solver is broken, and then nothing wrong goes out. */
            if (eh_check(k, d, s->seed, s->seed_len, s->nonce, leaves) !=
                SMTORP_POW_OK)
                continue;
            uint8_t *dst = s->found + found * sol_len;
            eh_encode(s->nonce, leaves, count, d + 1, dst);
            /* Insert in bytewise order, dropping exact repeats. */
            size_t at = 0;
            int repeat = 0;
            while (at < found) {
                int cmp = memcmp(s->found + at * sol_len, dst, sol_len);
                if (cmp == 0) repeat = 1;
                if (cmp >= 0) break;
                at++;
            }
            if (repeat) continue;
            if (at < found) {
                uint8_t tmp[4 + EH_LEAVES_MAX * 4];
                memcpy(tmp, dst, sol_len);
                memmove(s->found + (at + 1) * sol_len, s->found + at * sol_len,
                        (found - at) * sol_len);
                memcpy(s->found + at * sol_len, tmp, sol_len);
            }
            found++;
        }
    }
    sodium_memzero(&hasher, sizeof hasher);
    return found;
}

static int eh_any_overflow(const smtorp_equihash_solver *s) {
    for (unsigned t = 0; t < s->threads; t++)
        if (s->workers[t].overflow) return 1;
    return 0;
}

/* The nonce loop, run with the workers started. */
static smtorp_pow_result eh_solve_loop(smtorp_equihash_solver *s,
                                       uint8_t *solutions_out,
                                       size_t max_solutions, size_t *found,
                                       smtorp_equihash_progress_cb progress,
                                       void *arg) {
    const unsigned k = s->k;
    const size_t sol_len = smtorp_equihash_solution_length(s->n, k);
    for (uint32_t nonce = EH_NONCE_FIRST; nonce <= EH_NONCE_LAST;) {
        s->nonce = nonce;
        int redo = 0;
        for (unsigned t = 0; t < s->threads; t++) s->workers[t].overflow = 0;
        for (unsigned phase = 0; phase <= k; phase++) {
            if (eh_cancelled(s->cancel_flag)) return SMTORP_POW_CANCELLED;
            eh_phase(s, phase);
            if (__atomic_load_n(&s->aborted, __ATOMIC_RELAXED))
                return SMTORP_POW_CANCELLED;
            if (eh_any_overflow(s) && s->regrows < EH_REGROWS_MAX) {
                redo = 1;
                break;
            }
            if (progress != NULL) progress(nonce, phase + 1, k + 1, arg);
        }
        if (eh_cancelled(s->cancel_flag)) return SMTORP_POW_CANCELLED;
        if (redo) {
            /* A list outgrew its margins: grow every table and redo this
             * nonce, so that no solution is lost. Workers are parked. */
            eh_free_tables(s);
            if (!eh_alloc_tables(s, s->regrows + 1)) {
                /* Keep the context usable at its previous size. */
                (void)eh_alloc_tables(s, s->regrows);
                return SMTORP_POW_NO_MEMORY;
            }
            s->regrows++;
            continue;
        }
        size_t n_found = eh_collect(s);
        if (n_found > 0) {
            if (n_found > max_solutions) n_found = max_solutions;
            memcpy(solutions_out, s->found, n_found * sol_len);
            *found = n_found;
            return SMTORP_POW_OK;
        }
        nonce++;
    }
    return SMTORP_POW_NO_SOLUTION;
}

SMTORP_API smtorp_pow_result smtorp_equihash_solve(
    smtorp_equihash_solver *solver, const uint8_t *seed, size_t seed_len,
    uint8_t *solutions_out, size_t max_solutions, size_t solution_len,
    size_t *found, smtorp_equihash_progress_cb progress,
    const int *cancel_flag, void *arg) {
    if (found != NULL) *found = 0;
    if (solver == NULL || solutions_out == NULL || found == NULL ||
        max_solutions == 0)
        return SMTORP_POW_INVALID_ARGUMENT;
    const size_t sol_len = smtorp_equihash_solution_length(solver->n,
                                                           solver->k);
    if (solution_len != sol_len) return SMTORP_POW_BAD_LENGTH;
    if (max_solutions > SIZE_MAX / sol_len) return SMTORP_POW_INVALID_ARGUMENT;
    memset(solutions_out, 0, max_solutions * sol_len);
    if (!eh_seed_ok(seed, seed_len)) return SMTORP_POW_BAD_SEED;
    if (solver->workers == NULL) return SMTORP_POW_NO_MEMORY;

    smtorp_equihash_solver *s = solver;
    s->seed = seed;
    s->seed_len = seed_len;
    s->cancel_flag = cancel_flag;
    s->stop = 0;
    __atomic_store_n(&s->aborted, 0, __ATOMIC_RELAXED);
    for (unsigned t = 0; t < s->threads; t++) s->workers[t].overflow = 0;

    /* Start threads 1..T-1; worker 0 is the calling thread. The worker
     * structs can move (a regrow reallocates them), so a thread only ever
     * reaches its own through s->workers[id]. */
    s->barrier.count = s->threads;
    s->barrier.waiting = 0;
    unsigned started = 1;
    eh_thread threads[SMTORP_EQUIHASH_THREADS_MAX];
    smtorp_pow_result result = SMTORP_POW_OK;
    for (unsigned t = 1; t < s->threads; t++) {
        threads[t].solver = s;
        threads[t].id = t;
        if (pthread_create(&threads[t].thread, NULL, eh_worker_main,
                           &threads[t]) != 0) {
            result = SMTORP_POW_THREAD;
            break;
        }
        started++;
    }
    if (result == SMTORP_POW_OK)
        result = eh_solve_loop(s, solutions_out, max_solutions, found,
                               progress, arg);
    /* Release the parked workers and join them. */
    if (started > 1) {
        pthread_mutex_lock(&s->barrier.mutex);
        s->stop = 1;
        s->barrier.count = started;
        pthread_mutex_unlock(&s->barrier.mutex);
        eh_barrier_wait(&s->barrier);
        for (unsigned t = 1; t < started; t++)
            pthread_join(threads[t].thread, NULL);
    }
    s->seed = NULL;
    s->seed_len = 0;
    s->cancel_flag = NULL;
    if (result != SMTORP_POW_OK) {
        memset(solutions_out, 0, max_solutions * sol_len);
        *found = 0;
    }
    return result;
}

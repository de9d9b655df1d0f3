/*
 * pow.c: the small proofs of work of smtorp_core.h beside Equihash: the
 * effort rule (Tor's onion-service PoW style), an Argon2id nonce puzzle
 * (libsodium) searched by several threads, and legacy hashcash v1 stamps
 * (SHA-1 through OpenSSL), exchangeable with the `hashcash` tool 1.22.
 *
 * Untrusted input: smtorp_hashcash_check() parses a stamp received from a
 * peer (bounded length, every byte validated before use); verify functions
 * take a peer's nonce. Nothing here keeps state between calls.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "smtorp_core.h"

SMTORP_API const char *smtorp_work_result_string(smtorp_work_result result) {
    switch (result) {
    case SMTORP_WORK_OK:
        return "success";
    case SMTORP_WORK_NO_MEMORY:
        return "out of memory";
    case SMTORP_WORK_CANCELLED:
        return "cancelled";
    case SMTORP_WORK_INVALID_ARGUMENT:
        return "invalid argument";
    case SMTORP_WORK_THREAD:
        return "a worker thread could not be started";
    case SMTORP_WORK_INSUFFICIENT_EFFORT:
        return "the proof does not carry the required effort";
    case SMTORP_WORK_BAD_PARAMETERS:
        return "proof-of-work parameters out of range";
    case SMTORP_WORK_EXHAUSTED:
        return "the nonce space ran out without a proof";
    case SMTORP_WORK_BUFFER_TOO_SMALL:
        return "output buffer too small";
    case SMTORP_WORK_MALFORMED:
        return "not a well-formed hashcash v1 stamp";
    case SMTORP_WORK_CRYPTO:
        return "a cryptographic primitive failed";
    }
    return "unknown result";
}

static int cancelled(const int *flag) {
    return flag != NULL && __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

SMTORP_API void smtorp_pow_cancel(int *cancel_flag) {
    if (cancel_flag != NULL) __atomic_store_n(cancel_flag, 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------------ */
/* 1. Effort                                                          */
/* ------------------------------------------------------------------ */

SMTORP_API int smtorp_pow_effort_ok(uint32_t h, uint32_t effort) {
    return (uint64_t)h * (uint64_t)effort <= 0xFFFFFFFFu;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

SMTORP_API smtorp_work_result smtorp_pow_effort_value(
    const uint8_t *solution, size_t solution_len, const uint8_t *challenge,
    size_t challenge_len, uint32_t *h_out) {
    if (h_out != NULL) *h_out = 0;
    if (h_out == NULL || (solution == NULL && solution_len != 0) ||
        (challenge == NULL && challenge_len != 0))
        return SMTORP_WORK_INVALID_ARGUMENT;
    if (sodium_init() < 0) return SMTORP_WORK_CRYPTO;
    crypto_generichash_blake2b_state st;
    uint8_t digest[32];
    if (crypto_generichash_blake2b_init(&st, NULL, 0, sizeof digest) != 0 ||
        crypto_generichash_blake2b_update(&st, solution, solution_len) != 0 ||
        crypto_generichash_blake2b_update(&st, challenge, challenge_len) !=
            0 ||
        crypto_generichash_blake2b_final(&st, digest, sizeof digest) != 0)
        return SMTORP_WORK_CRYPTO;
    *h_out = be32(digest);
    return SMTORP_WORK_OK;
}

SMTORP_API smtorp_work_result smtorp_pow_effort_check(
    const uint8_t *solution, size_t solution_len, const uint8_t *challenge,
    size_t challenge_len, uint32_t effort) {
    uint32_t h;
    smtorp_work_result r = smtorp_pow_effort_value(
        solution, solution_len, challenge, challenge_len, &h);
    if (r != SMTORP_WORK_OK) return r;
    return smtorp_pow_effort_ok(h, effort) ? SMTORP_WORK_OK
                                           : SMTORP_WORK_INSUFFICIENT_EFFORT;
}

/* ------------------------------------------------------------------ */
/* 2. Argon2id puzzle                                                 */
/* ------------------------------------------------------------------ */

static smtorp_work_result argon2_args(const uint8_t *challenge,
                                      size_t challenge_len,
                                      uint64_t opslimit, size_t memlimit) {
    if (challenge == NULL || challenge_len == 0 ||
        challenge_len > SMTORP_ARGON2_POW_CHALLENGE_MAX)
        return SMTORP_WORK_INVALID_ARGUMENT;
    if (opslimit < 1 || opslimit > SMTORP_ARGON2_POW_OPSLIMIT_MAX ||
        memlimit < SMTORP_ARGON2_POW_MEMLIMIT_MIN ||
        memlimit > SMTORP_ARGON2_POW_MEMLIMIT_MAX || memlimit % 1024 != 0)
        return SMTORP_WORK_BAD_PARAMETERS;
    if (sodium_init() < 0) return SMTORP_WORK_CRYPTO;
    return SMTORP_WORK_OK;
}

/* One evaluation; arguments already checked. Argon2id's failures here are
 * allocation failures (the parameters are within libsodium's ranges). */
static smtorp_work_result argon2_h(const uint8_t *challenge,
                                   size_t challenge_len, uint64_t opslimit,
                                   size_t memlimit, uint64_t nonce,
                                   uint32_t *h) {
    uint8_t password[SMTORP_ARGON2_POW_CHALLENGE_MAX + 8];
    uint8_t out[32];
    memcpy(password, challenge, challenge_len);
    for (int i = 0; i < 8; i++)
        password[challenge_len + (size_t)i] = (uint8_t)(nonce >> (8 * i));
    _Static_assert(sizeof(SMTORP_ARGON2_POW_SALT) - 1 ==
                       crypto_pwhash_argon2id_SALTBYTES,
                   "salt is 16 bytes");
    int rc = crypto_pwhash_argon2id(
        out, sizeof out, (const char *)password, challenge_len + 8,
        (const unsigned char *)SMTORP_ARGON2_POW_SALT,
        (unsigned long long)opslimit, memlimit,
        crypto_pwhash_argon2id_ALG_ARGON2ID13);
    sodium_memzero(password, sizeof password);
    if (rc != 0) return SMTORP_WORK_NO_MEMORY;
    *h = be32(out);
    return SMTORP_WORK_OK;
}

SMTORP_API smtorp_work_result smtorp_argon2_pow_value(
    const uint8_t *challenge, size_t challenge_len, uint64_t opslimit,
    size_t memlimit, uint64_t nonce, uint32_t *h_out) {
    if (h_out != NULL) *h_out = 0;
    if (h_out == NULL) return SMTORP_WORK_INVALID_ARGUMENT;
    smtorp_work_result r =
        argon2_args(challenge, challenge_len, opslimit, memlimit);
    if (r != SMTORP_WORK_OK) return r;
    return argon2_h(challenge, challenge_len, opslimit, memlimit, nonce,
                    h_out);
}

SMTORP_API smtorp_work_result smtorp_argon2_pow_verify(
    const uint8_t *challenge, size_t challenge_len, uint32_t effort,
    uint64_t opslimit, size_t memlimit, uint64_t nonce) {
    smtorp_work_result r =
        argon2_args(challenge, challenge_len, opslimit, memlimit);
    if (r != SMTORP_WORK_OK) return r;
    if (effort <= 1) return SMTORP_WORK_OK;
    uint32_t h;
    r = argon2_h(challenge, challenge_len, opslimit, memlimit, nonce, &h);
    if (r != SMTORP_WORK_OK) return r;
    return smtorp_pow_effort_ok(h, effort) ? SMTORP_WORK_OK
                                           : SMTORP_WORK_INSUFFICIENT_EFFORT;
}

/*
 * The search: workers claim offsets (nonce - start) from a shared counter.
 * When one finds a proof it lowers `best` (the smallest offset found) and
 * nobody claims offsets at or above it any more; offsets below it were all
 * claimed before, so once every worker has finished its current evaluation
 * `best` is the first proof from start: the answer does not depend on the
 * number of threads or on their timing.
 */
typedef struct argon2_search {
    const uint8_t *challenge;
    size_t challenge_len;
    uint32_t effort;
    uint64_t opslimit;
    size_t memlimit;
    uint64_t start;
    uint64_t next;  /* atomic: next offset to claim                      */
    uint64_t best;  /* atomic: smallest offset that passed, or UINT64_MAX */
    uint64_t tried; /* atomic: evaluations done                          */
    int error;      /* atomic: first smtorp_work_result failure, or 0    */
    const int *cancel_flag;
    smtorp_argon2_pow_progress_cb progress; /* calling thread only */
    void *arg;
} argon2_search;

/* Claims the next offset below `best`; 0 when there is none left. The
 * offset UINT64_MAX is never claimed (it means "none" in `best`), so the
 * space is start .. start + 2^64 - 2 and the counter never wraps. */
static int argon2_claim(argon2_search *s, uint64_t *off) {
    uint64_t cur = __atomic_load_n(&s->next, __ATOMIC_ACQUIRE);
    for (;;) {
        if (cur == UINT64_MAX ||
            cur >= __atomic_load_n(&s->best, __ATOMIC_ACQUIRE))
            return 0;
        if (__atomic_compare_exchange_n(&s->next, &cur, cur + 1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            *off = cur;
            return 1;
        }
    }
}

static void argon2_work(argon2_search *s, int is_caller) {
    uint64_t off;
    while (!cancelled(s->cancel_flag) &&
           __atomic_load_n(&s->error, __ATOMIC_ACQUIRE) == 0 &&
           argon2_claim(s, &off)) {
        uint32_t h;
        smtorp_work_result r =
            argon2_h(s->challenge, s->challenge_len, s->opslimit,
                     s->memlimit, s->start + off, &h);
        if (r != SMTORP_WORK_OK) {
            int none = 0;
            __atomic_compare_exchange_n(&s->error, &none, (int)r, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
            return;
        }
        uint64_t tried = __atomic_add_fetch(&s->tried, 1, __ATOMIC_ACQ_REL);
        if (smtorp_pow_effort_ok(h, s->effort)) {
            uint64_t best = __atomic_load_n(&s->best, __ATOMIC_ACQUIRE);
            while (off < best &&
                   !__atomic_compare_exchange_n(&s->best, &best, off, 0,
                                                __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE)) {
            }
        }
        if (is_caller && s->progress != NULL) s->progress(tried, s->arg);
    }
}

static void *argon2_thread(void *p) {
    argon2_work(p, 0);
    return NULL;
}

SMTORP_API smtorp_work_result smtorp_argon2_pow_solve(
    const uint8_t *challenge, size_t challenge_len, uint32_t effort,
    uint64_t opslimit, size_t memlimit, unsigned threads,
    uint64_t start_nonce, uint64_t *nonce_out,
    smtorp_argon2_pow_progress_cb progress, const int *cancel_flag,
    void *arg) {
    if (nonce_out != NULL) *nonce_out = 0;
    if (nonce_out == NULL || threads < 1 ||
        threads > SMTORP_ARGON2_POW_THREADS_MAX)
        return SMTORP_WORK_INVALID_ARGUMENT;
    smtorp_work_result r =
        argon2_args(challenge, challenge_len, opslimit, memlimit);
    if (r != SMTORP_WORK_OK) return r;
    if (cancelled(cancel_flag)) return SMTORP_WORK_CANCELLED;
    if (effort <= 1) {
        *nonce_out = start_nonce;
        return SMTORP_WORK_OK;
    }
    argon2_search s = {
        .challenge = challenge,
        .challenge_len = challenge_len,
        .effort = effort,
        .opslimit = opslimit,
        .memlimit = memlimit,
        .start = start_nonce,
        .next = 0,
        .best = UINT64_MAX,
        .tried = 0,
        .error = 0,
        .cancel_flag = cancel_flag,
        .progress = progress,
        .arg = arg,
    };
    pthread_t tids[SMTORP_ARGON2_POW_THREADS_MAX];
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tids[started], NULL, argon2_thread, &s) != 0) {
            int none = 0;
            __atomic_compare_exchange_n(&s.error, &none,
                                        (int)SMTORP_WORK_THREAD, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
            break;
        }
        started++;
    }
    argon2_work(&s, 1);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);

    int error = __atomic_load_n(&s.error, __ATOMIC_ACQUIRE);
    if (error != 0) return (smtorp_work_result)error;
    if (cancelled(cancel_flag)) return SMTORP_WORK_CANCELLED;
    if (s.best == UINT64_MAX) return SMTORP_WORK_EXHAUSTED;
    *nonce_out = start_nonce + s.best;
    return SMTORP_WORK_OK;
}

/* ------------------------------------------------------------------ */
/* 3. Legacy hashcash v1                                              */
/* ------------------------------------------------------------------ */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int is_b64(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

static int all_digits(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

static int date_ok(const char *p, size_t n) {
    return (n == 6 || n == 10 || n == 12) && all_digits(p, n);
}

static unsigned leading_zero_bits(const uint8_t *d, size_t n) {
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0) {
            bits += 8;
            continue;
        }
        for (uint8_t m = 0x80; m != 0 && (d[i] & m) == 0; m >>= 1) bits++;
        break;
    }
    return bits;
}

/* SHA-1 of a continuation of `prefix` (a context holding the stamp's fixed
 * part): leading zero bits into *bits. 0 on an OpenSSL failure. */
static int sha1_tail_bits(EVP_MD_CTX *work, const EVP_MD_CTX *prefix,
                          const char *tail, size_t tail_len,
                          unsigned *bits) {
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_MD_CTX_copy_ex(work, prefix) != 1 ||
        EVP_DigestUpdate(work, tail, tail_len) != 1 ||
        EVP_DigestFinal_ex(work, d, &dlen) != 1 || dlen != 20)
        return 0;
    *bits = leading_zero_bits(d, dlen);
    return 1;
}

SMTORP_API smtorp_work_result smtorp_hashcash_mint(
    unsigned bits, const char *resource, const char *date, const char *rand,
    char *out, size_t out_size, const int *cancel_flag) {
    if (out != NULL && out_size > 0) memset(out, 0, out_size);
    if (out == NULL || out_size == 0 || resource == NULL)
        return SMTORP_WORK_INVALID_ARGUMENT;
    if (bits < 1 || bits > SMTORP_HASHCASH_BITS_MAX)
        return SMTORP_WORK_BAD_PARAMETERS;
    size_t rlen = strlen(resource);
    if (rlen == 0) return SMTORP_WORK_MALFORMED;
    for (size_t i = 0; i < rlen; i++)
        if (resource[i] <= ' ' || resource[i] > '~' || resource[i] == ':')
            return SMTORP_WORK_MALFORMED;

    char today[16];
    if (date == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL ||
            strftime(today, sizeof today, "%y%m%d", &tm) != 6)
            return SMTORP_WORK_CRYPTO;
        date = today;
    }
    if (!date_ok(date, strlen(date))) return SMTORP_WORK_MALFORMED;

    char random_part[17];
    if (rand == NULL) {
        uint8_t r[16];
        if (sodium_init() < 0) return SMTORP_WORK_CRYPTO;
        randombytes_buf(r, sizeof r);
        for (int i = 0; i < 16; i++) random_part[i] = b64[r[i] & 63];
        random_part[16] = '\0';
        rand = random_part;
    }
    size_t randlen = strlen(rand);
    if (randlen == 0) return SMTORP_WORK_MALFORMED;
    for (size_t i = 0; i < randlen; i++)
        if (!is_b64(rand[i])) return SMTORP_WORK_MALFORMED;

    /* "1:bits:date:resource::rand:" then the counter. */
    int plen = snprintf(out, out_size, "1:%u:%s:%s::%s:", bits, date,
                        resource, rand);
    /* The counter needs at most 11 characters (64 bits in base 64) + NUL. */
    if (plen < 0 || (size_t)plen + 12 > out_size ||
        (size_t)plen + 11 > SMTORP_HASHCASH_STAMP_MAX) {
        memset(out, 0, out_size);
        return plen < 0 ? SMTORP_WORK_MALFORMED
                        : SMTORP_WORK_BUFFER_TOO_SMALL;
    }

    smtorp_work_result result = SMTORP_WORK_CRYPTO;
    EVP_MD_CTX *prefix = EVP_MD_CTX_new();
    EVP_MD_CTX *work = EVP_MD_CTX_new();
    if (prefix == NULL || work == NULL) {
        result = SMTORP_WORK_NO_MEMORY;
        goto done;
    }
    if (EVP_DigestInit_ex(prefix, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(prefix, out, (size_t)plen) != 1)
        goto done;

    char counter[12];
    for (uint64_t c = 0;; c++) {
        if ((c & 4095u) == 0 && cancelled(cancel_flag)) {
            result = SMTORP_WORK_CANCELLED;
            goto done;
        }
        /* c in base 64, most significant digit first, at least one digit. */
        char tmp[11];
        size_t n = 0;
        uint64_t v = c;
        do {
            tmp[n++] = b64[v & 63];
            v >>= 6;
        } while (v != 0);
        for (size_t i = 0; i < n; i++) counter[i] = tmp[n - 1 - i];
        unsigned got;
        if (!sha1_tail_bits(work, prefix, counter, n, &got)) goto done;
        if (got >= bits) {
            memcpy(out + plen, counter, n);
            out[(size_t)plen + n] = '\0';
            result = SMTORP_WORK_OK;
            goto done;
        }
        if (c == UINT64_MAX) {
            result = SMTORP_WORK_EXHAUSTED;
            goto done;
        }
    }
done:
    EVP_MD_CTX_free(prefix);
    EVP_MD_CTX_free(work);
    if (result != SMTORP_WORK_OK) memset(out, 0, out_size);
    return result;
}

SMTORP_API smtorp_work_result smtorp_hashcash_check(const char *stamp,
                                                    size_t len,
                                                    unsigned *bits_out) {
    if (bits_out != NULL) *bits_out = 0;
    if (stamp == NULL || bits_out == NULL)
        return SMTORP_WORK_INVALID_ARGUMENT;
    if (len == 0 || len > SMTORP_HASHCASH_STAMP_MAX)
        return SMTORP_WORK_MALFORMED;

    /* Seven fields separated by ':', printable ASCII only. */
    size_t start[7], flen[7];
    size_t field = 0;
    start[0] = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)stamp[i];
        if (c < 0x20 || c > 0x7e) return SMTORP_WORK_MALFORMED;
        if (c == ':') {
            if (field == 6) return SMTORP_WORK_MALFORMED;
            flen[field] = i - start[field];
            start[++field] = i + 1;
        }
    }
    if (field != 6) return SMTORP_WORK_MALFORMED;
    flen[6] = len - start[6];

    const char *ver = stamp + start[0];
    const char *bits_s = stamp + start[1];
    if (flen[0] != 1 || ver[0] != '1') return SMTORP_WORK_MALFORMED;
    if (flen[1] < 1 || flen[1] > 3 || !all_digits(bits_s, flen[1]) ||
        (flen[1] > 1 && bits_s[0] == '0'))
        return SMTORP_WORK_MALFORMED;
    unsigned claimed = 0;
    for (size_t i = 0; i < flen[1]; i++)
        claimed = claimed * 10 + (unsigned)(bits_s[i] - '0');
    if (claimed > 160) return SMTORP_WORK_MALFORMED;
    if (!date_ok(stamp + start[2], flen[2])) return SMTORP_WORK_MALFORMED;
    if (flen[3] == 0 || flen[5] == 0 || flen[6] == 0)
        return SMTORP_WORK_MALFORMED;
    for (size_t f = 3; f <= 6; f++)
        for (size_t i = 0; i < flen[f]; i++)
            if (stamp[start[f] + i] == ' ') return SMTORP_WORK_MALFORMED;

    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(stamp, len, d, &dlen, EVP_sha1(), NULL) != 1 ||
        dlen != 20)
        return SMTORP_WORK_CRYPTO;
    *bits_out = leading_zero_bits(d, dlen);
    return *bits_out >= claimed ? SMTORP_WORK_OK
                                : SMTORP_WORK_INSUFFICIENT_EFFORT;
}

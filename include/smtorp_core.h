/*
 * smtorp_core.h: the C core of smtorp.
 *
 * The core knows bytes, sockets, TLS, files and hash kernels. It never knows
 * SMTP: the protocol state machines live in the Swift layer, which drives this
 * API from a single thread (the event loop's). Every function here is called
 * on the loop thread unless it says otherwise.
 *
 * Shape (libsodium / Equi-X style): opaque contexts with _new/_free
 * (_free(NULL) is a no-op), explicit lengths, one result enum naming every
 * failure, outputs zeroed first, results that must be checked are marked.
 *
 * Untrusted input: every byte read from a connection is untrusted. The core
 * frames it (lines with a hard maximum length, or exact byte counts) and hands
 * it on; it never interprets it.
 */
#ifndef SMTORP_CORE_H
#define SMTORP_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMTORP_API __attribute__((visibility("default")))
#define SMTORP_WUR __attribute__((warn_unused_result))

/* ------------------------------------------------------------------ */
/* Results                                                            */
/* ------------------------------------------------------------------ */

/** Every failure the core can report. SMTORP_OK is 0. */
typedef enum smtorp_result {
    SMTORP_OK = 0,
    SMTORP_ERR_INVALID_ARGUMENT = 1, /* NULL where not allowed, bad length   */
    SMTORP_ERR_NO_MEMORY = 2,
    SMTORP_ERR_ADDRESS = 3,          /* host is not a numeric IPv4/IPv6 addr */
    SMTORP_ERR_BIND = 4,             /* bind() failed (port in use, ...)     */
    SMTORP_ERR_LISTEN = 5,
    SMTORP_ERR_CONNECT = 6,
    SMTORP_ERR_EVENT = 7,            /* libevent refused an operation        */
    SMTORP_ERR_TLS_CONTEXT = 8,      /* SSL_CTX could not be set up          */
    SMTORP_ERR_TLS_KEY = 9,          /* key missing, unreadable or invalid   */
    SMTORP_ERR_TLS_CERTIFICATE = 10, /* certificate missing/unreadable/bad   */
    SMTORP_ERR_TLS_NOT_ESTABLISHED = 11, /* no TLS session on this conn      */
    SMTORP_ERR_IO = 12,              /* a file system call failed (errno set)*/
    SMTORP_ERR_EXISTS = 13,          /* the file to create already exists    */
    SMTORP_ERR_CRYPTO = 14,          /* a primitive failed (RNG, hash, ...)  */
    SMTORP_ERR_CLOSED = 15,          /* the connection is closing            */
    SMTORP_ERR_BUFFER_TOO_SMALL = 16,
    SMTORP_ERR_SPAWN = 17            /* a child process could not be started */
} smtorp_result;

/** A static English description of `result`, never NULL. */
SMTORP_API const char *smtorp_result_string(smtorp_result result);

/* ------------------------------------------------------------------ */
/* Event loop, signals, timers, clocks                                */
/* ------------------------------------------------------------------ */

typedef struct smtorp_loop smtorp_loop;

/** Creates a loop. Also ignores SIGPIPE for the process (writes to a closed
 *  socket must be an error, not a death). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_loop_new(smtorp_loop **out);
SMTORP_API void smtorp_loop_free(smtorp_loop *loop);
/** Runs until smtorp_loop_stop() or until no events remain. Returns 0 on a
 *  normal exit, -1 on a libevent error. */
SMTORP_API int smtorp_loop_run(smtorp_loop *loop);
/** Makes smtorp_loop_run() return after the current callback. */
SMTORP_API void smtorp_loop_stop(smtorp_loop *loop);

/** Called on the loop thread when SIGTERM or SIGINT arrives. */
typedef void (*smtorp_signal_cb)(int signal_number, void *arg);
/** Installs the shutdown-signal handler (SIGTERM and SIGINT) on `loop`.
 *  Only one handler per loop; a second call replaces the first. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_loop_on_shutdown_signal(
    smtorp_loop *loop, smtorp_signal_cb cb, void *arg);

typedef struct smtorp_timer smtorp_timer;
typedef void (*smtorp_timer_cb)(void *arg);
SMTORP_API SMTORP_WUR smtorp_result smtorp_timer_new(
    smtorp_loop *loop, smtorp_timer_cb cb, void *arg, smtorp_timer **out);
SMTORP_API void smtorp_timer_free(smtorp_timer *timer);
/** (Re)arms a one-shot timer; a pending expiry is replaced. */
SMTORP_API void smtorp_timer_start(smtorp_timer *timer, uint64_t milliseconds);
SMTORP_API void smtorp_timer_stop(smtorp_timer *timer);

/** A watch on a directory (Linux inotify): `cb` runs on the loop thread
 *  after entries were created, moved in or out, or removed there (link,
 *  rename, unlink), coalesced into one call per wake. */
typedef struct smtorp_dir_watch smtorp_dir_watch;
typedef void (*smtorp_dir_watch_cb)(void *arg);
/** SMTORP_ERR_IO (errno set) when inotify is not available, its limits are
 *  reached, or `path` is not a directory; the owner then falls back to
 *  looking at the directory periodically. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_dir_watch_new(
    smtorp_loop *loop, const char *path, smtorp_dir_watch_cb cb, void *arg,
    smtorp_dir_watch **out);
/** Stops and frees the watch (NULL is fine); no call after this. */
SMTORP_API void smtorp_dir_watch_free(smtorp_dir_watch *watch);

/** Milliseconds from an arbitrary start, never going backwards. Any thread. */
SMTORP_API uint64_t smtorp_clock_monotonic_ms(void);
/** Seconds since 1970-01-01T00:00:00Z (wall clock). Any thread. */
SMTORP_API int64_t smtorp_clock_unix_seconds(void);

/* ------------------------------------------------------------------ */
/* TLS                                                                */
/* ------------------------------------------------------------------ */

typedef struct smtorp_tls_context smtorp_tls_context;

/** A server context: TLS 1.2 minimum, 1.3 preferred, strong AEAD-only
 *  ciphers with forward secrecy, no compression, no renegotiation, no
 *  session tickets, server cipher preference. Loads a PEM certificate and
 *  key and checks that they belong together. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_tls_server_context_new(
    const char *certificate_path, const char *key_path,
    smtorp_tls_context **out);
/** A client context with the same protocol floor and cipher policy. It does
 *  no CA verification: the caller pins the peer's SPKI fingerprint with
 *  smtorp_conn_peer_spki_sha256(). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_tls_client_context_new(
    smtorp_tls_context **out);
SMTORP_API void smtorp_tls_context_free(smtorp_tls_context *ctx);

/** Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate
 *  (CN = `common_name`, 20-year validity, random serial) and writes both as
 *  PEM, mode 0600, created exclusively (SMTORP_ERR_EXISTS if either file is
 *  already there; nothing is left behind on failure). Each file is written
 *  to a temporary name, fsynced, renamed, and the directory fsynced. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_tls_generate_identity(
    const char *key_path, const char *certificate_path,
    const char *common_name);

/** SHA-256 over the DER SubjectPublicKeyInfo of the certificate in the PEM
 *  file at `certificate_path`. `out` is zeroed first. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_tls_certificate_spki_sha256(
    const char *certificate_path, uint8_t out[32]);

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

typedef struct smtorp_conn smtorp_conn;
typedef struct smtorp_listener smtorp_listener;

/** What happened to a connection. After SMTORP_CONN_EOF, _ERROR, _TLS_ERROR,
 *  _TIMEOUT or _SOCKS_ERROR the owner must call smtorp_conn_close(). */
typedef enum smtorp_conn_event {
    SMTORP_CONN_READY = 1,    /* TCP connected and, with TLS, handshake done */
    SMTORP_CONN_EOF = 2,      /* the peer closed                             */
    SMTORP_CONN_ERROR = 3,    /* a socket error (or connect failure)         */
    SMTORP_CONN_TLS_ERROR = 4,/* TLS handshake or record failure             */
    SMTORP_CONN_TIMEOUT = 5,  /* no bytes read for the read timeout          */
    SMTORP_CONN_SOCKS_ERROR = 6 /* the SOCKS5 proxy refused or misbehaved:
                                   see smtorp_conn_socks_error()            */
} smtorp_conn_event;

/**
 * Callbacks of one connection. All run on the loop thread. Inside any
 * callback the owner may call any smtorp_conn_* function on this conn,
 * including smtorp_conn_close(); after close no callback is delivered.
 *
 * Framing (see smtorp_conn_expect_lines / _expect_bytes):
 *  - on_line: one line, WITHOUT its final LF; a CR before the LF is kept
 *    (so the owner can tell CRLF from a bare LF). `length` + 1 (the LF) is at
 *    most the current maximum line length.
 *  - on_line_too_long: no LF within the maximum line length. The core then
 *    discards bytes up to and including the next LF (that remainder is never
 *    delivered as a line) and carries on framing after it.
 *  - on_chunk: part of an exact byte count; `remaining` is how many bytes of
 *    the count are still to come (0 on the last piece, after which the mode
 *    is lines again with the previous maximum).
 * Mode changes made inside a callback apply to the very next byte: bytes
 * already buffered are framed with the new mode (this is what makes SMTP
 * PIPELINING and BDAT work).
 */
typedef struct smtorp_conn_callbacks {
    void (*on_event)(smtorp_conn *conn, smtorp_conn_event event, void *arg);
    void (*on_line)(smtorp_conn *conn, const uint8_t *line, size_t length,
                    void *arg);
    void (*on_line_too_long)(smtorp_conn *conn, void *arg);
    void (*on_chunk)(smtorp_conn *conn, const uint8_t *data, size_t length,
                     uint64_t remaining, void *arg);
} smtorp_conn_callbacks;

/** Called for each accepted connection, before any byte is read. The owner
 *  sets callbacks with smtorp_conn_set_callbacks() inside this call; READY
 *  follows once the TLS handshake (if any) completes. */
typedef void (*smtorp_accept_cb)(smtorp_conn *conn, void *arg);

/** Listens on a numeric IPv4 or IPv6 `host` and `port` (0 = any free port;
 *  read it back with smtorp_listener_port). With `tls` non-NULL every
 *  accepted connection speaks TLS from the first byte (implicit TLS);
 *  with NULL it is cleartext. SO_REUSEADDR is set. The TLS context must
 *  outlive the listener. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_listener_new(
    smtorp_loop *loop, const char *host, uint16_t port,
    smtorp_tls_context *tls, smtorp_accept_cb cb, void *arg,
    smtorp_listener **out);
SMTORP_API uint16_t smtorp_listener_port(const smtorp_listener *listener);
/** Stops accepting. Connections already accepted are not affected. */
SMTORP_API void smtorp_listener_free(smtorp_listener *listener);

/** Connects to a numeric `host` and `port`, with TLS when `tls` is non-NULL
 *  (`server_name` is sent as SNI when non-NULL). Callbacks are set before the
 *  call returns; READY or ERROR/TLS_ERROR follows. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_connect(
    smtorp_loop *loop, const char *host, uint16_t port,
    smtorp_tls_context *tls, const char *server_name,
    const smtorp_conn_callbacks *callbacks, void *arg, smtorp_conn **out);

SMTORP_API void smtorp_conn_set_callbacks(
    smtorp_conn *conn, const smtorp_conn_callbacks *callbacks, void *arg);

/** Line mode with a hard maximum line length in octets, counting the LF
 *  (and the CR before it). The initial mode is lines with 512. */
SMTORP_API void smtorp_conn_expect_lines(smtorp_conn *conn,
                                         size_t max_line_length);
/** Delivers the next `count` bytes through on_chunk (count 0: no callback,
 *  lines again at once). */
SMTORP_API void smtorp_conn_expect_bytes(smtorp_conn *conn, uint64_t count);

/** Queues bytes for sending. Backpressure: while more than
 *  smtorp_conn_output_high_watermark() bytes wait to be written, the core
 *  stops reading from this peer, and resumes once they are written out. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_write(
    smtorp_conn *conn, const uint8_t *data, size_t length);
/** Stops / resumes delivering input (e.g. while a slow store is running).
 *  Bytes keep buffering in the kernel, not in the core. */
SMTORP_API void smtorp_conn_pause_reading(smtorp_conn *conn);
SMTORP_API void smtorp_conn_resume_reading(smtorp_conn *conn);
/** The read timeout: SMTORP_CONN_TIMEOUT after this long without a byte
 *  from the peer, including during the TLS handshake. 0 disables. */
SMTORP_API void smtorp_conn_set_read_timeout(smtorp_conn *conn,
                                             uint64_t milliseconds);

/** Ends the connection: pending output is flushed (bounded by a short
 *  internal deadline), then the socket is closed and the conn freed. No
 *  callback is delivered after this call; the pointer is invalid at once.
 *  Safe inside callbacks. */
SMTORP_API void smtorp_conn_close(smtorp_conn *conn);

/**
 * Upgrades an accepted cleartext conn to TLS in place, as the server side of
 * STARTTLS (RFC 3207). Call it after writing the "220 Ready to start TLS"
 * reply, typically from on_line of the STARTTLS command. From this call on
 * nothing more is framed or read in cleartext (the line given to the
 * current on_line stays valid). Once the output written so far is flushed,
 * input buffered after the STARTTLS command is discarded (RFC 3207 section
 * 4: it is not part of the TLS session, and the owner must forget what it
 * learned before, too) and the socket switches to a TLS server bufferevent
 * with `server_ctx`. Framing mode, pause state and the read timeout carry
 * over (the timeout bounds the handshake). READY is delivered again when the
 * handshake completes; a failed handshake gives SMTORP_CONN_TLS_ERROR, a
 * peer that leaves first SMTORP_CONN_EOF. Bytes written between this call
 * and READY are sent under TLS, never in cleartext. `server_ctx` must
 * outlive the conn.
 *
 * SMTORP_ERR_INVALID_ARGUMENT: NULL, a client context, or a conn that is
 * not an accepted cleartext conn after READY (outgoing, already TLS, or a
 * second call); SMTORP_ERR_CLOSED: the conn is closing or has failed.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_start_tls(
    smtorp_conn *conn, smtorp_tls_context *server_ctx);

/** Negotiated TLS facts, e.g. "TLSv1.3" and "TLS_AES_256_GCM_SHA384".
 *  Buffers are NUL-terminated; SMTORP_ERR_TLS_NOT_ESTABLISHED without TLS. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_tls_info(
    const smtorp_conn *conn, char *version, size_t version_size,
    char *cipher, size_t cipher_size);
/** SHA-256 over the DER SubjectPublicKeyInfo of the peer's certificate
 *  (a client checks the server's this way). `out` is zeroed first. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_peer_spki_sha256(
    const smtorp_conn *conn, uint8_t out[32]);

/** Backpressure threshold in bytes (a getter for the constant). */
SMTORP_API size_t smtorp_conn_output_high_watermark(void);

/* ------------------------------------------------------------------ */
/* Durable files                                                      */
/* ------------------------------------------------------------------ */

/**
 * Writes `part_count` buffers as one new file, durably:
 *   open(tmp_path, O_CREAT|O_EXCL, 0600) -> write all -> fsync -> close
 *   -> rename(tmp_path, final_path) -> fsync(directory of final_path)
 * Only after this returns SMTORP_OK may the caller acknowledge the data.
 * On any failure tmp_path is unlinked and final_path does not exist.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_write_durable(
    const char *tmp_path, const char *final_path,
    const uint8_t *const *parts, const size_t *part_lengths,
    size_t part_count);
/**
 * Replaces `final_path` with `part_count` buffers, durably and atomically
 * (for state files that are rewritten):
 *   unlink(tmp_path) -> open(tmp_path, O_CREAT|O_EXCL, 0600) -> write all
 *   -> fsync -> close -> rename(tmp_path, final_path) -> fsync(directory)
 * A crash at any point leaves final_path whole: old or new content. On a
 * failure before the rename tmp_path is unlinked and final_path unchanged;
 * a failure of the last fsync means the new content may not survive a crash.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_replace_durable(
    const char *tmp_path, const char *final_path,
    const uint8_t *const *parts, const size_t *part_lengths,
    size_t part_count);
/** rename(old_path, new_path), replacing new_path, then fsyncs the directory
 *  of new_path and (when different) that of old_path. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_rename_durable(
    const char *old_path, const char *new_path);
/** Removes a file and fsyncs its directory, so that the removal survives a
 *  crash; SMTORP_OK when it did not exist. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_remove_durable(const char *path);
/** Lists the names in directory `path` (not "." and ".."), in no particular
 *  order, each followed by a NUL, in one buffer the caller frees with
 *  smtorp_free(); an empty directory gives length 0 (and a non-NULL
 *  buffer). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_list_directory(
    const char *path, uint8_t **out, size_t *out_length);
/** Creates a directory with `mode` and fsyncs its parent; SMTORP_OK when it
 *  already exists as a directory. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_make_directory(
    const char *path, uint32_t mode);
/** Reads a whole regular file of at most `max_length` bytes into a buffer
 *  the caller frees with smtorp_free(). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_read_file(
    const char *path, size_t max_length, uint8_t **out, size_t *out_length);
/** Removes a file (not a directory); SMTORP_OK when it did not exist. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fs_remove(const char *path);
/** Reads file descriptor `fd` (a pipe, standard input) to its end, at most
 *  `max_length` bytes (SMTORP_ERR_BUFFER_TOO_SMALL beyond), into a buffer
 *  the caller frees with smtorp_free(). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_fd_read_all(
    int fd, size_t max_length, uint8_t **out, size_t *out_length);
/** 1 if `path` exists (any type), else 0. */
SMTORP_API int smtorp_fs_exists(const char *path);
SMTORP_API void smtorp_free(void *pointer);

/* ------------------------------------------------------------------ */
/* Small primitives (libsodium and OpenSSL)                           */
/* ------------------------------------------------------------------ */

/** Fills `out` with cryptographically secure random bytes. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_random_bytes(uint8_t *out,
                                                        size_t length);
/** SHA3-256 (FIPS 202) of `data`. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_sha3_256(
    const uint8_t *data, size_t length, uint8_t out[32]);
/** HMAC-SHA256 (RFC 2104) of `message` under `key` (Tor SAFECOOKIE). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_hmac_sha256(
    const uint8_t *key, size_t key_length, const uint8_t *message,
    size_t message_length, uint8_t out[32]);
/** SHA-512 (FIPS 180-4) of `data` (Tor's expanded ed25519 key). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_sha512(
    const uint8_t *data, size_t length, uint8_t out[64]);
/** SHA-256 of `data`. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_sha256(
    const uint8_t *data, size_t length, uint8_t out[32]);
/** Compares two buffers in constant time: 1 when equal, else 0. */
SMTORP_API int smtorp_constant_time_equal(const uint8_t *a, const uint8_t *b,
                                          size_t length);
/** 1 when `public_key` is a valid Ed25519 public key (canonical encoding, on
 *  the curve, in the prime-order subgroup, not of small order: libsodium's
 *  crypto_core_ed25519_is_valid_point), else 0. Tor refuses onion names whose
 *  key is not. */
SMTORP_API int smtorp_ed25519_is_valid_public_key(const uint8_t public_key[32]);
/** The Ed25519 public key of a 32-byte seed. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_ed25519_public_key(
    const uint8_t seed[32], uint8_t out[32]);
/** The process id (for Maildir unique names). */
SMTORP_API int32_t smtorp_process_id(void);
/** Writes all of `data` to standard error (fd 2) / standard output (fd 1),
 *  retrying on EINTR and short writes. Any thread. */
SMTORP_API void smtorp_write_stderr(const uint8_t *data, size_t length);
SMTORP_API void smtorp_write_stdout(const uint8_t *data, size_t length);
/** The number of CPUs online (sysconf), at least 1. Any thread. */
SMTORP_API unsigned smtorp_cpu_count(void);

/** Resolves a program name the way a shell would: a name with a '/' is
 *  taken as it is; otherwise the first executable file of that name in a
 *  directory of $PATH (or /usr/local/bin:/usr/bin:/bin without PATH).
 *  Writes a NUL-terminated path into `out`; SMTORP_ERR_SPAWN if none. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_find_program(const char *name,
                                                       char *out,
                                                       size_t out_size);
/** Ends the process with `status` (exit(3): stdio flushed). */
SMTORP_API __attribute__((noreturn)) void smtorp_exit(int status);
/** The process's command line (argv, argv[0] first) and its length in
 *  `count`, as glibc hands it to initialisers before main(). Swift's
 *  CommandLine does not exist in Embedded Swift; this serves both builds.
 *  NULL and 0 if it was not captured. Any thread. */
SMTORP_API const char *const *smtorp_arguments(size_t *count);

/* ------------------------------------------------------------------ */
/* Passwords (the submission listener's password file)                */
/* ------------------------------------------------------------------ */

/** The size of the buffer smtorp_password_hash() needs, NUL included
 *  (libsodium's crypto_pwhash_STRBYTES, 128). */
SMTORP_API size_t smtorp_password_hash_size(void);
/** Hashes `password` (1 or more octets) with libsodium's crypto_pwhash_str
 *  (Argon2id, interactive limits, a random salt) into `out` as a
 *  NUL-terminated "$argon2id$..." string. `out` is zeroed first;
 *  SMTORP_ERR_BUFFER_TOO_SMALL below smtorp_password_hash_size(). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_password_hash(
    const uint8_t *password, size_t length, char *out, size_t out_size);
/** 1 when `password` matches `hash` (a NUL-terminated crypto_pwhash_str
 *  string), else 0, also for a malformed hash. Constant time in the
 *  comparison; the cost is the hash's own (tens of milliseconds). */
SMTORP_API SMTORP_WUR int smtorp_password_verify(const char *hash,
                                                 const uint8_t *password,
                                                 size_t length);

typedef struct smtorp_password_check smtorp_password_check;
/** Called on the loop thread, once, with the verdict of the check (1 when
 *  the password matches). The callback may free the check. */
typedef void (*smtorp_password_check_cb)(smtorp_password_check *check,
                                         int matches, void *arg);
/** smtorp_password_verify(hash, password) on a worker thread of its own
 *  (one evaluation: 64 MiB, tens of milliseconds), so that the loop keeps
 *  serving; both are copied (the copy of the password is wiped when the
 *  check is freed). SMTORP_ERR_INVALID_ARGUMENT for NULLs or a hash not
 *  NUL-terminated within smtorp_password_hash_size() bytes; _IO (no pipe),
 *  _EVENT, _NO_MEMORY, _SPAWN (no thread; errno set). Run one at a time:
 *  each holds the memory of one evaluation. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_password_check_start(
    smtorp_loop *loop, const char *hash, const uint8_t *password,
    size_t length, smtorp_password_check_cb cb, void *arg,
    smtorp_password_check **out);
/** Frees a check (loop thread). A running check is waited for (it cannot
 *  be interrupted: at most one evaluation); no callback comes after. */
SMTORP_API void smtorp_password_check_free(smtorp_password_check *check);

/* ------------------------------------------------------------------ */
/* SOCKS5 client (RFC 1928, RFC 1929) for Tor                         */
/* ------------------------------------------------------------------ */

/*
 * The pure protocol part: builders for the three requests a client sends
 * and parsers for the three replies it reads. No I/O: a parser is given the
 * bytes received so far and says how many belong to the reply (*consumed)
 * and what it found, like Tor's parse_socks_client(). Bytes after a reply
 * are not part of it (after the CONNECT reply they belong to the tunnel).
 *
 * Builders zero `out` (all `out_size` bytes) and *out_length first; they
 * return SMTORP_ERR_INVALID_ARGUMENT for a NULL pointer or a length outside
 * the protocol's range and SMTORP_ERR_BUFFER_TOO_SMALL when `out` cannot hold
 * the request. SMTORP_SOCKS5_REQUEST_MAX bytes always suffice.
 */

/** The largest request the builders make (an RFC 1929 request with a
 *  255-octet user name and password: 3 + 255 + 255). */
#define SMTORP_SOCKS5_REQUEST_MAX 513
/** SMTORP_SOCKS5_REQUEST_MAX (a getter for the constant). */
SMTORP_API size_t smtorp_socks5_request_max(void);

/** The greeting (RFC 1928 section 3): VER 5, one method: 0x00 (no
 *  authentication) or, with `with_password` non-zero, only 0x02
 *  (username/password), so that a proxy cannot silently skip it. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_socks5_greeting(
    int with_password, uint8_t *out, size_t out_size, size_t *out_length);
/** The username/password request (RFC 1929 section 2): VER 1, ULEN, UNAME,
 *  PLEN, PASSWD. Each of `username` and `password` is 1..255 octets (Tor
 *  uses them only for stream isolation: any values). */
SMTORP_API SMTORP_WUR smtorp_result smtorp_socks5_auth_request(
    const char *username, const char *password, uint8_t *out,
    size_t out_size, size_t *out_length);
/** The CONNECT request (RFC 1928 section 4) by domain name: VER 5, CMD 1,
 *  RSV 0, ATYP 3, a 1..255-octet name, the port in network order. */
SMTORP_API SMTORP_WUR smtorp_result smtorp_socks5_connect_request(
    const char *domain_name, uint16_t port, uint8_t *out, size_t out_size,
    size_t *out_length);

/** What a parser found. */
typedef enum smtorp_socks5_parse {
    SMTORP_SOCKS5_NEED_MORE = 0, /* a prefix of a valid reply: read more   */
    SMTORP_SOCKS5_DONE = 1,      /* a whole reply, *consumed bytes long    */
    SMTORP_SOCKS5_MALFORMED = 2  /* not a valid reply (or a NULL pointer)  */
} smtorp_socks5_parse;

/** The method selection reply (RFC 1928 section 3, 2 bytes: VER 5,
 *  METHOD). *method is the selected method (0xFF: none acceptable).
 *  *consumed and *method are zeroed first. */
SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_method_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *method);
/** The username/password reply (RFC 1929 section 2, 2 bytes: VER 1,
 *  STATUS). *status 0 is success. *consumed and *status are zeroed first. */
SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_auth_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *status);
/** The CONNECT reply (RFC 1928 section 6): VER 5, REP, RSV, ATYP, BND.ADDR
 *  (ATYP 1: 4 bytes, 3: one length byte and that many, 4: 16), BND.PORT.
 *  *reply is the REP byte (0 = succeeded). RSV and BND are not checked
 *  (Tor sends zeros); VER and ATYP are. *consumed and *reply are zeroed
 *  first. */
SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_connect_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *reply);

/*
 * A connection through a SOCKS5 proxy (Tor's SocksPort), on the smtorp_conn
 * machinery above.
 */

/** After SMTORP_CONN_SOCKS_ERROR, smtorp_conn_socks_error() is either the
 *  proxy's CONNECT reply byte 0x01..0xFF (RFC 1928: 0x01-0x08; Tor's
 *  ExtendedErrors: 0xF0-0xF7) or one of these: */
#define SMTORP_SOCKS_NO_ACCEPTABLE_METHOD (-1) /* method reply 0xFF        */
#define SMTORP_SOCKS_AUTH_FAILED (-2)          /* RFC 1929 status != 0     */
#define SMTORP_SOCKS_PROTOCOL_ERROR (-3)       /* malformed bytes, an
                                                  unoffered method, or the
                                                  proxy closed mid-handshake */

/**
 * Connects to the proxy at a numeric `proxy_host` and `proxy_port`, speaks
 * SOCKS5 (username/password, RFC 1929, when both `username` and `password`
 * are non-NULL: Tor uses them for stream isolation, any values of 1..255
 * octets; else no authentication), CONNECTs to `destination_host` (sent as
 * a domain name, ATYP 3, 1..255 octets) and `destination_port`, then starts
 * TLS when `tls` is non-NULL (`server_name` is sent as SNI when it is a
 * non-NULL host name, never an address literal). READY is delivered once all
 * of that succeeded. Callbacks are set before the call returns.
 *
 * Failures: the proxy unreachable gives SMTORP_CONN_ERROR; a refusal or a
 * broken handshake gives SMTORP_CONN_SOCKS_ERROR (smtorp_conn_socks_error()
 * tells which); the read timeout (smtorp_conn_set_read_timeout, set right
 * after this call) bounds the SOCKS and TLS handshakes as well and gives
 * SMTORP_CONN_TIMEOUT; a failed TLS handshake gives SMTORP_CONN_TLS_ERROR.
 *
 * Bytes written before READY are held back and sent through the tunnel once
 * it is open (after the TLS handshake with TLS). Bytes the proxy sends after
 * its CONNECT reply belong to the tunneled stream: in cleartext they are
 * framed after READY; with TLS they can only be a broken peer (a TLS server
 * never speaks first) and give SMTORP_CONN_TLS_ERROR.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_conn_connect_socks(
    smtorp_loop *loop, const char *proxy_host, uint16_t proxy_port,
    const char *username, const char *password, const char *destination_host,
    uint16_t destination_port, smtorp_tls_context *tls,
    const char *server_name, const smtorp_conn_callbacks *callbacks,
    void *arg, smtorp_conn **out);

/** After SMTORP_CONN_SOCKS_ERROR: the reason (see above). 0 on any other
 *  conn and before such an event. */
SMTORP_API int smtorp_conn_socks_error(const smtorp_conn *conn);

/* ------------------------------------------------------------------ */
/* Child processes (the managed tor)                                  */
/* ------------------------------------------------------------------ */

typedef struct smtorp_process smtorp_process;

/** Called on the loop thread once the child has exited, with its status as
 *  waitpid(2) gives it (WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG). The
 *  process object stays valid until smtorp_process_free(), which may be
 *  called inside this callback. */
typedef void (*smtorp_process_exit_cb)(smtorp_process *process,
                                       int wait_status, void *arg);

/**
 * Starts `path` (no PATH search) with the NULL-terminated `argv` (argv[0]
 * required) and the current environment. The child gets stdin from
 * /dev/null; stdout and stderr appended to `log_path` (created 0600 when
 * missing) or inherited when `log_path` is NULL; every other descriptor
 * closed; default signal dispositions and an empty signal mask; its own
 * process group (a terminal's ^C reaches only us: we decide how the child
 * stops); and PR_SET_PDEATHSIG SIGTERM, so it dies with the thread that
 * spawned it. When exec fails nothing is left running and the result is
 * SMTORP_ERR_SPAWN with errno set to exec's errno. A log file that cannot
 * be opened gives SMTORP_ERR_IO (errno set).
 *
 * Exits are reaped through a SIGCHLD event on `loop` (installed by the first
 * spawn), only for pids spawned here; `cb` (may be NULL) reports them.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_process_spawn(
    smtorp_loop *loop, const char *path, const char *const *argv,
    const char *log_path, smtorp_process_exit_cb cb, void *arg,
    smtorp_process **out);
/** The child's pid (0 for NULL). */
SMTORP_API int32_t smtorp_process_pid(const smtorp_process *process);
/** 1 until the exit has been reaped (the exit callback or
 *  smtorp_process_wait()), else 0. */
SMTORP_API int smtorp_process_is_running(const smtorp_process *process);
/** The wait status once reaped (see smtorp_process_exit_cb), else 0. */
SMTORP_API int smtorp_process_exit_status(const smtorp_process *process);
/** Sends `signal_number` to the child. SMTORP_ERR_INVALID_ARGUMENT for
 *  NULL, a bad signal number, or a child already reaped (its pid may belong
 *  to another process by now: never signalled). */
SMTORP_API smtorp_result smtorp_process_signal(smtorp_process *process,
                                              int signal_number);
/** Frees the object. It does NOT stop a running child (signal it first); a
 *  child that exits later is still reaped by the loop (no zombie), silently.
 *  NULL is fine. */
SMTORP_API void smtorp_process_free(smtorp_process *process);
/** Blocks up to `milliseconds` for the child to exit (for shutdown paths,
 *  outside callbacks). Returns 1 when it has exited (reaping it here: the
 *  exit callback is then not delivered; smtorp_process_exit_status() tells
 *  the status), 0 otherwise. */
SMTORP_API int smtorp_process_wait(smtorp_process *process,
                                   uint64_t milliseconds);

/* ------------------------------------------------------------------ */
/* Proof of work: Equihash                                            */
/* ------------------------------------------------------------------ */

/*
 * Equihash (Biryukov & Khovratovich, "Equihash: asymmetric proof-of-work
 * based on the generalized birthday problem", NDSS 2016), exchangeable with
 * libequihash 1.0.6 (stef/equihash, the authors' reference code, a Debian
 * package): a solution from either side verifies on the other.
 *
 * Construction, with d = n / (k + 1) and indices 0 <= i < 2^(d+1):
 *   H(i)      = BLAKE2b-256(seed || LE32(nonce) || LE32(i))
 *               (unkeyed, no personalization, one hash per index)
 *   digit_j(i) = LE32(H(i)[4j .. 4j+3]) >> (32 - d),  j = 0 .. k
 *               (the top d bits of each little-endian 32-bit word)
 * A solution is a nonce and 2^k distinct indices forming Wagner's tree: in
 * every node of height h + 1 (h = 0 .. k-1) the XOR of digit h over the
 * left child's leaves equals that over the right child's (the algorithm
 * binding), and digit k XORs to zero over all leaves.
 *
 * Encoding, smtorp_equihash_solution_length(n, k) bytes: BE32(nonce) (big
 * endian, although the hash takes it little endian), then the 2^k indices
 * in tree order, d + 1 bits each, packed most significant bit first.
 *
 * Canonical order (the order libequihash's solver emits): leaves compare by
 * index; subtrees of height h >= 1 compare by (XOR of digit h-1 over their
 * left child's leaves, then their left children, then their right
 * children); in every node the left subtree compares below the right one.
 * libequihash's own verify() checks only that all digits XOR to zero (it
 * accepts, e.g., an all-zero solution); ours checks everything above.
 *
 * Seeds: a multiple of 4 bytes, at most SMTORP_EQUIHASH_SEED_MAX.
 * libequihash overwrites a seed's last len % 4 bytes with the nonce (so
 * they do not count): such seeds are refused rather than half-hashed.
 * Parameters: 1 <= k <= 7, n a multiple of k + 1, 7 <= d <= 31 and
 * 2^k * (d + 1) a multiple of 8 (libequihash silently truncates n / (k + 1)
 * and a last partial byte, and its bit packer breaks on indices narrower
 * than 8 bits: such parameters are refused). The solver also needs
 * k + 3 <= d <= 28: with a smaller d the lists are unstable and fill up
 * with trees that repeat an index.
 *
 * Default (n, k) = (96, 5), chosen by measurement (scripts/bench-pow.sh
 * --survey, 2-core AMD EPYC VM, medians): a client puzzle that a low-power
 * board solves in seconds, with any libequihash-compatible solver.
 *   (n,k)   ours 1 thread   same, no SIMD   libequihash     proof
 *   (90,5)   22 ms  7 MB     34 ms           0.34 s  27 MB   68 B
 *   (96,5)   41 ms 14 MB     63 ms           1.1 s   55 MB   72 B
 *   (102,5)  94 ms 28 MB    139 ms           2.1 s  109 MB   76 B
 *   (108,5) 187 ms 54 MB    283 ms           4.5 s  218 MB   80 B
 * At (96, 5) a board 10-30x slower than this core (Raspberry Pi class, no
 * AVX2: the "no SIMD" column) needs about 0.6-2 s and 14 MB with our
 * solver, and a peer on the reference solver (libequihash) 10-30 s and
 * 55 MB: the most that still keeps such a peer "in seconds". (102, 5)
 * doubles everything (the reference solver then needs over 100 MB and
 * tens of seconds on a board); (90, 5) and below cost a PC almost nothing.
 * Verification is independent of n: 2^5 = 32 BLAKE2b calls, about 7 us.
 */

/** Outcome of a verify or a solve; every failure named. */
typedef enum smtorp_pow_result {
    SMTORP_POW_OK = 0,
    SMTORP_POW_BAD_PARAMETERS = 1,    /* (n, k) not supported (see above)  */
    SMTORP_POW_BAD_SEED = 2,          /* NULL with a length, length not a
                                         multiple of 4 or above the max    */
    SMTORP_POW_BAD_LENGTH = 3,        /* solution (or index count) length
                                         is not the one of (n, k)          */
    SMTORP_POW_INDEX_OUT_OF_RANGE = 4,/* an index >= 2^(d+1) (only through
                                         smtorp_equihash_verify_indices:
                                         d + 1 packed bits cannot be)      */
    SMTORP_POW_DUPLICATE_INDEX = 5,   /* an index appears twice            */
    SMTORP_POW_NONZERO_XOR = 6,       /* a collision fails at some level   */
    SMTORP_POW_WRONG_ORDER = 7,       /* valid tree, not canonical order   */
    SMTORP_POW_NO_MEMORY = 8,
    SMTORP_POW_CANCELLED = 9,         /* the cancel flag was set           */
    SMTORP_POW_NO_SOLUTION = 10,      /* no nonce in 2..0xFFFFF had one    */
    SMTORP_POW_INVALID_ARGUMENT = 11, /* a NULL pointer, max_solutions 0,
                                         threads outside 1..THREADS_MAX   */
    SMTORP_POW_THREAD = 12            /* a worker thread did not start     */
} smtorp_pow_result;

/** A static English description of `result`, never NULL. */
SMTORP_API const char *smtorp_pow_result_string(smtorp_pow_result result);

#define SMTORP_EQUIHASH_DEFAULT_N 96
#define SMTORP_EQUIHASH_DEFAULT_K 5
#define SMTORP_EQUIHASH_SEED_MAX 65532 /* libequihash keeps seed_len in 16
                                          bits                            */
#define SMTORP_EQUIHASH_THREADS_MAX 64
/** The constants above, as getters. Any thread. */
SMTORP_API unsigned smtorp_equihash_default_n(void);
SMTORP_API unsigned smtorp_equihash_default_k(void);
SMTORP_API size_t smtorp_equihash_seed_max(void);
SMTORP_API unsigned smtorp_equihash_threads_max(void);

/** Bytes of one encoded solution: 4 + 2^k * (d + 1) / 8 (72 for (96, 5)),
 *  0 when (n, k) is not supported. Any thread. */
SMTORP_API size_t smtorp_equihash_solution_length(unsigned n, unsigned k);
/** The solver's working memory for (n, k) with one thread, in bytes, all
 *  allocated by smtorp_equihash_solver_new (0 when the solver does not
 *  support (n, k)). More threads add a little (per-thread margins). */
SMTORP_API size_t smtorp_equihash_memory_bytes(unsigned n, unsigned k);

/** Verifies an encoded solution of (n, k) for `seed`: length, ranges,
 *  distinct indices, every collision of the tree, canonical order, in that
 *  order of checks (the first failure is returned). Allocates nothing,
 *  2^k hashes. Any thread. */
SMTORP_API SMTORP_WUR smtorp_pow_result smtorp_equihash_verify(
    unsigned n, unsigned k, const uint8_t *seed, size_t seed_len,
    const uint8_t *solution, size_t solution_len);
/** The same on a decoded solution: `nonce` and `count` = 2^k indices in
 *  tree order. Any thread. */
SMTORP_API SMTORP_WUR smtorp_pow_result smtorp_equihash_verify_indices(
    unsigned n, unsigned k, const uint8_t *seed, size_t seed_len,
    uint32_t nonce, const uint32_t *indices, size_t count);

typedef struct smtorp_equihash_solver smtorp_equihash_solver;

/** Progress of a solve: `step` of `steps` (= k + 1: filling the list, then
 *  one per collision round) done for `nonce` (a nonce whose lists outgrow
 *  the preallocated margins, which is rare, is redone from step 1). Called
 *  on the thread that called smtorp_equihash_solve() (the other solver
 *  threads are parked at that moment), never concurrently; it may set the
 *  cancel flag. */
typedef void (*smtorp_equihash_progress_cb)(uint32_t nonce, unsigned step,
                                            unsigned steps, void *arg);

/** A solver for (n, k) running `threads` threads (1..THREADS_MAX; the
 *  calling thread is one of them; a thread works on whole buckets, so at
 *  most 2^(d-8) are used: tiny (n, k) run on one) that preallocates all its
 *  tables. */
SMTORP_API SMTORP_WUR smtorp_pow_result smtorp_equihash_solver_new(
    unsigned n, unsigned k, unsigned threads, smtorp_equihash_solver **out);
SMTORP_API void smtorp_equihash_solver_free(smtorp_equihash_solver *solver);
/** The memory this solver holds now, in bytes (0 for NULL). */
SMTORP_API size_t smtorp_equihash_solver_memory_bytes(
    const smtorp_equihash_solver *solver);

/**
 * Solves for `seed`: tries nonces 2, 3, ... (as libequihash does) until one
 * has solutions and returns all of them for that nonce (distinct, canonical
 * order, sorted bytewise), at most `max_solutions`, one after the other in
 * `solutions_out` (max_solutions * solution_len bytes, zeroed first;
 * solution_len must be smtorp_equihash_solution_length(n, k)). *found is
 * zeroed first, then set to the number written. Blocks the calling thread;
 * starts threads - 1 more for the duration of the call. One solve at a time
 * per solver.
 *
 * `progress` (may be NULL) is called as described above. `cancel_flag`
 * (may be NULL) is read atomically between buckets and rounds: once it is
 * non-zero the solve stops within a bucket's work (microseconds) and
 * returns SMTORP_POW_CANCELLED with nothing written. Set it with
 * smtorp_equihash_cancel() (from any thread, including `progress`); the
 * solver never resets it.
 */
SMTORP_API SMTORP_WUR smtorp_pow_result smtorp_equihash_solve(
    smtorp_equihash_solver *solver, const uint8_t *seed, size_t seed_len,
    uint8_t *solutions_out, size_t max_solutions, size_t solution_len,
    size_t *found, smtorp_equihash_progress_cb progress,
    const int *cancel_flag, void *arg);
/** Sets `*cancel_flag` to 1 with an atomic store. Any thread. */
SMTORP_API void smtorp_equihash_cancel(int *cancel_flag);

/* ------------------------------------------------------------------ */
/* Proof of work: effort, Argon2id puzzle, legacy hashcash            */
/* ------------------------------------------------------------------ */

/*
 * Three small proofs of work beside Equihash, sharing one result enum.
 *
 * Results: smtorp_work_result is a new enum rather than new cases of
 * smtorp_pow_result (equihash.c switches over that one with -Wswitch, so
 * added cases would break its -Werror build). Where a meaning is shared the
 * number is the same as in smtorp_pow_result (OK 0, NO_MEMORY 8, CANCELLED
 * 9, INVALID_ARGUMENT 11, THREAD 12); the new cases start at 13, so the two
 * enums can be merged later without renumbering.
 *
 * 1. Effort (the rule of Tor's onion-service PoW, proposal 327): a 32-bit
 *    value h passes effort E when (uint64_t)h * E <= 0xFFFFFFFF, so a
 *    random h passes with probability about 1/E; E = 0 and E = 1 accept
 *    every h. For a proof `solution` of some puzzle seeded by `challenge`
 *    (say an Equihash solution and its seed):
 *      h = BE32(BLAKE2b-256(solution || challenge)[0 .. 3])
 *    (unkeyed, no personalization, 32-byte output, the first 4 bytes read
 *    big endian). The two inputs are concatenated without lengths: use it
 *    where the solution length is fixed by the scheme.
 *
 * 2. Argon2id puzzle (memory-hard, no solver shortcut): for a challenge C
 *    (the caller's bytes, e.g. a hash of the stamp's binding fields, 1 ..
 *    SMTORP_ARGON2_POW_CHALLENGE_MAX bytes) a nonce N is a proof at effort
 *    E when h passes E, with
 *      A = Argon2id v1.3 (libsodium crypto_pwhash_argon2id, 1 lane):
 *            password = C || LE64(N), salt = the 16 ASCII bytes
 *            "smtorp-pow-argon" (fixed: C is already in the password),
 *            t = opslimit passes, m = memlimit bytes, 32-byte output
 *      h = BE32(A[0 .. 3])
 *    opslimit 1 .. SMTORP_ARGON2_POW_OPSLIMIT_MAX, memlimit a multiple of
 *    1024 in 8 KiB .. SMTORP_ARGON2_POW_MEMLIMIT_MAX (4 MiB), both part of
 *    the proof's parameters (a verifier must use the prover's). Default
 *    1 pass, 1 MiB: roughly a millisecond per hash on a PC, so effort E
 *    costs the prover E hashes on average and the verifier one.
 *
 * 3. Legacy hashcash v1 (Adam Back; the format of the `hashcash` tool
 *    1.22): the stamp "1:bits:date:resource:ext:rand:counter" is valid when
 *    SHA-1 of the whole stamp (the ASCII string, no newline) begins with at
 *    least `bits` zero bits. Interoperates both ways with that tool
 *    (`hashcash -m -b 16 -r R` / `hashcash -cqy -b 16 -r R STAMP`).
 */

/** Outcome of the functions of this section; every failure named. */
typedef enum smtorp_work_result {
    SMTORP_WORK_OK = 0,
    SMTORP_WORK_NO_MEMORY = 8,
    SMTORP_WORK_CANCELLED = 9,          /* the cancel flag was set          */
    SMTORP_WORK_INVALID_ARGUMENT = 11,  /* NULL pointer, empty or too long
                                           challenge, threads out of range */
    SMTORP_WORK_THREAD = 12,            /* a worker thread did not start    */
    SMTORP_WORK_INSUFFICIENT_EFFORT = 13, /* well formed, not enough work   */
    SMTORP_WORK_BAD_PARAMETERS = 14,    /* opslimit/memlimit or bits out of
                                           range                           */
    SMTORP_WORK_EXHAUSTED = 15,         /* the 64-bit nonce space (or the
                                           hashcash counter) ran out       */
    SMTORP_WORK_BUFFER_TOO_SMALL = 16,  /* the output buffer cannot hold it */
    SMTORP_WORK_MALFORMED = 17,         /* not a hashcash v1 stamp, or a
                                           field with a forbidden byte     */
    SMTORP_WORK_CRYPTO = 18             /* libsodium/OpenSSL failed         */
} smtorp_work_result;

/** A static English description of `result`, never NULL. Any thread. */
SMTORP_API const char *smtorp_work_result_string(smtorp_work_result result);

/* -- 1. Effort ------------------------------------------------------ */

/** 1 when (uint64_t)h * effort <= 0xFFFFFFFF (always for effort 0 and 1),
 *  else 0. Any thread. */
SMTORP_API int smtorp_pow_effort_ok(uint32_t h, uint32_t effort);
/** h = BE32(BLAKE2b-256(solution || challenge)[0..3]) into *h_out (zeroed
 *  first). Either input may be empty (NULL with length 0). Any thread. */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_pow_effort_value(
    const uint8_t *solution, size_t solution_len, const uint8_t *challenge,
    size_t challenge_len, uint32_t *h_out);
/** smtorp_pow_effort_value then smtorp_pow_effort_ok: SMTORP_WORK_OK or
 *  SMTORP_WORK_INSUFFICIENT_EFFORT. Any thread. */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_pow_effort_check(
    const uint8_t *solution, size_t solution_len, const uint8_t *challenge,
    size_t challenge_len, uint32_t effort);

/* -- 2. Argon2id puzzle --------------------------------------------- */

#define SMTORP_ARGON2_POW_SALT "smtorp-pow-argon" /* 16 bytes, no NUL   */
#define SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT 1
#define SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT (1024u * 1024u)
#define SMTORP_ARGON2_POW_OPSLIMIT_MAX 8
#define SMTORP_ARGON2_POW_MEMLIMIT_MIN (8u * 1024u)
#define SMTORP_ARGON2_POW_MEMLIMIT_MAX (4u * 1024u * 1024u)
#define SMTORP_ARGON2_POW_CHALLENGE_MAX 1024
#define SMTORP_ARGON2_POW_THREADS_MAX 64

/** The 32-bit value h of `nonce` (see above) into *h_out (zeroed first).
 *  One Argon2id evaluation; allocates memlimit bytes. Any thread. */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_argon2_pow_value(
    const uint8_t *challenge, size_t challenge_len, uint64_t opslimit,
    size_t memlimit, uint64_t nonce, uint32_t *h_out);

/** Verifies `nonce`: SMTORP_WORK_OK, SMTORP_WORK_INSUFFICIENT_EFFORT, or
 *  an argument error (SMTORP_WORK_INVALID_ARGUMENT, _BAD_PARAMETERS). One
 *  Argon2id evaluation (none for effort 0 and 1, after the argument
 *  checks). Any thread. */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_argon2_pow_verify(
    const uint8_t *challenge, size_t challenge_len, uint32_t effort,
    uint64_t opslimit, size_t memlimit, uint64_t nonce);

/** Progress of a solve: `tried` nonces evaluated so far (all threads).
 *  Called on the thread that called smtorp_argon2_pow_solve() after each of
 *  its own evaluations, never concurrently; it may set the cancel flag. */
typedef void (*smtorp_argon2_pow_progress_cb)(uint64_t tried, void *arg);

/**
 * Searches nonces start_nonce, start_nonce + 1, ... and writes to *nonce_out
 * (zeroed first) the FIRST one that passes `effort`: the same answer for any
 * number of threads. Effort 0 and 1 answer start_nonce without hashing.
 * `threads` 1 .. SMTORP_ARGON2_POW_THREADS_MAX (the calling thread is one;
 * each holds memlimit bytes while hashing). Blocks the calling thread.
 * `progress` and `cancel_flag` may be NULL; the flag is read atomically
 * before every evaluation: once non-zero the solve returns
 * SMTORP_WORK_CANCELLED (nothing written) within one evaluation per thread.
 * Set it with smtorp_pow_cancel() (any thread); the solver never resets it.
 * SMTORP_WORK_EXHAUSTED if no nonce up to start_nonce + 2^64 - 2 passes.
 */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_argon2_pow_solve(
    const uint8_t *challenge, size_t challenge_len, uint32_t effort,
    uint64_t opslimit, size_t memlimit, unsigned threads,
    uint64_t start_nonce, uint64_t *nonce_out,
    smtorp_argon2_pow_progress_cb progress, const int *cancel_flag,
    void *arg);
/** Sets `*cancel_flag` to 1 with an atomic store (NULL is a no-op). Any
 *  thread. Same effect as smtorp_equihash_cancel(). */
SMTORP_API void smtorp_pow_cancel(int *cancel_flag);

/* -- 3. Legacy hashcash v1 ------------------------------------------ */

#define SMTORP_HASHCASH_BITS_MAX 40
#define SMTORP_HASHCASH_STAMP_MAX 512 /* longest stamp check accepts     */

/**
 * Mints "1:bits:date:resource::rand:counter" into `out` (a NUL-terminated
 * string; `out` zeroed first, then holding "" on any failure) with
 * 1 <= bits <= SMTORP_HASHCASH_BITS_MAX (about 2^bits SHA-1 calls).
 * `resource`: 1+ printable ASCII bytes other than ':' (e.g. the address).
 * `date`: "YYMMDD", "YYMMDDhhmm" or "YYMMDDhhmmss" (digits), or NULL for
 * today's UTC date as YYMMDD (what the tool writes). `rand`: 1+ bytes of
 * the base64 alphabet (A-Z a-z 0-9 + / =), or NULL for 16 random ones.
 * The counter is base64 characters (as the tool's). The extension field is
 * empty. `cancel_flag` (may be NULL) is read atomically every 4096 hashes:
 * SMTORP_WORK_CANCELLED. One thread (the caller's).
 */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_hashcash_mint(
    unsigned bits, const char *resource, const char *date, const char *rand,
    char *out, size_t out_size, const int *cancel_flag);

/**
 * Checks the shape and the work of a v1 stamp of `len` bytes (no NUL or
 * newline; at most SMTORP_HASHCASH_STAMP_MAX): version "1", bits decimal
 * 0 .. 160, 7 fields, date of 6, 10 or 12 digits, non-empty resource,
 * rand and counter, no control bytes. *bits_out (zeroed first) receives the
 * number of leading zero bits of SHA-1(stamp) whenever the stamp is well
 * formed. SMTORP_WORK_OK when that is >= the stamp's claimed bits,
 * SMTORP_WORK_INSUFFICIENT_EFFORT when below, SMTORP_WORK_MALFORMED
 * otherwise. The caller compares *bits_out (or the claimed bits) with its
 * minimum and checks the resource, the date and double spending. Any
 * thread.
 */
/* ------------------------------------------------------------------ */
/* Proof of work: solve jobs                                          */
/* ------------------------------------------------------------------ */

/*
 * The searches above take from milliseconds to minutes, so a job runs one
 * on its own C thread (which starts the search's helper threads), never on
 * the event loop, and reports back on the loop thread: the worker only
 * writes a byte into a pipe that an event of the loop watches; it never
 * touches libevent or calls the owner's code. Worker threads block every
 * signal (SIGTERM and SIGINT still reach the loop's handler).
 *
 * Kinds, and the solution bytes each produces:
 *
 * EQUIHASH ("eqh96-5", a stamp over Equihash (96, 5)), challenge C of
 *   SMTORP_POW_EQUIHASH_CHALLENGE_LEN (32) bytes. For a = a random 32-bit
 *   start, a + 1, a + 2, ... (wrapping, at most 2^32 attempts):
 *     seed      = C || BE32(a)                              (36 bytes)
 *     each solution S (72 bytes) that smtorp_equihash_solve() returns for
 *     that seed (up to 8 per solve):
 *     candidate = BE32(a) || S                              (76 bytes)
 *   and the solution is the first candidate with
 *     smtorp_pow_effort_check(candidate, 76, C, 32, effort) == OK,
 *   i.e. h = BE32(BLAKE2b-256(candidate || C)[0..3]), h * effort <= 2^32-1.
 *   A verifier checks smtorp_equihash_verify(96, 5, C || candidate[0..3],
 *   36, candidate + 4, 72) and the effort. One attempt is one solver call
 *   (about 2 solutions per call, so effort E costs about E / 2 calls).
 * ARGON2ID ("a2id-1m"): smtorp_argon2_pow_solve() with opslimit
 *   SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT and memlimit
 *   SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT from a random start nonce; the
 *   solution is LE64(nonce) (8 bytes). One attempt is one evaluation.
 * HASHCASH (legacy v1): smtorp_hashcash_mint(bits, resource, date, NULL);
 *   the solution is the stamp's ASCII without the NUL (at most
 *   SMTORP_HASHCASH_STAMP_MAX bytes). The mint reports no progress: its
 *   attempts stay 0 and it gets no progress callbacks.
 */

/** The three kinds (0 is no kind: a zeroed params struct is refused). */
typedef enum smtorp_pow_job_kind {
    SMTORP_POW_JOB_EQUIHASH = 1, /* eqh96-5 stamp solution, see above     */
    SMTORP_POW_JOB_ARGON2ID = 2, /* a2id-1m: opslimit 1, 1 MiB            */
    SMTORP_POW_JOB_HASHCASH = 3  /* legacy hashcash v1 stamp              */
} smtorp_pow_job_kind;

#define SMTORP_POW_EQUIHASH_CHALLENGE_LEN 32
#define SMTORP_POW_EQUIHASH_SOLUTION_LEN 76 /* BE32(a) || 72-byte solution */
#define SMTORP_POW_ARGON2ID_SOLUTION_LEN 8  /* LE64(nonce)                 */
#define SMTORP_POW_SOLUTION_MAX 512 /* the longest solution of any kind
                                       (= SMTORP_HASHCASH_STAMP_MAX)      */
#define SMTORP_POW_JOB_PROGRESS_MS 200 /* progress calls at most this often */

/** What to solve. Fields a kind does not use are ignored. */
typedef struct smtorp_pow_job_params {
    smtorp_pow_job_kind kind;
    /* EQUIHASH: exactly SMTORP_POW_EQUIHASH_CHALLENGE_LEN bytes; ARGON2ID:
     * 1 .. SMTORP_ARGON2_POW_CHALLENGE_MAX bytes. Copied by _start. */
    const uint8_t *challenge;
    size_t challenge_len;
    uint32_t effort;     /* EQUIHASH, ARGON2ID: 0 and 1 = any solution     */
    unsigned threads;    /* EQUIHASH, ARGON2ID: 1 .. SMTORP_EQUIHASH_THREADS_MAX
                            (HASHCASH always runs on one: ignored)        */
    unsigned bits;       /* HASHCASH: 1 .. SMTORP_HASHCASH_BITS_MAX        */
    const char *resource;/* HASHCASH: as smtorp_hashcash_mint (copied)     */
    const char *date;    /* HASHCASH: as smtorp_hashcash_mint, NULL = today
                            (copied)                                      */
} smtorp_pow_job_params;

typedef struct smtorp_pow_job smtorp_pow_job;

/** Called on the LOOP thread. finished = 0: progress (coalesced: at most
 *  about every SMTORP_POW_JOB_PROGRESS_MS, never after the final call);
 *  finished = 1: exactly once, when the job has ended (success, failure or
 *  cancel; its thread has been joined). The callback may call
 *  smtorp_pow_job_free() on its job only in the finished = 1 call. */
typedef void (*smtorp_pow_job_cb)(smtorp_pow_job *job, int finished,
                                  void *arg);

/**
 * Checks `params` (everything the kind uses, so that a job never fails on
 * its arguments later: SMTORP_ERR_INVALID_ARGUMENT, with no thread started)
 * and starts the job on a new thread. `cb` is required. *out is NULL on
 * failure. SMTORP_ERR_IO: no pipe (errno set); SMTORP_ERR_EVENT: libevent
 * refused the event; SMTORP_ERR_SPAWN: no thread (errno set). While a job
 * is running its event keeps smtorp_loop_run() from returning for lack of
 * events. Free every job before the loop.
 */
SMTORP_API SMTORP_WUR smtorp_result smtorp_pow_job_start(
    smtorp_loop *loop, const smtorp_pow_job_params *params,
    smtorp_pow_job_cb cb, void *arg, smtorp_pow_job **out);
/** The outcome, from the finished = 1 call on: SMTORP_WORK_OK, _CANCELLED
 *  (always after smtorp_pow_job_cancel(), even when a solution was found
 *  at that moment: it is dropped), _NO_MEMORY, _THREAD, _EXHAUSTED,
 *  _CRYPTO. SMTORP_WORK_INVALID_ARGUMENT for NULL or before the end. */
SMTORP_API smtorp_work_result smtorp_pow_job_result(const smtorp_pow_job *job);
/** Copies the solution (EQUIHASH 76 bytes, ARGON2ID 8 = LE64 nonce,
 *  HASHCASH the stamp's ASCII without NUL) into `out` (zeroed first) and
 *  returns its length; 0 when there is none (not finished, not OK) or
 *  `cap` is too small. */
SMTORP_API size_t smtorp_pow_job_solution(const smtorp_pow_job *job,
                                          uint8_t *out, size_t cap);
/** Completed work units so far (Equihash solver calls, Argon2id
 *  evaluations; 0 for HASHCASH). Any time, on the loop thread. For
 *  ARGON2ID with several threads it may lag by up to threads - 1 (the
 *  search counts its helpers' work only when the calling thread reports);
 *  after success it is at least the nonces from the start to the answer. */
SMTORP_API uint64_t smtorp_pow_job_attempts(const smtorp_pow_job *job);
/** Milliseconds since _start; frozen at the finished = 1 call. */
SMTORP_API uint64_t smtorp_pow_job_elapsed_ms(const smtorp_pow_job *job);
/** Asks the job to stop (loop thread). The finished callback still comes,
 *  soon (within one Argon2id evaluation, a fraction of an Equihash round,
 *  4096 hashcash hashes), with SMTORP_WORK_CANCELLED. No-op after the
 *  finished call and for NULL. */
SMTORP_API void smtorp_pow_job_cancel(smtorp_pow_job *job);
/** Frees the job (loop thread): a running job is cancelled and its thread
 *  joined first; no callback comes after this call. NULL is fine. */
SMTORP_API void smtorp_pow_job_free(smtorp_pow_job *job);

/**
 * The same work synchronously on the calling thread (plus the helper
 * threads of the search), for the CLI and tests: writes the solution into
 * `solution_out` (`cap` bytes, zeroed first) and its length into
 * *solution_len (zeroed first). `cancel_flag` (may be NULL) as in
 * smtorp_argon2_pow_solve(). Results: those of smtorp_pow_job_result(),
 * SMTORP_WORK_INVALID_ARGUMENT for NULL outputs or params the job would
 * refuse (SMTORP_WORK_BAD_PARAMETERS for hashcash bits out of range,
 * SMTORP_WORK_MALFORMED for a resource or date the mint refuses), and
 * SMTORP_WORK_BUFFER_TOO_SMALL when `cap` is below the kind's length (for
 * HASHCASH found out after the work: give SMTORP_POW_SOLUTION_MAX).
 */
SMTORP_API SMTORP_WUR smtorp_work_result smtorp_pow_solve(
    const smtorp_pow_job_params *params, uint8_t *solution_out, size_t cap,
    size_t *solution_len, const int *cancel_flag);

SMTORP_API SMTORP_WUR smtorp_work_result smtorp_hashcash_check(
    const char *stamp, size_t len, unsigned *bits_out);

#ifdef __cplusplus
}
#endif
#endif /* SMTORP_CORE_H */

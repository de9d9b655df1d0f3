/*
 * conn.c: TCP listeners and connections (cleartext or implicit TLS) on
 * libevent 2.1 bufferevents, with input framing, output backpressure, read
 * timeouts and a flushing close.
 *
 * Untrusted input: every byte read from a peer. The core never interprets
 * it: it frames it into lines (hard maximum length, CR kept, LF removed) or
 * exact byte counts and hands it to the owner. Peers can also be hostile in
 * timing (slow handshakes, never reading our output, vanishing): read
 * timeouts apply from the first byte (TLS handshake included) and output
 * above a high watermark stops reading from that peer.
 * Specs: RFC 5321 section 4.5.3.1.4/4.5.3.1.5 (line limits are the owner's,
 * the core only enforces the maximum it is given), RFC 2920 (PIPELINING:
 * buffered bytes are framed with the mode set by the previous callback),
 * RFC 3030 (BDAT: exact byte counts), RFC 8314 (implicit TLS), RFC 3207
 * (STARTTLS: no cleartext byte received before TLS is ever framed after
 * it), RFC 8446.
 *
 * STARTTLS (RFC 3207): smtorp_conn_start_tls upgrades an accepted
 * cleartext conn in place. From the call on nothing more is read or framed;
 * once the owner's "220" is flushed, input buffered after the STARTTLS
 * command is discarded and the socket moves to a TLS server bufferevent,
 * exactly like an implicit-TLS accept; READY comes again after the
 * handshake.
 *
 * SOCKS: a conn made by smtorp_conn_connect_socks (socks.c) first runs the
 * SOCKS5 handshake (conn->socks) on the cleartext socket to the proxy; the
 * proxy's bytes go to socks.c, the owner's writes are held back, and READY
 * waits. Once the tunnel is open the conn carries on as smtorp_conn_connect
 * would have made it: cleartext at once, or TLS on the same socket.
 *
 * Re-entrancy: the owner may call any smtorp_conn_* function on the conn
 * from inside its callbacks, smtorp_conn_close() included. Every entry from
 * libevent into this file raises conn->depth; smtorp_conn_close() only marks
 * the conn closing and the real free happens when the outermost entry
 * unwinds (conn_maybe_free). The framing loop re-reads mode, pause and
 * closing state after every callback. Nothing here ever runs the framing
 * loop synchronously from an owner call: resumption goes through a
 * zero-delay event.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>

#include <openssl/err.h>

/* Backpressure on our output: above HIGH we stop reading from the peer,
 * at or below LOW we start again. */
#define CONN_OUTPUT_HIGH ((size_t)256 * 1024)
#define CONN_OUTPUT_LOW ((size_t)64 * 1024)
/* Read high watermark for cleartext conns (raised to the maximum line
 * length when that is larger, so a maximal line can always complete). */
#define CONN_INPUT_HIGH ((size_t)64 * 1024)
#define CONN_DEFAULT_MAX_LINE ((size_t)512)
/* Largest on_chunk piece (bounds the copy when input spans chains). */
#define CONN_CHUNK_MAX ((size_t)64 * 1024)
#define CONN_DEFAULT_ACCEPT_TIMEOUT_MS ((uint64_t)60 * 1000)
#define CONN_CLOSE_FLUSH_MS ((uint64_t)10 * 1000)
#define LISTENER_RETRY_MS ((uint64_t)1000)

enum conn_mode { CONN_MODE_LINES = 0, CONN_MODE_BYTES = 1 };

struct smtorp_conn {
    smtorp_loop *loop;
    struct bufferevent *bev;
    struct event *ready_event;  /* zero-delay READY (accepted cleartext) */
    struct event *resume_event; /* zero-delay re-framing of buffered input */
    struct event *close_timer;  /* bounds the flush in smtorp_conn_close */

    smtorp_conn_callbacks cb;
    void *arg;

    /* Framing */
    enum conn_mode mode;
    size_t max_line;       /* current maximum, LF included */
    uint64_t remaining;    /* bytes mode: bytes still to deliver */
    unsigned discarding;   /* dropping the rest of a too-long line */

    unsigned is_tls : 1;
    unsigned outgoing : 1;      /* made by smtorp_conn_connect */
    unsigned started : 1;       /* accept callback returned / connect set up */
    unsigned connected : 1;     /* TCP up and, with TLS, handshake done */
    unsigned ready_pending : 1; /* ready_event scheduled, READY not sent */
    unsigned ready_sent : 1;
    unsigned paused : 1;        /* by the owner */
    unsigned backpressured : 1; /* by our output */
    unsigned reading : 1;       /* EV_READ currently enabled by us */
    unsigned eof_pending : 1;   /* peer closed; report after buffered input */
    unsigned terminal : 1;      /* EOF/ERROR/TLS_ERROR/TIMEOUT delivered */
    unsigned broken : 1;        /* ERROR/TLS_ERROR: the socket is unusable */
    unsigned closing : 1;       /* smtorp_conn_close was called */
    unsigned flushing : 1;      /* closing, waiting for output to drain */
    unsigned depth;             /* nesting of entries from libevent */
    uint64_t read_timeout_ms;   /* as last set by the owner (0: none) */

    /* SOCKS (socks.c); socks is NULL once the tunnel is open (or never). */
    smtorp_socks_client *socks;
    struct evbuffer *socks_held;   /* owner writes before the tunnel opens */
    smtorp_tls_context *socks_tls; /* TLS to start inside the tunnel */
    char *socks_server_name;       /* its SNI, or NULL */
    int socks_error;               /* smtorp_conn_socks_error() */

    /* STARTTLS (smtorp_conn_start_tls); tls_starting is set from the call
     * until the socket has moved to the TLS bufferevent. */
    unsigned tls_starting : 1;
    smtorp_tls_context *starttls_ctx; /* the server context to switch to */
    struct evbuffer *starttls_held;   /* owner writes while tls_starting */
};

struct smtorp_listener {
    smtorp_loop *loop;
    struct evconnlistener *evl;
    struct event *retry_timer; /* re-enables accepting after EMFILE etc. */
    smtorp_tls_context *tls;
    smtorp_accept_cb cb;
    void *arg;
    uint16_t port;
};

static void conn_read_cb(struct bufferevent *bev, void *ctx);
static void conn_write_cb(struct bufferevent *bev, void *ctx);
static void conn_event_cb(struct bufferevent *bev, short what, void *ctx);
static void conn_socks_advance(smtorp_conn *conn, int at_eof);
static short conn_socks_event(smtorp_conn *conn, short what);
static void conn_starttls_maybe_switch(smtorp_conn *conn);

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

/* Parses a numeric host and a port into `ss`. */
static smtorp_result parse_numeric_address(const char *host, uint16_t port,
                                           struct sockaddr_storage *ss,
                                           socklen_t *length) {
    memset(ss, 0, sizeof *ss);
    *length = 0;
    if (host == NULL || host[0] == '\0')
        return SMTORP_ERR_ADDRESS;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0 || res == NULL)
        return SMTORP_ERR_ADDRESS;
    if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
        res->ai_addrlen > sizeof *ss) {
        freeaddrinfo(res);
        return SMTORP_ERR_ADDRESS;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *length = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return SMTORP_OK;
}

static void set_nodelay(evutil_socket_t fd) {
    int one = 1;
    /* Best effort: SMTP replies are small and Tor adds latency already. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static SSL *conn_ssl(const smtorp_conn *conn) {
    if (!conn->is_tls || conn->bev == NULL)
        return NULL;
    return bufferevent_openssl_get_ssl(conn->bev);
}

static size_t conn_output_length(const smtorp_conn *conn) {
    return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

static void conn_apply_read_watermark(smtorp_conn *conn) {
    /* libevent 2.1's OpenSSL bufferevent can leave decrypted bytes inside
     * the SSL object when a read watermark suspends it, and nothing wakes it
     * up again: no read watermark on TLS conns. Their input stays bounded
     * anyway because every read is framed at once, and reading is disabled
     * while the owner pauses. */
    if (conn->is_tls)
        return;
    size_t high = CONN_INPUT_HIGH;
    if (conn->mode == CONN_MODE_LINES && conn->max_line > high)
        high = conn->max_line;
    bufferevent_setwatermark(conn->bev, EV_READ, 0, high);
}

/* Enables or disables EV_READ to match the conn's state. Only acts on a
 * change: re-enabling would restart the read timeout. */
static void conn_update_reading(smtorp_conn *conn) {
    int want = conn->started && !conn->closing && !conn->terminal &&
               !conn->paused && !conn->backpressured;
    /* During a TLS handshake the OpenSSL bufferevent drives the socket
     * events itself; touching EV_READ there could stall the handshake. The
     * state is applied when the handshake completes. */
    if (conn->is_tls && !conn->connected)
        return;
    /* During the SOCKS handshake the proxy's replies must be read whatever
     * the owner wants; the state is applied once the tunnel is open. */
    if (conn->socks != NULL)
        return;
    /* STARTTLS pending: nothing more is read in cleartext; the TLS
     * bufferevent applies the state after its handshake. */
    if (conn->tls_starting)
        return;
    if (want && !conn->reading) {
        if (bufferevent_enable(conn->bev, EV_READ) == 0)
            conn->reading = 1;
    } else if (!want && conn->reading) {
        bufferevent_disable(conn->bev, EV_READ);
        conn->reading = 0;
    }
}

/* Schedules a framing pass over bytes that are already buffered (no new
 * read event may ever come for them). */
static void conn_schedule_resume(smtorp_conn *conn) {
    if (conn->closing || conn->terminal)
        return;
    if (evbuffer_get_length(bufferevent_get_input(conn->bev)) == 0 &&
        !conn->eof_pending)
        return;
    event_active(conn->resume_event, EV_TIMEOUT, 1);
}

static void conn_check_backpressure(smtorp_conn *conn) {
    size_t pending = conn_output_length(conn);
    if (!conn->backpressured && pending > CONN_OUTPUT_HIGH) {
        conn->backpressured = 1;
        conn_update_reading(conn);
    } else if (conn->backpressured && pending <= CONN_OUTPUT_LOW) {
        conn->backpressured = 0;
        conn_update_reading(conn);
        conn_schedule_resume(conn);
    }
}

static void conn_free_now(smtorp_conn *conn) {
    smtorp_internal_socks_client_free(conn->socks);
    if (conn->socks_held != NULL)
        evbuffer_free(conn->socks_held);
    if (conn->starttls_held != NULL)
        evbuffer_free(conn->starttls_held);
    free(conn->socks_server_name);
    if (conn->ready_event != NULL)
        event_free(conn->ready_event);
    if (conn->resume_event != NULL)
        event_free(conn->resume_event);
    if (conn->close_timer != NULL)
        event_free(conn->close_timer);
    if (conn->bev != NULL) {
        SSL *ssl = conn_ssl(conn);
        if (ssl != NULL) {
            if (conn->connected && !conn->broken &&
                conn_output_length(conn) == 0) {
                /* Best-effort close_notify on the non-blocking socket; a
                 * peer that is gone just makes this fail quietly. */
                (void)SSL_shutdown(ssl);
            }
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            ERR_clear_error();
        }
        /* BEV_OPT_CLOSE_ON_FREE: closes the socket and, for TLS, frees the
         * SSL. Safe inside the bufferevent's own callbacks (refcounted). */
        bufferevent_free(conn->bev);
    }
    free(conn);
}

/* Frees the conn if it was closed and no entry from libevent is still on
 * the stack. Call as the very last thing of every entry. */
static void conn_maybe_free(smtorp_conn *conn) {
    if (conn->closing && !conn->flushing && conn->depth == 0)
        conn_free_now(conn);
}

/* Reports one of the final events (at most one per conn). */
static void conn_deliver_terminal(smtorp_conn *conn, smtorp_conn_event event) {
    if (conn->terminal || conn->closing)
        return;
    conn->terminal = 1;
    conn->eof_pending = 0;
    conn->ready_pending = 0;
    if (conn->ready_event != NULL)
        event_del(conn->ready_event);
    event_del(conn->resume_event);
    short stop = EV_READ;
    if (event == SMTORP_CONN_ERROR || event == SMTORP_CONN_TLS_ERROR ||
        event == SMTORP_CONN_SOCKS_ERROR) {
        conn->broken = 1;
        stop |= EV_WRITE;
    } else if (conn->is_tls && !conn->connected) {
        stop |= EV_WRITE; /* handshake events are persistent: stop them */
    }
    bufferevent_disable(conn->bev, stop);
    conn->reading = 0;
    if (conn->cb.on_event != NULL)
        conn->cb.on_event(conn, event, conn->arg);
    else
        smtorp_conn_close(conn); /* nobody to tell: do not leak the conn */
}

static void conn_deliver_ready(smtorp_conn *conn) {
    conn->ready_pending = 0;
    if (conn->ready_sent || conn->terminal || conn->closing)
        return;
    conn->ready_sent = 1;
    if (conn->cb.on_event != NULL)
        conn->cb.on_event(conn, SMTORP_CONN_READY, conn->arg);
}

/* ------------------------------------------------------------------ */
/* Framing                                                            */
/* ------------------------------------------------------------------ */

static int conn_can_frame(const smtorp_conn *conn) {
    return !conn->closing && !conn->terminal && !conn->paused &&
           !conn->backpressured && !conn->tls_starting;
}

/* Frames buffered input until it runs out or the owner pauses, closes or
 * causes backpressure. Must be called with conn->depth > 0. */
static void conn_process_input(smtorp_conn *conn) {
    struct evbuffer *in = bufferevent_get_input(conn->bev);

    while (conn_can_frame(conn)) {
        size_t buffered = evbuffer_get_length(in);
        if (buffered == 0)
            break;

        if (conn->discarding) {
            struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
            if (lf.pos < 0) {
                evbuffer_drain(in, buffered);
                break;
            }
            evbuffer_drain(in, (size_t)lf.pos + 1);
            conn->discarding = 0;
            continue;
        }

        if (conn->mode == CONN_MODE_BYTES) {
            size_t piece = buffered;
            if ((uint64_t)piece > conn->remaining)
                piece = (size_t)conn->remaining;
            if (piece > CONN_CHUNK_MAX)
                piece = CONN_CHUNK_MAX;
            /* Usually already contiguous (one read = one chain): no copy. */
            unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)piece);
            if (data == NULL)
                break; /* out of memory: try again on the next read */
            conn->remaining -= piece;
            uint64_t remaining = conn->remaining;
            if (remaining == 0)
                conn->mode = CONN_MODE_LINES; /* max_line kept from before */
            /* Nothing touches the input buffer during the callback (owner
             * calls never frame synchronously), so `data` stays valid. */
            if (conn->cb.on_chunk != NULL)
                conn->cb.on_chunk(conn, data, piece, remaining, conn->arg);
            evbuffer_drain(in, piece);
            if (remaining == 0 && !conn->closing)
                conn_apply_read_watermark(conn);
            continue;
        }

        /* Lines: the LF must lie within the first max_line bytes. */
        size_t max_line = conn->max_line;
        struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
        if (lf.pos >= 0 && (size_t)lf.pos + 1 <= max_line) {
            size_t line_length = (size_t)lf.pos;
            unsigned char *line = evbuffer_pullup(in, (ev_ssize_t)line_length + 1);
            if (line == NULL)
                break; /* out of memory: try again on the next read */
            if (conn->cb.on_line != NULL)
                conn->cb.on_line(conn, line, line_length, conn->arg);
            evbuffer_drain(in, line_length + 1);
            continue;
        }
        if (lf.pos >= 0) {
            /* Too long, and its end is already here: drop through the LF. */
            evbuffer_drain(in, (size_t)lf.pos + 1);
        } else if (buffered >= max_line) {
            /* Too long, end not seen yet: drop it and what follows up to
             * and including the next LF, across reads. */
            evbuffer_drain(in, buffered);
            conn->discarding = 1;
        } else {
            break; /* incomplete line: wait for more */
        }
        if (conn->cb.on_line_too_long != NULL)
            conn->cb.on_line_too_long(conn, conn->arg);
    }
}

/* Reports a pending EOF once buffered input has been framed. */
static void conn_maybe_deliver_eof(smtorp_conn *conn) {
    if (conn->eof_pending && conn_can_frame(conn)) {
        conn->eof_pending = 0;
        conn_deliver_terminal(conn, SMTORP_CONN_EOF);
    }
}

/* ------------------------------------------------------------------ */
/* libevent entries                                                   */
/* ------------------------------------------------------------------ */

static void conn_read_cb(struct bufferevent *bev, void *ctx) {
    (void)bev;
    smtorp_conn *conn = ctx;
    conn->depth++;
    if (conn->socks != NULL) {
        conn_socks_advance(conn, 0);
    } else {
        if (conn->ready_pending) {
            event_del(conn->ready_event);
            conn_deliver_ready(conn);
        }
        conn_process_input(conn);
    }
    conn->depth--;
    conn_maybe_free(conn);
}

static void conn_write_cb(struct bufferevent *bev, void *ctx) {
    (void)bev;
    smtorp_conn *conn = ctx;
    conn->depth++;
    if (conn->flushing) {
        if (conn_output_length(conn) == 0)
            conn->flushing = 0;
    } else if (conn->tls_starting) {
        conn_starttls_maybe_switch(conn);
    } else if (!conn->closing) {
        conn_check_backpressure(conn);
    }
    conn->depth--;
    conn_maybe_free(conn);
}

static smtorp_conn_event conn_classify_error(smtorp_conn *conn) {
    unsigned long tls_error = 0, e;
    /* Pop everything libevent recorded for this conn. Besides packed
     * OpenSSL errors, libevent 2.1.12 records the bare SSL_get_error()
     * code; SSL_ERROR_SYSCALL there, like OpenSSL 3's ERR_LIB_SYS entries,
     * means a failed socket call: a socket error, not a TLS one. */
    while ((e = bufferevent_get_openssl_error(conn->bev)) != 0) {
        if (e == (unsigned long)SSL_ERROR_SYSCALL ||
            ERR_GET_LIB(e) == ERR_LIB_SYS)
            continue;
        tls_error = e;
    }
    ERR_clear_error();
    if (tls_error != 0)
        return SMTORP_CONN_TLS_ERROR;
    if (conn->outgoing && !conn->connected) {
        /* A connect that never reached the peer is a socket error, not a
         * TLS one, even though the handshake never completed. */
        struct sockaddr_storage ss;
        socklen_t length = sizeof ss;
        evutil_socket_t fd = bufferevent_getfd(conn->bev);
        if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &length) != 0)
            return SMTORP_CONN_ERROR;
    }
    if (conn->is_tls && !conn->connected)
        return SMTORP_CONN_TLS_ERROR;
    return SMTORP_CONN_ERROR;
}

static void conn_event_cb(struct bufferevent *bev, short what, void *ctx) {
    (void)bev;
    smtorp_conn *conn = ctx;
    conn->depth++;

    if (conn->socks != NULL)
        what = conn_socks_event(conn, what); /* 0 unless the tunnel opened */

    if (conn->tls_starting && (what & BEV_EVENT_EOF)) {
        /* The peer left before the switch: nothing buffered will be
         * framed (it is pre-TLS input), so report the end at once. */
        conn_deliver_terminal(conn, SMTORP_CONN_EOF);
        what = 0;
    }

    if (what & BEV_EVENT_CONNECTED) {
        conn->connected = 1;
        conn_update_reading(conn);
        conn_deliver_ready(conn);
        if (!conn->closing)
            conn_schedule_resume(conn);
    } else if ((what & BEV_EVENT_EOF) && conn->is_tls && !conn->connected) {
        /* The peer went away before the handshake completed (or, outgoing,
         * the TCP connect itself failed): not a clean end of a session. */
        if (!conn->closing)
            conn_deliver_terminal(conn, conn_classify_error(conn));
    } else if (what & BEV_EVENT_EOF) {
        if (conn->flushing)
            conn->flushing = 0; /* nobody left to flush to */
        if (!conn->terminal && !conn->closing) {
            conn->reading = 0; /* libevent disabled EV_READ itself */
            conn->eof_pending = 1;
            /* A peer may send "QUIT\r\n" and close at once: frame what is
             * buffered first. */
            conn_process_input(conn);
            conn_maybe_deliver_eof(conn);
        }
    } else if (what & BEV_EVENT_ERROR) {
        if (conn->flushing)
            conn->flushing = 0;
        if (!conn->closing)
            conn_deliver_terminal(conn, conn_classify_error(conn));
        else
            ERR_clear_error();
    } else if (what & BEV_EVENT_TIMEOUT) {
        conn_deliver_terminal(conn, SMTORP_CONN_TIMEOUT);
    }

    conn->depth--;
    conn_maybe_free(conn);
}

static void conn_ready_event_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_conn *conn = arg;
    if (!conn->ready_pending)
        return;
    conn->depth++;
    conn_deliver_ready(conn);
    conn->depth--;
    conn_maybe_free(conn);
}

static void conn_resume_event_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_conn *conn = arg;
    conn->depth++;
    if (conn->tls_starting) {
        conn_starttls_maybe_switch(conn);
        conn->depth--;
        conn_maybe_free(conn);
        return;
    }
    if (conn->ready_pending) {
        event_del(conn->ready_event);
        conn_deliver_ready(conn);
    }
    conn_process_input(conn);
    conn_maybe_deliver_eof(conn);
    conn->depth--;
    conn_maybe_free(conn);
}

static void conn_close_timer_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_conn *conn = arg;
    conn->flushing = 0; /* give up on the peer */
    conn_maybe_free(conn);
}

/* ------------------------------------------------------------------ */
/* Creation                                                           */
/* ------------------------------------------------------------------ */

/* Points conn->bev's callbacks and watermarks at the conn. */
static void conn_setup_bev(smtorp_conn *conn) {
    struct bufferevent *bev = conn->bev;
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, conn);
    /* The write callback fires when output falls to the low mark: that is
     * where backpressure is released. */
    bufferevent_setwatermark(bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
    conn_apply_read_watermark(conn);
    if (conn->is_tls)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
}

/* Wraps `bev` (already created; owned by the conn from now on, also on
 * failure). */
static smtorp_conn *conn_new(smtorp_loop *loop, struct bufferevent *bev,
                             int is_tls, int outgoing) {
    smtorp_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        bufferevent_free(bev);
        return NULL;
    }
    conn->loop = loop;
    conn->bev = bev;
    conn->is_tls = is_tls ? 1 : 0;
    conn->outgoing = outgoing ? 1 : 0;
    conn->mode = CONN_MODE_LINES;
    conn->max_line = CONN_DEFAULT_MAX_LINE;
    conn->resume_event = event_new(loop->base, -1, 0, conn_resume_event_cb, conn);
    conn->close_timer = evtimer_new(loop->base, conn_close_timer_cb, conn);
    if (!outgoing && !is_tls)
        conn->ready_event =
            event_new(loop->base, -1, 0, conn_ready_event_cb, conn);
    if (conn->resume_event == NULL || conn->close_timer == NULL ||
        (!outgoing && !is_tls && conn->ready_event == NULL)) {
        conn_free_now(conn);
        return NULL;
    }
    conn_setup_bev(conn);
    return conn;
}

/* Creates the bufferevent for `fd` (owned by it from then on when this
 * returns non-NULL; on NULL the caller still owns fd unless *fd_taken). */
static struct bufferevent *conn_bufferevent_new(smtorp_loop *loop,
                                                evutil_socket_t fd,
                                                smtorp_tls_context *tls,
                                                const char *server_name,
                                                int accepting,
                                                smtorp_result *error,
                                                int *fd_taken) {
    *fd_taken = 0;
    if (tls == NULL) {
        struct bufferevent *bev =
            bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (bev == NULL)
            *error = SMTORP_ERR_NO_MEMORY;
        return bev;
    }
    SSL *ssl = SSL_new(tls->ssl_ctx);
    if (ssl == NULL) {
        ERR_clear_error();
        *error = SMTORP_ERR_NO_MEMORY;
        return NULL;
    }
    /* SNI carries host names only, never address literals (RFC 6066 3). */
    unsigned char literal[sizeof(struct in6_addr)];
    if (server_name != NULL && server_name[0] != '\0' &&
        inet_pton(AF_INET, server_name, literal) != 1 &&
        inet_pton(AF_INET6, server_name, literal) != 1 &&
        SSL_set_tlsext_host_name(ssl, server_name) != 1) {
        SSL_free(ssl);
        ERR_clear_error();
        *error = SMTORP_ERR_INVALID_ARGUMENT;
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        loop->base, fd, ssl,
        accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        /* libevent may or may not have freed the SSL (and closed fd) on its
         * error path; leaking on this out-of-memory path is safer than a
         * double free. */
        *fd_taken = 1;
        ERR_clear_error();
        *error = SMTORP_ERR_NO_MEMORY;
        return NULL;
    }
    return bev;
}

/* ------------------------------------------------------------------ */
/* Listener                                                           */
/* ------------------------------------------------------------------ */

static void listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
                               struct sockaddr *address, int socklen,
                               void *arg) {
    (void)evl;
    (void)address;
    (void)socklen;
    smtorp_listener *listener = arg;
    set_nodelay(fd);

    smtorp_result error = SMTORP_OK;
    int fd_taken = 0;
    struct bufferevent *bev = conn_bufferevent_new(
        listener->loop, fd, listener->tls, NULL, 1, &error, &fd_taken);
    if (bev == NULL) {
        if (!fd_taken)
            evutil_closesocket(fd);
        return;
    }
    smtorp_conn *conn = conn_new(listener->loop, bev, listener->tls != NULL, 0);
    if (conn == NULL)
        return; /* conn_new freed bev, which closed fd */

    smtorp_conn_set_read_timeout(conn, CONN_DEFAULT_ACCEPT_TIMEOUT_MS);
    if (!conn->is_tls)
        conn->connected = 1;

    conn->depth++;
    listener->cb(conn, listener->arg); /* may free the listener: not used after */
    conn->depth--;
    if (conn->closing) {
        conn_maybe_free(conn);
        return;
    }
    conn->started = 1;
    conn_update_reading(conn);
    if (!conn->is_tls) {
        /* Cleartext has no handshake to signal READY: send it right after
         * this callback, before any input. */
        conn->ready_pending = 1;
        event_active(conn->ready_event, EV_TIMEOUT, 1);
    }
}

static void listener_retry_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_listener *listener = arg;
    (void)evconnlistener_enable(listener->evl);
}

static void listener_error_cb(struct evconnlistener *evl, void *arg) {
    smtorp_listener *listener = arg;
    /* accept() failed with something other than EAGAIN/ECONNABORTED
     * (typically EMFILE/ENFILE/ENOBUFS). The pending connection stays in
     * the kernel queue, so accepting again at once would spin: pause. */
    (void)evconnlistener_disable(evl);
    struct timeval tv;
    smtorp_internal_ms_to_timeval(LISTENER_RETRY_MS, &tv);
    (void)evtimer_add(listener->retry_timer, &tv);
}

SMTORP_API smtorp_result smtorp_listener_new(smtorp_loop *loop,
                                             const char *host, uint16_t port,
                                             smtorp_tls_context *tls,
                                             smtorp_accept_cb cb, void *arg,
                                             smtorp_listener **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || host == NULL || cb == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (tls != NULL && !tls->is_server)
        return SMTORP_ERR_INVALID_ARGUMENT;

    struct sockaddr_storage ss;
    socklen_t length;
    smtorp_result r = parse_numeric_address(host, port, &ss, &length);
    if (r != SMTORP_OK)
        return r;

    evutil_socket_t fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno == EAFNOSUPPORT ? SMTORP_ERR_ADDRESS : SMTORP_ERR_BIND;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        close(fd);
        return SMTORP_ERR_BIND;
    }
    /* "::" means IPv6 only, whatever net.ipv6.bindv6only says, so that a
     * second listener on 0.0.0.0 and the same port can coexist. */
    if (ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        close(fd);
        return SMTORP_ERR_BIND;
    }
    if (bind(fd, (struct sockaddr *)&ss, length) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return SMTORP_ERR_BIND;
    }
    if (listen(fd, 128) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return SMTORP_ERR_LISTEN;
    }

    smtorp_listener *listener = calloc(1, sizeof *listener);
    if (listener == NULL) {
        close(fd);
        return SMTORP_ERR_NO_MEMORY;
    }
    listener->loop = loop;
    listener->tls = tls;
    listener->cb = cb;
    listener->arg = arg;

    struct sockaddr_storage bound;
    socklen_t bound_length = sizeof bound;
    memset(&bound, 0, sizeof bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_length) == 0) {
        if (bound.ss_family == AF_INET)
            listener->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        else if (bound.ss_family == AF_INET6)
            listener->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }

    listener->retry_timer = evtimer_new(loop->base, listener_retry_cb, listener);
    if (listener->retry_timer == NULL) {
        close(fd);
        free(listener);
        return SMTORP_ERR_NO_MEMORY;
    }
    listener->evl = evconnlistener_new(
        loop->base, listener_accept_cb, listener,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
        fd);
    if (listener->evl == NULL) {
        close(fd);
        event_free(listener->retry_timer);
        free(listener);
        return SMTORP_ERR_EVENT;
    }
    evconnlistener_set_error_cb(listener->evl, listener_error_cb);
    *out = listener;
    return SMTORP_OK;
}

SMTORP_API uint16_t smtorp_listener_port(const smtorp_listener *listener) {
    return listener == NULL ? 0 : listener->port;
}

SMTORP_API void smtorp_listener_free(smtorp_listener *listener) {
    if (listener == NULL)
        return;
    evconnlistener_free(listener->evl); /* closes the listening socket */
    event_free(listener->retry_timer);
    free(listener);
}

/* ------------------------------------------------------------------ */
/* Outgoing connections                                               */
/* ------------------------------------------------------------------ */

SMTORP_API smtorp_result smtorp_conn_connect(
    smtorp_loop *loop, const char *host, uint16_t port,
    smtorp_tls_context *tls, const char *server_name,
    const smtorp_conn_callbacks *callbacks, void *arg, smtorp_conn **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || host == NULL || port == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (tls != NULL && tls->is_server)
        return SMTORP_ERR_INVALID_ARGUMENT;

    struct sockaddr_storage ss;
    socklen_t length;
    smtorp_result r = parse_numeric_address(host, port, &ss, &length);
    if (r != SMTORP_OK)
        return r;

    evutil_socket_t fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return SMTORP_ERR_CONNECT;
    set_nodelay(fd);

    smtorp_result error = SMTORP_OK;
    int fd_taken = 0;
    struct bufferevent *bev =
        conn_bufferevent_new(loop, fd, tls, server_name, 0, &error, &fd_taken);
    if (bev == NULL) {
        if (!fd_taken)
            close(fd);
        return error;
    }
    smtorp_conn *conn = conn_new(loop, bev, tls != NULL, 1);
    if (conn == NULL)
        return SMTORP_ERR_NO_MEMORY;
    smtorp_conn_set_callbacks(conn, callbacks, arg);

    /* Non-blocking connect; an immediate refusal is reported later as an
     * ERROR event (libevent defers it), never from inside this call. */
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&ss, (int)length) !=
        0) {
        memset(&conn->cb, 0, sizeof conn->cb);
        conn_free_now(conn);
        return SMTORP_ERR_CONNECT;
    }
    conn->started = 1;
    if (!conn->is_tls) {
        /* Reading can be armed now; READY comes from BEV_EVENT_CONNECTED. */
        conn_update_reading(conn);
    }
    *out = conn;
    return SMTORP_OK;
}

/* ------------------------------------------------------------------ */
/* SOCKS (the handshake itself is socks.c's)                          */
/* ------------------------------------------------------------------ */

smtorp_result smtorp_internal_conn_attach_socks(smtorp_conn *conn,
                                                smtorp_socks_client *socks,
                                                smtorp_tls_context *tls,
                                                const char *server_name) {
    conn->socks = socks; /* owned from here on: freed with the conn */
    conn->socks_held = evbuffer_new();
    if (conn->socks_held == NULL)
        return SMTORP_ERR_NO_MEMORY;
    if (tls != NULL && server_name != NULL) {
        conn->socks_server_name = strdup(server_name);
        if (conn->socks_server_name == NULL)
            return SMTORP_ERR_NO_MEMORY;
    }
    conn->socks_tls = tls;
    return SMTORP_OK;
}

/* Moves the conn's socket to a new OpenSSL bufferevent made as a direct
 * TLS conn's would be (`tls`, `server_name`, `accepting`), so that the
 * handshake timeout, close_notify, the flush on close and error
 * classification are the well-trodden direct-TLS path. (An OpenSSL filter
 * over the socket bufferevent would keep a second output buffer whose
 * draining is reported to no one, and libevent 2.1's filter misses write
 * callbacks.) The conn becomes one whose handshake is under way: framing
 * mode, maximum line, pause state and read timeout carry over; READY comes
 * again from BEV_EVENT_CONNECTED. `held` (freed here) is queued to be
 * written once the handshake is done. On failure the conn ends with
 * SMTORP_CONN_ERROR. Used after SOCKS (client) and for STARTTLS (server). */
static void conn_move_to_tls(smtorp_conn *conn, smtorp_tls_context *tls,
                             const char *server_name, int accepting,
                             struct evbuffer *held) {
    evutil_socket_t fd = bufferevent_getfd(conn->bev);
    smtorp_result error = SMTORP_OK;
    int fd_taken = 0;
    struct bufferevent *tls_bev =
        fd < 0 ? NULL
               : conn_bufferevent_new(conn->loop, fd, tls, server_name,
                                      accepting, &error, &fd_taken);
    if (tls_bev == NULL) {
        /* fd still belongs to the old bufferevent, unless libevent failed
         * half-way and may have closed it (fd_taken): then the old one must
         * not close it again (a leak is safer than closing a reused fd). */
        if (fd_taken)
            bufferevent_setfd(conn->bev, -1);
        evbuffer_free(held);
        conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
        return;
    }
    /* Detach the fd from the old bufferevent so freeing it does not close
     * the socket; safe inside its own callback (libevent refcounts it). */
    struct bufferevent *old = conn->bev;
    bufferevent_disable(old, EV_READ | EV_WRITE);
    bufferevent_setcb(old, NULL, NULL, NULL, NULL);
    bufferevent_setfd(old, -1);
    bufferevent_free(old);

    conn->bev = tls_bev;
    conn->is_tls = 1;
    conn->connected = 0;
    conn->ready_sent = 0;
    conn->ready_pending = 0;
    conn->reading = 0;
    conn->backpressured = 0;
    conn_setup_bev(conn);
    if (conn->read_timeout_ms > 0)
        smtorp_conn_set_read_timeout(conn, conn->read_timeout_ms);
    int held_ok = bufferevent_write_buffer(tls_bev, held) == 0;
    evbuffer_free(held);
    if (!held_ok)
        conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
}

/* The tunnel is open: the conn becomes what smtorp_conn_connect would have
 * made, over the tunnel. Called with conn->depth > 0. */
static void conn_socks_open(smtorp_conn *conn) {
    smtorp_internal_socks_client_free(conn->socks);
    conn->socks = NULL;
    struct evbuffer *held = conn->socks_held;
    conn->socks_held = NULL;
    struct evbuffer *input = bufferevent_get_input(conn->bev);

    if (conn->socks_tls == NULL) {
        /* Cleartext: READY now; bytes the proxy sent after its reply (a
         * server that speaks first) are framed right after it. */
        int held_ok = bufferevent_write_buffer(conn->bev, held) == 0;
        evbuffer_free(held);
        if (!held_ok) {
            conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
            return;
        }
        conn->connected = 1;
        conn_update_reading(conn);
        conn_check_backpressure(conn);
        conn_deliver_ready(conn);
        conn_process_input(conn);
        return;
    }

    /* TLS. A TLS server never speaks first: bytes already here are not a
     * TLS server's, and the handshake could only fail on them. */
    if (evbuffer_get_length(input) > 0) {
        evbuffer_free(held);
        conn_deliver_terminal(conn, SMTORP_CONN_TLS_ERROR);
        return;
    }
    conn_move_to_tls(conn, conn->socks_tls, conn->socks_server_name, 0, held);
    /* READY comes from BEV_EVENT_CONNECTED, as for smtorp_conn_connect. */
}

/* Feeds the proxy's bytes to the handshake and acts on its verdict. */
static void conn_socks_advance(smtorp_conn *conn, int at_eof) {
    if (conn->terminal || conn->closing)
        return;
    int error = 0;
    smtorp_socks_step step = smtorp_internal_socks_client_receive(
        conn->socks, bufferevent_get_input(conn->bev),
        bufferevent_get_output(conn->bev), at_eof, &error);
    switch (step) {
    case SMTORP_SOCKS_STEP_WAIT:
        break;
    case SMTORP_SOCKS_STEP_OPEN:
        conn_socks_open(conn);
        break;
    case SMTORP_SOCKS_STEP_FAILED:
        conn->socks_error = error;
        conn_deliver_terminal(conn, SMTORP_CONN_SOCKS_ERROR);
        break;
    case SMTORP_SOCKS_STEP_NO_MEMORY:
        conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
        break;
    }
}

/* A bufferevent event during the SOCKS handshake. Returns the bits left for
 * the ordinary handling: an EOF right after the reply that opened a
 * cleartext tunnel belongs to the stream; everything else is consumed. */
static short conn_socks_event(smtorp_conn *conn, short what) {
    if (conn->terminal || conn->closing)
        return 0;
    if (what & BEV_EVENT_CONNECTED) {
        /* TCP to the proxy is up: greet it. */
        if (smtorp_internal_socks_client_start(
                conn->socks, bufferevent_get_output(conn->bev)) != SMTORP_OK)
            conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
    } else if (what & BEV_EVENT_EOF) {
        /* The proxy closed: replies already buffered still count; an
         * unfinished handshake is the proxy's fault. */
        conn_socks_advance(conn, 1);
        if (conn->socks == NULL && !conn->is_tls && !conn->terminal &&
            !conn->closing)
            return what;
    } else if (what & BEV_EVENT_TIMEOUT) {
        conn_deliver_terminal(conn, SMTORP_CONN_TIMEOUT);
    } else if (what & BEV_EVENT_ERROR) {
        conn_deliver_terminal(conn, SMTORP_CONN_ERROR);
    }
    return 0;
}

SMTORP_API int smtorp_conn_socks_error(const smtorp_conn *conn) {
    return conn == NULL ? 0 : conn->socks_error;
}

/* ------------------------------------------------------------------ */
/* STARTTLS (RFC 3207)                                                */
/* ------------------------------------------------------------------ */

/* Once the owner's output (the "220 Ready to start TLS") has left for the
 * kernel, moves the socket to a TLS server bufferevent. Called with
 * conn->depth > 0, from the write callback or the resume event, never from
 * inside the owner's call. */
static void conn_starttls_maybe_switch(smtorp_conn *conn) {
    if (!conn->tls_starting || conn->closing || conn->terminal)
        return;
    if (conn_output_length(conn) > 0)
        return; /* the write callback comes back when it is empty */

    /* RFC 3207 section 4: whatever the client sent after the STARTTLS
     * command, before the handshake, is not part of the TLS session; if it
     * were framed after the handshake, a man in the middle could inject
     * commands into it (CVE-2011-0411). Nothing has been read since the
     * call; what was read before and not framed goes. Bytes still in the
     * kernel are read by the TLS bufferevent as handshake records: cleartext
     * there only makes the handshake fail. */
    struct evbuffer *input = bufferevent_get_input(conn->bev);
    evbuffer_drain(input, evbuffer_get_length(input));
    conn->discarding = 0;
    conn->eof_pending = 0;

    struct evbuffer *held = conn->starttls_held;
    conn->starttls_held = NULL;
    conn->tls_starting = 0;
    conn_move_to_tls(conn, conn->starttls_ctx, NULL, 1, held);
}

SMTORP_API smtorp_result smtorp_conn_start_tls(smtorp_conn *conn,
                                               smtorp_tls_context *server_ctx) {
    if (conn == NULL || server_ctx == NULL || !server_ctx->is_server)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (conn->closing || conn->terminal || conn->broken)
        return SMTORP_ERR_CLOSED;
    /* Only an accepted, ready, cleartext conn can be upgraded, once. */
    if (conn->outgoing || conn->is_tls || conn->socks != NULL ||
        conn->tls_starting || !conn->ready_sent)
        return SMTORP_ERR_INVALID_ARGUMENT;
    conn->starttls_held = evbuffer_new();
    if (conn->starttls_held == NULL)
        return SMTORP_ERR_NO_MEMORY;
    conn->tls_starting = 1;
    conn->starttls_ctx = server_ctx;
    /* Read nothing more in cleartext (conn_update_reading leaves it off
     * from now on); the framing loop stops after the current callback. */
    bufferevent_disable(conn->bev, EV_READ);
    conn->reading = 0;
    event_del(conn->resume_event);
    /* The write callback fires when the output is empty: that is the
     * moment to switch. */
    bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
    if (conn_output_length(conn) == 0) {
        /* Nothing to flush: switch from a zero-delay event, never inside
         * the owner's call (it may be inside one of our callbacks). */
        event_active(conn->resume_event, EV_TIMEOUT, 1);
    }
    return SMTORP_OK;
}

/* ------------------------------------------------------------------ */
/* Per-connection API                                                 */
/* ------------------------------------------------------------------ */

SMTORP_API void smtorp_conn_set_callbacks(smtorp_conn *conn,
                                          const smtorp_conn_callbacks *callbacks,
                                          void *arg) {
    if (conn == NULL || conn->closing)
        return;
    if (callbacks != NULL)
        conn->cb = *callbacks;
    else
        memset(&conn->cb, 0, sizeof conn->cb);
    conn->arg = arg;
}

SMTORP_API void smtorp_conn_expect_lines(smtorp_conn *conn,
                                         size_t max_line_length) {
    if (conn == NULL || conn->closing)
        return;
    if (max_line_length == 0)
        max_line_length = 1; /* only empty lines fit; never 0 */
    conn->mode = CONN_MODE_LINES;
    conn->remaining = 0;
    conn->max_line = max_line_length;
    conn_apply_read_watermark(conn);
}

SMTORP_API void smtorp_conn_expect_bytes(smtorp_conn *conn, uint64_t count) {
    if (conn == NULL || conn->closing)
        return;
    if (count == 0) {
        /* Lines again at once, with the maximum in force before. */
        conn->mode = CONN_MODE_LINES;
        conn->remaining = 0;
        conn_apply_read_watermark(conn);
        return;
    }
    conn->mode = CONN_MODE_BYTES;
    conn->remaining = count;
    conn_apply_read_watermark(conn);
}

SMTORP_API smtorp_result smtorp_conn_write(smtorp_conn *conn,
                                           const uint8_t *data,
                                           size_t length) {
    if (conn == NULL || (data == NULL && length > 0))
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (conn->closing || conn->broken)
        return SMTORP_ERR_CLOSED;
    if (length == 0)
        return SMTORP_OK;
    if (conn->socks_held != NULL) {
        /* SOCKS handshake running: these bytes are for the far end and go
         * through the tunnel once it is open, never in between. */
        if (evbuffer_add(conn->socks_held, data, length) != 0)
            return SMTORP_ERR_NO_MEMORY;
        return SMTORP_OK;
    }
    if (conn->starttls_held != NULL) {
        /* STARTTLS pending: never in cleartext; sent under TLS. */
        if (evbuffer_add(conn->starttls_held, data, length) != 0)
            return SMTORP_ERR_NO_MEMORY;
        return SMTORP_OK;
    }
    if (bufferevent_write(conn->bev, data, length) != 0)
        return SMTORP_ERR_NO_MEMORY;
    conn_check_backpressure(conn);
    return SMTORP_OK;
}

SMTORP_API void smtorp_conn_pause_reading(smtorp_conn *conn) {
    if (conn == NULL || conn->closing)
        return;
    conn->paused = 1;
    conn_update_reading(conn);
}

SMTORP_API void smtorp_conn_resume_reading(smtorp_conn *conn) {
    if (conn == NULL || conn->closing || !conn->paused)
        return;
    conn->paused = 0;
    conn_update_reading(conn);
    /* Bytes already buffered will see no new read event: frame them from a
     * zero-delay event (never synchronously, the caller may be inside one
     * of our callbacks). */
    conn_schedule_resume(conn);
}

SMTORP_API void smtorp_conn_set_read_timeout(smtorp_conn *conn,
                                             uint64_t milliseconds) {
    if (conn == NULL || conn->closing)
        return;
    conn->read_timeout_ms = milliseconds; /* kept for a TLS start later */
    if (milliseconds == 0) {
        bufferevent_set_timeouts(conn->bev, NULL, NULL);
        return;
    }
    /* The same limit applies to writing while output is pending: a peer
     * that never reads our output stops our reading (backpressure), which
     * also stops the read timer, so without this it could hold the conn
     * forever. libevent only times writes while output is waiting and
     * restarts the timer on every progress. */
    struct timeval tv;
    smtorp_internal_ms_to_timeval(milliseconds, &tv);
    bufferevent_set_timeouts(conn->bev, &tv, &tv);
}

SMTORP_API void smtorp_conn_close(smtorp_conn *conn) {
    if (conn == NULL || conn->closing)
        return;
    conn->closing = 1;
    memset(&conn->cb, 0, sizeof conn->cb); /* no callback after close */
    conn->arg = NULL;
    conn->ready_pending = 0;
    if (conn->ready_event != NULL)
        event_del(conn->ready_event);
    event_del(conn->resume_event);

    if (conn->connected && !conn->broken && conn_output_length(conn) > 0) {
        /* Flush what the owner queued (e.g. "221 Bye"), bounded in time.
         * The write callback fires once the output is empty. */
        bufferevent_disable(conn->bev, EV_READ);
        conn->reading = 0;
        bufferevent_set_timeouts(conn->bev, NULL, NULL);
        bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
        bufferevent_enable(conn->bev, EV_WRITE);
        struct timeval tv;
        smtorp_internal_ms_to_timeval(CONN_CLOSE_FLUSH_MS, &tv);
        if (evtimer_add(conn->close_timer, &tv) == 0) {
            conn->flushing = 1;
            return;
        }
    }
    conn_maybe_free(conn);
}

SMTORP_API smtorp_result smtorp_conn_tls_info(const smtorp_conn *conn,
                                              char *version,
                                              size_t version_size,
                                              char *cipher,
                                              size_t cipher_size) {
    if (version != NULL && version_size > 0)
        version[0] = '\0';
    if (cipher != NULL && cipher_size > 0)
        cipher[0] = '\0';
    if (conn == NULL || version == NULL || cipher == NULL ||
        version_size == 0 || cipher_size == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    SSL *ssl = conn_ssl(conn);
    if (ssl == NULL || !conn->connected)
        return SMTORP_ERR_TLS_NOT_ESTABLISHED;
    const char *v = SSL_get_version(ssl);
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    const char *n = c != NULL ? SSL_CIPHER_get_name(c) : NULL;
    if (v == NULL || n == NULL)
        return SMTORP_ERR_TLS_NOT_ESTABLISHED;
    size_t vl = strlen(v), nl = strlen(n);
    if (vl >= version_size || nl >= cipher_size)
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    memcpy(version, v, vl + 1);
    memcpy(cipher, n, nl + 1);
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_conn_peer_spki_sha256(const smtorp_conn *conn,
                                                      uint8_t out[32]) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    memset(out, 0, 32);
    if (conn == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    SSL *ssl = conn_ssl(conn);
    if (ssl == NULL || !conn->connected)
        return SMTORP_ERR_TLS_NOT_ESTABLISHED;
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer == NULL)
        return SMTORP_ERR_TLS_CERTIFICATE; /* e.g. a client without one */
    smtorp_result r = smtorp_internal_x509_spki_sha256(peer, out);
    X509_free(peer);
    return r;
}

SMTORP_API size_t smtorp_conn_output_high_watermark(void) {
    return CONN_OUTPUT_HIGH;
}

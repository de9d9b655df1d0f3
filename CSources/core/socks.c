/*
 * socks.c: the client side of SOCKS5 (RFC 1928) with username/password
 * authentication (RFC 1929), as smtorp speaks it to Tor's SocksPort.
 *
 * Two layers:
 *  - pure functions (exported, no I/O, no state): builders for the greeting,
 *    the RFC 1929 request and the CONNECT request; parsers for the three
 *    replies which, like Tor's parse_socks_client(), look at the bytes
 *    received so far and say how many make up the reply and what it says;
 *  - smtorp_socks_client: the handshake as a small state machine named for
 *    what it waits for (method reply, auth reply, connect reply), stepping
 *    over libevent buffers. conn.c drives it on a real connection and turns
 *    its verdicts into conn events (smtorp_conn_connect_socks is below).
 *
 * Untrusted input: every byte the proxy sends before and including its
 * CONNECT reply. Parsers never read past `length`, never trust a length
 * byte beyond the bytes present, and report a malformed reply as a value
 * (never an assert). Only the reply itself is consumed: what follows it is
 * the tunneled stream and is left for the owner.
 * Specs: RFC 1928 (SOCKS5: sections 3, 4, 5, 6), RFC 1929 (username and
 * password), Tor's socks-extensions.txt and proposal 304 (IsolateSOCKSAuth:
 * credentials as isolation keys; ExtendedErrors: reply codes 0xF0-0xF7).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#define SOCKS5_VERSION 0x05
#define SOCKS5_AUTH_VERSION 0x01 /* RFC 1929: the sub-negotiation's VER */
#define SOCKS5_METHOD_NONE 0x00
#define SOCKS5_METHOD_PASSWORD 0x02
#define SOCKS5_CMD_CONNECT 0x01
#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_DOMAIN 0x03
#define SOCKS5_ATYP_IPV6 0x04
/* The longest CONNECT reply: VER REP RSV ATYP, a 255-octet name after its
 * length byte, the port. */
#define SOCKS5_CONNECT_REPLY_MAX ((size_t)4 + 1 + 255 + 2)
#define SOCKS5_CONNECT_REQUEST_MAX ((size_t)5 + 255 + 2)

/* ------------------------------------------------------------------ */
/* Builders                                                           */
/* ------------------------------------------------------------------ */

/* Zeroes the outputs; 0 when the pointers are usable. */
static int build_begin(uint8_t *out, size_t out_size, size_t *out_length) {
    if (out_length != NULL)
        *out_length = 0;
    if (out != NULL && out_size > 0)
        memset(out, 0, out_size);
    return out != NULL && out_length != NULL;
}

/* Length of a C string of at most 255 octets; 0 when empty or too long. */
static size_t short_string_length(const char *s) {
    if (s == NULL)
        return 0;
    size_t n = strnlen(s, 256);
    return n > 255 ? 0 : n;
}

SMTORP_API size_t smtorp_socks5_request_max(void) {
    return SMTORP_SOCKS5_REQUEST_MAX;
}

SMTORP_API smtorp_result smtorp_socks5_greeting(int with_password,
                                                uint8_t *out, size_t out_size,
                                                size_t *out_length) {
    if (!build_begin(out, out_size, out_length))
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (out_size < 3)
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    out[0] = SOCKS5_VERSION;
    out[1] = 1; /* NMETHODS */
    out[2] = with_password ? SOCKS5_METHOD_PASSWORD : SOCKS5_METHOD_NONE;
    *out_length = 3;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_socks5_auth_request(const char *username,
                                                    const char *password,
                                                    uint8_t *out,
                                                    size_t out_size,
                                                    size_t *out_length) {
    if (!build_begin(out, out_size, out_length))
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t ulen = short_string_length(username);
    size_t plen = short_string_length(password);
    if (ulen == 0 || plen == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t total = 3 + ulen + plen;
    if (out_size < total)
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    out[0] = SOCKS5_AUTH_VERSION;
    out[1] = (uint8_t)ulen;
    memcpy(out + 2, username, ulen);
    out[2 + ulen] = (uint8_t)plen;
    memcpy(out + 3 + ulen, password, plen);
    *out_length = total;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_socks5_connect_request(const char *domain_name,
                                                       uint16_t port,
                                                       uint8_t *out,
                                                       size_t out_size,
                                                       size_t *out_length) {
    if (!build_begin(out, out_size, out_length))
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t nlen = short_string_length(domain_name);
    if (nlen == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t total = 5 + nlen + 2;
    if (out_size < total)
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    out[0] = SOCKS5_VERSION;
    out[1] = SOCKS5_CMD_CONNECT;
    out[2] = 0x00; /* RSV */
    out[3] = SOCKS5_ATYP_DOMAIN;
    out[4] = (uint8_t)nlen;
    memcpy(out + 5, domain_name, nlen);
    out[5 + nlen] = (uint8_t)(port >> 8);
    out[6 + nlen] = (uint8_t)(port & 0xFF);
    *out_length = total;
    return SMTORP_OK;
}

/* ------------------------------------------------------------------ */
/* Parsers                                                            */
/* ------------------------------------------------------------------ */

/* The two-byte replies: VER and one value. */
static smtorp_socks5_parse parse_two_bytes(const uint8_t *in, size_t length,
                                           uint8_t version, size_t *consumed,
                                           uint8_t *value) {
    if (consumed != NULL)
        *consumed = 0;
    if (value != NULL)
        *value = 0;
    if (consumed == NULL || value == NULL || (in == NULL && length > 0))
        return SMTORP_SOCKS5_MALFORMED;
    if (length >= 1 && in[0] != version)
        return SMTORP_SOCKS5_MALFORMED;
    if (length < 2)
        return SMTORP_SOCKS5_NEED_MORE;
    *value = in[1];
    *consumed = 2;
    return SMTORP_SOCKS5_DONE;
}

SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_method_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *method) {
    return parse_two_bytes(in, length, SOCKS5_VERSION, consumed, method);
}

SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_auth_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *status) {
    /* RFC 1929 section 2: the reply's VER is the sub-negotiation version,
     * 0x01 (Tor sends 01 00). */
    return parse_two_bytes(in, length, SOCKS5_AUTH_VERSION, consumed, status);
}

SMTORP_API smtorp_socks5_parse smtorp_socks5_parse_connect_reply(
    const uint8_t *in, size_t length, size_t *consumed, uint8_t *reply) {
    if (consumed != NULL)
        *consumed = 0;
    if (reply != NULL)
        *reply = 0;
    if (consumed == NULL || reply == NULL || (in == NULL && length > 0))
        return SMTORP_SOCKS5_MALFORMED;
    /* VER REP RSV ATYP: check what is there before asking for more, so a
     * wrong version is reported at once rather than waited on. */
    if (length >= 1 && in[0] != SOCKS5_VERSION)
        return SMTORP_SOCKS5_MALFORMED;
    if (length < 4)
        return SMTORP_SOCKS5_NEED_MORE;
    size_t total;
    switch (in[3]) {
    case SOCKS5_ATYP_IPV4:
        total = 4 + 4 + 2;
        break;
    case SOCKS5_ATYP_IPV6:
        total = 4 + 16 + 2;
        break;
    case SOCKS5_ATYP_DOMAIN:
        if (length < 5)
            return SMTORP_SOCKS5_NEED_MORE;
        total = 4 + 1 + (size_t)in[4] + 2;
        break;
    default:
        return SMTORP_SOCKS5_MALFORMED; /* the length is unknowable */
    }
    if (length < total)
        return SMTORP_SOCKS5_NEED_MORE;
    *reply = in[1];
    *consumed = total;
    return SMTORP_SOCKS5_DONE;
}

/* ------------------------------------------------------------------ */
/* The handshake state machine                                        */
/* ------------------------------------------------------------------ */

typedef enum socks_client_state {
    SOCKS_CLIENT_NOT_STARTED = 0,
    SOCKS_CLIENT_WANT_METHOD_REPLY,
    SOCKS_CLIENT_WANT_AUTH_REPLY,
    SOCKS_CLIENT_WANT_CONNECT_REPLY,
    SOCKS_CLIENT_OPEN,
    SOCKS_CLIENT_FAILED
} socks_client_state;

struct smtorp_socks_client {
    socks_client_state state;
    int with_password;
    uint8_t greeting[3];
    size_t greeting_length;
    uint8_t auth[SMTORP_SOCKS5_REQUEST_MAX]; /* holds the credentials */
    size_t auth_length;
    uint8_t connect[SOCKS5_CONNECT_REQUEST_MAX];
    size_t connect_length;
};

smtorp_result smtorp_internal_socks_client_new(const char *username,
                                               const char *password,
                                               const char *host,
                                               uint16_t port,
                                               smtorp_socks_client **out) {
    *out = NULL;
    smtorp_socks_client *client = calloc(1, sizeof *client);
    if (client == NULL)
        return SMTORP_ERR_NO_MEMORY;
    client->with_password = username != NULL && password != NULL;
    smtorp_result r = smtorp_socks5_greeting(
        client->with_password, client->greeting, sizeof client->greeting,
        &client->greeting_length);
    if (r == SMTORP_OK && client->with_password)
        r = smtorp_socks5_auth_request(username, password, client->auth,
                                       sizeof client->auth,
                                       &client->auth_length);
    if (r == SMTORP_OK)
        r = smtorp_socks5_connect_request(host, port, client->connect,
                                          sizeof client->connect,
                                          &client->connect_length);
    if (r != SMTORP_OK) {
        smtorp_internal_socks_client_free(client);
        return r;
    }
    *out = client;
    return SMTORP_OK;
}

void smtorp_internal_socks_client_free(smtorp_socks_client *client) {
    if (client == NULL)
        return;
    /* Isolation credentials are not secrets to Tor, but may be to the
     * owner (they can name a sender): do not leave them in the heap. */
    explicit_bzero(client->auth, sizeof client->auth);
    free(client);
}

smtorp_result smtorp_internal_socks_client_start(smtorp_socks_client *client,
                                                 struct evbuffer *output) {
    if (client->state != SOCKS_CLIENT_NOT_STARTED)
        return SMTORP_OK; /* a second CONNECTED cannot happen; be inert */
    if (evbuffer_add(output, client->greeting, client->greeting_length) != 0)
        return SMTORP_ERR_NO_MEMORY;
    client->state = SOCKS_CLIENT_WANT_METHOD_REPLY;
    return SMTORP_OK;
}

static smtorp_socks_step socks_fail(smtorp_socks_client *client, int *error,
                                    int code) {
    client->state = SOCKS_CLIENT_FAILED;
    *error = code;
    return SMTORP_SOCKS_STEP_FAILED;
}

smtorp_socks_step smtorp_internal_socks_client_receive(
    smtorp_socks_client *client, struct evbuffer *input,
    struct evbuffer *output, int at_eof, int *error) {
    *error = 0;
    for (;;) {
        if (client->state == SOCKS_CLIENT_OPEN)
            return SMTORP_SOCKS_STEP_OPEN;
        if (client->state == SOCKS_CLIENT_FAILED)
            return SMTORP_SOCKS_STEP_FAILED;
        if (client->state == SOCKS_CLIENT_NOT_STARTED) {
            /* The proxy spoke (or closed) before we did. */
            return socks_fail(client, error, SMTORP_SOCKS_PROTOCOL_ERROR);
        }

        /* No reply is longer than SOCKS5_CONNECT_REPLY_MAX: look at no more
         * (the rest, if any, is the tunnel's). */
        size_t length = evbuffer_get_length(input);
        if (length > SOCKS5_CONNECT_REPLY_MAX)
            length = SOCKS5_CONNECT_REPLY_MAX;
        const uint8_t *in = NULL;
        if (length > 0) {
            in = evbuffer_pullup(input, (ev_ssize_t)length);
            if (in == NULL)
                return SMTORP_SOCKS_STEP_NO_MEMORY;
        }

        size_t consumed = 0;
        uint8_t value = 0;
        smtorp_socks5_parse p;
        switch (client->state) {
        case SOCKS_CLIENT_WANT_METHOD_REPLY:
            p = smtorp_socks5_parse_method_reply(in, length, &consumed, &value);
            break;
        case SOCKS_CLIENT_WANT_AUTH_REPLY:
            p = smtorp_socks5_parse_auth_reply(in, length, &consumed, &value);
            break;
        case SOCKS_CLIENT_WANT_CONNECT_REPLY:
            p = smtorp_socks5_parse_connect_reply(in, length, &consumed,
                                                  &value);
            break;
        default:
            return socks_fail(client, error, SMTORP_SOCKS_PROTOCOL_ERROR);
        }

        if (p == SMTORP_SOCKS5_MALFORMED)
            return socks_fail(client, error, SMTORP_SOCKS_PROTOCOL_ERROR);
        if (p == SMTORP_SOCKS5_NEED_MORE) {
            if (!at_eof)
                return SMTORP_SOCKS_STEP_WAIT;
            /* A proxy that sends VER and a failure REP and then closes
             * without the rest of the reply has still said why. */
            if (client->state == SOCKS_CLIENT_WANT_CONNECT_REPLY &&
                length >= 2 && in[1] != 0x00)
                return socks_fail(client, error, in[1]);
            return socks_fail(client, error, SMTORP_SOCKS_PROTOCOL_ERROR);
        }
        evbuffer_drain(input, consumed);

        switch (client->state) {
        case SOCKS_CLIENT_WANT_METHOD_REPLY: {
            if (value == 0xFF)
                return socks_fail(client, error,
                                  SMTORP_SOCKS_NO_ACCEPTABLE_METHOD);
            /* Only the one method we offered may be selected. */
            uint8_t offered = client->with_password ? SOCKS5_METHOD_PASSWORD
                                                    : SOCKS5_METHOD_NONE;
            if (value != offered)
                return socks_fail(client, error, SMTORP_SOCKS_PROTOCOL_ERROR);
            const uint8_t *next = client->with_password ? client->auth
                                                        : client->connect;
            size_t next_length = client->with_password ? client->auth_length
                                                       : client->connect_length;
            if (evbuffer_add(output, next, next_length) != 0)
                return SMTORP_SOCKS_STEP_NO_MEMORY;
            client->state = client->with_password
                                ? SOCKS_CLIENT_WANT_AUTH_REPLY
                                : SOCKS_CLIENT_WANT_CONNECT_REPLY;
            break;
        }
        case SOCKS_CLIENT_WANT_AUTH_REPLY:
            if (value != 0x00)
                return socks_fail(client, error, SMTORP_SOCKS_AUTH_FAILED);
            if (evbuffer_add(output, client->connect,
                             client->connect_length) != 0)
                return SMTORP_SOCKS_STEP_NO_MEMORY;
            client->state = SOCKS_CLIENT_WANT_CONNECT_REPLY;
            break;
        case SOCKS_CLIENT_WANT_CONNECT_REPLY:
            if (value != 0x00)
                return socks_fail(client, error, value);
            client->state = SOCKS_CLIENT_OPEN;
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* The public connect                                                 */
/* ------------------------------------------------------------------ */

SMTORP_API smtorp_result smtorp_conn_connect_socks(
    smtorp_loop *loop, const char *proxy_host, uint16_t proxy_port,
    const char *username, const char *password, const char *destination_host,
    uint16_t destination_port, smtorp_tls_context *tls,
    const char *server_name, const smtorp_conn_callbacks *callbacks,
    void *arg, smtorp_conn **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || proxy_host == NULL || proxy_port == 0 ||
        destination_host == NULL || destination_port == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if ((username == NULL) != (password == NULL))
        return SMTORP_ERR_INVALID_ARGUMENT; /* half a credential: a bug */
    if (tls != NULL && tls->is_server)
        return SMTORP_ERR_INVALID_ARGUMENT;
    /* SNI is set only once the tunnel is open: refuse what OpenSSL would
     * refuse then (RFC 6066 section 3: at most 255 octets) now. */
    if (server_name != NULL && strnlen(server_name, 256) > 255)
        return SMTORP_ERR_INVALID_ARGUMENT;

    /* Build every request first: bad lengths fail here, synchronously. */
    smtorp_socks_client *socks = NULL;
    smtorp_result r = smtorp_internal_socks_client_new(
        username, password, destination_host, destination_port, &socks);
    if (r != SMTORP_OK)
        return r;

    /* A cleartext conn to the proxy; nothing is delivered on it before the
     * attach below (callbacks only ever run from the loop). */
    smtorp_conn *conn = NULL;
    r = smtorp_conn_connect(loop, proxy_host, proxy_port, NULL, NULL,
                            callbacks, arg, &conn);
    if (r != SMTORP_OK) {
        smtorp_internal_socks_client_free(socks);
        return r;
    }
    r = smtorp_internal_conn_attach_socks(conn, socks, tls, server_name);
    if (r != SMTORP_OK) {
        smtorp_conn_close(conn); /* not connected: freed at once, silently */
        return r;
    }
    *out = conn;
    return SMTORP_OK;
}

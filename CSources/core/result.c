/*
 * result.c: English descriptions of smtorp_result values.
 *
 * Untrusted input: none (the argument is an enum value; unknown values get a
 * generic text rather than an out-of-bounds read).
 * Specs: none.
 */
#include "smtorp_core.h"

SMTORP_API const char *smtorp_result_string(smtorp_result result) {
    switch (result) {
    case SMTORP_OK:
        return "success";
    case SMTORP_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case SMTORP_ERR_NO_MEMORY:
        return "out of memory";
    case SMTORP_ERR_ADDRESS:
        return "not a numeric IPv4 or IPv6 address";
    case SMTORP_ERR_BIND:
        return "cannot bind the address (in use or not available)";
    case SMTORP_ERR_LISTEN:
        return "cannot listen on the socket";
    case SMTORP_ERR_CONNECT:
        return "cannot start the connection";
    case SMTORP_ERR_EVENT:
        return "the event library refused the operation";
    case SMTORP_ERR_TLS_CONTEXT:
        return "cannot set up the TLS context";
    case SMTORP_ERR_TLS_KEY:
        return "TLS private key missing, unreadable or invalid";
    case SMTORP_ERR_TLS_CERTIFICATE:
        return "TLS certificate missing, unreadable or invalid";
    case SMTORP_ERR_TLS_NOT_ESTABLISHED:
        return "no TLS session on this connection";
    case SMTORP_ERR_IO:
        return "file system operation failed";
    case SMTORP_ERR_EXISTS:
        return "the file already exists";
    case SMTORP_ERR_CRYPTO:
        return "a cryptographic primitive failed";
    case SMTORP_ERR_CLOSED:
        return "the connection is closing";
    case SMTORP_ERR_BUFFER_TOO_SMALL:
        return "the output buffer is too small";
    case SMTORP_ERR_SPAWN:
        return "cannot start the program";
    }
    return "unknown result";
}

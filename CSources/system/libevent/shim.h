/* libevent's event-config.h defines _GNU_SOURCE; a module that sees both Glibc
 * and libevent then fails on fd_set unless these come first. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

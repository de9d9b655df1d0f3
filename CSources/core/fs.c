/*
 * fs.c: durable file writes for the Maildir store, the outbound queue and
 * the node's state.
 *
 * Untrusted input: the bytes written are untrusted message data, but they are
 * only copied; paths come from the node's own configuration, never from the
 * network.
 *
 * Durability (the reasoning, as Postfix's mail_stream.c gives it): a mail
 * server may say "250" only once the message would survive a crash or a power
 * cut. So a new file is written under a temporary name, its data forced to
 * disk with fsync(), and only then renamed into place; rename() within one
 * file system is atomic, so a reader sees either no file or the whole file.
 * The rename itself is a change to the directory, which lives in its own
 * blocks: fsync() of the directory makes the new name durable. Without that
 * last step a crash could lose a message that was already acknowledged.
 * A crash before the rename leaves only a temporary file, which is never
 * delivered (Maildir readers look in new/ and cur/, not tmp/).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "smtorp_core.h"

/* The directory part of `path` ("." when it has none), in `dir`. */
static int directory_of(const char *path, char *dir, size_t size) {
    size_t len = strlen(path);
    if (len == 0 || len >= size) return -1;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        dir[0] = '.';
        dir[1] = '\0';
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    return 0;
}

/* fsync() the directory that holds `path`. */
static smtorp_result sync_parent_directory(const char *path) {
    char dir[PATH_MAX];
    if (directory_of(path, dir, sizeof dir) != 0) return SMTORP_ERR_INVALID_ARGUMENT;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SMTORP_ERR_IO;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0 ? SMTORP_OK : SMTORP_ERR_IO;
}

static int write_all(int fd, const uint8_t *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Creates `tmp_path` exclusively (0600, never through a symbolic link),
 * writes the parts, fsyncs and closes it. On failure the temporary file is
 * gone. Both durable writers below start with this: the data must be on disk
 * before any name makes it visible (a crash after the rename or link but
 * before the data reached the disk would leave an empty or partial file). */
static smtorp_result write_synced_temporary(const char *tmp_path,
                                            const uint8_t *const *parts,
                                            const size_t *part_lengths,
                                            size_t part_count) {
    if (tmp_path == NULL ||
        (part_count > 0 && (parts == NULL || part_lengths == NULL)))
        return SMTORP_ERR_INVALID_ARGUMENT;
    int fd = open(tmp_path,
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return errno == EEXIST ? SMTORP_ERR_EXISTS : SMTORP_ERR_IO;
    int failed = 0;
    for (size_t i = 0; i < part_count && !failed; i++) {
        if (part_lengths[i] > 0 &&
            (parts[i] == NULL || write_all(fd, parts[i], part_lengths[i]) != 0))
            failed = 1;
    }
    if (!failed && fsync(fd) != 0) failed = 1;
    int saved = errno;
    if (close(fd) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(tmp_path);
        errno = saved;
        return SMTORP_ERR_IO;
    }
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_fs_write_durable(
    const char *tmp_path, const char *final_path,
    const uint8_t *const *parts, const size_t *part_lengths,
    size_t part_count) {
    if (final_path == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    smtorp_result written =
        write_synced_temporary(tmp_path, parts, part_lengths, part_count);
    if (written != SMTORP_OK) return written;
    /* Refuse to replace an existing file: unique names are the caller's job,
     * and silently overwriting a stored message would lose mail. link() fails
     * with EEXIST where rename() would replace. */
    if (link(tmp_path, final_path) != 0) {
        int saved = errno;
        unlink(tmp_path);
        errno = saved;
        return saved == EEXIST ? SMTORP_ERR_EXISTS : SMTORP_ERR_IO;
    }
    unlink(tmp_path);
    /* Make the new name durable; only now may the caller acknowledge. */
    smtorp_result r = sync_parent_directory(final_path);
    if (r != SMTORP_OK) {
        /* The file exists but its name may not survive a crash: report
         * failure so the message is not acknowledged; remove the file so a
         * retried transfer does not leave a duplicate behind. */
        int saved = errno;
        unlink(final_path);
        errno = saved;
        return r;
    }
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_fs_replace_durable(
    const char *tmp_path, const char *final_path,
    const uint8_t *const *parts, const size_t *part_lengths,
    size_t part_count) {
    if (tmp_path == NULL || final_path == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    /* A temporary file left by a crash in the middle of an earlier replace
     * holds nothing anyone relies on: the old final file was still in place.
     * Remove it, then create afresh with O_EXCL so that we never write
     * through a file (or a symbolic link) someone else put there. */
    if (unlink(tmp_path) != 0 && errno != ENOENT) return SMTORP_ERR_IO;
    smtorp_result written =
        write_synced_temporary(tmp_path, parts, part_lengths, part_count);
    if (written != SMTORP_OK) return written;
    /* rename() replaces final_path atomically: a reader (or a restart after
     * a crash) sees the old file or the new one, never a mixture, never
     * none. */
    if (rename(tmp_path, final_path) != 0) {
        int saved = errno;
        unlink(tmp_path);
        errno = saved;
        return SMTORP_ERR_IO;
    }
    /* The rename is a change to the directory: only after this fsync is the
     * new content what a restart will see. If it fails the caller must not
     * rely on the new state (the old one may come back after a crash). */
    return sync_parent_directory(final_path);
}

SMTORP_API smtorp_result smtorp_fs_rename_durable(const char *old_path,
                                                  const char *new_path) {
    if (old_path == NULL || new_path == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    char old_dir[PATH_MAX], new_dir[PATH_MAX];
    if (directory_of(old_path, old_dir, sizeof old_dir) != 0 ||
        directory_of(new_path, new_dir, sizeof new_dir) != 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (rename(old_path, new_path) != 0) return SMTORP_ERR_IO;
    /* Both directories changed: the new name must survive a crash, and so
     * must the removal of the old one (else a restart sees both names). */
    smtorp_result r = sync_parent_directory(new_path);
    if (r != SMTORP_OK || strcmp(old_dir, new_dir) == 0) return r;
    return sync_parent_directory(old_path);
}

SMTORP_API smtorp_result smtorp_fs_remove_durable(const char *path) {
    if (path == NULL || path[0] == '\0') return SMTORP_ERR_INVALID_ARGUMENT;
    if (unlink(path) != 0 && errno != ENOENT) return SMTORP_ERR_IO;
    /* Even when the file was already gone: an earlier unlink may not have
     * reached the disk yet, and the caller's next step relies on it. */
    return sync_parent_directory(path);
}

SMTORP_API smtorp_result smtorp_fs_list_directory(const char *path,
                                                  uint8_t **out,
                                                  size_t *out_length) {
    if (out != NULL) *out = NULL;
    if (out_length != NULL) *out_length = 0;
    if (path == NULL || out == NULL || out_length == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    DIR *dir = opendir(path);
    if (dir == NULL) return SMTORP_ERR_IO;
    size_t cap = 256, used = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        closedir(dir);
        return SMTORP_ERR_NO_MEMORY;
    }
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (entry == NULL) {
            if (errno != 0) {
                int saved = errno;
                free(buf);
                closedir(dir);
                errno = saved;
                return SMTORP_ERR_IO;
            }
            break;
        }
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        size_t len = strlen(name) + 1; /* with its NUL separator */
        if (cap - used < len) {
            size_t ncap = cap;
            while (ncap - used < len) ncap *= 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                free(buf);
                closedir(dir);
                return SMTORP_ERR_NO_MEMORY;
            }
            buf = nbuf;
            cap = ncap;
        }
        memcpy(buf + used, name, len);
        used += len;
    }
    closedir(dir);
    *out = buf;
    *out_length = used;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_fs_make_directory(const char *path,
                                                  uint32_t mode) {
    if (path == NULL || path[0] == '\0') return SMTORP_ERR_INVALID_ARGUMENT;
    if (mkdir(path, (mode_t)mode) != 0) {
        if (errno != EEXIST) return SMTORP_ERR_IO;
        struct stat st;
        if (stat(path, &st) != 0) return SMTORP_ERR_IO;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return SMTORP_ERR_IO;
        }
        return SMTORP_OK;
    }
    return sync_parent_directory(path);
}

SMTORP_API smtorp_result smtorp_fs_read_file(const char *path,
                                             size_t max_length, uint8_t **out,
                                             size_t *out_length) {
    if (out != NULL) *out = NULL;
    if (out_length != NULL) *out_length = 0;
    if (path == NULL || out == NULL || out_length == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return SMTORP_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return SMTORP_ERR_IO;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_length) {
        close(fd);
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    }
    size_t cap = (size_t)st.st_size + 1;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return SMTORP_ERR_NO_MEMORY;
    }
    size_t used = 0;
    for (;;) {
        if (used == cap - 1) {
            /* The file grew while we read it: stop at the limit. */
            if (cap - 1 >= max_length) break;
            size_t ncap = cap * 2 > max_length + 1 ? max_length + 1 : cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                free(buf);
                close(fd);
                return SMTORP_ERR_NO_MEMORY;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + used, cap - 1 - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            free(buf);
            close(fd);
            return SMTORP_ERR_IO;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    close(fd);
    buf[used] = 0;
    *out = buf;
    *out_length = used;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_fd_read_all(int fd, size_t max_length,
                                            uint8_t **out, size_t *out_length) {
    if (out != NULL) *out = NULL;
    if (out_length != NULL) *out_length = 0;
    if (fd < 0 || out == NULL || out_length == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t cap = 65536, used = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) return SMTORP_ERR_NO_MEMORY;
    for (;;) {
        if (used == cap) {
            if (cap > max_length) break;
            size_t ncap = cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                free(buf);
                return SMTORP_ERR_NO_MEMORY;
            }
            buf = nbuf;
            cap = ncap;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            free(buf);
            return SMTORP_ERR_IO;
        }
        if (n == 0) break;
        used += (size_t)n;
        if (used > max_length) {
            free(buf);
            return SMTORP_ERR_BUFFER_TOO_SMALL;
        }
    }
    *out = buf;
    *out_length = used;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_fs_remove(const char *path) {
    if (path == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    if (unlink(path) != 0 && errno != ENOENT) return SMTORP_ERR_IO;
    return SMTORP_OK;
}

SMTORP_API int smtorp_fs_exists(const char *path) {
    struct stat st;
    return path != NULL && lstat(path, &st) == 0;
}

SMTORP_API void smtorp_free(void *pointer) { free(pointer); }

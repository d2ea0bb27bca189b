/* A read-only file system on demand, for tigk/tests/faults_readonly.rs.
 *
 * Preloaded into `tigk serve` (LD_PRELOAD): while the file named by
 * TIGK_TEST_EROFS_FLAG exists, every write to a regular file, and every open of one for
 * writing, fails with EROFS, as the kernel answers once a file system is remounted
 * read-only. (The real thing cannot be
 * had in a test: the kernel refuses to remount read-only while files are open for
 * writing, and ext4's remount after an error cannot be undone without unmounting.)
 * Pipes and sockets are left alone, so the server keeps answering and logging. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int refused(int fd) {
    const char *flag = getenv("TIGK_TEST_EROFS_FLAG");
    struct stat st;
    if (flag == NULL || access(flag, F_OK) != 0) return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    errno = EROFS;
    return 1;
}

#define WRAP(ret, name, params, args)                              \
    ret name params {                                              \
        static ret(*real) params;                                  \
        if (real == NULL) real = (ret(*) params)dlsym(RTLD_NEXT, #name); \
        if (refused(fd)) return -1;                                \
        return real args;                                          \
    }

WRAP(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n))
WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o))
WRAP(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c))
WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(int, ftruncate, (int fd, off_t l), (fd, l))
WRAP(int, ftruncate64, (int fd, off64_t l), (fd, l))
WRAP(int, fallocate, (int fd, int m, off_t o, off_t l), (fd, m, o, l))
WRAP(int, fdatasync, (int fd), (fd))
WRAP(int, fsync, (int fd), (fd))

/* Opens for writing of regular files (or of files to be created). */
static int refused_open(int dirfd, const char *path, int flags) {
    const char *flag = getenv("TIGK_TEST_EROFS_FLAG");
    struct stat st;
    if (flag == NULL || access(flag, F_OK) != 0) return 0;
    if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) == 0) return 0;
    if (fstatat(dirfd, path, &st, 0) == 0 ? !S_ISREG(st.st_mode) : !(flags & O_CREAT)) return 0;
    errno = EROFS;
    return 1;
}

#define WRAP_OPEN(name)                                                   \
    int name(const char *path, int flags, ...) {                          \
        static int (*real)(const char *, int, ...);                       \
        mode_t mode = 0;                                                  \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        if (flags & (O_CREAT | O_TMPFILE)) mode = va_arg(ap, mode_t);     \
        va_end(ap);                                                       \
        if (real == NULL) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        if (refused_open(AT_FDCWD, path, flags)) return -1;               \
        return real(path, flags, mode);                                   \
    }

#define WRAP_OPENAT(name)                                                 \
    int name(int dirfd, const char *path, int flags, ...) {               \
        static int (*real)(int, const char *, int, ...);                  \
        mode_t mode = 0;                                                  \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        if (flags & (O_CREAT | O_TMPFILE)) mode = va_arg(ap, mode_t);     \
        va_end(ap);                                                       \
        if (real == NULL) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name); \
        if (refused_open(dirfd, path, flags)) return -1;                  \
        return real(dirfd, path, flags, mode);                            \
    }

WRAP_OPEN(open)
WRAP_OPEN(open64)
WRAP_OPENAT(openat)
WRAP_OPENAT(openat64)

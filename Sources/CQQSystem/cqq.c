#define _GNU_SOURCE
#include "cqq.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <termios.h>
#include <sys/ioctl.h>

int cqq_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int cqq_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions; (void)from;
    return ENOSYS;
#endif
}

int cqq_pipe_cloexec(int fds[2], int nonblock) {
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

int cqq_sigset_empty(sigset_t *set) { return sigemptyset(set); }

// One write end per signal number; the handler only writes one byte (async-signal-safe).
static volatile int pipe_fds[65];

static void pipe_handler(int sig) {
    int saved = errno;
    if (sig > 0 && sig < 65 && pipe_fds[sig] >= 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t r = write(pipe_fds[sig], &b, 1);
        (void)r;
    }
    errno = saved;
}

int cqq_install_pipe_handler(int sig, int write_fd) {
    if (sig <= 0 || sig >= 65) { errno = EINVAL; return -1; }
    pipe_fds[sig] = write_fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = pipe_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(sig, &sa, NULL);
}

int cqq_signal_ignore(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int cqq_signal_default(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int cqq_wifexited(int status) { return WIFEXITED(status); }
int cqq_wexitstatus(int status) { return WEXITSTATUS(status); }
int cqq_wifsignaled(int status) { return WIFSIGNALED(status); }
int cqq_wtermsig(int status) { return WTERMSIG(status); }
int cqq_wifstopped(int status) { return WIFSTOPPED(status); }

int cqq_errno(void) { return errno; }

int cqq_readdir(void *dir, const char **name, unsigned char *type, uint64_t *ino) {
    errno = 0;
    struct dirent *e = readdir((DIR *)dir);
    if (!e) return errno ? -1 : 0;
    *name = e->d_name;
    *type = e->d_type;
    *ino = e->d_ino;
    return 1;
}

static void fill(const struct stat *st, struct cqq_stat *out) {
    out->dev = st->st_dev;
    out->ino = st->st_ino;
    out->mode = st->st_mode;
    out->uid = st->st_uid;
    out->gid = st->st_gid;
    out->size = st->st_size;
    out->mtime_sec = st->st_mtim.tv_sec;
    out->mtime_nsec = st->st_mtim.tv_nsec;
    out->ctime_sec = st->st_ctim.tv_sec;
    out->ctime_nsec = st->st_ctim.tv_nsec;
    out->nlink = st->st_nlink;
    out->blocks = st->st_blocks;
}

int cqq_fstatat(int dirfd, const char *path, int flags, struct cqq_stat *out) {
    struct stat st;
    int r = fstatat(dirfd, path, &st, flags);
    if (r == 0) fill(&st, out);
    return r;
}

int cqq_fstat(int fd, struct cqq_stat *out) {
    struct stat st;
    int r = fstat(fd, &st);
    if (r == 0) fill(&st, out);
    return r;
}

int cqq_futimens(int fd, int64_t sec, int64_t nsec) {
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    return futimens(fd, ts);
}

int cqq_utimensat(int dirfd, const char *path, int64_t sec, int64_t nsec, int nofollow) {
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    return utimensat(dirfd, path, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0);
}

int cqq_openat(int dirfd, const char *path, int flags, unsigned int mode) {
    return openat(dirfd, path, flags, (mode_t)mode);
}

int cqq_tcsetpgrp(int fd, pid_t pgrp) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int r = tcsetpgrp(fd, pgrp);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return r;
}

long cqq_online_cpus(void) { return sysconf(_SC_NPROCESSORS_ONLN); }

long long cqq_fs_type(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    return (long long)(unsigned long)s.f_type;
}

int cqq_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return ENOSYS;
#endif
}

int cqq_sigset_all_catchable(sigset_t *set) {
    sigemptyset(set);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        sigaddset(set, s);
    }
    return 0;
}

int cqq_terminal_columns(int fd) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return -1;
    return ws.ws_col;
}

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>

ssize_t cqq_copy_file_range_at(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len) {
#ifdef SYS_copy_file_range
    loff_t a = (loff_t)*off_in, b = (loff_t)*off_out;
    ssize_t r = syscall(SYS_copy_file_range, fd_in, &a, fd_out, &b, len, 0);
    *off_in = (int64_t)a;
    *off_out = (int64_t)b;
    return r;
#else
    (void)fd_in; (void)off_in; (void)fd_out; (void)off_out; (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int cqq_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

// XXH64 (Yann Collet's public algorithm), written out for byte buffers.
static const uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL, P3 = 1609587929392839161ULL,
                      P4 = 9650029242287828579ULL, P5 = 2870177450012600261ULL;
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t round64(uint64_t acc, uint64_t in) { acc += in * P2; acc = rotl64(acc, 31); return acc * P1; }
static inline uint64_t merge64(uint64_t acc, uint64_t v) { acc ^= round64(0, v); return acc * P1 + P4; }

uint64_t cqq_xxh64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data, *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        const unsigned char *limit = end - 32;
        do {
            v1 = round64(v1, rd64(p)); v2 = round64(v2, rd64(p + 8));
            v3 = round64(v3, rd64(p + 16)); v4 = round64(v4, rd64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = merge64(h, v1); h = merge64(h, v2); h = merge64(h, v3); h = merge64(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) { h ^= round64(0, rd64(p)); h = rotl64(h, 27) * P1 + P4; p += 8; }
    if (p + 4 <= end) { h ^= (uint64_t)rd32(p) * P1; h = rotl64(h, 23) * P2 + P3; p += 4; }
    while (p < end) { h ^= (*p) * P5; h = rotl64(h, 11) * P1; p++; }
    h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32;
    return h;
}

struct cqq_waitlock { pthread_mutex_t m; pthread_cond_t c; };

void *cqq_waitlock_create(void) {
    struct cqq_waitlock *l = malloc(sizeof *l);
    if (!l) return NULL;
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->c, NULL);
    return l;
}
void cqq_waitlock_destroy(void *lock) {
    struct cqq_waitlock *l = lock;
    pthread_cond_destroy(&l->c);
    pthread_mutex_destroy(&l->m);
    free(l);
}
void cqq_waitlock_lock(void *lock) { pthread_mutex_lock(&((struct cqq_waitlock *)lock)->m); }
void cqq_waitlock_unlock(void *lock) { pthread_mutex_unlock(&((struct cqq_waitlock *)lock)->m); }
void cqq_waitlock_wait(void *lock) { struct cqq_waitlock *l = lock; pthread_cond_wait(&l->c, &l->m); }
void cqq_waitlock_signal(void *lock) { pthread_cond_signal(&((struct cqq_waitlock *)lock)->c); }
void cqq_waitlock_broadcast(void *lock) { pthread_cond_broadcast(&((struct cqq_waitlock *)lock)->c); }

#ifndef QQ_BUILD_COMMIT
#define QQ_BUILD_COMMIT "unknown"
#endif
const char *cqq_build_commit(void) { return QQ_BUILD_COMMIT; }

int64_t cqq_seek_data(int fd, int64_t offset) { return lseek(fd, offset, SEEK_DATA); }
int64_t cqq_seek_hole(int fd, int64_t offset) { return lseek(fd, offset, SEEK_HOLE); }

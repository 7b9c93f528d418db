// Thin declarations of libc/Linux calls that Swift's Glibc module does not import.
// Each wrapper returns what the call returns; errno is left for the caller to read.
#ifndef CQQ_H
#define CQQ_H

#include <sys/types.h>
#include <spawn.h>
#include <signal.h>
#include <stdint.h>

// The git commit of the build, for --version: scripts/install and scripts/release compile with
// -Xcc -DQQ_BUILD_COMMIT="<commit>"; a plain `swift build` gives "unknown".
const char *cqq_build_commit(void);

// prctl(PR_SET_CHILD_SUBREAPER, 1).
int cqq_set_child_subreaper(void);

// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34); returns ENOSYS when missing.
int cqq_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

// pipe2 with O_CLOEXEC (and O_NONBLOCK when nonblock != 0).
int cqq_pipe_cloexec(int fds[2], int nonblock);

// Signal-set helpers: the macros/inline functions behind sigset_t are awkward in Swift.
int cqq_sigset_empty(sigset_t *set);

// Install an async-signal-safe handler that writes the signal number to a self-pipe.
int cqq_install_pipe_handler(int sig, int write_fd);
// Set a signal's disposition to SIG_IGN or SIG_DFL.
int cqq_signal_ignore(int sig);
int cqq_signal_default(int sig);

// WIFEXITED & co. are macros.
int cqq_wifexited(int status);
int cqq_wexitstatus(int status);
int cqq_wifsignaled(int status);
int cqq_wtermsig(int status);
int cqq_wifstopped(int status);

// errno as a function (thread-local errno is a macro).
int cqq_errno(void);

// Directory entry type, from readdir's d_type, with the name pointer.
// Returns 1 for an entry, 0 at the end, -1 on error (errno set).
int cqq_readdir(void *dir, const char **name, unsigned char *type, uint64_t *ino);

// st_mtim / st_ctim in nanoseconds, and the other fields the engine needs, from fstatat.
struct cqq_stat {
    uint64_t dev;
    uint64_t ino;
    uint32_t mode;
    uint32_t uid;
    uint32_t gid;
    int64_t size;
    int64_t mtime_sec;
    int64_t mtime_nsec;
    int64_t ctime_sec;
    int64_t ctime_nsec;
    uint64_t nlink;
    int64_t blocks;  // st_blocks, 512-byte units: fewer than the size needs means holes
};
int cqq_fstatat(int dirfd, const char *path, int flags, struct cqq_stat *out);
int cqq_fstat(int fd, struct cqq_stat *out);

// Set a file's times (atime and mtime both to the given mtime) through a descriptor or a path.
int cqq_futimens(int fd, int64_t sec, int64_t nsec);
int cqq_utimensat(int dirfd, const char *path, int64_t sec, int64_t nsec, int nofollow);

// open/openat with a mode (variadic in C).
int cqq_openat(int dirfd, const char *path, int flags, unsigned int mode);

// Terminal foreground process group, with SIGTTOU blocked around the call.
int cqq_tcsetpgrp(int fd, pid_t pgrp);

// The number of online CPUs.
long cqq_online_cpus(void);
/// statfs f_type of the file system holding `fd` (its magic number), or -1 with errno.
long long cqq_fs_type(int fd);

// Width of the terminal on fd (TIOCGWINSZ), or -1 when fd is not a terminal or has no size.
int cqq_terminal_columns(int fd);

// posix_spawn_file_actions_addchdir_np (glibc >= 2.29); ENOSYS when missing.
int cqq_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
// Sets every signal 1..NSIG-1 (that may be set) in `set`, for POSIX_SPAWN_SETSIGDEF.
int cqq_sigset_all_catchable(sigset_t *set);

// copy_file_range(2) with explicit offsets (both advanced by the kernel); -1/ENOSYS when missing.
ssize_t cqq_copy_file_range_at(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len);
// XXH64 of a buffer (QQ_VERIFY=checksum); `seed` chains buffers of one file.
uint64_t cqq_xxh64(const void *data, size_t len, uint64_t seed);
// renameat2(..., RENAME_NOREPLACE): fails with EEXIST instead of replacing; EINVAL where the file
// system does not support it.
int cqq_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
// pthread mutex + condition variable pair for the copy engine's work queue (opaque, heap-allocated).
void *cqq_waitlock_create(void);
void cqq_waitlock_destroy(void *lock);
void cqq_waitlock_lock(void *lock);
void cqq_waitlock_unlock(void *lock);
void cqq_waitlock_wait(void *lock);
void cqq_waitlock_signal(void *lock);
void cqq_waitlock_broadcast(void *lock);
// lseek(fd, offset, SEEK_DATA / SEEK_HOLE): the next data / hole at or after `offset`; -1 with
// errno (ENXIO: no data after `offset`; EINVAL: not supported).
int64_t cqq_seek_data(int fd, int64_t offset);
int64_t cqq_seek_hole(int fd, int64_t offset);
#endif

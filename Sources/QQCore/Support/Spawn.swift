import CQQSystem
import Glibc

/// How every child of the tools starts (R90, R3): by argv, never a shell; an empty signal mask and
/// default dispositions (what qq-run blocks or ignores must not leak into the child); only fds 0–2
/// inherited. The script and the helper commands differ only in the options.
struct SpawnRequest {
    var executable: String
    /// argv, including argv[0].
    var arguments: [String]
    /// `NAME=value` entries.
    var environment: [String]
    var stdoutFD: Int32
    var stderrFD: Int32
    /// True: stdin from /dev/null (helper commands); false: inherited (the script).
    var stdinFromDevNull = false
    var workDir: String?
    /// A new process group with the child's pid as its id, in the same session (R90).
    var newProcessGroup = false
    /// Handed to the child as fd 3 (the env-script wrapper's status channel, issue 14); it must be
    /// ≥ 4. Nil: the child gets only 0–2.
    var statusFD: Int32?

    /// The pid, or the errno of the failure.
    func spawn() -> (pid: pid_t?, error: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdinFromDevNull { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFD, 2)
        if let statusFD { posix_spawn_file_actions_adddup2(&actions, statusFD, 3) }
        _ = cqq_spawn_addclosefrom(&actions, statusFD == nil ? 3 : 4)
        if let workDir, cqq_spawn_addchdir(&actions, workDir) != 0 { return (nil, ENOSYS) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        cqq_sigset_empty(&empty)
        var all = sigset_t()
        cqq_sigset_all_catchable(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))

        var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, &cArgs, &cEnv)
        return rc == 0 ? (pid, 0) : (nil, rc)
    }
}

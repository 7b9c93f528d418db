import CQQSystem
import Glibc

/// The path of `name` as the shell would find it on `path` (a `PATH` value): the first entry
/// holding a regular file (symlinks followed) that this user may execute. A name with a `/` is
/// checked as it is. Empty `PATH` entries mean the current directory, as in POSIX.
package func findExecutable(_ name: String, path: String?) -> String? {
    guard !name.isEmpty else { return nil }
    if name.contains("/") { return isExecutableFile(name) ? name : nil }
    guard let path else { return nil }
    for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
        let candidate = dir.isEmpty ? name : (dir.hasSuffix("/") ? "\(dir)\(name)" : "\(dir)/\(name)")
        if isExecutableFile(candidate) { return candidate }
    }
    return nil
}

func isExecutableFile(_ path: String) -> Bool {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
    return access(path, X_OK) == 0
}

/// How one helper command ended (R57).
package struct CommandResult: Sendable, Hashable {
    /// The program as it was named (`scontrol`), for messages.
    package var program: String
    /// Exit code when the command exited normally.
    package var exitStatus: Int32?
    /// Terminating signal when it was killed (also set after a timeout's SIGKILL).
    package var signal: Int32?
    package var timedOut: Bool
    /// errno of a failed spawn; `ENOENT` when the program is not on `PATH`.
    package var spawnError: Int32?
    package var stdout: String
    package var stderr: String

    package init(program: String, exitStatus: Int32? = nil, signal: Int32? = nil, timedOut: Bool = false,
                spawnError: Int32? = nil, stdout: String = "", stderr: String = "") {
        self.program = program; self.exitStatus = exitStatus; self.signal = signal; self.timedOut = timedOut
        self.spawnError = spawnError; self.stdout = stdout; self.stderr = stderr
    }

    package var succeeded: Bool { exitStatus == 0 && !timedOut && spawnError == nil }

    /// stdout followed by stderr, for "does the output contain …" checks.
    package var combinedOutput: String { stderr.isEmpty ? stdout : stdout + "\n" + stderr }

    /// Why the command did not succeed, in words a user can act on:
    /// `'scontrol' not found on PATH`, `'squeue' timed out after 10 s`,
    /// `'qstat' exited with code 1: <first line of stderr>`.
    package func failureDescription(timeout: Double? = nil) -> String {
        if let e = spawnError {
            if e == ENOENT { return "'\(program)' not found on PATH" }
            return "cannot run '\(program)': \(String(cString: strerror(e)))"
        }
        if timedOut {
            if let timeout { return "'\(program)' timed out after \(formatTimeoutSeconds(timeout)) s" }
            return "'\(program)' timed out"
        }
        let detail = firstLine(stderr.trimmingBlanks.isEmpty ? stdout : stderr)
        var text: String
        if let s = signal { text = "'\(program)' was killed by signal \(s)" }
        else { text = "'\(program)' exited with code \(exitStatus ?? -1)" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }
}

private func firstLine(_ text: String) -> String {
    let t = text.trimmingBlanks
    if let nl = t.firstIndex(of: "\n") { return String(t[..<nl]).trimmingBlanks }
    return t
}

/// `10`, `0.5`: seconds without a needless `.0`.
func formatTimeoutSeconds(_ s: Double) -> String {
    if s == s.rounded(), abs(s) < 1e15 { return String(Int64(s)) }
    return String(s)
}

/// Runs helper commands (scontrol, squeue, sacct, qstat) as R57 and R3 require: by argv, never
/// through a shell, stdin from /dev/null, stdout and stderr captured, killed after a timeout.
package struct CommandRunner: Sendable {
    /// The environment the child gets; `PATH` from it locates the program.
    package var environment: Environment
    /// Seconds before the command is killed (`Settings.batchTimeout` for batch queries).
    package var timeout: Double
    package var reaping: any ChildReaping
    /// Captured output beyond this many bytes per stream is dropped (a runaway command must not
    /// exhaust memory); reading continues so the child is never blocked on a full pipe.
    package var outputLimit: Int = 64 << 20
    /// Where the command runs; nil: qq's own current directory.
    package var workingDirectory: String?

    package init(environment: Environment, timeout: Double, reaping: any ChildReaping = DirectReaping()) {
        self.environment = environment
        self.timeout = timeout
        self.reaping = reaping
    }

    package func run(_ argv: [String]) -> CommandResult {
        guard let program = argv.first else { return CommandResult(program: "", spawnError: EINVAL) }
        guard let executable = findExecutable(program, path: environment["PATH"]) else {
            return CommandResult(program: program, spawnError: ENOENT)
        }
        return runResolved(executable: executable, argv: argv)
    }

    private func runResolved(executable: String, argv: [String]) -> CommandResult {
        let program = argv[0]
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard makePipe(&outPipe) else { return CommandResult(program: program, spawnError: errno) }
        guard makePipe(&errPipe) else {
            let e = errno
            close(outPipe[0]); close(outPipe[1])
            return CommandResult(program: program, spawnError: e)
        }

        let spawned = reaping.spawnRegistered {
            SpawnRequest(executable: executable, arguments: argv, environment: environment.entries,
                         stdoutFD: outPipe[1], stderrFD: errPipe[1], stdinFromDevNull: true,
                         workDir: workingDirectory).spawn()
        }
        // The parent's copies of the write ends must go, or EOF never comes.
        close(outPipe[1]); close(errPipe[1])
        guard let pid = spawned.pid else {
            close(outPipe[0]); close(errPipe[0])
            return CommandResult(program: program, spawnError: spawned.error)
        }

        let deadline = monotonicSeconds() + timeout
        var out: [UInt8] = []
        var err: [UInt8] = []
        let timedOut = drain(outFD: outPipe[0], errFD: errPipe[0], out: &out, err: &err, deadline: deadline)
        if timedOut { kill(pid, SIGKILL) }
        close(outPipe[0]); close(errPipe[0])
        let status = reaping.waitForExit(pid: pid)

        var result = CommandResult(program: program, timedOut: timedOut,
                                   stdout: String(decoding: out, as: UTF8.self),
                                   stderr: String(decoding: err, as: UTF8.self))
        if cqq_wifexited(status) != 0 { result.exitStatus = cqq_wexitstatus(status) }
        else if cqq_wifsignaled(status) != 0 { result.signal = cqq_wtermsig(status) }
        return result
    }

    /// Reads both pipes until both reach EOF or the deadline passes; true on timeout.
    private func drain(outFD: Int32, errFD: Int32, out: inout [UInt8], err: inout [UInt8],
                       deadline: Double) -> Bool {
        var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
        var open = [true, true]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open[0] || open[1] {
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { return true }
            for i in 0..<2 { fds[i].fd = open[i] ? (i == 0 ? outFD : errFD) : -1; fds[i].revents = 0 }
            let ms = Int32(min(remaining * 1000 + 1, 60_000))
            let n = poll(&fds, 2, ms)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            if n == 0 { continue }
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let fd = i == 0 ? outFD : errFD
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    if i == 0 { if out.count < outputLimit { out.append(contentsOf: buffer[0..<got]) } }
                    else if err.count < outputLimit { err.append(contentsOf: buffer[0..<got]) }
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[i] = false
                }
            }
        }
        return false
    }
}

/// A close-on-exec pipe whose ends are ≥ 3 (or `lowest`), so the child's `dup2` onto 1 and 2 (or 3)
/// never meets a descriptor that is already that number (which would keep its close-on-exec flag).
func makePipe(_ fds: inout [Int32], lowest: Int32 = 3) -> Bool {
    let ok = fds.withUnsafeMutableBufferPointer { cqq_pipe_cloexec($0.baseAddress!, 0) } == 0
    guard ok else { return false }
    for i in 0..<2 where fds[i] < lowest {
        let moved = fcntl(fds[i], F_DUPFD_CLOEXEC, lowest)
        if moved < 0 { let e = errno; close(fds[0]); close(fds[1]); errno = e; return false }
        close(fds[i]); fds[i] = moved
    }
    return true
}


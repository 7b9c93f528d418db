// Support for the real-Slurm integration tests (SPEC R148, R149): spawning commands without
// Foundation.Process, finding the built binaries, per-test directories, submitting jobs with
// `sbatch`, waiting for them with `scontrol`, and reading what they left on disk.
//
// The cluster itself is started by `scripts/slurm-harness.sh` (the test command does that).
// Gate: a test that needs Slurm runs when `sbatch`/`scontrol` exist and `scontrol ping` answers;
// otherwise it is skipped, unless QQ_TEST_FULL=1, in which case it fails (a green run that skipped
// the Slurm tests is not green).

import CQQSystem
import Foundation
import Glibc
import Testing
@testable import QQCore

// MARK: - Errors

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Spawning commands (posix_spawnp + pipes + waitpid)

struct CommandResult: Sendable, CustomStringConvertible {
    var argv: [String]
    /// Raw wait status.
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool

    var exitCode: Int32? { (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil }
    var signal: Int32? { let s = status & 0x7f; return (s != 0 && s != 0x7f) ? s : nil }
    var succeeded: Bool { exitCode == 0 && !timedOut }

    var description: String {
        var s = "$ \(argv.joined(separator: " "))\n"
        if timedOut { s += "(timed out)\n" }
        if let c = exitCode { s += "exit \(c)\n" } else if let g = signal { s += "killed by signal \(g)\n" }
        if !stdout.isEmpty { s += "stdout:\n\(stdout)" + (stdout.hasSuffix("\n") ? "" : "\n") }
        if !stderr.isEmpty { s += "stderr:\n\(stderr)" + (stderr.hasSuffix("\n") ? "" : "\n") }
        return s
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` (2.29+); the Glibc module does not import it.
private typealias AddChdirFn = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
private let addChdirSymbol: AddChdirFn? = {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
    return unsafeBitCast(sym, to: AddChdirFn.self)
}()

/// `pipe2` (not imported by the Glibc module either): both ends close-on-exec from the start, so
/// a command spawned concurrently by another test never inherits them.
private typealias Pipe2Fn = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
private let pipe2Symbol: Pipe2Fn? = {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2") else { return nil }
    return unsafeBitCast(sym, to: Pipe2Fn.self)
}()

private func makePipe(_ fds: inout [Int32]) -> Bool {
    guard let pipe2 = pipe2Symbol else { errno = ENOSYS; return false }
    return fds.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) } == 0
}

enum Command {
    /// This process's environment as a dictionary.
    static func currentEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                let k = String(s[..<eq])
                if env[k] == nil { env[k] = String(s[s.index(after: eq)...]) }
            }
            p += 1
        }
        return env
    }

    /// Runs `argv` (looked up on the PATH of `environment`, else this process's PATH) with stdin
    /// from /dev/null, stdout and stderr captured, in `cwd` if given (PWD is then set to it), and
    /// kills it after `timeout` seconds.
    static func run(_ argv: [String], environment: [String: String]? = nil, cwd: String? = nil,
                    timeout: Double = 60) -> CommandResult {
        var env = environment ?? currentEnvironment()
        if let cwd { env["PWD"] = cwd }
        var result = CommandResult(argv: argv, status: 127 << 8, stdout: "", stderr: "", timedOut: false)

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard makePipe(&outPipe), makePipe(&errPipe) else {
            result.stderr = "pipe2: \(String(cString: strerror(errno)))"
            return result
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if let cwd {
            guard let addChdir = addChdirSymbol else {
                result.stderr = "posix_spawn_file_actions_addchdir_np is not available"
                return result
            }
            _ = addChdir(&actions, cwd)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Default signal dispositions for the child (the test runner may ignore some).
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL); sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        // The program is looked up on the child's PATH: posix_spawnp uses the parent's PATH,
        // so resolve it here.
        var program = argv[0]
        if !program.contains("/") {
            let path = env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
            for dir in path.split(separator: ":") where !dir.isEmpty {
                let candidate = "\(dir)/\(program)"
                if access(candidate, X_OK) == 0 { program = candidate; break }
            }
        }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attr, cArgs, cEnv)
        close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            result.stderr = "cannot execute '\(argv[0])': \(String(cString: strerror(rc)))"
            return result
        }

        // Read both pipes until EOF (or the deadline).
        var out = [UInt8](), err = [UInt8]()
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        let deadline = Clock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            let remaining = deadline - Clock.now
            if remaining <= 0 {
                result.timedOut = true
                kill(pid, SIGKILL)
                break
            }
            let n = poll(&fds, nfds_t(fds.count), Int32(min(remaining, 1) * 1000) + 1)
            if n < 0 { if errno == EINTR { continue }; break }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let got = read(fds[i].fd, &buffer, buffer.count)
                if got > 0 {
                    if i == 0 { out += buffer[0..<got] } else { err += buffer[0..<got] }
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[i].fd); fds[i].fd = -1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        result.status = status
        result.stdout = String(decoding: out, as: UTF8.self)
        result.stderr = String(decoding: err, as: UTF8.self)
        return result
    }
}

/// Monotonic seconds.
enum Clock {
    static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
    static func sleep(_ seconds: Double) { usleep(useconds_t(seconds * 1_000_000)) }
}

// MARK: - Files

enum Files {
    static func exists(_ path: String) -> Bool { var st = stat(); return lstat(path, &st) == 0 }
    static func isDirectory(_ path: String) -> Bool {
        var st = stat(); return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
    static func isRegular(_ path: String) -> Bool {
        var st = stat(); return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
    static func owner(_ path: String) -> uid_t? { var st = stat(); return lstat(path, &st) == 0 ? st.st_uid : nil }
    static func mode(_ path: String) -> mode_t? { var st = stat(); return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : nil }

    static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw HarnessError("cannot write '\(path)'")
        }
        chmod(path, mode)
    }

    static func mkdir(_ path: String, mode: mode_t = 0o755) throws {
        if isDirectory(path) { chmod(path, mode); return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, mode)
    }

    /// Names in a directory, sorted; [] when it cannot be read.
    static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// All regular files below `root`, relative, with their contents.
    static func snapshot(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        while let rel = e.nextObject() as? String {
            let p = "\(root)/\(rel)"
            if isRegular(p) { out[rel] = read(p) ?? "" }
        }
        return out
    }

    static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    static func chown(_ path: String, to user: TestUser, recursive: Bool = true) {
        _ = Glibc.chown(path, user.uid, user.gid)
        guard recursive, isDirectory(path), let e = FileManager.default.enumerator(atPath: path) else { return }
        while let rel = e.nextObject() as? String { _ = Glibc.lchown("\(path)/\(rel)", user.uid, user.gid) }
    }
}

/// Whether a process still exists (zombies count as gone).
func processAlive(_ pid: Int32) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let rest = stat[stat.index(after: close)...].drop(while: { $0 == " " })
    return rest.first != "Z" && rest.first != "X"
}

func hostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    gethostname(&buf, buf.count)
    return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

// MARK: - Users

struct TestUser: Sendable, Hashable {
    var name: String
    var uid: uid_t
    var gid: gid_t
    var home: String

    static func lookup(_ name: String) -> TestUser? {
        guard let pw = getpwnam(name) else { return nil }
        return TestUser(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, home: String(cString: pw.pointee.pw_dir))
    }

    static var current: TestUser {
        let uid = getuid()
        if let pw = getpwuid(uid) {
            return TestUser(name: String(cString: pw.pointee.pw_name), uid: uid, gid: pw.pointee.pw_gid,
                            home: String(cString: pw.pointee.pw_dir))
        }
        return TestUser(name: "uid\(uid)", uid: uid, gid: getgid(), home: "/")
    }

    /// The unprivileged user of SPEC R148, created by scripts/slurm-harness.sh.
    static let unprivilegedName = "qqtest"
}

// MARK: - The cluster and the binaries

enum SlurmCluster {
    /// QQ_TEST_FULL=1: every test must run; a missing prerequisite is a failure, never a skip.
    static let fullMode: Bool = Command.currentEnvironment()["QQ_TEST_FULL"] == "1"

    /// The repository root, from this file's path (…/Tests/QQCoreTests/Support/SlurmCluster.swift).
    static let repoRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }()

    /// Why the cluster cannot be used, or nil when it answers.
    static let unavailableReason: String? = {
        let env = Command.currentEnvironment()
        let path = (env["PATH"] ?? "") + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for tool in ["sbatch", "scontrol"] {
            let found = path.split(separator: ":").contains { access("\($0)/\(tool)", X_OK) == 0 }
            if !found { return "'\(tool)' is not installed" }
        }
        var e = env; e["PATH"] = path
        let ping = Command.run(["scontrol", "ping"], environment: e, timeout: 15)
        if !ping.succeeded || !ping.stdout.contains("UP") {
            return "'scontrol ping' does not answer:\n\(ping)"
        }
        return nil
    }()

    static var available: Bool { unavailableReason == nil }

    /// For `.enabled(if:)`: skip when the cluster is missing, unless the full test command runs.
    static var shouldRun: Bool { fullMode || available }

    /// Fails the test (it runs only in full mode when the cluster is missing) with a clear message.
    static func require() throws {
        if let why = unavailableReason {
            throw HarnessError("""
                QQ_TEST_FULL=1 but the Slurm cluster is not usable: \(why)
                Start it with 'scripts/slurm-harness.sh start' (as root), or run 'scripts/test'.
                """)
        }
    }

    /// Tests that submit as the unprivileged user need root (runuser).
    static var shouldRunAsOtherUser: Bool { fullMode || (available && getuid() == 0) }

    static var binariesBuilt: Bool { access("\(repoRoot)/.build/debug/qq-run", X_OK) == 0 }
    static var shouldRunLocal: Bool { fullMode || binariesBuilt }

    /// A per-process base under /tmp that every user can reach: /tmp/qq-it/run-<pid>.
    static let runBase: String = {
        let top = "/tmp/qq-it"
        try? Files.mkdir(top, mode: 0o1777)
        // Remove what runs of processes that no longer exist left behind.
        for name in Files.list(top) where name.hasPrefix("run-") {
            if let pid = Int32(name.dropFirst(4)), pid != getpid(), !processAlive(pid) { Files.remove("\(top)/\(name)") }
        }
        let base = "\(top)/run-\(getpid())"
        try? Files.mkdir(base, mode: 0o755)
        return base
    }()

    /// The built qq-run, qq-info and qq, copied once per run into a world-readable directory
    /// (jobs of the unprivileged user must be able to execute them).
    static let binDirResult: Result<String, HarnessError> = {
        let built = "\(repoRoot)/.build/debug"
        let dir = "\(runBase)/bin"
        do {
            try Files.mkdir(dir, mode: 0o755)
            for tool in ["qq-run", "qq-info", "qq", "qq-wipe", "qq-clear", "qq-sync"] {
                let src = "\(built)/\(tool)"
                guard access(src, X_OK) == 0 else {
                    throw HarnessError("'\(src)' is missing: build first ('swift build')")
                }
                guard let data = FileManager.default.contents(atPath: src),
                      FileManager.default.createFile(atPath: "\(dir)/\(tool)", contents: data) else {
                    throw HarnessError("cannot copy '\(src)' to '\(dir)'")
                }
                chmod("\(dir)/\(tool)", 0o755)
            }
            return .success(dir)
        } catch let e as HarnessError {
            return .failure(e)
        } catch {
            return .failure(HarnessError("\(error)"))
        }
    }()

    static func binDir() throws -> String { try binDirResult.get() }

    /// PATH for jobs and commands: the test binaries first, then the system's.
    static func jobPath() throws -> String {
        "\(try binDir()):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }

    /// A clean login-like environment for `user`, with the test binaries first on PATH. sbatch's
    /// default `--export=ALL` hands it to the job.
    static func baseEnvironment(for user: TestUser) throws -> [String: String] {
        ["PATH": try jobPath(), "HOME": user.home, "USER": user.name, "LOGNAME": user.name,
         "SHELL": "/bin/bash", "LANG": "C.UTF-8"]
    }
}

// MARK: - Per-test directories

/// `<run base>/<name>-<random>/` with `input/` (the job's input dir), `scratch/` (its
/// QQ_SCRATCH_ROOT), `flash/` (QQ_FLASH_ROOT), `probe/` (where job scripts leave evidence, outside
/// the input dir) and `logs/` (Slurm's output files unless a test keeps them in the input dir).
struct TestDirs: Sendable {
    var base: String
    var input: String { "\(base)/input" }
    var scratch: String { "\(base)/scratch" }
    var flash: String { "\(base)/flash" }
    var probe: String { "\(base)/probe" }
    var logs: String { "\(base)/logs" }

    /// `owner` gets the input, probe and logs dirs; the scratch and flash roots are root's, mode
    /// 1777, like a site's `/scratch`.
    init(_ name: String, owner: TestUser? = nil) throws {
        base = "\(SlurmCluster.runBase)/\(name)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        try Files.mkdir(base, mode: 0o755)
        for d in [input, probe, logs] { try Files.mkdir(d, mode: 0o755) }
        for d in [scratch, flash] { try Files.mkdir(d, mode: 0o1777) }
        if let owner { for d in [input, probe, logs] { Files.chown(d, to: owner) } }
    }

    /// Writes a file into the input dir (creating parents).
    func put(_ rel: String, _ text: String, mode: mode_t = 0o644, owner: TestUser? = nil) throws {
        let path = "\(input)/\(rel)"
        let parent = String(path[..<path.lastIndex(of: "/")!])
        try Files.mkdir(parent)
        try Files.write(path, text, mode: mode)
        if let owner {
            Files.chown(path, to: owner, recursive: false)
            Files.chown(parent, to: owner, recursive: false)
        }
    }

    func probeFile(_ name: String) -> String? {
        Files.read("\(probe)/\(name)").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}

// MARK: - Jobs

/// One record of `scontrol show job <id> -o`, split as R59 describes.
struct JobRecord: Sendable {
    var fields: [String: String]
    subscript(_ key: String) -> String? { fields[key] }
    var jobID: String { fields["JobId"] ?? "" }
    /// First word of JobState.
    var state: String { String((fields["JobState"] ?? "").split(separator: " ").first ?? "") }
    var exitCode: String { fields["ExitCode"] ?? "" }

    static let finalStates: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                           "BOOT_FAIL", "OUT_OF_MEMORY", "DEADLINE", "PREEMPTED", "SPECIAL_EXIT"]
    var isFinal: Bool { Self.finalStates.contains(state) }

    static func parse(_ output: String) -> [JobRecord] {
        output.split(separator: "\n").compactMap { line in
            var fields: [String: String] = [:]
            var last: String?
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if let eq = token.firstIndex(of: "="),
                   token[..<eq].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "/" || $0 == ":" }),
                   eq != token.startIndex {
                    let k = String(token[..<eq])
                    fields[k] = String(token[token.index(after: eq)...])
                    last = k
                } else if let k = last {
                    fields[k, default: ""] += " " + token
                }
            }
            return fields.isEmpty ? nil : JobRecord(fields: fields)
        }
    }
}

/// A submitted job and what the tests need to explain a failure.
struct SlurmJob: Sendable {
    var id: String
    var dirs: TestDirs
    var user: TestUser
    /// Where Slurm writes the batch output (qq-run's log in plain mode).
    var outputPath: String

    /// The batch output plus qq-run's own log if present, for failure messages.
    func diagnostics(_ extra: String = "") -> Comment {
        var s = "job \(id) (input dir \(dirs.input))"
        if !extra.isEmpty { s += "\n\(extra)" }
        s += "\n--- Slurm output \(outputPath):\n" + (Files.read(outputPath) ?? "(missing)")
        let keys = ["JobId", "JobState", "Reason", "ExitCode", "UserId", "WorkDir", "RunTime", "StdOut"]
        let recs = SlurmCluster.records(id).map { r in keys.compactMap { k in r[k].map { "\(k)=\($0)" } }.joined(separator: " ") }
        s += "\n--- scontrol: " + (recs.isEmpty ? "(no record)" : recs.joined(separator: "\n    "))
        s += "\n--- input dir: \(Files.list(dirs.input).joined(separator: " "))"
        return Comment(rawValue: s)
    }
}

extension SlurmCluster {
    /// Submits `script` (a file in the input dir) with `sbatch --parsable` from the input dir, as
    /// `user` (through `runuser` when it is not the current user). `env` is added to the clean
    /// environment (QQ_SCRATCH_ROOT and QQ_FLASH_ROOT default to the test's roots, QQ_IT_PROBE to its
    /// probe dir). Slurm's output goes to `<logs>/slurm-<id>.out` unless `outputInInputDir`.
    static func submit(_ script: String, dirs: TestDirs, options: [String] = [], env: [String: String] = [:],
                       as user: TestUser = .current, outputInInputDir: Bool = false,
                       scriptArgs: [String] = [], cwd: String? = nil) throws -> SlurmJob {
        try require()
        var environment = try baseEnvironment(for: user)
        environment["QQ_SCRATCH_ROOT"] = dirs.scratch
        environment["QQ_FLASH_ROOT"] = dirs.flash
        environment["QQ_IT_PROBE"] = dirs.probe
        for (k, v) in env { environment[k] = v }
        var argv = ["sbatch", "--parsable"]
        if !outputInInputDir { argv += ["-o", "\(dirs.logs)/slurm-%j.out"] }
        argv += options + [script] + scriptArgs
        let result: CommandResult
        if user.uid == getuid() {
            result = Command.run(argv, environment: environment, cwd: cwd ?? dirs.input, timeout: 30)
        } else {
            // runuser resets parts of the environment; env -i then sets exactly ours.
            let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            result = Command.run(["runuser", "-u", user.name, "--", "env", "-i"] + assignments + argv,
                                 environment: environment, cwd: cwd ?? dirs.input, timeout: 30)
        }
        let out = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard result.succeeded, let first = out.split(separator: ";").first, !first.isEmpty,
              first.allSatisfy({ $0.isNumber }) else {
            throw HarnessError("sbatch failed:\n\(result)")
        }
        let id = String(first)
        let output = outputInInputDir ? "\(dirs.input)/slurm-\(id).out" : "\(dirs.logs)/slurm-\(id).out"
        return SlurmJob(id: id, dirs: dirs, user: user, outputPath: output)
    }

    /// All records `scontrol show job <id> -o` returns (an array's master id lists every task).
    static func records(_ id: String) -> [JobRecord] {
        let r = Command.run(["scontrol", "show", "job", id, "-o"], timeout: 15)
        return r.succeeded ? JobRecord.parse(r.stdout) : []
    }

    static func record(_ id: String) -> JobRecord? {
        let all = records(id)
        return all.first { $0.jobID == id } ?? all.first
    }

    /// Polls `scontrol show job <id> -o` every 0.2 s until every record of `id` is in a final state
    /// (the job left the queue). Returns the records.
    @discardableResult
    static func waitForEnd(_ job: SlurmJob, timeout: Double = 60) throws -> [JobRecord] {
        let deadline = Clock.now + timeout
        var last: [JobRecord] = []
        while Clock.now < deadline {
            last = records(job.id)
            if !last.isEmpty && last.allSatisfy(\.isFinal) { return last }
            Clock.sleep(0.2)
        }
        let states = last.map { "\($0.jobID)=\($0.state)" }.joined(separator: " ")
        scancel(job.id)
        throw HarnessError("job \(job.id) did not end within \(Int(timeout)) s (states: \(states)); cancelled.\n\(job.diagnostics().rawValue)")
    }

    /// Waits until `path` exists; fails early when the job has already ended.
    static func waitForFile(_ path: String, job: SlurmJob, timeout: Double = 30) throws {
        let deadline = Clock.now + timeout
        while Clock.now < deadline {
            if Files.exists(path) { return }
            if let r = record(job.id), r.isFinal {
                Clock.sleep(0.2)
                if Files.exists(path) { return }
                throw HarnessError("job \(job.id) ended (\(r.state)) before '\(path)' appeared.\n\(job.diagnostics().rawValue)")
            }
            Clock.sleep(0.1)
        }
        scancel(job.id)
        throw HarnessError("'\(path)' did not appear within \(Int(timeout)) s; job \(job.id) cancelled.\n\(job.diagnostics().rawValue)")
    }

    static func scancel(_ id: String) {
        _ = Command.run(["scancel", id], timeout: 15)
    }

    static func release(_ id: String) throws {
        let r = Command.run(["scontrol", "release", id], timeout: 15)
        guard r.succeeded else { throw HarnessError("scontrol release failed:\n\(r)") }
    }
}

// MARK: - State files

enum StateFiles {
    /// Loads a state file with the product's reader (R34–R37); fails with the job's diagnostics
    /// when it is missing.
    static func load(_ path: String, job: SlurmJob? = nil) throws -> InfoRecord {
        guard Files.isRegular(path) else {
            var msg = "state file '\(path)' does not exist"
            if let job { msg += "\n\(job.diagnostics().rawValue)" }
            throw HarnessError(msg)
        }
        return try InfoFile.load(path: path)
    }

    /// Whether the raw text has a top-level key (e.g. `synchronized`), independent of the reader.
    static func hasKey(_ text: String, _ key: String) -> Bool {
        text.split(separator: "\n").contains { $0.hasPrefix("\(key):") }
    }

    /// The YAML 1.1 check of R149: Debian's python3-yaml loads the file; returns, for each
    /// top-level key, the Python type name of its value (`str`, `int`, `bool`, `list[str]`, `dict`,
    /// `date`, `datetime`, …).
    static func yaml11Types(_ path: String) throws -> [String: String] {
        let program = """
            import sys, yaml
            d = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))
            assert isinstance(d, dict), 'not a mapping'
            def t(v):
                if isinstance(v, list):
                    return 'list[' + ','.join(sorted({type(x).__name__ for x in v})) + ']'
                return type(v).__name__
            for k, v in d.items():
                print(k + '\\t' + t(v))
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        print(k + '.' + str(k2) + '\\t' + t(v2))
            """
        let r = Command.run(["/usr/bin/python3", "-c", program, path], timeout: 30)
        guard r.succeeded else { throw HarnessError("the YAML 1.1 reader rejected '\(path)':\n\(r)") }
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    /// Keys that R18–R45 define as strings (or lists of strings).
    static let stringKeys: Set<String> = [
        "batch_system", "qq_version", "username", "job_id", "job_name", "script_name", "queue", "job_type",
        "input_machine", "input_dir", "job_state", "submission_time", "stdout_file", "stderr_file",
        "account", "server", "interpreter", "start_time", "main_node", "work_dir", "completion_time",
        "runner", "cluster", "pid_ns", "phase", "heartbeat", "array_job_id", "array_task_id", "kill_reason",
        "error", "wiped",
    ]
    static let stringListKeys: Set<String> = ["excluded_files", "included_files", "transfer_mode", "depend", "all_nodes", "signals"]
    static let intKeys: Set<String> = ["job_exit_code", "runner_pid", "heartbeat_interval", "restarts", "script_exit_code"]

    /// Problems the YAML 1.1 check finds (empty: passed).
    static func yaml11Problems(_ path: String) throws -> [String] {
        var problems: [String] = []
        for (k, t) in try yaml11Types(path).sorted(by: { $0.key < $1.key }) {
            if stringKeys.contains(k), t != "str" { problems.append("\(k) is \(t), not str") }
            if stringListKeys.contains(k), t != "list[str]" { problems.append("\(k) is \(t), not list[str]") }
            if intKeys.contains(k), t != "int" { problems.append("\(k) is \(t), not int") }
            if k == "synchronized", t != "bool" { problems.append("synchronized is \(t), not bool") }
            if ["resources.walltime", "resources.work_dir"].contains(k), t != "str" { problems.append("\(k) is \(t), not str") }
            if ["resources.nnodes", "resources.ncpus", "resources.ngpus", "resources.ncpus_per_node", "resources.ngpus_per_node"].contains(k),
               t != "int" { problems.append("\(k) is \(t), not int") }
            if ["stage_in.files", "stage_in.bytes", "stage_out.files", "stage_out.bytes", "usage.max_rss"].contains(k),
               t != "int" { problems.append("\(k) is \(t), not int") }
            if ["stage_in.seconds", "stage_out.seconds", "usage.user_cpu", "usage.sys_cpu"].contains(k),
               t != "float" { problems.append("\(k) is \(t), not float") }
            if k == "stage_out.mode", t != "str" { problems.append("\(k) is \(t), not str") }
        }
        return problems
    }
}

// MARK: - Fault injection (SlurmFault*Tests, issue 4)

extension SlurmCluster {
    /// Waits until the job has left PENDING (the 2-CPU node runs at most two jobs; others queue).
    @discardableResult
    static func waitForStart(_ job: SlurmJob, timeout: Double = 300) throws -> JobRecord {
        let deadline = Clock.now + timeout
        var last: JobRecord?
        while Clock.now < deadline {
            last = record(job.id)
            if let r = last, !r.state.isEmpty, r.state != "PENDING" { return r }
            Clock.sleep(0.1)
        }
        scancel(job.id)
        throw HarnessError("job \(job.id) did not start within \(Int(timeout)) s (state \(last?.state ?? "?")); cancelled.\n\(job.diagnostics().rawValue)")
    }

    /// Polls the state file every 20 ms until its `phase` is one of `phases`; a missing or
    /// unparseable file counts as "not yet". Fails early when the job has ended.
    @discardableResult
    static func waitForPhase(_ path: String, _ phases: Set<Phase>, job: SlurmJob, timeout: Double = 60) throws -> InfoRecord {
        let deadline = Clock.now + timeout
        var lastPhase = "(no file)"
        var polls = 0
        while Clock.now < deadline {
            if let r = try? InfoFile.load(path: path, tornReadRetries: 0) {
                lastPhase = r.phase?.rawValue ?? "(none)"
                if let p = r.phase, phases.contains(p) { return r }
            }
            polls += 1
            if polls % 25 == 0, let r = record(job.id), r.isFinal {
                throw HarnessError("job \(job.id) ended (\(r.state)) before phase \(phases.map(\.rawValue).sorted()) was seen (last: \(lastPhase)).\n\(job.diagnostics().rawValue)")
            }
            Clock.sleep(0.02)
        }
        scancel(job.id)
        throw HarnessError("phase \(phases.map(\.rawValue).sorted()) not reached within \(Int(timeout)) s (last: \(lastPhase)); job \(job.id) cancelled.\n\(job.diagnostics().rawValue)")
    }

    /// `scancel --signal=<sig> [--batch] <id>`.
    static func signal(_ id: String, _ sig: String, batchOnly: Bool = true) {
        _ = Command.run(["scancel", "--signal=\(sig)"] + (batchOnly ? ["--batch"] : []) + [id], timeout: 15)
    }
}

/// What "no file of the input dir lost or truncated" compares: size plus a hash of the whole
/// content (files up to 1 MiB) or of its first and last 64 KiB (larger ones).
struct FileFingerprint: Sendable, Equatable, CustomStringConvertible {
    var size: Int64
    var hash: UInt64
    var description: String { "\(size) bytes, hash \(String(hash, radix: 16))" }

    static func of(_ path: String) -> FileFingerprint? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let size = Int64(st.st_size)
        var h: UInt64 = 0xcbf29ce484222325
        var buffer = [UInt8](repeating: 0, count: 65536)
        func absorb(from offset: Int64, count: Int64) {
            var done: Int64 = 0
            while done < count {
                let want = Int(min(Int64(buffer.count), count - done))
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(offset + done)) }
                if n <= 0 { return }
                for b in buffer[0..<n] { h = (h ^ UInt64(b)) &* 0x100000001b3 }
                done += Int64(n)
            }
        }
        if size <= 1 << 20 {
            absorb(from: 0, count: size)
        } else {
            absorb(from: 0, count: 65536)
            absorb(from: size - 65536, count: 65536)
        }
        return FileFingerprint(size: size, hash: h)
    }
}

enum InputSnapshot {
    /// Every regular file below `root` (relative path → fingerprint).
    static func take(_ root: String) -> [String: FileFingerprint] {
        var out: [String: FileFingerprint] = [:]
        guard let e = FileManager.default.enumerator(atPath: root) else { return out }
        while let rel = e.nextObject() as? String {
            let p = "\(root)/\(rel)"
            if Files.isRegular(p), let f = FileFingerprint.of(p) { out[rel] = f }
        }
        return out
    }

    /// Files of `before` that are missing or differ in `root` now, except `allowedToChange`.
    static func damage(_ root: String, before: [String: FileFingerprint], allowedToChange: Set<String> = []) -> [String] {
        var problems: [String] = []
        for (rel, was) in before.sorted(by: { $0.key < $1.key }) where !allowedToChange.contains(rel) {
            guard let now = FileFingerprint.of("\(root)/\(rel)") else { problems.append("\(rel): lost"); continue }
            if now != was { problems.append("\(rel): was \(was), now \(now)") }
        }
        return problems
    }

    /// Temporary names of the copy engine or the state writer left anywhere below `root`.
    static func leftoverTemporaries(_ root: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let name = rel.split(separator: "/").last.map(String.init) ?? rel
            if name.contains(".qq-part-") || name.contains(".tmp-") || name.contains(".replaced-") { out.append(rel) }
        }
        return out.sorted()
    }
}

enum JobProcesses {
    /// Pids of processes whose environment carries `SLURM_JOB_ID=<id>` (needs root to read every
    /// /proc/<pid>/environ): the job's qq-run, script and everything they started, setsid included.
    static func of(jobID: String) -> [Int32] {
        let needle = Array("SLURM_JOB_ID=\(jobID)".utf8)
        var out: [Int32] = []
        for name in Files.list("/proc") {
            guard let pid = Int32(name), pid != getpid(), processAlive(pid),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/environ") else { continue }
            for entry in data.split(separator: 0) where Array(entry) == needle { out.append(pid); break }
        }
        return out
    }

    /// Waits up to `timeout` seconds for the job's processes to disappear; returns those left,
    /// with their command lines.
    static func leftover(jobID: String, extra: [Int32] = [], timeout: Double = 10) -> [String] {
        let deadline = Clock.now + timeout
        while true {
            let pids = Set(of(jobID: jobID) + extra.filter(processAlive))
            if pids.isEmpty { return [] }
            if Clock.now >= deadline {
                return pids.sorted().map { pid in
                    let cmd = (Files.read("/proc/\(pid)/cmdline") ?? "").replacingOccurrences(of: "\0", with: " ")
                    return "\(pid): \(cmd)"
                }
            }
            Clock.sleep(0.2)
        }
    }
}

enum QQInfoTool {
    /// Runs the built qq-info with `arguments` and the test binaries' PATH (for scontrol).
    static func run(_ arguments: [String], env extra: [String: String] = [:], timeout: Double = 30) throws -> CommandResult {
        var env = try SlurmCluster.baseEnvironment(for: .current)
        for (k, v) in extra { env[k] = v }
        return Command.run(["\(try SlurmCluster.binDir())/qq-info"] + arguments, environment: env, timeout: timeout)
    }

    /// `real_state` of the first job of `qq-info --json` output.
    static func realState(_ json: String) -> String? {
        guard let data = json.data(using: .utf8),
              let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let jobs = top["jobs"] as? [[String: Any]], let first = jobs.first else { return nil }
        return first["real_state"] as? String
    }
}

/// A small tmpfs mounted over `path` (root only), for "scratch full".
struct TmpfsMount: Sendable {
    var path: String
    init(at path: String, size: String, mode: String = "1777") throws {
        self.path = path
        let r = Command.run(["mount", "-t", "tmpfs", "-o", "size=\(size),mode=\(mode)", "tmpfs", path], timeout: 15)
        guard r.succeeded else { throw HarnessError("cannot mount a tmpfs on '\(path)':\n\(r)") }
    }
    func unmount() {
        if !Command.run(["umount", path], timeout: 15).succeeded { _ = Command.run(["umount", "-l", path], timeout: 15) }
    }
}

import Glibc
import Synchronization
@testable import QQCore

/// A scratch root, an input dir and the environment that makes them the known locations
/// (QQ_SCRATCH_ROOT, USER), for the qq-wipe and qq-clear unit tests.
struct CleanupWorld: ~Copyable {
    let dir = TempDir()
    var root: String { dir.path + "/scratch" }
    var input: String { dir.path + "/input" }
    let user: String = {
        guard let pw = getpwuid(getuid()) else { return "uid\(getuid())" }
        return String(cString: pw.pointee.pw_name)
    }()

    init() {
        mkdir(dir.path + "/scratch", 0o755)
        mkdir(dir.path + "/input", 0o755)
    }

    /// Environment for the tools: Slurm, our scratch root, our user, no scheduler on PATH.
    func environment(_ extra: [String: String] = [:]) -> Environment {
        var env = Environment(["QQ_BATCH_SYSTEM": "Slurm", "QQ_SCRATCH_ROOT": root, "USER": user,
                               "PATH": "/nonexistent", "PWD": input, "QQ_CONFIG": "/nonexistent"])
        for (k, v) in extra { env[k] = v }
        return env
    }

    func workDir(_ id: String, user u: String? = nil) -> String { "\(root)/\(u ?? user)/qq-jobs/job_\(id)" }

    /// A job's work dir with a marker (unless `marker: false`) and one result file.
    @discardableResult
    func makeWorkDir(_ id: String, path: String? = nil, marker: Bool = true, markerJobID: String? = nil,
                     infoFile: String? = nil) -> String {
        let wd = path ?? workDir(id)
        makeDirectories(wd)
        writeText(wd + "/result.txt", "result of \(id)\n")
        if marker {
            let m = WorkDirMarker(jobID: markerJobID ?? id, infoFile: infoFile ?? "\(input)/job\(id).qqinfo",
                                  inputDir: input, batchSystem: .slurm, mainNode: thisHostName(),
                                  created: Timestamp.now(), runner: "qq-run test")
            try? InfoFile.writeMarker(m, to: wd + "/.qq-run-marker")
        }
        return wd
    }

    /// An info file `job<id>.qqinfo` in the input dir.
    @discardableResult
    func makeInfo(_ id: String, state: NaiveState, workDir: String? = nil, name: String? = nil,
                  edit: (inout InfoRecord) -> Void = { _ in }) -> String {
        var r = InfoRecord(batchSystem: .slurm, qqVersion: "1.0.0", username: user, jobID: id,
                           jobName: "job\(id).sh", scriptName: "job\(id).sh", queue: "debug",
                           inputMachine: thisHostName(), inputDir: input, jobState: state,
                           submissionTime: ts("2025-03-14 09:26:53"), stdoutFile: "job\(id).out",
                           stderrFile: "job\(id).err", resources: Resources(nnodes: 1, ncpus: 1, workDir: "scratch"))
        if state != .queued {
            r.startTime = ts("2025-03-14 09:30:00")
            r.mainNode = thisHostName()
            r.allNodes = [thisHostName()]
            r.workDir = workDir ?? self.workDir(id)
        }
        switch state {
        case .finished: r.completionTime = ts("2025-03-14 10:00:00"); r.jobExitCode = 0
        case .failed: r.completionTime = ts("2025-03-14 11:02:03"); r.jobExitCode = 3; r.synchronized = false
        case .killed: r.completionTime = ts("2025-03-14 10:00:00"); r.killReason = .cancelled; r.synchronized = false
        default: break
        }
        edit(&r)
        let path = "\(input)/\(name ?? "job\(id).qqinfo")"
        try? InfoFile.writeRecord(r, to: path)
        return path
    }

    func makeDirectories(_ path: String) {
        var current = ""
        for c in path.split(separator: "/") {
            current += "/" + c
            mkdir(current, 0o755)
        }
    }
}

func exists(_ path: String) -> Bool { FileSystem.lstat(path) != nil }

/// Sets a file's mtime to `secondsAgo` in the past.
func age(_ path: String, by secondsAgo: Int) {
    var times = [timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0), timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0)]
    utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
}

/// A cleanup context over canned batch answers, collecting the output.
/// `viaFront`: as if started by `qq wipe`/`qq clear` rather than `qq-wipe`/`qq-clear`.
func cleanupContext(_ system: CannedBatchSystem, _ transcript: CleanupTranscript, tty: Bool = false,
                    answer: String? = nil, viaFront: Bool = false) -> CleanupContext {
    let info = InfoContext(batchSystem: { _ in system }, loadInfo: testLoader)
    return CleanupContext(info: info, emit: transcript.emit, stdinIsTTY: tty, ask: { _ in answer }, viaFront: viaFront)
}

/// Makes `<root>/<user>/qq-jobs` a symbolic link to itself: every path below it fails with ELOOP,
/// an error other than ENOENT that root cannot bypass (unlike EACCES).
func loopQQJobs(_ world: borrowing CleanupWorld) -> String {
    let jobs = world.root + "/" + world.user + "/qq-jobs"
    world.makeDirectories(world.root + "/" + world.user)
    symlink(jobs, jobs)
    return jobs
}

/// Batch answers by job id: `RUNNING`, `COMPLETED`, `FAILED`, … as Slurm states, `notfound`, or
/// `unavailable`; ids not listed are not found.
func slurmAnswers(_ table: [String: String]) -> CannedBatchSystem {
    CannedBatchSystem { id in
        switch table[id] ?? "notfound" {
        case "notfound": return .notFound
        case "unavailable": return .unavailable(reason: "scontrol timed out")
        case let state: return .found(Examples.slurmRecord(state))
        }
    }
}

/// Collects what a command emitted, for assertions on stdout and the log lines.
final class CleanupTranscript: Sendable {
    private let pieces = Mutex<[CleanupOutput]>([])
    init() {}
    var emit: @Sendable (CleanupOutput) -> Void { { piece in self.pieces.withLock { $0.append(piece) } } }
    var all: [CleanupOutput] { pieces.withLock { $0 } }
    var stdout: String { all.compactMap { if case .out(let t) = $0 { return t }; return nil }.joined() }
    /// Log lines as `LEVEL message`.
    var logLines: [String] {
        all.compactMap { if case .log(let l, let m) = $0 { return "\(l.label) \(m)" }; return nil }
    }
}

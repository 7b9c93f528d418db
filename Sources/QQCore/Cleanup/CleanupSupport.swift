import CQQSystem
import Glibc

/// One piece of a cleanup tool's output: text for stdout, or a log line for stderr.
package enum CleanupOutput: Sendable, Hashable {
    case out(String)
    /// Raw text for stderr (usage errors).
    case err(String)
    case log(LogLevel, String)
}

/// What qq-wipe and qq-clear need from the world, injectable for tests.
package struct CleanupContext: Sendable {
    package var info: InfoContext
    /// Where output goes, in order (stdout text and log lines interleave as they happen).
    package var emit: @Sendable (CleanupOutput) -> Void
    package var stdinIsTTY: Bool
    /// Shows the prompt and reads one line from the terminal; nil on EOF.
    package var ask: @Sendable (String) -> String?
    /// This host (R10); nil means `thisHostName()`.
    package var host: String?
    /// Started as `qq wipe`/`qq clear` through the front command rather than as `qq-wipe`/`qq-clear`.
    package var viaFront: Bool

    package init(info: InfoContext, emit: @escaping @Sendable (CleanupOutput) -> Void, stdinIsTTY: Bool = false,
                ask: @escaping @Sendable (String) -> String? = { _ in nil }, host: String? = nil,
                viaFront: Bool = false) {
        self.info = info; self.emit = emit; self.stdinIsTTY = stdinIsTTY; self.ask = ask; self.host = host
        self.viaFront = viaFront
    }

    /// At a command's entry: the info context's settings loaded once (`InfoContext.withSettings`).
    func withSettings(from environment: Environment) -> CleanupContext {
        var c = self
        c.info = info.withSettings(from: environment)
        return c
    }

    var settings: Settings { info.settings }

    /// The command as the user typed it, for "rerun as …" hints: `qq clear` or `qq-clear`.
    func command(_ sub: String) -> String { viaFront ? "qq \(sub)" : "qq-\(sub)" }

    /// This process: stdout, the log on stderr, the prompt on stderr and the answer from stdin.
    package static func live() -> CleanupContext {
        CleanupContext(info: .live(), emit: { piece in
            switch piece {
            case .out(let text): StandardOutput.write(text)
            case .err(let text): StandardError.write(text)
            case .log(let level, let message): Log.write(level, message)
            }
        }, stdinIsTTY: isatty(0) == 1, ask: { prompt in
            StandardError.write(prompt)
            return readLine(strippingNewline: true)
        }, viaFront: FrontCommand.ranThroughFront())
    }

    func log(_ level: LogLevel, _ message: String) { emit(.log(level, message)) }
    func info(_ message: String) { log(.info, message) }
    func warning(_ message: String) { log(.warning, message) }
    func error(_ message: String) { log(.error, message) }
    func out(_ text: String) { emit(.out(text)) }
}

/// A loaded info file with everything the destructive tools decide on.
struct EvaluatedJob: Sendable {
    var info: LoadedInfo
    var status: JobStatus
    /// R58: non-nil when the job may still be alive.
    var live: LiveEvidence?
    var record: InfoRecord { info.record }
}

enum CleanupJobs {
    /// Queries every job (naive-`unknown` ones too, R122) and evaluates its real state and liveness.
    static func evaluate(_ jobs: [LoadedInfo], environment: Environment, context: InfoContext) -> [EvaluatedJob] {
        let answers = JobLookup.queryAll(jobs, noBatch: false, includeUnknown: true,
                                             environment: environment, context: context)
        let now = context.now()
        let skew = context.settings.clockSkew
        return zip(jobs, answers).map { job, answer in
            EvaluatedJob(info: job,
                         status: JobStatus.evaluate(record: job.record, answer: answer, fileMTime: job.mtime,
                                                    now: now, clockSkew: skew),
                         live: LiveEvidence.of(record: job.record, answer: answer, fileMTime: job.mtime, now: now,
                                               clockSkew: skew))
        }
    }

    /// R138: records a wipe in the info file at `path` (re-read first), keeping its permission
    /// bits; a lost job also becomes killed with reason `lost`. Failures are returned as text.
    static func recordWipe(path: String, jobID: String, lost: Bool, now: Int) -> String? {
        let record: InfoRecord
        do { record = try InfoFile.load(path: path) } catch { return error.description }
        guard sameJob(record.jobID, jobID) else { return "the info file now belongs to job '\(record.jobID)'" }
        var r = record
        r.wiped = Timestamp(epochSeconds: now)
        if lost {
            r.jobState = .killed
            r.killReason = .lost
            r.completionTime = r.heartbeat
                ?? FileSystem.stat(path).map { Timestamp(epochSeconds: Int($0.mtimeSeconds)) } ?? Timestamp(epochSeconds: now)
        }
        do { try InfoFile.writeRecord(r, to: path) } catch { return error.description }
        return nil
    }

    /// Apparent size in bytes of everything under `path`, not following symlinks, staying on one
    /// file system.
    static func treeSize(_ path: String) -> Int64 {
        guard case .success(let fd) = FileDescriptor.openDirectory(path), let st = fd.status() else { return 0 }
        return treeSize(fd, device: st.device, depth: 0)
    }

    private static func treeSize(_ dir: borrowing FileDescriptor, device: UInt64, depth: Int) -> Int64 {
        guard depth < 256, case .success(let entries) = dir.entries() else { return 0 }
        var total: Int64 = 0
        for e in entries {
            guard let st = lstatZ(dir.rawValue, e.z) else { continue }
            if st.isDirectory {
                guard st.device == device,
                      case .success(let child) = FileDescriptor.openDirectory(e.z, relativeTo: dir.rawValue) else { continue }
                total += treeSize(child, device: device, depth: depth + 1)
            } else {
                total += st.size
            }
        }
        return total
    }
}

extension CleanupContext {
    /// The entry qq-wipe and qq-clear share: logging and settings once for the process, then the
    /// command line's help, version and usage errors, then `body` with the options.
    static func execute<Options>(tool: String, help: String, usage: String, arguments: [String],
                                 environment: Environment, context: CleanupContext,
                                 parse: ([String]) -> CommandLineRequest<Options>,
                                 body: (Options, CleanupContext) -> ExitStatus) -> ExitStatus {
        Log.configure(environment: environment)
        let context = context.withSettings(from: environment)
        switch parse(arguments) {
        case .help: context.out(help + "\n"); return .success
        case .version: context.out("\(tool) \(QQVersion.version)\n"); return .success
        case .usageError(let problem): context.emit(.err(problem.message(tool: tool, usage: usage))); return .usage
        case .run(let o): return body(o, context)
        }
    }
}

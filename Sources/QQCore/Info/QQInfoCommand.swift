import CQQSystem
import Glibc

/// What qq-info needs from the world, injectable for tests.
public struct InfoContext: Sendable {
    /// Epoch seconds "now", for every duration shown.
    public var now: @Sendable () -> Int
    public var stdoutIsTTY: Bool
    /// Columns from `TIOCGWINSZ`, when stdout is a terminal that reports a size.
    public var terminalColumns: Int?
    public var reaping: any ChildReaping
    /// Which implementation answers for a system (tests inject canned answers).
    public var batchSystem: @Sendable (BatchSystemName) -> any BatchSystem
    public var loadInfo: InfoLoader
    /// The settings (R144–R146), read once per process: given here (tests), or loaded from the
    /// command's environment at its entry by `withSettings(from:)`; everything below reads them here.
    public private(set) var settings: Settings
    private var settingsGiven: Bool

    public init(now: @escaping @Sendable () -> Int = { Int(time(nil)) }, stdoutIsTTY: Bool = false,
                terminalColumns: Int? = nil, reaping: any ChildReaping = DirectReaping(),
                batchSystem: @escaping @Sendable (BatchSystemName) -> any BatchSystem = { QQCore.batchSystem(named: $0) },
                loadInfo: @escaping InfoLoader = defaultInfoLoader, settings: Settings? = nil) {
        self.loadInfo = loadInfo
        self.now = now; self.stdoutIsTTY = stdoutIsTTY; self.terminalColumns = terminalColumns
        self.reaping = reaping; self.batchSystem = batchSystem
        self.settings = settings ?? Settings(); self.settingsGiven = settings != nil
    }

    /// At a command's entry: this context with the settings of `environment` (environment over
    /// config file over default, for the batch system outside a job), unless they were given.
    func withSettings(from environment: Environment) -> InfoContext {
        guard !settingsGiven else { return self }
        var c = self
        c.settings = Settings.load(environment: environment, system: try? batchSystemOutsideJob(environment: environment))
        c.settingsGiven = true
        return c
    }

    /// How this tool's batch queries run (`batch_timeout`, `use_sacct`).
    var queryOptions: BatchQueryOptions { BatchQueryOptions(settings) }

    /// This process's stdout.
    public static func live() -> InfoContext {
        let tty = isatty(1) == 1
        let columns = tty ? Int(cqq_terminal_columns(1)) : -1
        return InfoContext(stdoutIsTTY: tty, terminalColumns: columns > 0 ? columns : nil)
    }
}

public enum QQInfoCommand {
    public static let usage = """
        usage: qq-info [TARGET ...] [-s|--short] [--json] [--no-batch]
               qq-info --help | --version
        """

    public static let help = """
        \(usage)

        Shows the state of qq jobs from their info files (*.qqinfo).

        TARGET is an info file, a directory (its *.qqinfo files are shown), or a job id.
        Without a TARGET the current directory is scanned. Jobs submitted from a scanned
        directory that have not started yet (no info file) are shown from the batch system.

        options:
          -s, --short   one line per job: the job id and its state
          --json        one JSON document with every job (schema qq-info/1)
          --no-batch    do not ask the batch system; show the states written in the files
          -h, --help    show this help and exit
          --version     show the version and exit
        """

    struct Options {
        var targets: [String] = []
        var short = false
        var json = false
        var noBatch = false
    }

    static func parse(_ arguments: [String]) -> CommandLineRequest<Options> {
        ArgumentScanner.request(arguments, flags: ["-s", "--short", "--json", "--no-batch"], into: Options()) {
            o, word throws(ArgumentScanner.Problem) in
            switch word {
            case .positional(let target): o.targets.append(target)
            case .flag("-s"), .flag("--short"): o.short = true
            case .flag("--json"): o.json = true
            case .flag("--no-batch"): o.noBatch = true
            default: break  // each flag named above has its case
            }
        } check: { o throws(ArgumentScanner.Problem) in
            if o.short && o.json { throw .invalid("--short and --json cannot be used together") }
        }
    }

    /// The whole command: prints to stdout, logs to stderr, returns the exit code.
    public static func run(arguments: [String], environment: Environment) -> ExitStatus {
        let (status, out, err) = execute(arguments: arguments, environment: environment, context: .live())
        StandardError.write(err)
        StandardOutput.write(out)
        return status
    }

    /// Same as `run`, with the output returned: (exit code, stdout, usage/help text for stderr).
    static func execute(arguments: [String], environment: Environment,
                        context: InfoContext) -> (ExitStatus, String, String) {
        Log.configure(environment: environment)
        let context = context.withSettings(from: environment)
        let options: Options
        switch parse(arguments) {
        case .help: return (.success, help + "\n", "")
        case .version: return (.success, "qq-info \(QQVersion.version)\n", "")
        case .usageError(let problem): return (.usage, "", problem.message(tool: "qq-info", usage: usage))
        case .run(let o): options = o
        }

        let cwd = FileSystem.logicalCurrentDirectory(environment: environment)
        let scan = scanTargets(options.targets, environment: environment, context: context, directory: cwd)
        let jobs = scan.jobs
        // Issue 8, item 12: jobs submitted from a scanned directory that have not started yet.
        let pending = options.noBatch ? PendingJobs.Outcome()
            : PendingJobs.find(in: scan.directories, known: jobs, environment: environment, context: context)
        if let reason = pending.unavailable { Log.debug("Could not list the jobs waiting in the queue: \(reason).") }
        let errors = scan.errors(pending: pending)
        for e in errors { Log.error(e.message) }

        let answers = queryAll(jobs, noBatch: options.noBatch, environment: environment, context: context)
        let now = context.now()
        let skew = context.settings.clockSkew
        let statuses = zip(jobs, answers).map { job, answer in
            JobStatus.evaluate(record: job.record, answer: answer, fileMTime: job.mtime, now: now, clockSkew: skew)
        }

        var out = ""
        if options.json {
            out = InfoJSON.document(jobs: zip(jobs, statuses).map { ($0.0, $0.1) }, pending: pending.jobs,
                                    errors: errors, baseDirectory: cwd)
        } else {
            let colors = context.stdoutIsTTY && environment.nonEmpty("NO_COLOR") == nil
            let columns = context.stdoutIsTTY ? context.terminalColumns : nil
            let panel = PanelOptions(terminalColumns: columns ?? positiveInt(environment["COLUMNS"]) ?? 80,
                                     colors: colors, now: now, clockSkew: skew)
            for (job, status) in zip(jobs, statuses) {
                if options.short {
                    out += InfoPanel.shortLine(record: job.record, status: status, colors: colors) + "\n"
                } else {
                    out += "\n" + InfoPanel.render(record: job.record, status: status, options: panel)
                }
            }
            for job in pending.jobs {
                out += options.short ? InfoPanel.pendingShortLine(job, colors: colors) + "\n"
                    : "\n" + InfoPanel.renderPending(job, options: panel)
            }
            if !options.short && !(jobs.isEmpty && pending.jobs.isEmpty) { out += "\n" }
        }
        return (errors.isEmpty ? .success : .failed, out, "")
    }

    /// R118–R121: the info files named by `targets` (files, directories, job ids; the current
    /// directory when there are none), loaded, and one error per target that failed. Errors are
    /// returned, not logged.
    static func collectJobs(_ targets: [String], environment: Environment, context: InfoContext,
                            directory cwd: String) -> (jobs: [LoadedInfo], errors: [(target: String, message: String)]) {
        let scan = scanTargets(targets, environment: environment, context: context, directory: cwd)
        return (scan.jobs, scan.errors(pending: nil))
    }

    /// What the targets gave: the loaded files, the directories scanned, and the errors.
    struct TargetScan {
        var jobs: [LoadedInfo] = []
        /// Every directory target that could be read, as given.
        var directories: [String] = []
        /// In target order; `emptyDirectory` marks R119's "No qq job info file found.", which a
        /// job still waiting in the queue for that directory replaces (issue 8, item 12).
        var failures: [(target: String, message: String, emptyDirectory: Bool)] = []

        func errors(pending: PendingJobs.Outcome?) -> [(target: String, message: String)] {
            failures.compactMap { f in
                guard f.emptyDirectory, let pending else { return (f.target, f.message) }
                if pending.directoriesWithJobs.contains(f.target) { return nil }
                if let reason = pending.unavailable {
                    return (f.target, f.message + " Jobs still waiting in the queue could not be listed: \(reason).")
                }
                return (f.target, f.message)
            }
        }
    }

    static func scanTargets(_ targets: [String], environment: Environment, context: InfoContext,
                            directory cwd: String) -> TargetScan {
        var scan = TargetScan()
        func fail(_ target: String, _ message: String, emptyDirectory: Bool = false) {
            scan.failures.append((target, message, emptyDirectory))
        }
        for target in targets.isEmpty ? ["."] : targets {
            let st = FileSystem.stat(target)
            if st?.isRegular == true {
                switch Discovery.load(target, loader: context.loadInfo) {
                case .success(let info): scan.jobs.append(info)
                case .failure(let f): fail(target, f.message)
                }
            } else if st?.isDirectory == true {
                let paths: [String]
                do { paths = try Discovery.infoFiles(in: target) } catch { fail(target, error.description); continue }
                scan.directories.append(target)
                if paths.isEmpty { fail(target, "No qq job info file found.", emptyDirectory: true); continue }
                let (loaded, failed) = Discovery.loadSorted(paths, loader: context.loadInfo)
                for (path, message) in failed { fail(path, message) }
                scan.jobs += loaded
            } else if let problem = Discovery.targetProblem(target, status: st) {
                fail(target, problem)
            } else {
                switch JobIDResolver.resolve(target, environment: environment, context: context, directory: cwd) {
                case .success(let info): scan.jobs.append(info)
                case .failure(let e): fail(target, e.message)
                }
            }
        }
        return scan
    }

    /// R122: one query per job (files of the same job share it), at most 8 at a time; none for
    /// naive-`unknown` files (unless `includeUnknown`: qq-wipe and qq-clear need to know whether
    /// the answer is authoritative) or with `--no-batch`. nil means "not queried".
    static func queryAll(_ jobs: [LoadedInfo], noBatch: Bool, includeUnknown: Bool = false,
                         environment: Environment, context: InfoContext) -> [BatchAnswer?] {
        var answers: [BatchAnswer?] = Array(repeating: nil, count: jobs.count)
        if noBatch { return answers }
        var keys: [String] = []
        var firstIndex: [String: Int] = [:]
        var keyOf: [Int: String] = [:]
        for (i, job) in jobs.enumerated() where includeUnknown || job.record.jobState != .unknown {
            if let known = job.knownAnswer { answers[i] = known; continue }
            let r = job.record
            // Local answers depend on the file's own pid and host, so each file is its own job.
            var key = "\(r.batchSystem.rawValue)\u{0}\(shortJobID(r.jobID))\u{0}\(r.cluster ?? "")"
            if r.batchSystem == .local { key += "\u{0}\(job.path)" }
            keyOf[i] = key
            if firstIndex[key] == nil { firstIndex[key] = i; keys.append(key) }
        }
        let representative = keys.compactMap { firstIndex[$0].map { jobs[$0] } }
        let results = concurrentMap(count: representative.count, limit: 8) { i in
            let r = representative[i].record
            return context.batchSystem(r.batchSystem).queryJob(r.jobID, record: r, environment: environment,
                                                               options: context.queryOptions, reaping: context.reaping)
        }
        var byKey: [String: BatchAnswer] = [:]
        for (k, a) in zip(keys, results) { byKey[k] = a }
        for (i, key) in keyOf { answers[i] = byKey[key] }
        return answers
    }
}

func positiveInt(_ text: String?) -> Int? {
    guard let text, let v = Int(text.trimmingBlanks), v > 0 else { return nil }
    return v
}


/// R120: from a job id to its info file.
enum JobIDResolver {
    struct Failure: Error { var message: String }

    static func resolve(_ id: String, environment: Environment, context: InfoContext,
                        directory: String) -> Result<LoadedInfo, Failure> {
        let systemName: BatchSystemName
        do { systemName = try batchSystemOutsideJob(environment: environment) }
        catch { return .failure(Failure(message: error.description)) }

        if systemName == .local {
            guard let match = newestMatch(in: directory, id: id, loader: context.loadInfo) else {
                return .failure(Failure(message: "Job '\(id)' is not a valid qq job."))
            }
            return .success(match)
        }

        let answer = context.batchSystem(systemName).queryJob(id, record: nil, environment: environment,
                                                             options: context.queryOptions, reaping: context.reaping)
        let batch: BatchJobRecord
        switch answer {
        case .notFound: return .failure(Failure(message: "Job '\(id)' does not exist."))
        case .unavailable(let reason):
            return .failure(Failure(message: "Could not query the batch system about job '\(id)': \(reason)."))
        case .found(let r): batch = r
        }

        var candidates: [String] = []
        if systemName == .pbs, let qqInfo = batch.variables["QQ_INFO"], !qqInfo.isEmpty { candidates.append(qqInfo) }
        if let dir = batch.workDir, let name = batch.jobName, !name.isEmpty {
            candidates.append(FileSystem.joinPath(dir, replacingSuffix(of: name, with: ".qqinfo")))
        }
        var sawOtherJob = false
        for path in candidates where (FileSystem.stat(path)?.isRegular == true) {
            if case .success(var info) = Discovery.load(path, loader: context.loadInfo) {
                if matches(info.record, id) { info.knownAnswer = answer; return .success(info) }
                sawOtherJob = true
            }
        }
        if let dir = batch.workDir, var match = newestMatch(in: dir, id: id, loader: context.loadInfo) {
            match.knownAnswer = answer
            return .success(match)
        }
        if sawOtherJob {
            return .failure(Failure(message: "Info file for job '\(id)' does not exist or is not reachable."))
        }
        return .failure(Failure(message: "Job '\(id)' is not a valid qq job."))
    }

    /// The job id matches (R8), or the array id `A_T` does.
    static func matches(_ r: InfoRecord, _ id: String) -> Bool {
        if sameJob(r.jobID, id) { return true }
        if let a = r.arrayJobID, let t = r.arrayTaskID, "\(a)_\(t)" == id { return true }
        return false
    }

    /// The most recently modified `.qqinfo` file in `directory` that belongs to `id`.
    static func newestMatch(in directory: String, id: String, loader: InfoLoader) -> LoadedInfo? {
        guard let paths = try? Discovery.infoFiles(in: directory) else { return nil }
        var best: LoadedInfo?
        for path in paths.sorted() {
            guard case .success(let info) = Discovery.load(path, retries: 1, loader: loader), matches(info.record, id) else { continue }
            if best == nil || (info.mtime ?? 0) > (best?.mtime ?? 0) { best = info }
        }
        return best
    }
}

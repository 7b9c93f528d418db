import CQQSystem
import Glibc

/// What qq-info needs from the world, injectable for tests.
package struct InfoContext: Sendable {
    /// Epoch seconds "now", for every duration shown.
    package var now: @Sendable () -> Int
    package var stdoutIsTTY: Bool
    /// Columns from `TIOCGWINSZ`, when stdout is a terminal that reports a size.
    package var terminalColumns: Int?
    package var reaping: any ChildReaping
    /// Which implementation answers for a system (tests inject canned answers).
    package var batchSystem: @Sendable (BatchSystemName) -> any BatchSystem
    package var loadInfo: InfoLoader
    /// The settings (R144–R146), read once per process: given here (tests), or loaded from the
    /// command's environment at its entry by `withSettings(from:)`; everything below reads them here.
    package private(set) var settings: Settings
    private var settingsGiven: Bool

    package init(now: @escaping @Sendable () -> Int = { Int(time(nil)) }, stdoutIsTTY: Bool = false,
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
    package static func live() -> InfoContext {
        let tty = isatty(1) == 1
        let columns = tty ? Int(cqq_terminal_columns(1)) : -1
        return InfoContext(stdoutIsTTY: tty, terminalColumns: columns > 0 ? columns : nil)
    }
}

package enum QQInfoCommand {
    package static let usage = """
        usage: qq-info [TARGET ...] [-s|--short] [--json] [--no-batch]
               qq-info [TARGET ...] --tail [N] [-f|--follow] [--no-batch]
               qq-info [TARGET ...] -f|--follow [--no-batch]
               qq-info --help | --version
        """

    package static let help = """
        \(usage)

        Shows the state of qq jobs from their info files (*.qqinfo).

        TARGET is an info file, a directory (its *.qqinfo files are shown), or a job id.
        Without a TARGET the current directory is scanned. Jobs submitted from a scanned
        directory that have not started yet (no info file) are shown from the batch system.

        options:
          -s, --short   one line per job: the job id and its state
          --json        one JSON document with every job (schema qq-info/1)
          --no-batch    do not ask the batch system; show the states written in the files
          --tail [N]    print the last N (default 20) lines of each job's stdout and stderr:
                        from the work dir while it runs, from the input dir after it ended
          -f, --follow  print the tail, then every new line until each job has ended,
                        then its state line (as --short)
          -h, --help    show this help and exit
          --version     show the version and exit
        """

    struct Options {
        var targets: [String] = []
        var short = false
        var json = false
        var noBatch = false
        /// `--tail` / `--follow`: the logs instead of the state.
        var live: LiveOutput.Request?
        /// The word after `--tail` is its N when it is a number.
        var tailCountMayFollow = false
    }

    static func parse(_ arguments: [String]) -> CommandLineRequest<Options> {
        ArgumentScanner.request(arguments, flags: ["-s", "--short", "--json", "--no-batch", "-f", "--follow"],
                                optionallyValued: ["--tail"], into: Options()) {
            o, word throws(ArgumentScanner.Problem) in
            let countMayFollow = o.tailCountMayFollow
            o.tailCountMayFollow = false
            switch word {
            case .positional(let n) where countMayFollow && !n.isEmpty && n.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }):
                o.live?.lines = try tailCount(n)
            case .positional(let target): o.targets.append(target)
            case .flag("--tail"):
                o.live = o.live ?? LiveOutput.Request()
                o.tailCountMayFollow = true
            case .option("--tail", let n):
                o.live = o.live ?? LiveOutput.Request()
                o.live?.lines = try tailCount(n)
            case .flag("-f"), .flag("--follow"):
                o.live = o.live ?? LiveOutput.Request()
                o.live?.follow = true
            case .flag("-s"), .flag("--short"): o.short = true
            case .flag("--json"): o.json = true
            case .flag("--no-batch"): o.noBatch = true
            default: break  // each flag named above has its case
            }
        } check: { o throws(ArgumentScanner.Problem) in
            if o.short && o.json { throw .invalid("--short and --json cannot be used together") }
            if o.live != nil && (o.short || o.json) {
                throw .invalid("--tail and --follow print the logs; they cannot be used with --short or --json")
            }
        }
    }

    private static func tailCount(_ text: String) throws(ArgumentScanner.Problem) -> Int {
        guard let n = Int(text), n >= 0 else {
            throw .invalid("--tail takes a number of lines (0 or more), not '\(text)'")
        }
        return n
    }

    /// The whole command: prints to stdout, logs to stderr, returns the exit code.
    package static func run(arguments: [String], environment: Environment) -> ExitStatus {
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
        let scan = JobLookup.scanTargets(options.targets, environment: environment, context: context, directory: cwd)
        let jobs = scan.jobs
        // Issue 8, item 12: jobs submitted from a scanned directory that have not started yet. The
        // queue listing and the jobs' own queries do not depend on each other: ask both at once.
        let directories = scan.directories
        let listing = ResultBox<PendingJobs.Outcome>()
        let listingThread = options.noBatch ? nil : startThread {
            listing.set(PendingJobs.find(in: directories, known: jobs, environment: environment, context: context))
        }
        let answers = options.live != nil ? [] : JobLookup.queryAll(jobs, noBatch: options.noBatch, environment: environment, context: context)
        if let listingThread { pthread_join(listingThread, nil) }
        let pending = listing.isSet ? listing.take()
            : options.noBatch ? PendingJobs.Outcome()
            : PendingJobs.find(in: directories, known: jobs, environment: environment, context: context)  // no thread could start
        if let reason = pending.unavailable { Log.debug("Could not list the jobs waiting in the queue: \(reason).") }
        let errors = scan.errors(pending: pending)
        for e in errors { Log.error(e.message) }

        if let live = options.live {
            var output = LiveOutput(jobs: jobs, request: live, environment: environment, context: context)
            output.run(noBatch: options.noBatch)
            return (errors.isEmpty ? .success : .failed, "", "")
        }

        let now = context.now()
        let skew = context.settings.clockSkew
        let statuses = zip(jobs, answers).map { job, answer in
            JobStatus.evaluate(record: job.record, answer: answer, fileMTime: job.mtime, now: now, clockSkew: skew)
        }

        let evaluated = Array(zip(jobs, statuses))
        // Issue 11 item 4: the cycles of loop jobs, from their archives (files only).
        let loops = LoopHistory.gather(evaluated, loader: context.loadInfo)

        var out = ""
        if options.json {
            out = InfoJSON.document(jobs: evaluated, loops: loops, pending: pending.jobs,
                                    errors: errors, baseDirectory: cwd, now: now)
        } else {
            let colors = context.stdoutIsTTY && environment.nonEmpty("NO_COLOR") == nil
            let columns = context.stdoutIsTTY ? context.terminalColumns : nil
            let panel = PanelOptions(terminalColumns: columns ?? positiveInt(environment["COLUMNS"]) ?? 80,
                                     colors: colors, now: now, clockSkew: skew)
            // `--short`: a loop's line per cycle, and no second line for a cycle that is also a job
            // of this scan (the finished cycle waiting to be archived).
            var printed = Set<String>()
            for ((job, status), loop) in zip(evaluated, loops) {
                if options.short {
                    if let loop, loop.isWorthShowing {
                        for c in loop.cycles where printed.insert(FileSystem.normalizeLexically(c.path, relativeTo: cwd)).inserted {
                            out += InfoPanel.loopShortLine(c, colors: colors) + "\n"
                        }
                    } else if !printed.contains(FileSystem.normalizeLexically(job.path, relativeTo: cwd)) {
                        out += InfoPanel.shortLine(record: job.record, status: status, colors: colors) + "\n"
                    }
                } else {
                    out += "\n" + InfoPanel.render(record: job.record, status: status, options: panel, loop: loop)
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
}

func positiveInt(_ text: String?) -> Int? {
    guard let text, let v = Int(text.trimmingBlanks), v > 0 else { return nil }
    return v
}

import Glibc

/// `qq-wipe` (§12): deletes the scratch work dirs of dead jobs, and sweeps orphaned job dirs.
package enum QQWipeCommand {
    package static let usage = """
        usage: qq-wipe [TARGET ...] [-y|--yes] [--force]
               qq-wipe --orphans [--older-than D] [-y|--yes] [--include-unsynced] [--dry-run]
               qq-wipe --help | --version
        """

    package static let help = """
        \(usage)

        Deletes the working directory of qq jobs on scratch.

        TARGET is an info file, a directory (its *.qqinfo files), or a job id. Without a TARGET the
        current directory is used. A job that may still be running is never touched. The work dir
        must lie in the job's scratch layout under a known scratch root (QQ_SCRATCH_ROOT,
        QQ_FLASH_ROOT, QQ_WIPE_ROOTS or the defaults), must not be a symbolic link, must belong to
        you and to the job (its .qq-run-marker), and must not contain or lie in the input dir.

        options:
          -y, --yes            do not ask for confirmation (with --orphans: delete, not only list)
          --force              also wipe finished or synchronized jobs; the safety checks stay
          --orphans            list job dirs under your scratch roots whose job is no longer active
          --older-than D       with --orphans: only dirs at least D old (e.g. 7d, 12h, 1w2d, 48:00:00)
          --include-unsynced   with --orphans --yes: also delete dirs whose results were not
                               synchronized (SYNCED 'no' or '?')
          --dry-run            with --orphans: only list, whatever the other options say
          -h, --help           show this help and exit
          --version            show the version and exit
        """

    struct Options: Sendable {
        var targets: [String] = []
        var yes = false
        var force = false
        var orphans = false
        var olderThan: Int?
        var includeUnsynced = false
        var dryRun = false
    }

    static func parse(_ arguments: [String]) -> CommandLineRequest<Options> {
        ArgumentScanner.request(arguments, flags: ["-y", "--yes", "--force", "--orphans", "--include-unsynced", "--dry-run"],
                                valued: ["--older-than"], into: Options()) { o, word throws(ArgumentScanner.Problem) in
            switch word {
            case .positional(let target): o.targets.append(target)
            case .flag("-y"), .flag("--yes"): o.yes = true
            case .flag("--force"): o.force = true
            case .flag("--orphans"): o.orphans = true
            case .flag("--include-unsynced"): o.includeUnsynced = true
            case .flag("--dry-run"): o.dryRun = true
            case .option(let name, let value):  // --older-than, the only option with a value
                guard let seconds = parseWalltime(value), seconds >= 0 else {
                    throw .invalid("invalid duration for \(name): '\(value)' (use e.g. 7d, 12h or 48:00:00)")
                }
                o.olderThan = seconds
            case .flag: break  // each flag named above has its case
            }
        } check: { o throws(ArgumentScanner.Problem) in
            if o.orphans {
                if !o.targets.isEmpty { throw .invalid("--orphans takes no TARGET") }
                if o.force { throw .invalid("--force cannot be used with --orphans") }
            } else {
                for (flag, set) in [("--older-than", o.olderThan != nil), ("--include-unsynced", o.includeUnsynced),
                                    ("--dry-run", o.dryRun)] where set {
                    throw .invalid("\(flag) can only be used with --orphans")
                }
            }
        }
    }

    /// The whole command for this process.
    package static func run(arguments: [String], environment: Environment) -> ExitStatus {
        execute(arguments: arguments, environment: environment, context: .live())
    }

    static func execute(arguments: [String], environment: Environment, context: CleanupContext) -> ExitStatus {
        CleanupContext.execute(tool: "qq-wipe", help: help, usage: usage, arguments: arguments, environment: environment,
                               context: context, parse: parse) { o, context in
            o.orphans ? OrphanSweep.run(o, environment: environment, context: context)
                      : wipeTargets(o, environment: environment, context: context)
        }
    }

    /// How one job ended.
    enum Outcome: Equatable {
        case wiped
        case aborted
        /// R133: not suitable (an INFO when other jobs are processed too).
        case unsuitable(String)
        /// R134 refusals and other errors.
        case failed(String)
    }

    /// R132–R139.
    static func wipeTargets(_ o: Options, environment: Environment, context: CleanupContext) -> ExitStatus {
        let cwd = FileSystem.logicalCurrentDirectory(environment: environment)
        let (jobs, targetErrors) = JobLookup.collectJobs(o.targets, environment: environment,
                                                             context: context.info, directory: cwd)
        let evaluated = CleanupJobs.evaluate(jobs, environment: environment, context: context.info)
        let total = evaluated.count + targetErrors.count
        for e in targetErrors { context.error(e.message) }

        var outcomes: [Outcome] = []
        for job in evaluated {
            let outcome = wipe(job, o, environment: environment, context: context)
            switch outcome {
            case .unsuitable(let m): context.log(total == 1 ? .error : .info, m)
            case .failed(let m): context.error(m)
            case .wiped, .aborted: break
            }
            outcomes.append(outcome)
        }

        let unsuitable = outcomes.filter { if case .unsuitable = $0 { return true }; return false }.count
        let succeeded = outcomes.filter { $0 == .wiped || $0 == .aborted }.count
        if total > 1 && unsuitable == total {
            context.error("No suitable qq job.")
            return .failed
        }
        if total == 0 { return .failed }
        return succeeded == 0 ? .failed : .success
    }

    /// One job: panel, suitability (R133), safety (R134), confirmation (R137), deletion (R136),
    /// record (R138).
    static func wipe(_ job: EvaluatedJob, _ o: Options, environment: Environment,
                     context: CleanupContext) -> Outcome {
        let r = job.record
        let now = context.info.now()
        let colors = context.info.stdoutIsTTY && environment.nonEmpty("NO_COLOR") == nil
        let columns = (context.info.stdoutIsTTY ? context.info.terminalColumns : nil)
            ?? positiveInt(environment["COLUMNS"]) ?? 80
        context.out(InfoPanel.statusPanel(record: r, status: job.status,
                                          options: PanelOptions(terminalColumns: columns, colors: colors, now: now,
                                                                clockSkew: context.settings.clockSkew)))

        // R132: already wiped, and gone.
        if let wiped = r.wiped, let wd = r.workDir, WorkDirSafety.presence(of: wd).isGone {
            context.info("Working directory was already deleted at \(wiped).")
            return .wiped
        }
        // R58: never act on a possibly live job, not even with --force.
        if let live = job.live { return .unsuitable(live.refusal(jobID: r.jobID)) }
        if !o.force, let reason = unsuitability(job, command: context.command("wipe")) { return .unsuitable(reason) }

        let verdict: WorkDirSafety.Verdict
        switch WorkDirSafety.check(workDir: r.workDir, record: r, environment: environment,
                                         settings: context.settings, host: context.host) {
        case .failure(let refusal): return .failed(refusal.description)
        case .success(let v): verdict = v
        }
        let wd = verdict.location.path
        // A loop's archive holds every past cycle's results and records: never inside what is deleted.
        if let archive = ArchivedCycles.archiveDirectory(of: r), WorkDirSafety.overlapsInputDir(workDir: wd, inputDir: archive) {
            return .failed("Working directory '\(wd)' contains or lies in the archive '\(archive)' of the loop job; refusing to delete it.")
        }

        if verdict.exists && !(o.yes || o.force) {
            guard context.stdinIsTTY else { return .failed("Confirmation required; rerun with -y.") }
            let answer = context.ask("Do you want to delete the job's working directory? [y/N] ")?
                .trimmingBlanks.lowercased()
            guard answer == "y" || answer == "yes" else {
                context.info("Operation aborted.")
                return .aborted
            }
        }

        if verdict.exists {
            context.info("Deleting working directory '\(wd)' on '\(context.host ?? thisHostName())'.")
            do {
                let outcome = try SafeDelete.deleteDirectory(wd, under: verdict.location.root)
                if !outcome.errors.isEmpty || !outcome.gone {
                    let details = outcome.errors.prefix(5).joined(separator: "; ")
                    let more = outcome.errors.count > 5 ? " (and \(outcome.errors.count - 5) more)" : ""
                    return .failed("Could not delete the working directory '\(wd)': \(details)\(more).")
                }
                Log.debug("Removed \(outcome.entriesRemoved) entries, \(Size.format(bytes: outcome.bytesRemoved)).")
            } catch {
                return .failed(error.description)
            }
        } else {
            context.info("Working directory '\(wd)' no longer exists.")
        }
        context.info("Deleted the working directory of the job '\(r.jobID)'.")
        if let problem = CleanupJobs.recordWipe(path: job.info.path, jobID: r.jobID,
                                                lost: job.status.realState == .lost, now: now) {
            context.warning("Could not record the wipe in '\(job.info.path)': \(problem)")
        }
        return .wiped
    }

    /// R133 rows 1–8 (row 0 is checked before, also with `--force`). nil: suitable. `command` is
    /// how the user called qq-wipe, for the hint.
    static func unsuitability(_ job: EvaluatedJob, command: String) -> String? {
        let r = job.record
        let state = job.status.realState
        if let wd = r.workDir, FileSystem.normalizeLexically(wd) == FileSystem.normalizeLexically(r.inputDir),
           !r.usesScratch || (r.mainNode.map { hostsEqual($0, r.inputMachine) } ?? false) {
            return WorkDirRefusal.inputDirectory.description
        }
        switch state {
        case .queued, .booting, .held, .waiting:
            return "Job is \(state.text) and does not have a working directory yet."
        case .running, .suspended:
            return "Job is \(state.text). It is not safe to delete the working directory."
        case .exiting:
            return "Job is exiting. It is not safe to delete the working directory."
        default: break
        }
        if isSynchronized(r) {
            return "Job has been completed and was synchronized: working directory no longer exists."
        }
        if state == .finished {
            return "It may not be safe to delete the working directory of a successfully finished job. Rerun as '\(command) --force' if sure."
        }
        if r.mainNode == nil || r.workDir == nil { return WorkDirRefusal.noWorkDir.description }
        if state == .inconsistent || state == .unknown, !(job.status.answer?.provesEnded ?? false) {
            return "The batch system could not confirm that job '\(r.jobID)' has ended."
        }
        return nil
    }

    /// R133 row 5: `synchronized: true`; without the field, qq's rule (an exit code that the
    /// transfer mode copies back).
    static func isSynchronized(_ r: InfoRecord) -> Bool {
        if let s = r.synchronized { return s }
        guard let code = r.jobExitCode else { return false }
        return TransferPolicy(r.effectiveTransferMode).transfers(exitCode: code)
    }
}

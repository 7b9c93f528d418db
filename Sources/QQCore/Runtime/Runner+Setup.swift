import CQQSystem
import Glibc

extension Runner {
    // MARK: Step 3–4: mode and batch system (R47, R48, R48a, R64, R65, R68)

    func selectMode() throws(RunFailure) {
        let selection = selectBatchSystemInsideJob(environment: env)
        var recognized = false
        switch selection {
        case .unknownName(let name):
            throw .fatal("No batch system registered as '\(name)'.")
        case .system(let s):
            system = s
            jobEnv = BatchJobEnvironment.read(system: s, environment: env)
            switch s {
            case .slurm, .slurmIT4I, .slurmLumi: recognized = jobEnv.jobID != nil && !jobEnv.isJobStep
            case .pbs: recognized = jobEnv.jobID != nil
            case .local: recognized = true
            }
        case .none:
            break
        }
        if let info = env.nonEmpty("QQ_INFO") {
            if inheritedFromEnclosingJob(infoPath: info) {
                inheritedInfoIgnored = true
                Log.info("Ignoring QQ_INFO inherited from job '\(env["QQ_JOB_ID"] ?? "")'.")
            } else {
                guard env.nonEmpty("QQ_ENV_SET") != nil || recognized else {
                    throw .notInBatchEnvironment(Runner.notInBatchMessage)
                }
                mode = .managed
                infoPath = FileSystem.normalizeLexically(info, relativeTo: initialDirectory)
            }
        }
        if mode == .plain {
            if !inheritedInfoIgnored, env.nonEmpty("QQ_ENV_SET") != nil {
                throw .fatal("'QQ_INFO' environment variable is not set.")
            }
            guard recognized else { throw .notInBatchEnvironment(Runner.notInBatchMessage) }
        }
        if system == .pbs { try execFallbackRunner(reason: "PBS is not supported by qq-run \(QQVersion.version); set QQ_FALLBACK_RUNNER.", exitFatal: true) }
        if system == .local {
            jobID = "local-\(time(nil))-\(getpid())"
        } else {
            guard let id = jobEnv.jobID else { throw .fatal("Job has no associated job id.") }
            jobID = id
        }
    }

    static let notInBatchMessage = "This script must be run as a qq job within the batch system. To submit it properly, use: 'qq submit', or submit it with sbatch/qsub. To run it on this machine, set QQ_BATCH_SYSTEM=Local."

    /// R65: `QQ_INFO` inherited from an enclosing job submitted with `--export=ALL`.
    private func inheritedFromEnclosingJob(infoPath: String) -> Bool {
        guard let outer = env.nonEmpty("QQ_JOB_ID") else { return false }
        let current: String?
        switch selectBatchSystemInsideJob(environment: env) {
        case .system(let s) where s != .local: current = BatchJobEnvironment.read(system: s, environment: env).jobID
        default: current = nil
        }
        guard let current, !sameJob(outer, current) else { return false }
        let path = FileSystem.normalizeLexically(infoPath, relativeTo: initialDirectory)
        guard let record = try? InfoFile.load(path: path, tornReadRetries: 0) else { return false }
        return sameJob(record.jobID, outer)
    }

    /// R48a / R117: exec `QQ_FALLBACK_RUNNER run <original arguments>`, loop-guarded.
    func execFallbackRunner(reason: String, exitFatal: Bool) throws(RunFailure) {
        func fail(_ m: String) -> RunFailure { exitFatal ? .fatal(m) : .error(m) }
        guard let fallback = settings.fallbackRunner,
              let path = findExecutable(fallback, path: env["PATH"]) else { throw fail(reason) }
        let me = FileSystem.stat("/proc/self/exe")
        let target = FileSystem.stat(path)
        let pointsBack = (me != nil && target != nil && me?.device == target?.device && me?.inode == target?.inode)
            || env["QQ_FALLBACK_ACTIVE"] == String(getpid())
        if pointsBack { throw fail("QQ_FALLBACK_RUNNER points back to qq-run.") }
        var childEnv = env
        childEnv["QQ_FALLBACK_ACTIVE"] = String(getpid())
        for sig in 1..<65 where sig != SIGKILL && sig != SIGSTOP { _ = cqq_signal_default(Int32(sig)) }
        var empty = sigset_t()
        cqq_sigset_empty(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        Log.info("Handing the job to '\(path)'.")
        let argv = ([path, "run"] + rawArguments).map { strdup($0) } + [nil]
        let envp = childEnv.entries.map { strdup($0) } + [nil]
        execve(path, argv, envp)
        throw fail("Cannot execute QQ_FALLBACK_RUNNER '\(path)': \(String(cString: strerror(errno))).")
    }

    /// R111: KillWait from `QQ_KILL_WAIT`, else the Slurm configuration file, else 30 (Local: 0).
    func learnKillWait() {
        defer { updateRescueWindow() }
        if let w = settings.killWait { killWait = w; killWaitKnown = true; return }
        if system == .local { killWait = 0; killWaitKnown = true; return }
        guard system.isSlurmFamily else { return }
        for path in [env.nonEmpty("SLURM_CONF"), "/etc/slurm/slurm.conf"].compactMap({ $0 }) {
            guard let text = try? FileSystem.readSmallFile(path) else { continue }
            for line in text.split(separator: "\n") {
                let t = line.trimmingBlanks
                guard t.lowercased().hasPrefix("killwait") else { continue }
                let parts = t.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let v = Double(parts[1].trimmingBlanks.split(separator: " ").first ?? "") {
                    killWait = v
                    killWaitKnown = true
                    Log.debug("KillWait \(Int(v)) s, from '\(path)'.")
                    return
                }
            }
        }
        Log.debug("KillWait not found in the Slurm configuration files; asking scontrol, assuming 30 s until it answers.")
        let box = ResultBox<Double?>()
        learnedKillWait = box
        let runner = CommandRunner(environment: env, timeout: 5, reaping: supervisor)
        startDetachedThread {
            let result = runner.run(["scontrol", "show", "config"])
            box.set(result.succeeded ? parseKillWait(showConfig: result.stdout) : nil)
        }
    }

    /// Takes KillWait from `scontrol show config` once it has answered (R111).
    func refreshKillWait() {
        guard !killWaitKnown, let box = learnedKillWait, box.isSet else { return }
        if let value = box.take() {
            killWait = value
            Log.debug("KillWait \(Int(value)) s, from 'scontrol show config'.")
        }
        killWaitKnown = true
        updateRescueWindow()
    }

    /// R113: a signal's rescue deadline is t_S + W − 2 s (W > 0), else 60 s, or the budget.
    func updateRescueWindow() {
        supervisor.rescueWindow = settings.rescueBudget ?? (killWait > 0 ? killWait - 2 : 60)
    }

    // MARK: Step 5, qq-managed mode (R66–R72)

    func loadManagedFile() throws(RunFailure) {
        enum LoadProblem: Error, CustomStringConvertible {
            case load(InfoFileLoadError)
            case otherJob(String)
            var description: String {
                switch self {
                case .load(let e): return e.description
                case .otherJob(let id): return "the info file still holds job '\(id)'"
                }
            }
        }
        func attempt() throws(LoadProblem) -> InfoRecord {
            let r: InfoRecord
            switch Result(catching: { () throws(InfoFileLoadError) -> InfoRecord in try InfoFile.load(path: infoPath) }) {
            case .success(let loaded): r = loaded
            case .failure(let e): throw LoadProblem.load(e)
            }
            if system != .local, !sameJob(r.jobID, jobID) { throw LoadProblem.otherJob(r.jobID) }
            return r
        }
        let record: InfoRecord
        do {
            record = try retryPolicy.run(stop: supervisor, attempt)
        } catch let problem {
            if let sig = supervisor.terminationSignal { throw .terminatedSilently(sig) }
            switch problem {
            case .otherJob: throw .foreign("Info file '\(infoPath)' does not correspond to job '\(jobID)'.")
            case .load(let e): throw .fatal("Unable to load valid qq info file '\(infoPath)': \(e)")
            }
        }
        if system == .local { jobID = record.jobID }
        if env.nonEmpty("QQ_BATCH_SYSTEM") != nil, record.batchSystem != system {
            throw .fatal("Batch system mismatch - env var: '\(system.rawValue)', info file: '\(record.batchSystem.rawValue)'.")
        }
        if env.nonEmpty("QQ_BATCH_SYSTEM") == nil {
            let fits = record.batchSystem == .local || (record.batchSystem.isSlurmFamily && system.isSlurmFamily)
                || (record.batchSystem == .pbs && system == .pbs)
            if !fits {
                throw .fatal("Batch system mismatch - env var: '\(system.rawValue)', info file: '\(record.batchSystem.rawValue)'.")
            }
            system = record.batchSystem
        }
        let keeper = StateKeeper(path: infoPath, jobID: jobID, managed: true, record: record)
        let restart = jobEnv.restartCount >= 1 && jobEnv.restartCount > (record.restarts ?? 0)
            && (FileSystem.lstat(infoPath)?.permissionBits ?? 0) & 0o222 != 0
        switch record.jobState {
        case .queued: break
        case .killed where !restart: throw .foreign("Job has been killed without informing qq run. Aborting the job!")
        case .running where !restart, .finished where !restart, .failed where !restart:
            throw .foreign("Info file '\(infoPath)' says the job is already \(record.jobState.rawValue).")
        default:
            if restart { prepareRestart(keeper) }
        }
        state = keeper
    }

    /// R83: a requeued job starts over from `queued` and keeps its submission time.
    func prepareRestart(_ keeper: StateKeeper) {
        keeper.wroteKilled = keeper.record.jobState == .killed
        keeper.record.restarts = jobEnv.restartCount
        keeper.record.jobState = .queued
        keeper.record.phase = .setup
        keeper.record.startTime = nil; keeper.record.completionTime = nil; keeper.record.jobExitCode = nil
        keeper.record.killReason = nil; keeper.record.scriptExitCode = nil; keeper.record.error = nil
        keeper.record.stageIn = nil; keeper.record.stageOut = nil; keeper.record.usage = nil
        keeper.record.synchronized = nil
        Log.info("Restarting job '\(jobID)' (restart \(jobEnv.restartCount)).")
    }

    // MARK: Step 7: job type (R117)

    func checkJobType() throws(RunFailure) {
        guard let record = state?.record, record.jobType != .standard else { return }
        try execFallbackRunner(reason: "Job type '\(record.jobType.text)' is not supported by qq-run \(QQVersion.version). Set QQ_FALLBACK_RUNNER to a qq that supports it.", exitFatal: false)
    }

    // MARK: Steps 8–9: work dir and W2

    func setUpWorkDir() throws(RunFailure) {
        guard let state else { throw .internalError("no state file") }
        let record = state.record
        guard record.usesScratch else {
            workDir = record.inputDir
            return
        }
        let type = scratchType(record)
        let layout: WorkDirLayout
        do {
            layout = try WorkDirLayout.resolve(system: system, type: type, jobID: jobID,
                                               account: record.account ?? jobEnv.account,
                                               settings: settings, environment: env)
        } catch {
            throw .error(error.description)
        }
        let user = userName(environment: env)
        let planned = layout.plannedPath(user: user, jobID: jobID)
        if InputDirPlacement.overlapsPlannedWorkDir(inputDir: record.inputDir, plannedWorkDir: planned) {
            throw .error(InputDirPlacement.overlapMessage(inputDir: record.inputDir, plannedWorkDir: planned, root: layout.root))
        }
        let created: WorkDirLayout.Created
        func attempt() throws(WorkDirLayout.LayoutError) -> WorkDirLayout.Created {
            try layout.create(user: user, jobID: jobID, attempts: settings.scratchAttempts,
                              restartCount: jobEnv.restartCount,
                              markerBelongsToThisJob: { dir in
                                  guard let m = try? InfoFile.loadMarker(path: dir + "/.qq-run-marker") else { return false }
                                  return sameJob(m.jobID, self.jobID) && m.infoFile == self.infoPath
                              })
        }
        func retryable(_ e: WorkDirLayout.LayoutError) -> Bool {
            if case .exhausted(_, _, _, _, let transient) = e { return transient }
            return false
        }
        do {
            created = try retryPolicy.run(isRetryable: retryable, stop: supervisor, attempt)
        } catch let e {
            throw .error(e.description)
        }
        // A fallback user dir may have been reached through a symlink: check the real result too.
        if WorkDirSafety.overlapsInputDir(workDir: created.path, inputDir: record.inputDir) {
            if !created.reused { rmdir(created.path) }
            throw .error(InputDirPlacement.overlapMessage(inputDir: record.inputDir, plannedWorkDir: created.path, root: layout.root))
        }
        workDir = created.path
        workDirRoot = layout.root
        createdWorkDir = !created.reused
        writeMarker(created.path)
        Log.info("Setting up working directory in '\(created.path)'.")
        try checkpoint()
        let w2 = state.write(retry: retryPolicy, stop: supervisor) { r in
            r.phase = .stageIn
            r.mainNode = self.host
            r.workDir = created.path
            self.fillRunnerFields(&r)
        }
        try requireWritten(w2, label: "W2")
    }

    /// The scratch type: LUMI's from the option, `LUMI_SCRATCH_TYPE` or `resources.work_dir` (R51).
    private func scratchType(_ record: InfoRecord) -> String {
        let declared = record.resources.workDir?.lowercased()
        if system == .slurmLumi {
            if let t = plainWorkDirOption ?? jobEnv.lumiScratchType ?? declared, t == "flash" || t == "scratch" { return t }
            return declared ?? "scratch"
        }
        return declared ?? "scratch"
    }

    /// R45: the marker is best effort; qq-run goes on without it.
    private func writeMarker(_ dir: String) {
        let marker = WorkDirMarker(jobID: jobID, infoFile: infoPath, inputDir: state?.record.inputDir ?? "",
                                   batchSystem: system, cluster: system.isSlurmFamily ? jobEnv.cluster : nil,
                                   pidNamespace: system == .local ? pidNamespace() : nil, mainNode: host,
                                   created: Timestamp.now(), runner: QQVersion.runner)
        do {
            try InfoFile.writeAtomically(InfoFileCodec.encodeMarker(marker), to: dir + "/.qq-run-marker", modeIfNew: 0o600)
            chmod(dir + "/.qq-run-marker", 0o600)
        } catch {
            Log.warning("Could not write the work-dir marker: \(error)")
        }
    }

    func fillRunnerFields(_ r: inout InfoRecord) {
        r.runner = QQVersion.runner
        r.runnerPID = Int(getpid())
        if system.isSlurmFamily { r.cluster = jobEnv.cluster }
        if system == .local { r.pidNamespace = pidNamespace() }
        r.heartbeatInterval = settings.heartbeatInterval
        if let a = jobEnv.arrayJobID, let t = jobEnv.arrayTaskID { r.arrayJobID = a; r.arrayTaskID = t }
    }

    func pidNamespace() -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = readlink("/proc/self/ns/pid", &buf, 255)
        return n > 0 ? String(cString: buf) : nil
    }

    /// H: rewrite the heartbeat; failures are logged and tried again at the next tick (R97).
    func heartbeat() {
        guard let state, !state.stopped else { return }
        state.pendingSignals.append(contentsOf: supervisor.pendingWarnings)
        supervisor.pendingWarnings.removeAll()
        switch state.write() {
        case .written: break
        case .killedElsewhere, .otherJob:
            Log.warning("The info file now says '\(state.stopOutcome == .killedElsewhere ? "killed" : "another job")'; no further updates will be written.")
            endWithForeign = true
        case .locked:
            Log.debug("The info file is locked; heartbeats stopped.")
        case .failed(let why), .refused(let why):
            Log.warning("Heartbeat not written: \(why)")
        }
    }
}

extension RunFailure {
    /// A terminating signal while waiting for `QQ_INFO` (R109): nothing was written.
    static func terminatedSilently(_ sig: Int32) -> RunFailure { .terminated(sig) }
}

/// `KillWait                = 30 sec` from `scontrol show config`.
func parseKillWait(showConfig text: String) -> Double? {
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1)
        guard parts.count == 2, parts[0].trimmingBlanks.lowercased() == "killwait" else { continue }
        return Double(parts[1].trimmingBlanks.split(separator: " ").first ?? "")
    }
    return nil
}

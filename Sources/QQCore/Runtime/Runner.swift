import CQQSystem
import Glibc

/// qq-run: the job's entrypoint (SPEC §6–§9). `QQRun.main` is all an executable needs to call.
public enum QQRun {
    public static func main(arguments: [String]) -> Int32 {
        let runner = Runner(arguments: arguments, environment: Environment.current())
        return runner.run()
    }
}

/// One run of qq-run, from the signal setup to the exit code, in the order of R84.
final class Runner {
    enum Mode { case managed, plain }

    let supervisor = Supervisor()
    let rawArguments: [String]
    var env: Environment
    var settings = Settings()
    var arguments = RunnerArguments()
    var mode = Mode.plain
    var system = BatchSystemName.local
    var jobEnv = BatchJobEnvironment()
    var jobID = ""
    var host = ""
    var inheritedInfoIgnored = false
    /// The job's initial working directory (R74, R66).
    var initialDirectory = "/"

    var state: StateKeeper?
    var infoPath = ""
    var workDir: String?
    var workDirRoot: String?
    /// True when this attempt created the work dir (it may remove it on an early abort).
    var createdWorkDir = false
    var manifest = Manifest()
    var scriptStarted = false
    var killWait: Double = 30
    var killWaitKnown = false
    /// R111: KillWait from `scontrol show config`, asked for at start when no file told it.
    var learnedKillWait: ResultBox<Double?>?
    var walltimeSeconds: Int?
    /// Set when the script's code is known but the state file went foreign (R97, R116).
    var endWithForeign = false
    var plainOptions: PlainOptions?
    /// R77: the scheduler's record of this job, asked for while stage-in runs (Slurm, plain mode).
    var schedulerRecord: ResultBox<BatchJobRecord?>?

    init(arguments: [String], environment: Environment) {
        self.rawArguments = arguments
        self.env = environment
    }

    var heartbeatInterval: Double? { settings.heartbeatInterval > 0 ? Double(settings.heartbeatInterval) : nil }

    var grace: Double {
        refreshKillWait()
        let w = killWait
        return w > 0 ? min(settings.killGrace, w / 3) : settings.killGrace
    }

    // MARK: The flow

    func run() -> Int32 {
        supervisor.installSignalHandlers()           // 1
        Log.configure(environment: env)             // 2
        do {
            try prepare()                            // 3–9
            return try execute()                     // 10–19
        } catch let failure {
            return finish(with: failure)
        }
    }

    /// Steps 3–9: mode, system, state file, work dir.
    private func prepare() throws(RunFailure) {
        do {
            arguments = try RunnerArguments.parse(rawArguments)
        } catch {
            throw .fatal(error.description)
        }
        if arguments.help { print(RunnerArguments.usage); throw .terminatedNormally }
        if arguments.version { print(QQVersion.versionLine("qq-run")); throw .terminatedNormally }
        if arguments.local { env["QQ_BATCH_SYSTEM"] = "Local" }
        initialDirectory = FileSystem.logicalCurrentDirectory(environment: env)
        settings = Settings.load(environment: env, workingDirectory: initialDirectory)
        supervisor.forwardWarningsToGroup = settings.forwardSignalsToGroup
        try selectMode()                                                   // 3, 4
        host = thisHostName()
        settings = Settings.load(environment: env, system: system, workingDirectory: initialDirectory)
        learnKillWait()
        switch mode {                                                      // 5
        case .managed: try loadManagedFile()
        case .plain: try createPlainFile()
        }
        Log.info("[qq-run v\(QQVersion.version) \(system.rawValue)] Initializing job '\(jobID)' on host '\(host)'.")  // 6
        try checkJobType()                                                 // 7
        try checkpoint()
        try setUpWorkDir()                                                 // 8, 9
    }

    /// Steps 10–19.
    private func execute() throws(RunFailure) -> Int32 {
        guard let state, let workDir else { throw .internalError("no state file or work dir after setup") }
        let usesScratch = state.record.usesScratch
        var stageInStats: StageInStats?
        startSchedulerRecordQuery()
        state.beforeEachWrite = { [unowned self] r in self.applySchedulerRecord(&r) }
        if usesScratch {                                                   // 10
            stageInStats = try stageIn(into: workDir)
        } else if !state.record.includedFiles.isEmpty {
            Log.info("Included paths are ignored: the job runs in the input directory.")
        }
        try checkpoint()
        let nodes = nodeList()                                             // 11: W3
        let w3 = state.write(retry: retryPolicy, stop: supervisor) { r in
            r.jobState = .running
            r.phase = .running
            r.startTime = Timestamp.now()
            r.allNodes = nodes
            r.stageIn = stageInStats
            if !usesScratch {
                r.mainNode = self.host
                r.workDir = workDir
                self.fillRunnerFields(&r)
            }
        }
        try requireWritten(w3, label: "W3")
        try checkpoint()
        let interpreter = try resolveInterpreter()                         // 12
        let scriptPath = try resolveScriptPath(workDir: workDir)
        Log.info("Executing script '\(scriptPath)'.")                     // 13
        try spawnScript(interpreter: interpreter, scriptPath: scriptPath, workDir: workDir)
        supervisor.waitForScript(tickInterval: heartbeatInterval) { self.heartbeat() }   // 14
        if let sig = supervisor.terminationSignal { return terminateDuringScript(signal: sig) }
        return finalize()                                                  // 15–19
    }

    // MARK: Ending

    private func finish(with failure: RunFailure) -> Int32 {
        switch failure {
        case .terminatedNormally:
            return 0
        case .notInBatchEnvironment(let m):
            Log.error(m)
        case .fatal(let m), .foreign(let m):
            removeWorkDirCreatedByThisAttempt()
            Log.error("Fatal qq run error: \(m)")
            Log.error("Failure state was NOT logged into the job info file.")
        case .error(let m), .internalError(let m):
            removeWorkDirCreatedByThisAttempt()
            let logged = recordError(m, code: failure.exitCode)
            Log.error(m)
            if case .internalError = failure { Log.critical("Internal error in qq-run \(QQVersion.version): \(m)") }
            Log.error(logged ? "Failure state was logged into the job info file." : "Failure state was NOT logged into the job info file.")
        case .terminated(let sig):
            return terminateBeforeScript(signal: sig)
        case .stateNotLogged(let m):
            removeWorkDirCreatedByThisAttempt()
            Log.error(m)
            Log.error("Failure state was NOT logged into the job info file.")
            return 91
        }
        return failure.exitCode
    }

    /// Write E (§7.10): `failed`, `job_exit_code` 91/99, `error`.
    private func recordError(_ message: String, code: Int32) -> Bool {
        guard let state else { return false }
        let outcome = state.write(retry: retryPolicy, stop: supervisor) { r in
            r.jobState = .failed
            r.phase = .done
            r.completionTime = Timestamp.now()
            r.jobExitCode = Int(code)
            r.error = message
        }
        return outcome == .written
    }

    /// An early abort removes the work dir if this attempt created it: it holds only staged copies.
    func removeWorkDirCreatedByThisAttempt() {
        guard createdWorkDir, !scriptStarted else { return }
        createdWorkDir = false
        _ = removeWorkDir()
    }

    /// Removes the scratch work dir through the checks every cleanup path shares (R100, R134–R136):
    /// known layout under a scratch root, not the input dir, not a symlink, owned by this user, marker
    /// naming this job. Returns true when it is gone; a refusal keeps it, with a WARNING.
    func removeWorkDir() -> Bool {
        guard let workDir, var record = state?.record else { return false }
        record.workDir = workDir
        record.mainNode = record.mainNode ?? host
        let location: ScratchLocation
        switch WorkDirSafety.check(workDir: workDir, record: record, environment: env, host: host) {
        case .success(let verdict):
            guard verdict.exists else { return true }
            location = verdict.location
        case .failure(let refusal):
            Log.warning("Keeping working directory '\(workDir)': \(refusal)")
            return false
        }
        do {
            let outcome = try SafeDelete.deleteDirectory(workDir, under: location.root)
            if outcome.gone {
                Log.info("Removed working directory '\(workDir)'.")
                return true
            }
            Log.warning("Could not remove working directory '\(workDir)': \(outcome.errors.prefix(3).joined(separator: "; ")).")
        } catch {
            Log.warning("Could not remove working directory '\(workDir)': \(error)")
        }
        return false
    }

    // MARK: Signals between steps

    /// Handles signals that arrived while the main thread was busy; a terminating one ends setup.
    func checkpoint() throws(RunFailure) {
        supervisor.waitForEvents(timeout: 0)
        if let sig = supervisor.terminationSignal { throw .terminated(sig) }
    }

    var retryPolicy: RetryPolicy { RetryPolicy.from(settings) }

    func requireWritten(_ outcome: StateKeeper.Outcome, label: String) throws(RunFailure) {
        switch outcome {
        case .written: return
        case .killedElsewhere: throw .foreign("Job has been killed without informing qq run. Aborting the job!")
        case .otherJob(let other): throw .foreign("Info file '\(infoPath)' now belongs to job '\(other)'.")
        case .locked: throw .stateNotLogged("Could not update qq info file '\(infoPath)' (\(label)): the file is locked.")
        case .failed(let why), .refused(let why):
            throw .stateNotLogged("Could not update qq info file '\(infoPath)' (\(label)): \(why)")
        }
    }
}

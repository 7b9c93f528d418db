/// Step 5 in qq-managed mode (R66–R72, R83): the Python qq wrote the state file before the job
/// started; qq-run loads it, checks that it is this job's, and takes over the runtime fields.
enum ManagedStart {
    static func open(_ invocation: Invocation, infoPath: String, supervisor: any JobSupervisor) throws(RunFailure) -> (JobContext, any StateFileKeeping) {
        let system = invocation.system
        let jobID = invocation.jobID
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
            record = try RetryPolicy.from(invocation.settings).run(stop: supervisor, attempt)
        } catch let problem {
            // A terminating signal while waiting for the file: nothing was written (R109).
            if let sig = supervisor.terminationSignal { throw .terminated(sig) }
            switch problem {
            case .otherJob: throw .foreign("Info file '\(infoPath)' does not correspond to job '\(jobID)'.")
            case .load(let e): throw .fatal("Unable to load valid qq info file '\(infoPath)': \(e)")
            }
        }
        let env = invocation.environment
        var finalSystem = system
        if env.nonEmpty("QQ_BATCH_SYSTEM") != nil, record.batchSystem != system {
            throw .fatal("Batch system mismatch - env var: '\(system.rawValue)', info file: '\(record.batchSystem.rawValue)'.")
        }
        if env.nonEmpty("QQ_BATCH_SYSTEM") == nil {
            let fits = record.batchSystem == .local || (record.batchSystem.isSlurmFamily && system.isSlurmFamily)
                || (record.batchSystem == .pbs && system == .pbs)
            if !fits {
                throw .fatal("Batch system mismatch - env var: '\(system.rawValue)', info file: '\(record.batchSystem.rawValue)'.")
            }
            finalSystem = record.batchSystem
        }
        let context = invocation.context(system: finalSystem, jobID: system == .local ? record.jobID : jobID,
                                         infoPath: infoPath, plainOptions: nil)
        let keeper = StateKeeper(path: infoPath, jobID: context.jobID, managed: true, record: record)
        let restartCount = invocation.jobEnv.restartCount
        let restart = restartCount >= 1 && restartCount > (record.restarts ?? 0)
            && (FileSystem.lstat(infoPath)?.permissionBits ?? 0) & 0o222 != 0
        switch record.jobState {
        case .queued: break
        case .killed where !restart: throw .foreign("Job has been killed without informing qq run. Aborting the job!")
        case .running where !restart, .finished where !restart, .failed where !restart:
            throw .foreign("Info file '\(infoPath)' says the job is already \(record.jobState.rawValue).")
        default:
            if restart { prepareRestart(keeper, restartCount: restartCount) }
        }
        return (context, keeper)
    }

    /// R83: a requeued job starts over from `queued` and keeps its submission time.
    static func prepareRestart(_ keeper: any StateFileKeeping, restartCount: Int) {
        keeper.wroteKilled = keeper.record.jobState == .killed
        keeper.record.restarts = restartCount
        keeper.record.jobState = .queued
        keeper.record.phase = .setup
        keeper.record.startTime = nil; keeper.record.completionTime = nil; keeper.record.jobExitCode = nil
        keeper.record.killReason = nil; keeper.record.scriptExitCode = nil; keeper.record.error = nil
        keeper.record.stageIn = nil; keeper.record.stageOut = nil; keeper.record.usage = nil
        keeper.record.synchronized = nil
        Log.info("Restarting job '\(keeper.jobID)' (restart \(restartCount)).")
    }

    /// Step 7 (R117 as changed by issue 11): loop and continuous jobs run here; what qq-run does not
    /// run (PBS loop jobs, unknown job types) goes to the fallback runner.
    static func checkJobType(_ context: JobContext, record: InfoRecord) throws(RunFailure) {
        switch record.jobType {
        case .standard: return
        case .loop, .continuous: if context.system != .pbs { return }
        case .other: break
        }
        try FallbackRunner.exec(settings: context.settings, environment: context.environment,
                                arguments: context.arguments.raw,
                                reason: "Job type '\(record.jobType.text)' is not supported by qq-run \(QQVersion.version) on \(context.system.rawValue). Set QQ_FALLBACK_RUNNER to a qq that supports it.",
                                failure: RunFailure.error)
    }
}

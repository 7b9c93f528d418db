import Glibc

/// §8: a terminating signal (scancel, time limit, preemption) and what qq-run does about it:
/// stop the script's tree, write `killed` at once (K1), rescue logs and results before the
/// deadline (R113), and hand back the outcome for K2.
enum Kill {
    /// R108: the signal arrived while the script ran, or after it ended but before stage-out (under
    /// proctrack/linuxproc Slurm signals the script too, so it often dies first): the job was
    /// killed all the same, and its results are rescued, not judged by the transfer policy.
    /// `rescueUnderRealNames`: a loop cycle that continues after its time limit (issue 11 item 3).
    static func duringScript(signal sig: Int32, state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                             supervisor: any JobSupervisor, window: RescueWindow,
                             rescueUnderRealNames: Bool = false) -> JobOutcome {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        let scriptRunning = supervisor.scriptStatus == nil
        if let pid = supervisor.scriptPID, scriptRunning {
            kill(-pid, sig == SIGINT ? SIGINT : SIGTERM)
            kill(-pid, SIGCONT)
        }
        Log.info("Cleaning up: terminating subprocess.")
        let provisional = provisionalReason(sig, state: state)
        let k1 = writeK1(state: state, reason: provisional, phase: .rescue, supervisor: supervisor)
        let reasonQuery = KillReasonQuery.start(state: state, supervisor: supervisor, window: window)
        // The group was signalled above while the script ran; otherwise what is left of it gets TERM now.
        supervisor.terminateProcessTree(first: scriptRunning ? 0 : SIGTERM,
                                        grace: window.grace(killGrace: state.context.settings.killGrace))
        var stageOut: StageOutStats?
        if workDir.usesScratch, FileSystem.stat(workDir.path) != nil {
            stageOut = rescue(state: state, workDir: workDir, staged: staged, supervisor: supervisor, window: window,
                              underRealNames: rescueUnderRealNames)
        }
        // The reason was asked for in parallel (R108 step 4); it must not eat the rescue's time.
        let reason = reasonQuery?.answer(supervisor: supervisor) ?? provisional
        // R108 step 7: the script's own code only if it had exited on its own before the signal.
        let ownCode = supervisor.scriptExitedBeforeTermination ? supervisor.scriptExitCode : nil
        return JobOutcome(ending: .killed(signal: sig, reason: reason), scriptExitCode: ownCode, error: nil,
                          stageOut: stageOut, usage: supervisor.usage, synchronized: nil, writesFinalRecord: k1)
    }

    /// R109: a signal during stage-out; results copied so far stay, the work dir is kept.
    static func duringStageOut(signal sig: Int32, scriptExitCode rc: Int, stageOut: StageOutStats?, usage: Usage,
                               state: JobStateWriter, supervisor: any JobSupervisor, window: RescueWindow) -> JobOutcome {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        var out = stageOut ?? StageOutStats(mode: .rescue)
        out.mode = .rescue
        let provisional = provisionalReason(sig, state: state)
        let k1 = writeK1(state: state, reason: provisional, phase: .rescue, supervisor: supervisor)
        let reason = k1 ? (KillReasonQuery.start(state: state, supervisor: supervisor, window: window)?
            .answer(supervisor: supervisor) ?? provisional) : provisional
        return JobOutcome(ending: .killed(signal: sig, reason: reason), scriptExitCode: rc, error: nil,
                          stageOut: out, usage: usage, synchronized: nil, writesFinalRecord: k1)
    }

    /// R109: a signal before the script started: nothing to rescue (the pipeline removes what this
    /// attempt staged); `killed` is written once.
    static func beforeScript(signal sig: Int32, keeper: (any StateFileKeeping)?, supervisor: any JobSupervisor) -> ExitStatus {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        if let keeper, !keeper.stopped {
            keeper.pendingSignals.append(contentsOf: supervisor.takePendingWarnings())
            // No start time yet, so no time limit can have passed: the signal tells the reason.
            let reason: KillReason = sig == SIGTERM || sig == SIGINT ? .cancelled : .signal
            let outcome = keeper.write { r in
                r.jobState = .killed
                r.phase = .done
                r.completionTime = Timestamp.now()
                r.killReason = reason
                r.jobExitCode = nil
            }
            if outcome != .written { Log.info("The info file was left untouched (\(outcome)).") }
        }
        Log.error("Execution was terminated by SIG\(signalName(sig)).")
        return .signal(sig)
    }

    /// K1: `killed` at once, one immediate retry at most (R108 step 3).
    private static func writeK1(state: JobStateWriter, reason: KillReason, phase: Phase,
                                supervisor: any JobSupervisor) -> Bool {
        guard !state.keeper.stopped else { return false }
        // An early warning (USR1 before the time limit) that no heartbeat has written yet belongs in
        // this write: it may be the last one that records anything.
        state.keeper.pendingSignals.append(contentsOf: supervisor.takePendingWarnings())
        var outcome = StateKeeper.Outcome.failed("")
        for _ in 0..<2 {
            state.keeper.wroteKilled = true
            outcome = state.write { r in
                r.jobState = .killed
                r.phase = phase
                r.progress = nil
                r.completionTime = Timestamp.now()
                r.killReason = reason
                r.jobExitCode = nil
            }
            if case .failed = outcome { continue }
            break
        }
        switch outcome {
        case .written: return true
        case .killedElsewhere: Log.info("The info file already says 'killed'; it is left untouched.")
        case .locked: Log.info("The info file is locked; it is left untouched.")
        default: Log.info("The info file was left untouched (\(outcome)).")
        }
        return false
    }

    /// R112's provisional reason: `timeout` within a minute of the time limit, else from the signal.
    static func provisionalReason(_ sig: Int32, state: JobStateWriter) -> KillReason {
        let record = state.record
        if let start = record.startTime,
           let w = state.context.walltimeSeconds(facts: state.facts) ?? record.resources.walltime.flatMap(parseWalltime),
           Int(time(nil)) >= start.epochSeconds + w - 60 {
            return .timeout
        }
        return sig == SIGTERM || sig == SIGINT ? .cancelled : .signal
    }

    /// R113: the logs first (each one attempt, even after the deadline), then the new and changed
    /// results, smallest first, before the deadline. The work dir is always kept. (R113's policy —
    /// not the transfer decision — says whether results are rescued.)
    static func rescue(state: JobStateWriter, workDir: WorkDir, staged: StagedJob, supervisor: any JobSupervisor,
                       window: RescueWindow, logsFirst: Bool = true, underRealNames: Bool = false) -> StageOutStats {
        let context = state.context
        let record = state.record
        let inputDir = record.inputDir
        let engine = context.copyEngine(resources: record.resources)
        let start = monotonicSeconds()
        let deadline = window.deadline(signalTime: supervisor.terminationTime, start: start)
        let logs = logsFirst ? engine.copyTopLevelFiles([record.stdoutFile, record.stderrFile], from: workDir.path, to: inputDir)
                             : CopyStatistics()
        var files = logs.files, bytes = logs.bytes
        var notCopied = logs.failures.map { $0.path }
        if context.rescuesResults && !TransferPolicy(record.effectiveTransferMode).isExactlyNever {
            let logNames: Set<PathBytes> = [PathBytes(record.stdoutFile.utf8), PathBytes(record.stderrFile.utf8)]
            let result = engine.rescue(from: workDir.path, to: inputDir, manifest: staged.manifest, controlFiles: WorkDir.controlFileNames,
                                       includedNames: Set(record.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) }),
                                       skipTopLevel: logNames, deadline: deadline,
                                       keep: underRealNames ? StageOutKeep(jobID: context.jobID) : nil)
            files += result.stats.files
            bytes += result.stats.bytes
            notCopied += result.notCopied
        } else {
            Log.info("Results are not rescued (transfer mode 'never' or QQ_RESCUE=false); only the logs were copied.")
        }
        if !notCopied.isEmpty { workDir.writeNotCopiedList(notCopied) }
        let seconds = monotonicSeconds() - start
        if notCopied.isEmpty {
            Log.info("Rescued \(files) files (\(Size.format(bytes: bytes))).")
        } else {
            let why = monotonicSeconds() >= deadline - 0.5 ? "the rescue time ran out before Slurm's SIGKILL" : "their copies failed (see the WARNINGs above)"
            Log.warning("Rescued \(files) files (\(Size.format(bytes: bytes))); \(notCopied.count) not copied because \(why). They are still in '\(workDir.path)', listed in its \(WorkDir.notCopiedName); copy them with 'cp -a' before the work dir is wiped.")
        }
        Log.info("Keeping working directory '\(workDir.path)' (the job was killed).")
        return StageOutStats(mode: .rescue, files: files, bytes: bytes, seconds: roundedSeconds(seconds),
                             errors: logs.failures.count, notCopied: notCopied.count,
                             notCopiedPaths: notCopied.prefix(20).map { $0.displayText })
    }
}

/// R112: for Slurm, one `scontrol show job` during the grace period refines the kill reason; its
/// answer is waited for only until the rescue deadline.
struct KillReasonQuery {
    let box: ResultBox<KillReason?>
    let deadline: Double

    static func start(state: JobStateWriter, supervisor: any JobSupervisor, window: RescueWindow) -> KillReasonQuery? {
        let context = state.context
        guard context.system.isSlurmFamily else { return nil }
        let box = ResultBox<KillReason?>()
        let id = context.jobID
        let queryEnv = context.environment
        let options = BatchQueryOptions(context.settings).withTimeout(2)
        let slurm = batchSystem(named: context.system)
        let record = state.record
        startDetachedThread {
            let answer = slurm.queryJob(id, record: record, environment: queryEnv, options: options, reaping: supervisor)
            box.set(answer.record.flatMap(killReason(from:)))
        }
        let deadline = window.deadline(signalTime: supervisor.terminationTime, start: monotonicSeconds())
        return KillReasonQuery(box: box, deadline: deadline)
    }

    /// The refined reason, or nil when Slurm did not answer in time.
    func answer(supervisor: any JobSupervisor) -> KillReason? {
        supervisor.serve(until: { box.isSet }, deadline: max(deadline, monotonicSeconds() + 0.1))
        return box.isSet ? box.take() : nil
    }
}

/// R112's table: what Slurm's record says about why the job ended.
func killReason(from r: BatchJobRecord) -> KillReason? {
    let state = r.rawState.split(separator: " ").first.map(String.init) ?? r.rawState
    if state == "TIMEOUT" || r.reason == "TimeLimit" { return .timeout }
    // A requeue (preemption, `scontrol requeue[hold]`) shows as COMPLETING/PENDING with this reason
    // on Slurm 22.05, never as REQUEUED.
    if r.reason?.lowercased().contains("requeue") == true { return .preempted }
    switch state {
    case "PREEMPTED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED": return .preempted
    case "CANCELLED": return .cancelled
    case "NODE_FAIL": return .signal
    default: return nil
    }
}

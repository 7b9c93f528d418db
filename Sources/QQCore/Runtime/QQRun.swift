/// qq-run: the job's entrypoint (SPEC §6–§9). `QQRun.main` is all an executable needs to call.
package enum QQRun {
    package static func main(arguments: [String]) -> ExitStatus {
        JobPipeline(supervisor: Supervisor()).run(arguments: arguments, environment: Environment.current())
    }
}

/// One run of qq-run as a pipeline of phases, in the order of R84. Each phase takes what the
/// previous ones produced, as values, and hands on its own result:
///
///     Invocation ─▶ (JobContext, StateKeeper) ─▶ WorkDir ─▶ StagedJob ─▶ ScriptEnd ─▶ JobOutcome
///
/// A phase that fails throws a `RunFailure` after cleaning up what it made itself; the pipeline
/// then records the failure in whatever exists so far (the state file, a work dir to remove).
struct JobPipeline {
    let supervisor: Supervisor

    func run(arguments: [String], environment: Environment) -> ExitStatus {
        supervisor.installSignalHandlers()                                   // 1
        Log.configure(environment: environment)                              // 2
        var soFar = SoFar()
        do {
            let invocation = try Invocation.read(arguments: arguments, environment: environment)   // 3, 4
            supervisor.forwardWarningsToGroup = invocation.settings.forwardSignalsToGroup
            let killWait = KillWaitSource.learn(settings: invocation.settings, system: invocation.system,
                                                environment: invocation.environment, reaping: supervisor)
            let (context, keeper) = try openStateFile(invocation)                                   // 5
            soFar.keeper = keeper
            soFar.context = context
            let window = RescueWindow(budget: context.settings.rescueBudget, killWait: killWait)
            Log.info("[qq-run v\(QQVersion.version) \(context.system.rawValue)] Initializing job '\(context.jobID)' on host '\(context.host)'.")  // 6
            if context.mode == .managed { try ManagedStart.checkJobType(context, record: keeper.record) }       // 7
            var cycle = try LoopJob.from(record: keeper.record, resubmitOn: context.resubmitOn)
                .map { LoopCycle(job: $0, record: keeper.record, jobID: context.jobID) }
            try checkpoint(supervisor)
            // §10 item 2: the previous cycle's files go to the archive before anything is staged.
            try cycle?.archive?.archivePreviousCycle(engine: context.copyEngine(resources: keeper.record.resources))
            let workDir = try WorkDir.prepare(context: context, keeper: keeper, supervisor: supervisor)       // 8, 9
            soFar.workDir = workDir
            let facts = BackgroundFacts.start(context: context, killWait: killWait, record: keeper.record, reaping: supervisor)
            let state = JobStateWriter(context: context, keeper: keeper, facts: facts)
            soFar.state = state
            let staged = try StageIn.run(context: context, keeper: keeper, workDir: workDir,
                                         supervisor: supervisor, heartbeat: { state.heartbeat(supervisor) }, state: state) // 10
            // §10 item 3: this cycle's files from the archive override the staged ones.
            if let archive = cycle?.archive {
                cycle?.restored = try archive.restore(into: workDir.path, replacingStaged: workDir.usesScratch,
                                                      engine: context.copyEngine(resources: keeper.record.resources))
            }
            try checkpoint(supervisor)
            let (end, synced) = try ScriptRun.run(state: state, workDir: workDir, staged: staged, supervisor: supervisor)  // 11–14
            soFar.scriptStarted = true
            let outcome: JobOutcome
            var noResubmit = false
            switch end {                                                                                     // 15–18
            case .exited(var code):
                // §10 item 4: 95 ends a loop or continuous job as finished, without a next cycle.
                if let c = cycle, c.isNoResubmit(code) { code = 0; noResubmit = true }
                outcome = StageOut.finish(code: code, state: state, workDir: workDir, staged: synced,
                                          supervisor: supervisor, window: window, cycle: cycle)
            case .notRun(let error):
                outcome = StageOut.finish(code: ExitStatus.failed.jobExitCode, notRun: error, state: state, workDir: workDir,
                                          staged: synced, supervisor: supervisor, window: window, cycle: cycle)
            case .interrupted(let sig):
                outcome = Kill.duringScript(signal: sig, state: state, workDir: workDir, staged: synced,
                                            supervisor: supervisor, window: window,
                                            rescueUnderRealNames: cycle?.job.resubmitOnTimeout ?? false)
            }
            let (status, recorded) = record(outcome, state: state)                                           // 19
            cycle?.afterFinalWrite(outcome: outcome, noResubmit: noResubmit, finalWriteDone: recorded, state: state,
                                   workDir: workDir, staged: synced, supervisor: supervisor)
            return status
        } catch let failure {
            return finish(with: failure, soFar: soFar)
        }
    }

    /// What exists when a phase fails: the state file, the work dir, whether the script ran.
    private struct SoFar {
        var context: JobContext?
        var keeper: (any StateFileKeeping)?
        var workDir: WorkDir?
        var state: JobStateWriter?
        var scriptStarted = false
    }

    private func openStateFile(_ invocation: Invocation) throws(RunFailure) -> (JobContext, any StateFileKeeping) {
        switch invocation.mode {
        case .managed:
            return try ManagedStart.open(invocation, infoPath: invocation.managedInfoPath ?? "", supervisor: supervisor)
        case .plain:
            return try PlainStart(invocation: invocation, supervisor: supervisor).open()
        }
    }

    /// W5 or K2, and the exit status; true when the final write is in the file.
    private func record(_ outcome: JobOutcome, state: JobStateWriter) -> (ExitStatus, Bool) {
        let foreignBefore = state.wentForeign
        var recorded = false
        if outcome.writesFinalRecord && !state.keeper.stopped {
            state.keeper.pendingSignals.append(contentsOf: supervisor.takePendingWarnings())
            let written: StateKeeper.Outcome
            switch outcome.ending {
            case .completed: written = state.write(retry: true) { r in outcome.apply(to: &r) }
            case .killed: written = state.write { r in outcome.apply(to: &r) }
            }
            state.noteForeign(written, alreadyForeign: foreignBefore)
            recorded = written == .written
            switch (outcome.ending, written) {
            case (_, .written), (_, .killedElsewhere), (_, .otherJob): break
            case (.completed, .locked):
                Log.error("Could not update qq info file '\(state.infoPath)' at JOB COMPLETION: the file is locked.")
            case (.completed, .failed(let why)), (.completed, .refused(let why)):
                Log.error("Could not update qq info file '\(state.infoPath)' at JOB COMPLETION: \(why).")
            case (.killed, _):
                Log.error("Could not update qq info file '\(state.infoPath)' after the kill: \(written).")
            }
        }
        switch outcome.ending {
        case .killed(let sig, _):
            Log.error("Execution was terminated by SIG\(signalName(sig)).")
        case .completed(let code):
            if state.wentForeign {
                Log.error("Fatal qq run error: the info file '\(state.infoPath)' was changed by someone else during the job.")
                Log.error("Failure state was NOT logged into the job info file.")
                return (.foreign, false)
            }
            Log.info("Job completed with an exit code of \(code).")
        }
        return (outcome.exitStatus, recorded)
    }

    // MARK: Ending early

    private func finish(with failure: RunFailure, soFar: SoFar) -> ExitStatus {
        switch failure {
        case .terminatedNormally:
            return .success
        case .notInBatchEnvironment(let m):
            Log.error(m)
        case .fatal(let m), .foreign(let m):
            removeStagedCopies(soFar)
            Log.error("Fatal qq run error: \(m)")
            Log.error("Failure state was NOT logged into the job info file.")
        case .error(let m), .internalError(let m):
            removeStagedCopies(soFar)
            let logged = recordError(m, code: failure.exitStatus, soFar: soFar)
            Log.error(m)
            if case .internalError = failure { Log.critical("Internal error in qq-run \(QQVersion.version): \(m)") }
            Log.error(logged ? "Failure state was logged into the job info file." : "Failure state was NOT logged into the job info file.")
        case .terminated(let sig):
            removeStagedCopies(soFar)
            return Kill.beforeScript(signal: sig, keeper: soFar.keeper, supervisor: supervisor)
        case .stateNotLogged(let m):
            removeStagedCopies(soFar)
            Log.error(m)
            Log.error("Failure state was NOT logged into the job info file.")
        }
        return failure.exitStatus
    }

    /// An early abort removes the work dir if this attempt created it: it holds only staged copies.
    private func removeStagedCopies(_ soFar: SoFar) {
        guard let workDir = soFar.workDir, workDir.createdByThisAttempt, !soFar.scriptStarted,
              let context = soFar.context, let keeper = soFar.keeper else { return }
        _ = workDir.remove(context: context, record: keeper.record)
    }

    /// Write E (§7.10): `failed`, `job_exit_code` 91/99, `error`.
    private func recordError(_ message: String, code: ExitStatus, soFar: SoFar) -> Bool {
        func update(_ r: inout InfoRecord) {
            r.jobState = .failed
            r.phase = .done
            r.progress = nil
            r.completionTime = Timestamp.now()
            r.jobExitCode = code.jobExitCode
            r.error = message
        }
        if let state = soFar.state { return state.write(retry: true, stop: supervisor, update) == .written }
        guard let keeper = soFar.keeper, let context = soFar.context else { return false }
        return keeper.write(retry: context.retryPolicy, stop: supervisor, update) == .written
    }
}

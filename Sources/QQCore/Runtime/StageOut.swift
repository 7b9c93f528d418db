/// Steps 15–19 after the script ended on its own: leftovers terminated (R95), W4, the transfer
/// decision (R98), stage-out with verification (R99–R103), and the outcome for W5.
enum StageOut {
    /// `notRun`: the prologue or the env script failed (issue 14) and `rc` is 91.
    /// `cycle`: a loop cycle's files go to its archive first (§10 item 5).
    static func finish(code rc: Int, notRun: String? = nil, state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                       supervisor: any JobSupervisor, window: RescueWindow, cycle: LoopCycle? = nil) -> JobOutcome {
        let context = state.context
        let leftovers = supervisor.terminateProcessTree(grace: window.grace(killGrace: context.settings.killGrace))
        if leftovers > 0 { Log.info("Terminated \(leftovers) leftover process(es) of the script.") }
        // Issue 14: the epilogue runs after the script, whatever its code; it fails a job that had succeeded.
        let cause = notRun ?? JobSteps.epilogue(state: state, workDir: workDir, scriptExitCode: rc, supervisor: supervisor)
        let jobCode = notRun == nil && cause != nil ? ExitStatus.failed.jobExitCode : rc
        if notRun == nil, context.jobEnvironment.epilogue != nil {
            supervisor.terminateProcessTree(grace: window.grace(killGrace: context.settings.killGrace))
        }
        supervisor.waitForEvents(timeout: 0)
        if let sig = supervisor.terminationSignal {
            return Kill.duringScript(signal: sig, state: state, workDir: workDir, staged: staged,
                                     supervisor: supervisor, window: window,
                                     rescueUnderRealNames: cycle?.job.resubmitOnTimeout ?? false)
        }
        let usage = supervisor.usage
        Log.info("Finalizing the execution.")
        if !state.keeper.stopped {
            state.keeper.pendingSignals.append(contentsOf: supervisor.takePendingWarnings())
            let w4 = state.write(retry: true, stop: supervisor) { r in
                r.phase = .stageOut
                r.usage = usage
            }
            state.noteForeign(w4, alreadyForeign: false)
        }
        cycle?.archiveResults(exitCode: rc, state: state, workDir: workDir, staged: staged, supervisor: supervisor)
        let policy = TransferPolicy(state.record.effectiveTransferMode)
        for t in policy.ignored { Log.warning("Unknown transfer mode '\(t)' in the info file ignored; using '\(policy.valid.joined(separator: ","))'.") }
        var result = Copied(stats: nil, synchronized: nil, error: nil)
        if workDir.usesScratch {
            result = copyBack(state: state, workDir: workDir, staged: staged, transfer: policy.transfers(exitCode: jobCode),
                              scriptExitCode: jobCode, supervisor: supervisor, window: window)
        }
        if let sig = supervisor.terminationSignal {
            // R109: a signal during stage-out; what is left goes back as a rescue, the work dir stays.
            var rescued = result.stats
            if FileSystem.stat(workDir.path) != nil {
                let rest = Kill.rescue(state: state, workDir: workDir, staged: staged, supervisor: supervisor,
                                       window: window, logsFirst: false)
                rescued = merged(result.stats, rest)
            }
            return Kill.duringStageOut(signal: sig, scriptExitCode: rc, stageOut: rescued, usage: usage,
                                       state: state, supervisor: supervisor, window: window)
        }
        let failedStageOut = result.error != nil
        let error = [cause, result.error].compactMap { $0 }
        return JobOutcome(ending: .completed(jobExitCode: failedStageOut && jobCode == 0 ? ExitStatus.failed.jobExitCode : jobCode),
                          scriptExitCode: (failedStageOut && rc == 0) || jobCode != rc ? rc : nil,
                          error: error.isEmpty ? nil : error.joined(separator: " "),
                          stageOut: result.stats, usage: usage, synchronized: result.synchronized,
                          writesFinalRecord: true)
    }

    private struct Copied {
        var stats: StageOutStats?
        var synchronized: Bool?
        var error: String?
    }

    /// R98–R100: copy back, verify, and remove the work dir only when everything is back.
    private static func copyBack(state: JobStateWriter, workDir: WorkDir, staged: StagedJob, transfer: Bool,
                                 scriptExitCode rc: Int, supervisor: any JobSupervisor, window: RescueWindow) -> Copied {
        let context = state.context
        let record = state.record
        let inputDir = record.inputDir
        let path = workDir.path
        // After a terminating signal, stage-out goes on only until the rescue deadline (R109).
        let engine = context.copyEngine(resources: record.resources,
                                        shouldStop: { [supervisor] in supervisor.pastRescueDeadline(window, margin: 0.5) })
        let beat = { state.heartbeat(supervisor) }
        if !transfer {
            let logs = [record.stdoutFile, record.stderrFile]
            let stats = supervisor.runBlocking(tickInterval: context.heartbeatInterval, tick: beat) {
                engine.copyTopLevelFiles(logs, from: path, to: inputDir)
            }
            Log.info("Staged out \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
            Log.info("Keeping working directory '\(path)' (the transfer policy does not match exit code \(rc)).")
            let out = StageOutStats(mode: .logsOnly, files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds),
                                    errors: stats.failures.count, streams: stats.streams)
            let err = stats.failures.first.map { "Stage-out failed for \(stats.failures.count) file(s); the logs remain in \(path). First failure: \($0)." }
            return Copied(stats: out, synchronized: false, error: err)
        }
        let includedNames = Set(record.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) })
        let manifest = staged.manifest
        let progress = StagingProgress(phase: "stage_out", label: "Staging out", totals: nil, state: state, supervisor: supervisor)
        var counted = engine
        counted.progress = progress.counter
        // Rerun logs replace older logs; every other input-dir file in the way is kept aside (issue 8, item 7).
        let keep = StageOutKeep(jobID: context.jobID, replaceable: [PathBytes(record.stdoutFile.utf8), PathBytes(record.stderrFile.utf8)])
        let copier = counted
        let result = supervisor.runBlocking(tickInterval: progress.tickInterval, tick: progress.tick) {
            copier.stageOut(from: path, to: inputDir, manifest: manifest, controlFiles: WorkDir.controlFileNames,
                            includedNames: includedNames, keep: keep)
        }
        let stats = result.stats
        for deleted in result.deleted { Log.debug("Deleted in the work dir by the script: '\(deleted.displayText)'.") }
        var out = StageOutStats(mode: .transfer, files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds),
                                errors: stats.failures.count, deleted: result.deleted.count, kept: result.kept.count,
                                streams: stats.streams)
        Log.info("Staged out \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
        var keepReason: String?
        var error: String?
        if !stats.failures.isEmpty {
            let paths = stats.failures.map { $0.path.displayText }
            out.notCopied = paths.count
            out.notCopiedPaths = Array(paths.prefix(20))
            workDir.writeNotCopiedList(stats.failures.map { $0.path })
            Log.error("Could not copy back \(paths.count) file(s): \(stats.failures.prefix(20).map { $0.description }.joined(separator: "; ")).")
            error = "Stage-out failed for \(paths.count) file(s); results remain in \(path). First failure: \(stats.failures[0])."
            keepReason = "\(paths.count) file(s) were not copied back"
        }
        if !result.underIncludedPaths.isEmpty {
            for name in includedNames {
                let under = result.underIncludedPaths.filter { $0.starts(with: name) }.prefix(20).map { "'\($0.displayText)'" }
                if !under.isEmpty {
                    Log.warning("Results under included path '\(name.displayText)' were not copied back; they remain in '\(path)': \(under.joined(separator: ", ")).")
                }
            }
            keepReason = keepReason ?? "results under included paths were not copied back"
        }
        if supervisor.isStopping { keepReason = keepReason ?? "the job was killed during stage-out" }
        if let keepReason {
            Log.info("Keeping working directory '\(path)' (\(keepReason)).")
            return Copied(stats: out, synchronized: false, error: error)
        }
        return Copied(stats: out, synchronized: workDir.remove(context: context, record: state.record), error: nil)
    }

    /// Stage-out's numbers followed by the rescue's, as one `stage_out` of mode `rescue`.
    private static func merged(_ a: StageOutStats?, _ b: StageOutStats) -> StageOutStats {
        guard let a else { return b }
        var m = b
        m.files += a.files
        m.bytes += a.bytes
        m.seconds = roundedSeconds(a.seconds + b.seconds)
        m.errors += a.errors
        m.deleted = a.deleted
        m.kept = a.kept
        return m
    }
}

import CQQSystem
import Glibc

/// The files qq-run keeps at the top of a scratch work dir; never staged in or out (§2).
let controlFileNames: Set<PathBytes> = [PathBytes(".qq-run-marker".utf8), PathBytes(".qq-run-manifest".utf8),
                                        PathBytes(".qq-run-not-copied".utf8)]

extension Runner {
    // MARK: Step 10: stage-in (R85, R86)

    func stageIn(into workDir: String) throws(RunFailure) -> StageInStats {
        guard let record = state?.record else { throw .internalError("no state file") }
        let inputDir = record.inputDir
        var filter = StageFilter()
        let infoName = FileSystem.baseName(infoPath)
        if FileSystem.directoryName(infoPath) == inputDir { filter.topLevelNames.insert(PathBytes(infoName.utf8)) }
        filter.topLevelNames.insert(PathBytes(replacingSuffix(of: record.jobName, with: ".qqout").utf8))
        filter.topLevelNames.insert(PathBytes(record.stdoutFile.utf8))
        filter.topLevelNames.insert(PathBytes(record.stderrFile.utf8))
        filter.topLevelNames.formUnion(controlFileNames)
        filter.topLevelPrefixes = [PathBytes(".\(infoName).tmp-".utf8), PathBytes(".\(infoName).replaced-".utf8)]
        for fd in [1, 2] {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink("/proc/self/fd/\(fd)", &buf, buf.count - 1)
            guard n > 0 else { continue }
            let target = String(cString: buf)
            if target.hasPrefix(inputDir + "/") { filter.addExclude(String(target.dropFirst(inputDir.count + 1)), anchored: true) }
        }
        for entry in record.excludedFiles {
            if entry.hasPrefix("/") {
                if entry.hasPrefix(inputDir + "/") {
                    filter.addExclude(String(entry.dropFirst(inputDir.count + 1)))
                } else {
                    Log.warning("Exclusion '\(entry)' lies outside the input directory '\(inputDir)'; ignored.")
                }
            } else {
                filter.addExclude(entry)
            }
        }
        let included = record.includedFiles.map { FileSystem.normalizeLexically($0, relativeTo: inputDir) }
        for path in included where FileSystem.lstat(path) == nil {
            throw .error("Included path '\(path)' does not exist.")
        }
        try preflightScratch(inputDir: inputDir, filter: filter, included: included, workDir: workDir)  // issue 8, item 13
        let engine = makeCopyEngine(shouldStop: { [supervisor] in supervisor.stopRequested.load(ordering: .acquiring) })
        let stageFilter = filter
        let result: (CopyStatistics, Manifest) = supervisor.runBlocking(tickInterval: heartbeatInterval, tick: { self.heartbeat() }) {
            var manifest = Manifest()
            var stats = engine.stageIn(from: inputDir, to: workDir, filter: stageFilter, manifest: &manifest)
            let t0 = monotonicSeconds()
            for path in included where stats.failures.isEmpty {
                engine.stageInPath(path, intoDirectory: workDir, name: PathBytes(FileSystem.baseName(path).utf8),
                                   manifest: &manifest, stats: &stats)
            }
            stats.seconds += monotonicSeconds() - t0
            return (stats, manifest)
        }
        try checkpoint()
        let (stats, newManifest) = result
        if let first = stats.failures.first {
            let more = stats.failures.count > 1 ? " (and \(stats.failures.count - 1) more)" : ""
            if first.code == ENOSPC || first.code == EDQUOT {
                throw .error("Stage-in failed: the scratch file system is full or over quota (\(first)). Free space under '\(workDirRoot ?? workDir)', exclude large inputs, or use work-dir=input_dir.")
            }
            throw .error("Stage-in failed: \(first)\(more).")
        }
        manifest = newManifest
        do {
            try manifest.write(to: workDir)  // R87: kept for a requeued attempt and for inspection
        } catch {
            Log.warning("Could not write the stage-in manifest: \(error)")
        }
        Log.info("Staged in \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
        return StageInStats(files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds))
    }

    /// The copy engine with the job's settings: `QQ_COPY_STREAMS`, else min(max(ncpus, 4), 16) with
    /// the job's CPUs (R103); `QQ_VERIFY`; the retry policy (R105).
    func makeCopyEngine(shouldStop: @escaping @Sendable () -> Bool = { false }) -> CopyEngine {
        let r = state?.record.resources
        let ncpus = r?.ncpus ?? r?.ncpusPerNode.map { $0 * (r?.nnodes ?? 1) } ?? Int(cqq_online_cpus())
        return CopyEngine(streams: settings.copyStreams ?? CopyEngine.defaultStreams(ncpus: ncpus),
                          verifyChecksum: settings.verifyChecksum, retry: retryPolicy, shouldStop: shouldStop)
    }

    // MARK: Steps 11–13

    /// R55: the job's nodes from the environment, without asking the scheduler.
    func nodeList() -> [String] {
        guard system.isSlurmFamily else { return [host] }
        guard let list = jobEnv.nodeList, !list.isEmpty else {
            Log.warning("SLURM_JOB_NODELIST is not set; recording this host as the only node.")
            return [host]
        }
        do {
            return try Hostlist.expand(list)
        } catch {
            Log.warning("Cannot expand the node list '\(list)': \(error); recording this host as the only node.")
            return [host]
        }
    }

    /// R89: the interpreter on PATH, or an absolute executable.
    func resolveInterpreter() throws(RunFailure) -> String {
        let name = state?.record.interpreter ?? settings.defaultInterpreter
        if name.hasPrefix("/") {
            if let st = FileSystem.stat(name), st.isRegular, access(name, X_OK) == 0 { return name }
        } else if let found = findExecutable(name, path: env["PATH"]) {
            return found
        }
        throw .error("Interpreter '\(name)' is not available on node '\(host)'.")
    }

    /// R71 (qq-managed: `<work_dir>/<script_name>`), R73 (plain: the path given).
    func resolveScriptPath(workDir: String) throws(RunFailure) -> String {
        let path: String
        switch mode {
        case .managed: path = workDir + "/" + (state?.record.scriptName ?? "")
        case .plain: path = FileSystem.normalizeLexically(arguments.script ?? "", relativeTo: initialDirectory)
        }
        guard FileSystem.stat(path) != nil else { throw .error("Script '\(path)' does not exist.") }
        return mode == .plain ? (arguments.script ?? path) : path
    }

    /// R90: stdout/stderr files, environment (R91), spawn.
    func spawnScript(interpreter: String, scriptPath: String, workDir: String) throws(RunFailure) {
        guard let state else { throw .internalError("no state file") }
        let record = state.record
        let out = try openLog(workDir + "/" + record.stdoutFile)
        defer { close(out) }
        let err = try openLog(workDir + "/" + record.stderrFile)
        defer { close(err) }
        let scriptEnv = ScriptEnvironment.build(base: env, record: record, infoPath: infoPath, workDir: workDir,
                                                walltimeSeconds: walltimeSeconds, inheritedInfoIgnored: inheritedInfoIgnored)
        // A relative plain-mode path is relative to the initial directory, not the work dir.
        let argPath = scriptPath.hasPrefix("/") ? scriptPath : FileSystem.normalizeLexically(scriptPath, relativeTo: initialDirectory)
        let takeTerminal = system == .local && isatty(0) == 1
        try checkpoint()
        if let code = supervisor.spawnScript(executable: interpreter, arguments: [argPath] + arguments.scriptArguments,
                                             environment: scriptEnv.entries, workDir: workDir,
                                             stdoutFD: out, stderrFD: err, takeTerminal: takeTerminal) {
            throw .error("Failed to execute script '\(scriptPath)': \(String(cString: strerror(code)))")
        }
        scriptStarted = true
    }

    private func openLog(_ path: String) throws(RunFailure) -> Int32 {
        if let st = FileSystem.lstat(path), st.isSymlink { unlink(path) }
        let fd = cqq_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o666)
        if fd < 0 { throw .error(SystemError.fromErrno("create", path).description) }
        return fd
    }

    // MARK: Steps 15–19: finalize

    func finalize() -> Int32 {
        guard let state, let workDir else { return 99 }
        let rc = supervisor.scriptExitCode ?? 99
        let leftovers = supervisor.terminateProcessTree(grace: grace)            // R95
        if leftovers > 0 { Log.info("Terminated \(leftovers) leftover process(es) of the script.") }
        supervisor.waitForEvents(timeout: 0)
        if let sig = supervisor.terminationSignal { return terminateDuringScript(signal: sig) }
        let usage = currentUsage()
        Log.info("Finalizing the execution.")
        if !state.stopped {
            state.pendingSignals.append(contentsOf: supervisor.pendingWarnings)
            supervisor.pendingWarnings.removeAll()
            let w4 = state.write(retry: retryPolicy, stop: supervisor) { r in
                r.phase = .stageOut
                r.usage = usage
            }
            noteForeign(w4)
        }
        let policy = TransferPolicy(state.record.effectiveTransferMode)
        for t in policy.ignored { Log.warning("Unknown transfer mode '\(t)' ignored.") }
        let transfer = policy.transfers(exitCode: rc)
        var stageOut: StageOutStats?
        var synchronized: Bool?
        var errorText: String?
        if state.record.usesScratch {
            let outcome = stageOutResults(workDir: workDir, transfer: transfer)
            stageOut = outcome.stats
            synchronized = outcome.synchronized
            errorText = outcome.error
        }
        if let sig = supervisor.terminationSignal {
            // R109: a signal during stage-out; what is left goes back as a rescue, the work dir stays.
            var rescued = stageOut
            if state.record.usesScratch, FileSystem.stat(workDir) != nil {
                let rest = rescueResults(workDir: workDir, inputDir: state.record.inputDir, logsFirst: false)
                rescued = merged(stageOut, rest)
            }
            return finishKilled(signal: sig, scriptExitCode: rc, stageOut: rescued, usage: usage)
        }
        let failedStageOut = errorText != nil
        let jobExitCode = failedStageOut && rc == 0 ? 91 : rc
        if !state.stopped {
            let w5 = state.write(retry: retryPolicy) { r in
                r.jobState = jobExitCode == 0 ? .finished : .failed
                r.phase = .done
                r.completionTime = Timestamp.now()
                r.jobExitCode = jobExitCode
                r.scriptExitCode = failedStageOut && rc == 0 ? 0 : nil
                r.error = errorText
                r.stageOut = stageOut
                r.usage = usage
                r.synchronized = synchronized
            }
            noteForeign(w5)
            if case .failed(let why) = w5 {
                Log.error("Could not update qq info file '\(infoPath)' at JOB COMPLETION: \(why).")
            } else if case .refused(let why) = w5 {
                Log.error("Could not update qq info file '\(infoPath)' at JOB COMPLETION: \(why).")
            } else if w5 == .locked {
                Log.error("Could not update qq info file '\(infoPath)' at JOB COMPLETION: the file is locked.")
            }
        }
        if endWithForeign {
            Log.error("Fatal qq run error: the info file '\(infoPath)' was changed by someone else during the job.")
            Log.error("Failure state was NOT logged into the job info file.")
            return 93
        }
        Log.info("Job completed with an exit code of \(jobExitCode).")
        return Int32(truncatingIfNeeded: jobExitCode)
    }

    private func noteForeign(_ outcome: StateKeeper.Outcome) {
        switch outcome {
        case .killedElsewhere, .otherJob:
            if !endWithForeign {
                Log.warning("The info file now says '\(outcome == .killedElsewhere ? "killed" : "another job")'; no further updates will be written.")
            }
            endWithForeign = true
        default: break
        }
    }

    func currentUsage() -> Usage {
        Usage(maxRSS: supervisor.maxRSS, userCPU: roundedSeconds(supervisor.userCPU), sysCPU: roundedSeconds(supervisor.sysCPU))
    }

    /// R98–R100: copy back, verify, and remove the work dir only when everything is back.
    private func stageOutResults(workDir: String, transfer: Bool) -> (stats: StageOutStats, synchronized: Bool, error: String?) {
        guard let record = state?.record else { return (StageOutStats(mode: .logsOnly), false, nil) }
        let inputDir = record.inputDir
        refreshKillWait()
        // After a terminating signal, stage-out goes on only until the rescue deadline (R109).
        let engine = makeCopyEngine(shouldStop: { [supervisor] in supervisor.pastRescueDeadline(margin: 0.5) })
        if !transfer {
            let logs = [record.stdoutFile, record.stderrFile]
            let stats = supervisor.runBlocking(tickInterval: heartbeatInterval, tick: { self.heartbeat() }) {
                engine.copyTopLevelFiles(logs, from: workDir, to: inputDir)
            }
            Log.info("Staged out \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
            Log.info("Keeping working directory '\(workDir)' (the transfer policy does not match exit code \(supervisor.scriptExitCode ?? -1)).")
            let out = StageOutStats(mode: .logsOnly, files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds),
                                    errors: stats.failures.count)
            let err = stats.failures.first.map { "Stage-out failed for \(stats.failures.count) file(s); the logs remain in \(workDir). First failure: \($0)." }
            return (out, false, err)
        }
        let includedNames = Set(record.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) })
        let manifest = self.manifest
        let keep = StageOutKeep(jobID: jobID, replaceable: [PathBytes(record.stdoutFile.utf8), PathBytes(record.stderrFile.utf8)])
        let result = supervisor.runBlocking(tickInterval: heartbeatInterval, tick: { self.heartbeat() }) {
            engine.stageOut(from: workDir, to: inputDir, manifest: manifest, controlFiles: controlFileNames, includedNames: includedNames, keep: keep)
        }
        let stats = result.stats
        for path in result.deleted { Log.debug("Deleted in the work dir by the script: '\(path.displayText)'.") }
        var out = StageOutStats(mode: .transfer, files: stats.files, bytes: stats.bytes, seconds: roundedSeconds(stats.seconds),
                                errors: stats.failures.count, deleted: result.deleted.count, kept: result.kept.count)
        Log.info("Staged out \(stats.files) files (\(Size.format(bytes: stats.bytes))) in \(formatSeconds(stats.seconds)) s.")
        var keepReason: String?
        var error: String?
        if !stats.failures.isEmpty {
            let paths = stats.failures.map { $0.path.displayText }
            out.notCopied = paths.count
            out.notCopiedPaths = Array(paths.prefix(20))
            writeNotCopiedList(stats.failures.map { $0.path }, in: workDir)
            Log.error("Could not copy back \(paths.count) file(s): \(stats.failures.prefix(20).map { $0.description }.joined(separator: "; ")).")
            error = "Stage-out failed for \(paths.count) file(s); results remain in \(workDir). First failure: \(stats.failures[0])."
            keepReason = "\(paths.count) file(s) were not copied back"
        }
        if !result.underIncludedPaths.isEmpty {
            for name in includedNames {
                let under = result.underIncludedPaths.filter { $0.starts(with: name) }.prefix(20).map { "'\($0.displayText)'" }
                if !under.isEmpty {
                    Log.warning("Results under included path '\(name.displayText)' were not copied back; they remain in '\(workDir)': \(under.joined(separator: ", ")).")
                }
            }
            keepReason = keepReason ?? "results under included paths were not copied back"
        }
        if supervisor.isStopping { keepReason = keepReason ?? "the job was killed during stage-out" }
        if let keepReason {
            Log.info("Keeping working directory '\(workDir)' (\(keepReason)).")
            return (out, false, error)
        }
        return (out, removeWorkDir(), nil)
    }

    /// `.qq-run-not-copied`: every path that stage-out could not copy, one per line (R100, R12a).
    func writeNotCopiedList(_ paths: [PathBytes], in workDir: String) {
        let text = paths.map { $0.displayText }.joined(separator: "\n") + "\n"
        try? InfoFile.writeAtomically(text, to: workDir + "/.qq-run-not-copied", modeIfNew: 0o600)
    }

    // MARK: Signals (§8)

    /// R108: a terminating signal while the script runs.
    ///
    /// Also used when the signal arrived after the script's main process ended but before
    /// stage-out (under proctrack/linuxproc Slurm signals the script too, so it often dies first):
    /// the job was killed all the same, and its results are rescued, not judged by the policy.
    func terminateDuringScript(signal sig: Int32) -> Int32 {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        let scriptRunning = supervisor.scriptStatus == nil
        if let pid = supervisor.scriptPID, scriptRunning {
            kill(-pid, sig == SIGINT ? SIGINT : SIGTERM)
            kill(-pid, SIGCONT)
        }
        Log.info("Cleaning up: terminating subprocess.")
        let provisional = provisionalKillReason(sig)
        let k1 = writeK1(reason: provisional, phase: .rescue)
        let reasonQuery = startKillReasonQuery()
        // The group was signalled above while the script ran; otherwise what is left of it gets TERM now.
        supervisor.terminateProcessTree(first: scriptRunning ? 0 : SIGTERM, grace: grace)
        var stageOut: StageOutStats?
        if let record = state?.record, record.usesScratch, let workDir, FileSystem.stat(workDir) != nil {
            stageOut = rescueResults(workDir: workDir, inputDir: record.inputDir)
        }
        // The reason was asked for in parallel (R108 step 4); it must not eat the rescue's time.
        let reason = reasonQuery?() ?? provisional
        // R108 step 7: the script's own code only if it had exited on its own before the signal.
        let ownCode = supervisor.scriptExitedBeforeTermination ? supervisor.scriptExitCode : nil
        if k1 { writeK2(reason: reason, stageOut: stageOut, scriptExitCode: ownCode) }
        Log.error("Execution was terminated by SIG\(signalName(sig)).")
        return 128 + sig
    }

    /// R109: a signal during stage-out; results copied so far stay, the work dir is kept.
    private func finishKilled(signal sig: Int32, scriptExitCode rc: Int, stageOut: StageOutStats?, usage: Usage) -> Int32 {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        var out = stageOut ?? StageOutStats(mode: .rescue)
        out.mode = .rescue
        let reason = provisionalKillReason(sig)
        if writeK1(reason: reason, phase: .rescue) {
            writeK2(reason: startKillReasonQuery()?() ?? reason, stageOut: out, scriptExitCode: rc)
        }
        Log.error("Execution was terminated by SIG\(signalName(sig)).")
        return 128 + sig
    }

    /// R109: a signal before the script started: remove what this attempt staged, write killed once.
    func terminateBeforeScript(signal sig: Int32) -> Int32 {
        Log.info("Received SIG\(signalName(sig)), initiating shutdown.")
        removeWorkDirCreatedByThisAttempt()
        if let state, !state.stopped {
            let reason = provisionalKillReason(sig)
            let outcome = state.write { r in
                r.jobState = .killed
                r.phase = .done
                r.completionTime = Timestamp.now()
                r.killReason = reason
                r.jobExitCode = nil
            }
            if outcome != .written { Log.info("The info file was left untouched (\(outcome)).") }
        }
        Log.error("Execution was terminated by SIG\(signalName(sig)).")
        return 128 + sig
    }

    /// K1: `killed` at once, one immediate retry at most (R108 step 3).
    private func writeK1(reason: KillReason, phase: Phase) -> Bool {
        guard let state, !state.stopped else { return false }
        var outcome = StateKeeper.Outcome.failed("")
        for _ in 0..<2 {
            state.wroteKilled = true
            outcome = state.write { r in
                r.jobState = .killed
                r.phase = phase
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

    /// K2: the final `killed` write.
    private func writeK2(reason: KillReason, stageOut: StageOutStats?, scriptExitCode: Int?) {
        guard let state else { return }
        let usage = currentUsage()
        let outcome = state.write { r in
            r.phase = .done
            r.killReason = reason
            r.stageOut = stageOut
            r.usage = usage
            r.scriptExitCode = scriptExitCode
            r.synchronized = r.usesScratch ? false : nil
        }
        if outcome != .written { Log.error("Could not update qq info file '\(infoPath)' after the kill: \(outcome).") }
    }

    /// R112's provisional reason.
    func provisionalKillReason(_ sig: Int32) -> KillReason {
        if let state { applySchedulerRecord(&state.record) }
        if let start = state?.record.startTime, let w = walltimeSeconds ?? state?.record.resources.walltime.flatMap(parseWalltime),
           Int(time(nil)) >= start.epochSeconds + w - 60 {
            return .timeout
        }
        return sig == SIGTERM || sig == SIGINT ? .cancelled : .signal
    }

    /// R112: for Slurm, one `scontrol show job` during the grace period refines the reason.
    /// Returns a function that waits for the answer (nil when there is no query).
    func startKillReasonQuery() -> (() -> KillReason?)? {
        guard system.isSlurmFamily else { return nil }
        let box = ResultBox<KillReason?>()
        let id = jobID
        var twoSeconds = env
        twoSeconds["QQ_BATCH_TIMEOUT"] = "2"
        let queryEnv = twoSeconds
        let slurm = batchSystem(named: system)
        let record = state?.record
        let reaper = supervisor
        startDetachedThread {
            let answer = slurm.queryJob(id, record: record, environment: queryEnv, reaping: reaper)
            box.set(answer.record.flatMap(killReason(from:)))
        }
        let deadline = rescueDeadline(start: monotonicSeconds())
        return { [supervisor] in
            supervisor.serve(until: { box.isSet }, deadline: max(deadline, monotonicSeconds() + 0.1))
            return box.isSet ? box.take() : nil
        }
    }

    /// Stage-out's numbers followed by the rescue's, as one `stage_out` of mode `rescue`.
    private func merged(_ a: StageOutStats?, _ b: StageOutStats) -> StageOutStats {
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

    /// R113's deadline D: t_S + W − 2 s when KillWait W is known and > 0, else start + 60 s;
    /// `QQ_RESCUE_BUDGET` sets it to start + B.
    func rescueDeadline(start: Double) -> Double {
        refreshKillWait()
        if let budget = settings.rescueBudget { return start + budget }
        if killWait > 0, let t = supervisor.terminationTime { return t + killWait - 2 }
        return start + 60
    }

    /// R77: ask Slurm for the submission time and time limit while stage-in runs.
    func startSchedulerRecordQuery() {
        guard system.isSlurmFamily, mode == .plain else { return }
        let box = ResultBox<BatchJobRecord?>()
        schedulerRecord = box
        var fiveSeconds = env
        fiveSeconds["QQ_BATCH_TIMEOUT"] = "5"
        let queryEnv = fiveSeconds
        let slurm = batchSystem(named: system)
        let (id, record, reaper) = (jobID, state?.record, supervisor)
        startDetachedThread { box.set(slurm.queryJob(id, record: record, environment: queryEnv, reaping: reaper).record) }
    }

    /// R77: the learned submission time, and the time limit when the environment gave none, at the
    /// first write after the answer arrived (W3 when it came during stage-in).
    func applySchedulerRecord(_ r: inout InfoRecord) {
        guard let box = schedulerRecord, box.isSet else { return }
        schedulerRecord = nil
        guard let learned = box.take() else { return }
        if let submitted = learned.submitTime { r.submissionTime = submitted }
        if walltimeSeconds == nil, let limit = learned.timeLimit, let seconds = parseWalltime(limit) {
            walltimeSeconds = seconds
            r.resources.walltime = formatWalltime(seconds: seconds)
        }
    }

    /// R113: the logs first (each one attempt, even after the deadline), then the new and changed
    /// results, smallest first, before the deadline D. The work dir is always kept.
    /// (R113's policy — not the transfer decision — says whether results are rescued.)
    private func rescueResults(workDir: String, inputDir: String, logsFirst: Bool = true) -> StageOutStats {
        guard let record = state?.record else { return StageOutStats(mode: .rescue) }
        let engine = makeCopyEngine()
        let start = monotonicSeconds()
        let deadline = rescueDeadline(start: start)
        let logs = logsFirst ? engine.copyTopLevelFiles([record.stdoutFile, record.stderrFile], from: workDir, to: inputDir)
                             : CopyStatistics()
        var files = logs.files, bytes = logs.bytes
        var notCopied = logs.failures.map { $0.path }
        let rescueResults = (plainOptions?.rescue ?? settings.rescue) && !TransferPolicy(record.effectiveTransferMode).isExactlyNever
        if rescueResults {
            let logNames: Set<PathBytes> = [PathBytes(record.stdoutFile.utf8), PathBytes(record.stderrFile.utf8)]
            let result = engine.rescue(from: workDir, to: inputDir, manifest: manifest, controlFiles: controlFileNames,
                                       includedNames: Set(record.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) }),
                                       skipTopLevel: logNames, deadline: deadline)
            files += result.stats.files
            bytes += result.stats.bytes
            notCopied += result.notCopied
        } else {
            Log.info("Results are not rescued (transfer mode 'never' or QQ_RESCUE=false); only the logs were copied.")
        }
        if !notCopied.isEmpty { writeNotCopiedList(notCopied, in: workDir) }
        let seconds = monotonicSeconds() - start
        if notCopied.isEmpty {
            Log.info("Rescued \(files) files (\(Size.format(bytes: bytes))).")
        } else {
            let why = monotonicSeconds() >= deadline - 0.5 ? "the rescue time ran out before Slurm's SIGKILL" : "their copies failed (see the WARNINGs above)"
            Log.warning("Rescued \(files) files (\(Size.format(bytes: bytes))); \(notCopied.count) not copied because \(why). They are still in '\(workDir)', listed in its .qq-run-not-copied; copy them with 'cp -a' before the work dir is wiped.")
        }
        Log.info("Keeping working directory '\(workDir)' (the job was killed).")
        return StageOutStats(mode: .rescue, files: files, bytes: bytes, seconds: roundedSeconds(seconds),
                             errors: logs.failures.count, notCopied: notCopied.count,
                             notCopiedPaths: notCopied.prefix(20).map { $0.displayText })
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

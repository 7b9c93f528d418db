import CQQSystem
import Glibc

/// How the script's run ended.
enum ScriptEnd: Sendable, Equatable {
    /// Its main process exited with this code (R94); what it left behind is still to be terminated.
    case exited(code: Int)
    /// A terminating signal arrived while it ran, or after it ended but before stage-out began.
    case interrupted(signal: Int32)
    /// The prologue or the env script failed, so the script did not run (issue 14): the job fails
    /// with 91 and this error, its logs come back by the transfer policy, nothing else is touched.
    case notRun(error: String)
}

/// Steps 11–14: W3 (`running`), the interpreter, the logs, the spawn and the wait (with the
/// periodic sync, issue 12, while it lasts).
enum ScriptRun {
    /// Also hands back the staged job as the run leaves it: a periodic sync moves its manifest on,
    /// so stage-out and a rescue copy only what changed since the last round.
    static func run(state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                    supervisor: any JobSupervisor) throws(RunFailure) -> (ScriptEnd, StagedJob) {
        var sync: PeriodicSync?
        let end = try runScript(state: state, workDir: workDir, staged: staged, supervisor: supervisor, sync: &sync)
        var after = sync?.finish(staged) ?? staged
        // What qq-sync copied during the run is home too (issue 12 item 3).
        if workDir.usesScratch {
            for (rel, entry) in Manifest.read(from: workDir.path, name: WorkDir.syncedName).entries {
                after.manifest.entries[rel] = entry
                after.syncedPaths.insert(rel)
            }
        }
        return (end, after)
    }

    private static func runScript(state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                                  supervisor: any JobSupervisor, sync: inout PeriodicSync?) throws(RunFailure) -> ScriptEnd {
        let context = state.context
        let nodes = nodeList(context)
        let w3 = state.write(retry: true, stop: supervisor) { r in
            r.jobState = .running
            r.phase = .running
            r.startTime = Timestamp.now()
            r.allNodes = nodes
            r.stageIn = staged.statistics
            r.progress = nil
            context.jobEnvironment.record(into: &r)
            if !workDir.usesScratch {
                r.mainNode = context.host
                r.workDir = workDir.path
                context.fillRunnerFields(&r)
            }
        }
        try requireWritten(w3, label: "W3", infoPath: state.infoPath)
        try checkpoint(supervisor)
        let options = context.jobEnvironment
        let interpreter = state.record.interpreter ?? context.settings.defaultInterpreter      // 12
        let words = try ScriptLaunch.interpreterWords(interpreter)
        if options.envScript == nil && options.container == nil {
            _ = try ScriptLaunch.resolveOnHost(words[0], path: context.environment["PATH"], host: context.host)
        }
        let scriptPath = try resolveScriptPath(context, record: state.record, workDir: workDir)
        // A relative plain-mode path is relative to the initial directory, not the work dir.
        let argPath = scriptPath.hasPrefix("/") ? scriptPath : FileSystem.normalizeLexically(scriptPath, relativeTo: context.initialDirectory)
        let launch = try ScriptLaunch.plan(.init(interpreter: interpreter, options: options, script: argPath,
                                                 scriptArguments: context.arguments.scriptArguments, workDir: workDir.path,
                                                 path: context.environment["PATH"], host: context.host))
        // Both logs stay open (in this process) until the script has been started; the prologue
        // writes into them first.
        let out = try openLog(workDir.path + "/" + state.record.stdoutFile)
        let err = try openLog(workDir.path + "/" + state.record.stderrFile)
        if let prologue = options.prologue {
            switch JobSteps.run("prologue", prologue, state: state, workDir: workDir, stdoutFD: out.rawValue,
                                stderrFD: err.rawValue, supervisor: supervisor) {
            case .exited(code: 0): break
            case .exited(let code):
                return notRun("Prologue '\(prologue)' exited with code \(code); the script was not run (its output is in '\(state.record.stderrFile)').")
            case .notStarted(let e):
                return notRun("Failed to execute the prologue '\(prologue)': \(String(cString: strerror(e))); the script was not run.")
            case .interrupted:
                return .interrupted(signal: supervisor.terminationSignal ?? SIGTERM)
            }
            // The prologue has run: what it made is the job's now, so a signal leads to the rescue.
            if let sig = supervisor.terminationSignal { return .interrupted(signal: sig) }
        }
        Log.info("Executing script '\(scriptPath)'.")                                        // 13
        var report: [Int32] = [-1, -1]
        if launch.reportsEnvScript, !makePipe(&report, lowest: 4) {
            throw .error("Failed to execute script '\(scriptPath)': cannot create a pipe for the env script's status: \(Errno.current).")
        }
        let reportRead = launch.reportsEnvScript ? FileDescriptor(adopting: report[0]) : nil
        do {
            // Closed in qq-run when this scope ends: only the wrapper holds the write end then.
            let reportWrite = launch.reportsEnvScript ? FileDescriptor(adopting: report[1]) : nil
            let reportFD: Int32? = launch.reportsEnvScript ? report[1] : nil
            let scriptEnv = UserCodeEnvironment.build(state: state, workDir: workDir)
            let takeTerminal = context.system == .local && isatty(0) == 1
            if options.prologue == nil { try checkpoint(supervisor) }
            if let code = supervisor.spawnScript(executable: launch.executable, arguments: launch.arguments,
                                                 environment: scriptEnv.entries, workDir: workDir.path,
                                                 stdoutFD: out.rawValue, stderrFD: err.rawValue,
                                                 statusFD: reportFD, takeTerminal: takeTerminal) {
                let message = "Failed to execute script '\(scriptPath)': \(String(cString: strerror(code)))"
                // After a prologue the work dir holds what it made: fail the job, but keep it (issue 14).
                if options.prologue != nil { return notRun(message) }
                throw .error(message)
            }
            _ = consume reportWrite
        }
        _ = consume out
        _ = consume err
        sync = PeriodicSync.make(state: state, workDir: workDir, staged: staged, supervisor: supervisor)
        let rounds = sync
        let beat = context.heartbeatInterval
        var nextBeat = beat.map { monotonicSeconds() + $0 }
        let tickInterval = rounds.map { min($0.tickInterval, beat ?? .infinity) } ?? beat
        supervisor.waitForScript(tickInterval: tickInterval) {                                  // 14
            rounds?.tick()
            if let b = beat, let due = nextBeat, monotonicSeconds() >= due - 0.05 {
                state.heartbeat(supervisor)
                nextBeat = monotonicSeconds() + b
            }
        }
        if let sig = supervisor.terminationSignal { return .interrupted(signal: sig) }
        let code = supervisor.scriptExitCode ?? ExitStatus.internalError.jobExitCode
        if let reportRead, let envScript = options.envScript {
            let text = String(decoding: (try? reportRead.readAll(limit: 4096).get()) ?? [], as: UTF8.self)
            if let failure = ScriptLaunch.envScriptFailure(report: text, exitCode: code, envScript: envScript,
                                                           command: launch.arguments.count > 4 ? launch.arguments[4] : interpreter,
                                                           host: context.host, stderrFile: state.record.stderrFile) {
                return notRun(failure)
            }
        }
        return .exited(code: code)
    }

    private static func notRun(_ error: String) -> ScriptEnd {
        Log.error(error)
        return .notRun(error: error)
    }

    /// R55: the job's nodes from the environment, without asking the scheduler.
    static func nodeList(_ context: JobContext) -> [String] {
        guard context.system.isSlurmFamily else { return [context.host] }
        guard let list = context.jobEnv.nodeList, !list.isEmpty else {
            Log.warning("SLURM_JOB_NODELIST is not set; recording this host as the only node.")
            return [context.host]
        }
        do {
            return try Hostlist.expand(list)
        } catch {
            Log.warning("Cannot expand the node list '\(list)': \(error); recording this host as the only node.")
            return [context.host]
        }
    }

    /// R71 (qq-managed: `<work_dir>/<script_name>`), R73 (plain: the path given).
    static func resolveScriptPath(_ context: JobContext, record: InfoRecord, workDir: WorkDir) throws(RunFailure) -> String {
        let given = context.arguments.script ?? ""
        let path: String
        switch context.mode {
        case .managed: path = workDir.path + "/" + record.scriptName
        case .plain: path = FileSystem.normalizeLexically(given, relativeTo: context.initialDirectory)
        }
        guard FileSystem.stat(path) != nil else { throw .error("Script '\(path)' does not exist.") }
        return context.mode == .plain ? given : path
    }

    private static func openLog(_ path: String) throws(RunFailure) -> FileDescriptor {
        if let st = FileSystem.lstat(path), st.isSymlink { unlink(path) }
        switch FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o666) {
        case .success(let fd): return fd
        case .failure(let e): throw .error(SystemError(code: e.code, operation: "create", path: path).description)
        }
    }
}

import CQQSystem
import Glibc

/// How the script's run ended.
enum ScriptEnd: Sendable, Equatable {
    /// Its main process exited with this code (R94); what it left behind is still to be terminated.
    case exited(code: Int)
    /// A terminating signal arrived while it ran, or after it ended but before stage-out began.
    case interrupted(signal: Int32)
}

/// Steps 11–14: W3 (`running`), the interpreter, the logs, the spawn and the wait (with the
/// periodic sync, issue 12, while it lasts).
enum ScriptRun {
    /// Also hands back the staged job as the run leaves it: a periodic sync moves its manifest on,
    /// so stage-out and a rescue copy only what changed since the last round.
    static func run(state: JobStateWriter, workDir: WorkDir, staged: StagedJob,
                    supervisor: any JobSupervisor) throws(RunFailure) -> (ScriptEnd, StagedJob) {
        let context = state.context
        let nodes = nodeList(context)
        let w3 = state.write(retry: true, stop: supervisor) { r in
            r.jobState = .running
            r.phase = .running
            r.startTime = Timestamp.now()
            r.allNodes = nodes
            r.stageIn = staged.statistics
            if !workDir.usesScratch {
                r.mainNode = context.host
                r.workDir = workDir.path
                context.fillRunnerFields(&r)
            }
        }
        try requireWritten(w3, label: "W3", infoPath: state.infoPath)
        try checkpoint(supervisor)
        let interpreter = try resolveInterpreter(context, record: state.record)              // 12
        let scriptPath = try resolveScriptPath(context, record: state.record, workDir: workDir)
        Log.info("Executing script '\(scriptPath)'.")                                        // 13
        try spawn(state: state, interpreter: interpreter, scriptPath: scriptPath, workDir: workDir, supervisor: supervisor)
        let sync = PeriodicSync.make(state: state, workDir: workDir, staged: staged, supervisor: supervisor)
        let beat = context.heartbeatInterval
        var nextBeat = beat.map { monotonicSeconds() + $0 }
        let tickInterval = sync.map { min($0.tickInterval, beat ?? .infinity) } ?? beat
        supervisor.waitForScript(tickInterval: tickInterval) {                                  // 14
            sync?.tick()
            if let b = beat, let due = nextBeat, monotonicSeconds() >= due - 0.05 {
                state.heartbeat(supervisor)
                nextBeat = monotonicSeconds() + b
            }
        }
        let after = sync?.finish(staged) ?? staged
        if let sig = supervisor.terminationSignal { return (.interrupted(signal: sig), after) }
        return (.exited(code: supervisor.scriptExitCode ?? ExitStatus.internalError.jobExitCode), after)
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

    /// R89: the interpreter on PATH, or an absolute executable.
    static func resolveInterpreter(_ context: JobContext, record: InfoRecord) throws(RunFailure) -> String {
        let name = record.interpreter ?? context.settings.defaultInterpreter
        if name.hasPrefix("/") {
            if let st = FileSystem.stat(name), st.isRegular, access(name, X_OK) == 0 { return name }
        } else if let found = findExecutable(name, path: context.environment["PATH"]) {
            return found
        }
        throw .error("Interpreter '\(name)' is not available on node '\(context.host)'.")
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

    /// R90: stdout/stderr files, environment (R91), spawn.
    private static func spawn(state: JobStateWriter, interpreter: String, scriptPath: String, workDir: WorkDir,
                              supervisor: any JobSupervisor) throws(RunFailure) {
        let context = state.context
        let record = state.record
        // Both logs stay open (in this process) until the script has been started.
        let out = try openLog(workDir.path + "/" + record.stdoutFile)
        let err = try openLog(workDir.path + "/" + record.stderrFile)
        let scriptEnv = ScriptEnvironment.build(base: context.environment, record: record, infoPath: context.infoPath,
                                                workDir: workDir.path, walltimeSeconds: context.walltimeSeconds(facts: state.facts),
                                                inheritedInfoIgnored: context.inheritedInfoIgnored)
        // A relative plain-mode path is relative to the initial directory, not the work dir.
        let argPath = scriptPath.hasPrefix("/") ? scriptPath : FileSystem.normalizeLexically(scriptPath, relativeTo: context.initialDirectory)
        let takeTerminal = context.system == .local && isatty(0) == 1
        try checkpoint(supervisor)
        if let code = supervisor.spawnScript(executable: interpreter, arguments: [argPath] + context.arguments.scriptArguments,
                                             environment: scriptEnv.entries, workDir: workDir.path,
                                             stdoutFD: out.rawValue, stderrFD: err.rawValue, takeTerminal: takeTerminal) {
            throw .error("Failed to execute script '\(scriptPath)': \(String(cString: strerror(code)))")
        }
    }

    private static func openLog(_ path: String) throws(RunFailure) -> FileDescriptor {
        if let st = FileSystem.lstat(path), st.isSymlink { unlink(path) }
        switch FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o666) {
        case .success(let fd): return fd
        case .failure(let e): throw .error(SystemError(code: e.code, operation: "create", path: path).description)
        }
    }
}

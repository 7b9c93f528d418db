import Glibc

/// How a prologue or epilogue ended (issue 14).
enum StepEnd: Sendable, Equatable {
    /// R94's code: the exit status, or 128 + the signal that killed it.
    case exited(code: Int)
    /// A terminating signal arrived first; the step is left to the process tree's termination.
    case interrupted
    /// posix_spawn failed with this errno.
    case notStarted(errno: Int32)
}

/// The argument vector that starts the user's code (R89, R90, issue 14), from the outside in:
/// `bash -c <wrapper> … <env script>` when there is an env script, then `apptainer exec --bind …
/// <image>` when there is a container, then the interpreter's words, the script and its arguments.
/// Every part is an argument of its own; nothing is joined into a string for a shell to split.
struct ScriptLaunch: Sendable, Equatable {
    /// The resolved executable (argv[0] is this path too).
    var executable: String
    /// argv after argv[0].
    var arguments: [String]
    /// The wrapper reports on fd 3 whether the env script succeeded (`ok` just before its exec).
    var reportsEnvScript: Bool

    /// The env-script wrapper: `$1` is the env script, the rest is the command. Positional
    /// parameters are cleared before `source`, so the env script sees none. `source` stands on its
    /// own, not in an `||` list, so a `set -e` in the env script works; an `exit` in it is reported
    /// by the EXIT trap. The command's first word is looked up after `source`, because the env script
    /// may put it on PATH (`module load`, a venv). fd 3 is closed before the exec, so the script
    /// inherits only 0–2 (R90).
    static let wrapper = """
        qq_run_env_script=$1; shift; qq_run_command=("$@"); set --
        trap 'printf "failed %d\\n" "$?" >&3' EXIT
        source "$qq_run_env_script"
        qq_run_rc=$?; trap - EXIT
        if [ "$qq_run_rc" -ne 0 ]; then printf 'failed %d\\n' "$qq_run_rc" >&3; exit 1; fi
        command -v "${qq_run_command[0]}" >/dev/null 2>&1 || { printf 'missing\\n' >&3; exit 127; }
        printf 'ok\\n' >&3; exec 3>&-
        exec "${qq_run_command[@]}"
        """

    /// `argv[0]` of the wrapper shell, which is `$0` (and what `ps` shows) while the env script runs.
    static let wrapperName = "qq-run-env"

    /// What qq-run needs to decide the launch; `path` is qq-run's own PATH (R89).
    struct Inputs: Sendable {
        var interpreter: String
        var options: JobEnvironmentOptions
        /// Absolute.
        var script: String
        var scriptArguments: [String]
        var workDir: String
        var path: String?
        var host: String
    }

    /// The interpreter's words (issue 14: a command with arguments, split like a shell would).
    static func interpreterWords(_ interpreter: String) throws(RunFailure) -> [String] {
        let words: [String]
        do { words = try ShellWords.split(interpreter) } catch {
            throw .error("Interpreter '\(interpreter)' cannot be split into words: \(error.description). Quote it as in a shell, e.g. interpreter=\"python3 -u\".")
        }
        guard !words.isEmpty else { throw .error("The interpreter is empty: set interpreter to a command, e.g. interpreter=bash.") }
        return words
    }

    /// R89 on the host, for the plain case (no env script, no container): the first word on PATH,
    /// or an absolute executable.
    static func resolveOnHost(_ name: String, path: String?, host: String) throws(RunFailure) -> String {
        if name.hasPrefix("/") {
            if let st = FileSystem.stat(name), st.isRegular, access(name, X_OK) == 0 { return name }
        } else if let found = findExecutable(name, path: path) {
            return found
        }
        throw .error("Interpreter '\(name)' is not available on node '\(host)'.")
    }

    static func plan(_ i: Inputs) throws(RunFailure) -> ScriptLaunch {
        let words = try interpreterWords(i.interpreter)
        var command = words + [i.script] + i.scriptArguments
        if let image = i.options.container {
            if !image.contains("://") {
                let imagePath = image.hasPrefix("/") ? image : i.workDir + "/" + image
                guard FileSystem.stat(imagePath)?.isRegular == true || FileSystem.stat(imagePath)?.isDirectory == true else {
                    throw .error("Container image '\(image)' does not exist on node '\(i.host)' (looked for '\(imagePath)'). Give an absolute path, or keep the image in the input dir so that it is staged.")
                }
            }
            let runtime = i.options.containerRuntime
                ?? (findExecutable("apptainer", path: i.path) == nil && findExecutable("singularity", path: i.path) != nil ? "singularity" : "apptainer")
            // The spool copy Slurm runs lies outside every bind; the container must see the script.
            let scriptBind = FileSystem.isSameOrInside(i.script, i.workDir) ? [] : [i.script]
            let binds = ([i.workDir] + i.options.containerMounts + scriptBind).joined(separator: ",")
            command = [runtime, "exec", "--bind", binds, image] + command
        }
        if let envScript = i.options.envScript {
            let envPath = envScript.hasPrefix("/") ? envScript : i.workDir + "/" + envScript
            guard FileSystem.stat(envPath)?.isRegular == true else {
                throw .error("Env script '\(envScript)' does not exist on node '\(i.host)' (looked for '\(envPath)'). It is taken relative to the work dir after stage-in: keep it in the input dir, or give an absolute path.")
            }
            guard let bash = findExecutable("bash", path: i.path) ?? (isExecutableFile("/bin/bash") ? "/bin/bash" : nil) else {
                throw .error("bash is not available on node '\(i.host)'; it is needed to source the env script '\(envScript)'.")
            }
            return ScriptLaunch(executable: bash, arguments: ["-c", wrapper, wrapperName, envPath] + command, reportsEnvScript: true)
        }
        let executable: String
        if i.options.container != nil {
            guard let found = findExecutable(command[0], path: i.path) else {
                throw .error("Container runtime '\(command[0])' is not available on node '\(i.host)'. Load its module in an env script, or set container-runtime to its name or path.")
            }
            executable = found
        } else {
            executable = try resolveOnHost(command[0], path: i.path, host: i.host)
        }
        return ScriptLaunch(executable: executable, arguments: Array(command.dropFirst()), reportsEnvScript: false)
    }

    /// What the wrapper wrote on fd 3, once the script's main process has ended: nil when the
    /// env script succeeded and the command was started, else the error to record (91).
    static func envScriptFailure(report: String, exitCode: Int?, envScript: String, command: String,
                                 host: String, stderrFile: String) -> String? {
        let lines = report.split(separator: "\n")
        if lines.contains("ok") { return nil }
        let output = "its error output is in '\(stderrFile)'"
        if let failed = lines.first(where: { $0.hasPrefix("failed ") }) {
            return "Env script '\(envScript)' failed with exit code \(failed.dropFirst(7)); the script was not run (\(output))."
        }
        if lines.contains("missing") {
            return "'\(command)' is not available on node '\(host)' after sourcing the env script '\(envScript)'; the script was not run."
        }
        let code = exitCode.map { " (exit code \($0))" } ?? ""
        return "Env script '\(envScript)' ended the shell\(code) before the script started (an 'exit' in it, or a signal); the script was not run (\(output))."
    }
}

/// The environment every piece of the user's code gets: R91's, then the `env` entries.
enum UserCodeEnvironment {
    static func build(state: JobStateWriter, workDir: WorkDir) -> Environment {
        let context = state.context
        var env = ScriptEnvironment.build(base: context.environment, record: state.record, infoPath: context.infoPath,
                                          workDir: workDir.path, walltimeSeconds: context.walltimeSeconds(facts: state.facts),
                                          inheritedInfoIgnored: context.inheritedInfoIgnored)
        for entry in context.jobEnvironment.variables {
            if let eq = entry.firstIndex(of: "=") { env[String(entry[..<eq])] = String(entry[entry.index(after: eq)...]) }
        }
        return env
    }
}

/// The prologue and the epilogue (issue 14): command lines run by `bash -c` in the work dir with
/// the job's environment, output appended to the job's logs, stdin from /dev/null.
enum JobSteps {
    /// Runs `command`; logs what it does and writes its exit code into the state file.
    static func run(_ name: String, _ command: String, state: JobStateWriter, workDir: WorkDir,
                    stdoutFD: Int32, stderrFD: Int32, supervisor: any JobSupervisor) -> StepEnd {
        let context = state.context
        guard let bash = findExecutable("bash", path: context.environment["PATH"]) ?? (isExecutableFile("/bin/bash") ? "/bin/bash" : nil) else {
            return .notStarted(errno: ENOENT)
        }
        Log.info("Running the \(name) '\(command)'.")
        let env = UserCodeEnvironment.build(state: state, workDir: workDir)
        let request = SpawnRequest(executable: bash, arguments: [bash, "-c", command, "qq-run-\(name)"], environment: env.entries,
                                   stdoutFD: stdoutFD, stderrFD: stderrFD, stdinFromDevNull: true, workDir: workDir.path)
        let end = supervisor.runStep(request, tickInterval: context.heartbeatInterval) { state.heartbeat(supervisor) }
        if case .exited(let code) = end {
            Log.info("The \(name) exited with code \(code).")
            state.write(retry: true, stop: supervisor) { r in
                if name == "prologue" { r.prologueExitCode = code } else { r.epilogueExitCode = code }
            }
        }
        return end
    }

    /// The epilogue after the script ended on its own (before the transfer decision): its error when
    /// the script succeeded and the epilogue did not, which fails the job (91); else nil.
    static func epilogue(state: JobStateWriter, workDir: WorkDir, scriptExitCode rc: Int,
                         supervisor: any JobSupervisor) -> String? {
        // After a signal the job is being killed: the time belongs to the rescue.
        guard let command = state.context.jobEnvironment.epilogue, supervisor.terminationSignal == nil else { return nil }
        let record = state.record
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW
        guard case .success(let out) = FileDescriptor.open(workDir.path + "/" + record.stdoutFile, flags, mode: 0o666),
              case .success(let err) = FileDescriptor.open(workDir.path + "/" + record.stderrFile, flags, mode: 0o666) else {
            return rc == 0 ? "Cannot open the job's logs in '\(workDir.path)' for the epilogue '\(command)'; it was not run." : nil
        }
        let end = run("epilogue", command, state: state, workDir: workDir, stdoutFD: out.rawValue, stderrFD: err.rawValue,
                      supervisor: supervisor)
        switch end {
        case .exited(let code) where code != 0 && rc == 0:
            return "Epilogue '\(command)' exited with code \(code) after the script succeeded (its output is in '\(record.stderrFile)')."
        case .notStarted(let e) where rc == 0:
            return "Failed to execute the epilogue '\(command)': \(String(cString: strerror(e)))."
        default:
            return nil
        }
    }
}

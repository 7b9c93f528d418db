import CQQSystem
import Glibc

/// How qq-run was started, decided before it touches a state file (R84 steps 3–4): the command
/// line, the settings, the batch system and the start mode.
struct Invocation: Sendable {
    let arguments: RunnerArguments
    let environment: Environment
    let settings: Settings
    let mode: JobContext.Mode
    let system: BatchSystemName
    let jobEnv: BatchJobEnvironment
    /// The batch system's id; for a qq-managed Local job the state file's id replaces it.
    let jobID: String
    let host: String
    let initialDirectory: String
    let inheritedInfoIgnored: Bool
    /// qq-managed mode: `QQ_INFO`, absolute.
    let managedInfoPath: String?

    func context(system: BatchSystemName? = nil, jobID: String? = nil, infoPath: String,
                 plainOptions: PlainOptions?) -> JobContext {
        JobContext(invocation: self, system: system ?? self.system, jobID: jobID ?? self.jobID, infoPath: infoPath,
                   plainOptions: plainOptions)
    }

    static let notInBatchMessage = "This script must be run as a qq job within the batch system. To submit it properly, use: 'qq submit', or submit it with sbatch/qsub. To run it on this machine, set QQ_BATCH_SYSTEM=Local."

    /// Parses the command line and decides the mode and batch system (R47, R48, R48a, R64, R65, R68).
    static func read(arguments raw: [String], environment: Environment) throws(RunFailure) -> Invocation {
        let arguments: RunnerArguments
        do {
            arguments = try RunnerArguments.parse(raw)
        } catch {
            throw .fatal(RunnerArguments.message(for: error))
        }
        if arguments.help { print(RunnerArguments.usage); throw .terminatedNormally }
        if arguments.version { print(QQVersion.versionLine("qq-run")); throw .terminatedNormally }
        var env = environment
        if arguments.local { env["QQ_BATCH_SYSTEM"] = "Local" }
        let initialDirectory = FileSystem.logicalCurrentDirectory(environment: env)

        var system = BatchSystemName.local
        var jobEnv = BatchJobEnvironment()
        var recognized = false
        switch selectBatchSystemInsideJob(environment: env) {
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
        let settings = Settings.load(environment: env, system: system, workingDirectory: initialDirectory)

        var mode = JobContext.Mode.plain
        var inheritedInfoIgnored = false
        var managedInfoPath: String?
        if let info = env.nonEmpty("QQ_INFO") {
            if inheritedFromEnclosingJob(infoPath: info, environment: env, initialDirectory: initialDirectory) {
                inheritedInfoIgnored = true
                Log.info("Ignoring QQ_INFO inherited from job '\(env["QQ_JOB_ID"] ?? "")'.")
            } else {
                guard env.nonEmpty("QQ_ENV_SET") != nil || recognized else { throw .notInBatchEnvironment(notInBatchMessage) }
                mode = .managed
                managedInfoPath = FileSystem.normalizeLexically(info, relativeTo: initialDirectory)
            }
        }
        if mode == .plain {
            if !inheritedInfoIgnored, env.nonEmpty("QQ_ENV_SET") != nil {
                throw .fatal("'QQ_INFO' environment variable is not set.")
            }
            guard recognized else { throw .notInBatchEnvironment(notInBatchMessage) }
        }
        if system == .pbs {
            try FallbackRunner.exec(settings: settings, environment: env, arguments: raw,
                                    reason: "PBS is not supported by qq-run \(QQVersion.version); set QQ_FALLBACK_RUNNER.",
                                    failure: RunFailure.fatal)
        }
        let jobID: String
        if system == .local {
            jobID = "local-\(time(nil))-\(getpid())"
        } else {
            guard let id = jobEnv.jobID else { throw .fatal("Job has no associated job id.") }
            jobID = id
        }
        return Invocation(arguments: arguments, environment: env, settings: settings, mode: mode, system: system,
                          jobEnv: jobEnv, jobID: jobID, host: thisHostName(), initialDirectory: initialDirectory,
                          inheritedInfoIgnored: inheritedInfoIgnored, managedInfoPath: managedInfoPath)
    }

    /// R65: `QQ_INFO` inherited from an enclosing job submitted with `--export=ALL`.
    private static func inheritedFromEnclosingJob(infoPath: String, environment env: Environment,
                                                  initialDirectory: String) -> Bool {
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
}

/// R48a / R117: hands the job to `QQ_FALLBACK_RUNNER run <original arguments>`, loop-guarded.
enum FallbackRunner {
    /// Execs the fallback runner; returns only by throwing `failure(message)`.
    static func exec(settings: Settings, environment env: Environment, arguments: [String], reason: String,
                     failure: (String) -> RunFailure) throws(RunFailure) {
        guard let fallback = settings.fallbackRunner,
              let path = findExecutable(fallback, path: env["PATH"]) else { throw failure(reason) }
        let me = FileSystem.stat("/proc/self/exe")
        let target = FileSystem.stat(path)
        let pointsBack = (me != nil && target != nil && me?.identity == target?.identity)
            || env["QQ_FALLBACK_ACTIVE"] == String(getpid())
        if pointsBack { throw failure("QQ_FALLBACK_RUNNER points back to qq-run.") }
        var childEnv = env
        childEnv["QQ_FALLBACK_ACTIVE"] = String(getpid())
        Log.info("Handing the job to '\(path)'.")
        let code = execReplacingProcess(path, [path, "run"] + arguments, childEnv)
        throw failure("Cannot execute QQ_FALLBACK_RUNNER '\(path)': \(String(cString: strerror(code))).")
    }
}

/// Replaces this process with `path` (the fallback runner, or the next cycle of a Local loop job):
/// every signal back to its default disposition and an empty signal mask first, so nothing qq-run
/// blocked or caught leaks into the new program. Returns only on failure, with the errno.
func execReplacingProcess(_ path: String, _ arguments: [String], _ env: Environment) -> Int32 {
    for sig in 1..<65 where sig != SIGKILL && sig != SIGSTOP { _ = cqq_signal_default(Int32(sig)) }
    var empty = sigset_t()
    cqq_sigset_empty(&empty)
    pthread_sigmask(SIG_SETMASK, &empty, nil)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = env.entries.map { strdup($0) } + [nil]
    execve(path, argv, envp)
    return errno
}

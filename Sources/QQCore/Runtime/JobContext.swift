import CQQSystem
import Glibc

/// What qq-run knows about the job once setup has decided it. It never changes afterwards: facts
/// that arrive later (KillWait, the scheduler's record, the kill reason) are `BackgroundFacts`.
struct JobContext: Sendable {
    enum Mode: Sendable { case managed, plain }

    /// How qq-run was started; the state file's step may have corrected the system and the id.
    let invocation: Invocation
    let system: BatchSystemName
    let jobID: String
    let infoPath: String
    /// Plain mode's directives and `QQ_OPT_*` overrides; nil in qq-managed mode.
    let plainOptions: PlainOptions?

    var arguments: RunnerArguments { invocation.arguments }
    var environment: Environment { invocation.environment }
    /// Read once per process: environment over config file over default.
    var settings: Settings { invocation.settings }
    var mode: Mode { invocation.mode }
    var jobEnv: BatchJobEnvironment { invocation.jobEnv }
    var host: String { invocation.host }
    /// The job's initial working directory (logical): plain mode's input dir on Slurm.
    var initialDirectory: String { invocation.initialDirectory }
    /// `QQ_INFO` came from an enclosing job and was ignored (R65).
    var inheritedInfoIgnored: Bool { invocation.inheritedInfoIgnored }

    var retryPolicy: RetryPolicy { RetryPolicy.from(settings) }
    /// `resubmit-on` (issue 11): plain mode's directive or `QQ_OPT_RESUBMIT_ON`; in qq-managed mode
    /// only the variable (qq submit rejects directives it does not know).
    var resubmitOn: [String] { plainOptions?.resubmitOn ?? splitListOption(environment.nonEmpty("QQ_OPT_RESUBMIT_ON") ?? "") }
    /// `sync-interval` (issue 12): plain mode's directive or `QQ_OPT_SYNC_INTERVAL`; in qq-managed
    /// mode only the variable.
    var syncIntervalText: String? { plainOptions?.syncInterval ?? environment.nonEmpty("QQ_OPT_SYNC_INTERVAL") }
    var heartbeatInterval: Double? { settings.heartbeatInterval > 0 ? Double(settings.heartbeatInterval) : nil }
    /// R113: results are rescued on a kill unless QQ_RESCUE / `rescue` says no.
    var rescuesResults: Bool { plainOptions?.rescue ?? settings.rescue }
    /// Issue 14: plain mode's directives and overrides; in qq-managed mode `QQ_OPT_*` only.
    var jobEnvironment: JobEnvironmentOptions {
        plainOptions?.jobEnvironment ?? JobEnvironmentOptions.read(directives: Directives(), environment: environment)
    }

    /// The time limit in seconds: the batch environment's, else plain mode's `walltime`, else what
    /// the scheduler's record said once it arrived (R77).
    func walltimeSeconds(facts: BackgroundFacts) -> Int? {
        jobEnv.walltimeSeconds ?? plainOptions?.walltime.flatMap(parseWalltime)
            ?? facts.schedulerRecord()?.timeLimit.flatMap(parseWalltime)
    }

    func fillRunnerFields(_ r: inout InfoRecord) { RunnerFields.fill(&r, system: system, jobEnv: jobEnv, settings: settings) }

    /// The copy engine with the job's settings: `QQ_COPY_STREAMS`, else streams tuned from the job's
    /// CPUs up to `CopyEngine.defaultStreams` (R103, issue 13); `QQ_VERIFY`; the retry policy (R105).
    func copyEngine(resources r: Resources, shouldStop: @escaping @Sendable () -> Bool = { false }) -> CopyEngine {
        let ncpus = r.ncpus ?? r.ncpusPerNode.map { $0 * (r.nnodes ?? 1) } ?? Int(cqq_online_cpus())
        return CopyEngine(streams: settings.copyStreams, cpus: ncpus,
                          verifyChecksum: settings.verifyChecksum, retry: retryPolicy, shouldStop: shouldStop)
    }
}

/// Plain-mode options after R79's precedence: environment > directive > default.
struct PlainOptions: Sendable {
    var workDir: String?
    var workDirExplicit = false
    var exclude: [String] = []
    var include: [String] = []
    var transferMode: [String] = []
    var interpreter: String?
    var walltime: String?
    var rescue = true
    /// Loop and continuous jobs (issue 11).
    var jobType: JobType = .standard
    var loopStart: Int?
    var loopEnd: Int?
    var archive: String?
    var archiveFormat: String?
    var archiveMode: [String] = []
    var resubmitOn: [String] = []
    /// Issue 14: env script, variables, container, prologue and epilogue.
    var jobEnvironment = JobEnvironmentOptions()
    /// `sync-interval` (issue 12), as written.
    var syncInterval: String?
}

/// The fields every write of this runner carries (R62, R27): who runs the job, where, how often it
/// beats.
enum RunnerFields {
    static func fill(_ r: inout InfoRecord, system: BatchSystemName, jobEnv: BatchJobEnvironment, settings: Settings) {
        r.runner = QQVersion.runner
        r.runnerPID = Int(getpid())
        if system.isSlurmFamily { r.cluster = jobEnv.cluster }
        if system == .local { r.pidNamespace = readOwnPIDNamespace() }
        r.heartbeatInterval = settings.heartbeatInterval
        if let a = jobEnv.arrayJobID, let t = jobEnv.arrayTaskID { r.arrayJobID = a; r.arrayTaskID = t }
    }
}

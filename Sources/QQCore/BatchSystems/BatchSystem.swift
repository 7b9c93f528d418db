/// How a query runs (R57 timeout, R59 `sacct`): handed in from `Settings`, never read from the
/// environment, so the config file counts as much as a `QQ_*` variable.
package struct BatchQueryOptions: Sendable, Hashable {
    /// Seconds before each helper command is killed.
    package var timeout: Double
    /// R59 step 3: ask `sacct` when the controller does not know the job.
    package var useSacct: Bool

    package init(timeout: Double, useSacct: Bool) { self.timeout = timeout; self.useSacct = useSacct }
    package init(_ settings: Settings) { self.init(timeout: settings.batchTimeout, useSacct: settings.useSacct) }

    /// The same options with another timeout: qq-run's own queries during a job have fixed short
    /// ones, so that a slow controller cannot hold up a rescue.
    package func withTimeout(_ seconds: Double) -> BatchQueryOptions {
        BatchQueryOptions(timeout: seconds, useSacct: useSacct)
    }
}

/// Asking a batch system about a job (§5.6). The job-environment half lives elsewhere.
package protocol BatchSystem: Sendable {
    var name: BatchSystemName { get }
    /// One query (R57: attempted once). `record` is the job's state file when there is one: Local
    /// needs its host, pid and namespace (R62); Slurm its `cluster` (R58).
    func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment, options: BatchQueryOptions,
                  reaping: any ChildReaping) -> BatchAnswer
    /// Many queries at once (issue 13, item 5): one answer per job, in order, each the one
    /// `queryJob` would give. Slurm asks the controller once; the default runs `queryJob` per job,
    /// at most 8 at a time.
    func queryJobs(_ jobs: [BatchQueryRequest], environment: Environment, options: BatchQueryOptions,
                   reaping: any ChildReaping) -> [BatchAnswer]
    /// The current user's pending jobs (in the queue, not started), in one call. qq-info shows
    /// those whose info file qq-run has not written yet (issue 8, item 12). A system without
    /// such a listing returns none and runs nothing.
    func pendingJobs(environment: Environment, options: BatchQueryOptions,
                     reaping: any ChildReaping) -> Result<[BatchJobRecord], BatchUnavailableError>
    /// The first line of the batch script the scheduler keeps for a job of `pendingJobs` (one
    /// call); nil when it cannot be had.
    func batchScriptFirstLine(of job: BatchJobRecord, environment: Environment, options: BatchQueryOptions,
                              reaping: any ChildReaping) -> String?
}

/// The batch system could not answer a listing: command missing, timed out or failed.
package struct BatchUnavailableError: Error, Sendable, Hashable, CustomStringConvertible {
    package var reason: String
    package init(reason: String) { self.reason = reason }
    package var description: String { reason }
}

/// One job for `queryJobs`: its id and, when there is one, its state file (see `queryJob`).
package struct BatchQueryRequest: Sendable {
    package var jobID: String
    package var record: InfoRecord?
    package init(_ jobID: String, record: InfoRecord?) { self.jobID = jobID; self.record = record }
}

extension BatchSystem {
    package func queryJobs(_ jobs: [BatchQueryRequest], environment: Environment, options: BatchQueryOptions,
                          reaping: any ChildReaping) -> [BatchAnswer] {
        queryEachJob(jobs, environment: environment, options: options, reaping: reaping)
    }

    /// No listing by default: Local jobs are never queued (they start at once and write their file
    /// first), and PBS has none yet (no PBS cluster to test against). Nothing is asked.
    package func pendingJobs(environment: Environment, options: BatchQueryOptions,
                            reaping: any ChildReaping) -> Result<[BatchJobRecord], BatchUnavailableError> {
        .success([])
    }

    package func batchScriptFirstLine(of job: BatchJobRecord, environment: Environment, options: BatchQueryOptions,
                                     reaping: any ChildReaping) -> String? {
        nil
    }

    /// `queryJob` per job, at most 8 at a time.
    package func queryEachJob(_ jobs: [BatchQueryRequest], environment: Environment, options: BatchQueryOptions,
                             reaping: any ChildReaping) -> [BatchAnswer] {
        concurrentMap(count: jobs.count, limit: 8) { i in
            queryJob(jobs[i].jobID, record: jobs[i].record, environment: environment, options: options, reaping: reaping)
        }
    }

    package func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment,
                         options: BatchQueryOptions) -> BatchAnswer {
        queryJob(jobID, record: record, environment: environment, options: options, reaping: DirectReaping())
    }
}

package func batchSystem(named name: BatchSystemName) -> any BatchSystem {
    switch name {
    case .slurm, .slurmIT4I, .slurmLumi: return SlurmSystem(name: name)
    case .pbs: return PBSSystem()
    case .local: return LocalSystem()
    }
}

/// `QQ_BATCH_SYSTEM` names no known system (R47).
package struct UnknownBatchSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    package var name: String
    package var description: String { "No batch system registered as '\(name)'." }
}

/// R49: the system for a bare job id (outside a job): `QQ_BATCH_SYSTEM`; else the Slurm family
/// when `sbatch` and `scontrol` are on PATH (refined by `it4ifree`, `lumi-allocations`); else PBS
/// when `qsub` and `qstat` are; else Local. Slurm is checked first because some Slurm sites
/// install `qsub` wrappers.
package func batchSystemOutsideJob(environment: Environment) throws(UnknownBatchSystemError) -> BatchSystemName {
    if let explicit = environment.nonEmpty("QQ_BATCH_SYSTEM") {
        guard let name = BatchSystemName(rawValue: explicit) else { throw UnknownBatchSystemError(name: explicit) }
        return name
    }
    let path = environment["PATH"]
    func has(_ program: String) -> Bool { findExecutable(program, path: path) != nil }
    if has("sbatch") && has("scontrol") {
        if has("it4ifree") { return .slurmIT4I }
        if has("lumi-allocations") { return .slurmLumi }
        return .slurm
    }
    if has("qsub") && has("qstat") { return .pbs }
    return .local
}

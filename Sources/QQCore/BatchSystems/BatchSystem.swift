/// Asking a batch system about a job (§5.6). The job-environment half lives elsewhere.
public protocol BatchSystem: Sendable {
    var name: BatchSystemName { get }
    /// One query (R57: attempted once). `record` is the job's state file when there is one: Local
    /// needs its host, pid and namespace (R62); Slurm its `cluster` (R58).
    func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment,
                  reaping: any ChildReaping) -> BatchAnswer
}

extension BatchSystem {
    public func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment) -> BatchAnswer {
        queryJob(jobID, record: record, environment: environment, reaping: DirectReaping())
    }
}

public func batchSystem(named name: BatchSystemName) -> any BatchSystem {
    switch name {
    case .slurm, .slurmIT4I, .slurmLumi: return SlurmSystem(name: name)
    case .pbs: return PBSSystem()
    case .local: return LocalSystem()
    }
}

/// `QQ_BATCH_SYSTEM` names no known system (R47).
public struct UnknownBatchSystemError: Error, Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var description: String { "No batch system registered as '\(name)'." }
}

/// R49: the system for a bare job id (outside a job): `QQ_BATCH_SYSTEM`; else the Slurm family
/// when `sbatch` and `scontrol` are on PATH (refined by `it4ifree`, `lumi-allocations`); else PBS
/// when `qsub` and `qstat` are; else Local. Slurm is checked first because some Slurm sites
/// install `qsub` wrappers.
public func batchSystemOutsideJob(environment: Environment) throws(UnknownBatchSystemError) -> BatchSystemName {
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

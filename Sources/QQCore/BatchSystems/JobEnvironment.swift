/// Selecting the batch system inside a job (R47, R48).
package enum SystemSelection: Sendable, Equatable {
    case system(BatchSystemName)
    /// `QQ_BATCH_SYSTEM` names no system: `No batch system registered as '<name>'.`
    case unknownName(String)
    /// No batch environment at all.
    case none
}

package func selectBatchSystemInsideJob(environment env: Environment) -> SystemSelection {
    if let name = env.nonEmpty("QQ_BATCH_SYSTEM") {
        guard let system = BatchSystemName(rawValue: name) else { return .unknownName(name) }
        return .system(system)
    }
    if env.nonEmpty("PBS_JOBID") != nil { return .system(.pbs) }
    if env.nonEmpty("SLURM_JOB_ID") != nil {
        let path = env["PATH"]
        if findExecutable("it4ifree", path: path) != nil { return .system(.slurmIT4I) }
        if findExecutable("lumi-allocations", path: path) != nil { return .system(.slurmLumi) }
        return .system(.slurm)
    }
    return .none
}

/// What the batch environment says about the job (R50). Every field is optional except the id.
package struct BatchJobEnvironment: Sendable, Equatable {
    package var jobID: String?
    package var arrayJobID: String?
    package var arrayTaskID: String?
    package var restartCount = 0
    package var jobName: String?
    package var queue: String?
    package var account: String?
    package var cluster: String?
    package var submitHost: String?
    package var submitDir: String?
    package var nodeList: String?
    package var numNodes: Int?
    /// Sum over `SLURM_JOB_CPUS_PER_NODE` items `N` or `N(xM)`.
    package var totalCPUs: Int?
    package var memPerNodeKB: Int64?
    package var memPerCPUKB: Int64?
    package var gpusPerNode: Int?
    package var walltimeSeconds: Int?
    package var lumiScratchType: String?
    /// `SLURM_STEP_ID` is set: this is an `srun` task, not the batch step (R64).
    package var isJobStep = false

    package init() {}

    package static func read(system: BatchSystemName, environment env: Environment) -> BatchJobEnvironment {
        var e = BatchJobEnvironment()
        switch system {
        case .slurm, .slurmIT4I, .slurmLumi:
            e.jobID = env.nonEmpty("SLURM_JOB_ID")
            e.arrayJobID = env.nonEmpty("SLURM_ARRAY_JOB_ID")
            e.arrayTaskID = env.nonEmpty("SLURM_ARRAY_TASK_ID")
            e.restartCount = env.nonEmpty("SLURM_RESTART_COUNT").flatMap { Int($0) } ?? 0
            e.jobName = env.nonEmpty("SLURM_JOB_NAME")
            e.queue = env.nonEmpty("SLURM_JOB_PARTITION")
            e.account = env.nonEmpty("SLURM_JOB_ACCOUNT")
            e.cluster = env.nonEmpty("SLURM_CLUSTER_NAME")
            e.submitHost = env.nonEmpty("SLURM_SUBMIT_HOST")
            e.submitDir = env.nonEmpty("SLURM_SUBMIT_DIR")
            e.nodeList = env.nonEmpty("SLURM_JOB_NODELIST")
            e.numNodes = env.nonEmpty("SLURM_JOB_NUM_NODES").flatMap { Int($0) }
            e.totalCPUs = env.nonEmpty("SLURM_JOB_CPUS_PER_NODE").flatMap(sumSlurmCPUs)
            e.memPerNodeKB = env.nonEmpty("SLURM_MEM_PER_NODE").flatMap { Int64($0) }.map { $0 * 1024 }
            e.memPerCPUKB = env.nonEmpty("SLURM_MEM_PER_CPU").flatMap { Int64($0) }.map { $0 * 1024 }
            e.gpusPerNode = env.nonEmpty("SLURM_GPUS_ON_NODE").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            if let end = env.nonEmpty("SLURM_JOB_END_TIME").flatMap({ Int($0) }),
               let start = env.nonEmpty("SLURM_JOB_START_TIME").flatMap({ Int($0) }), end > start {
                e.walltimeSeconds = end - start
            }
            e.lumiScratchType = env.nonEmpty("LUMI_SCRATCH_TYPE")
            e.isJobStep = env["SLURM_STEP_ID"] != nil
        case .pbs:
            e.jobID = env.nonEmpty("PBS_JOBID")
        case .local:
            break
        }
        return e
    }
}

/// `128(x2),64` → 320.
func sumSlurmCPUs(_ text: String) -> Int? {
    var total = 0
    for item in text.split(separator: ",") {
        if let open = item.firstIndex(of: "(") {
            guard let n = Int(item[..<open]), item.hasSuffix(")"),
                  item[item.index(after: open)...].hasPrefix("x"),
                  let m = Int(item[item.index(open, offsetBy: 2)..<item.index(before: item.endIndex)]) else { return nil }
            total += n * m
        } else {
            guard let n = Int(item) else { return nil }
            total += n
        }
    }
    return total
}

/// Walltime as `H:MM:SS` with unbounded hours (§4.6).
package func formatWalltime(seconds: Int) -> String {
    let s = max(0, seconds)
    let m = (s / 60) % 60, sec = s % 60
    return "\(s / 3600):\(m < 10 ? "0" : "")\(m):\(sec < 10 ? "0" : "")\(sec)"
}

/// Parses `H:MM:SS`, `[D-]HH:MM:SS` (Slurm) or wdhms (`2d`, `1h30m`, `90m`; §4.6) into seconds.
package func parseWalltime(_ text: String) -> Int? {
    let t = text.trimmingBlanks.lowercased()
    if t.isEmpty { return nil }
    if t.contains(":") {
        var days = 0
        var clock = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            guard let d = Int(t[..<dash]) else { return nil }
            days = d
            clock = t[t.index(after: dash)...]
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.contains(where: { ($0 ?? -1) < 0 }) else { return nil }
        let v = parts.compactMap { $0 }
        switch v.count {
        case 3: return days * 86400 + v[0] * 3600 + v[1] * 60 + v[2]
        case 2: return days * 86400 + v[0] * 60 + v[1]
        default: return nil
        }
    }
    var total = 0
    var number = ""
    for c in t {
        if c.isNumber { number.append(c); continue }
        guard let n = Int(number) else { return nil }
        number = ""
        switch c {
        case "w": total += n * 604_800
        case "d": total += n * 86_400
        case "h": total += n * 3600
        case "m": total += n * 60
        case "s": total += n
        default: return nil
        }
    }
    if !number.isEmpty { guard let n = Int(number) else { return nil }; total += n }
    return total
}

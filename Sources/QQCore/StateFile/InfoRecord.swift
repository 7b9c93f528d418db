/// The state file (`<job>.qqinfo`) as a value: every field qq defines (SPEC §4.2–4.4), then
/// qq-run's extension fields (§4.5), then unknown top-level keys kept verbatim (R29, R35).
/// The codec (`InfoFileCodec`) turns text into this and back; nothing here does I/O.

/// Batch systems named in state files (§5.1). The raw value is the exact, case-sensitive name.
public enum BatchSystemName: String, Sendable, CaseIterable {
    case pbs = "PBS"
    case slurm = "Slurm"
    case slurmIT4I = "SlurmIT4I"
    case slurmLumi = "SlurmLumi"
    case local = "Local"

    public var isSlurmFamily: Bool { self == .slurm || self == .slurmIT4I || self == .slurmLumi }
}

/// The state written in the file: the "naive" state (R20). Unrecognised text reads as `unknown`.
public enum NaiveState: String, Sendable, CaseIterable {
    case queued, running, finished, failed, killed, unknown

    /// Lowercase match; empty or unrecognised text is `unknown` (field 11).
    public init(reading text: String) { self = NaiveState(rawValue: text.lowercased()) ?? .unknown }
}

/// `job_type`, read case-insensitively (field 8). Unknown text is kept as it is.
public enum JobType: Sendable, Hashable {
    case standard, loop, continuous
    case other(String)

    public init(reading text: String) {
        switch text.lowercased() {
        case "standard": self = .standard
        case "loop": self = .loop
        case "continuous": self = .continuous
        default: self = .other(text)
        }
    }

    public var text: String {
        switch self {
        case .standard: return "standard"
        case .loop: return "loop"
        case .continuous: return "continuous"
        case .other(let t): return t
        }
    }
}

/// What qq-run is doing (extension field `phase`).
public enum Phase: String, Sendable, CaseIterable {
    case setup, stageIn = "stage_in", running, stageOut = "stage_out", rescue, done
}

/// Why a job was killed (extension field `kill_reason`, R112).
public enum KillReason: String, Sendable, CaseIterable {
    case cancelled, timeout, preempted, signal, lost
}

/// The `resources` mapping (R21). Only these keys exist; each is optional.
public struct Resources: Sendable, Hashable {
    public var nnodes: Int?
    public var ncpus: Int?
    public var ncpusPerNode: Int?
    public var mem: Size?
    public var memPerNode: Size?
    public var memPerCPU: Size?
    public var ngpus: Int?
    public var ngpusPerNode: Int?
    /// `H:MM:SS`, as written (hours unbounded).
    public var walltime: String?
    /// The work-dir *type* (`scratch`, `flash`, `input_dir`, `job_dir`, `scratch_local`, …).
    public var workDir: String?
    public var workSize: Size?
    public var workSizePerNode: Size?
    public var workSizePerCPU: Size?
    /// `props`, in file order: key → value (`'true'`, `'false'` or a value).
    public var props: [KeyValue]

    public init(nnodes: Int? = nil, ncpus: Int? = nil, ncpusPerNode: Int? = nil, mem: Size? = nil,
                memPerNode: Size? = nil, memPerCPU: Size? = nil, ngpus: Int? = nil, ngpusPerNode: Int? = nil,
                walltime: String? = nil, workDir: String? = nil, workSize: Size? = nil,
                workSizePerNode: Size? = nil, workSizePerCPU: Size? = nil, props: [KeyValue] = []) {
        self.nnodes = nnodes; self.ncpus = ncpus; self.ncpusPerNode = ncpusPerNode; self.mem = mem
        self.memPerNode = memPerNode; self.memPerCPU = memPerCPU; self.ngpus = ngpus
        self.ngpusPerNode = ngpusPerNode; self.walltime = walltime; self.workDir = workDir
        self.workSize = workSize; self.workSizePerNode = workSizePerNode; self.workSizePerCPU = workSizePerCPU
        self.props = props
    }

    /// R25: a job uses scratch unless its work-dir type, normalised, is `inputdir` or `jobdir`.
    public var usesScratch: Bool {
        guard let t = workDir else { return true }
        let n = t.lowercased().filter { $0 != "-" && $0 != "_" }
        return n != "inputdir" && n != "jobdir"
    }
}

public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) { self.key = key; self.value = value }
}

/// `loop_info` (§4.4), copied through unchanged.
public struct LoopInfo: Sendable, Hashable {
    public var start: Int
    public var end: Int
    public var archive: String?
    public var archiveFormat: String?
    public var current: Int?
    public var archiveMode: [String]

    public init(start: Int, end: Int, archive: String? = nil, archiveFormat: String? = nil,
                current: Int? = nil, archiveMode: [String] = []) {
        self.start = start; self.end = end; self.archive = archive; self.archiveFormat = archiveFormat
        self.current = current; self.archiveMode = archiveMode
    }
}

/// `stage_in` (R27).
public struct StageInStats: Sendable, Hashable {
    public var files: Int
    public var bytes: Int64
    public var seconds: Double
    public init(files: Int, bytes: Int64, seconds: Double) { self.files = files; self.bytes = bytes; self.seconds = seconds }
}

/// `stage_out.mode`.
public enum StageOutMode: String, Sendable, CaseIterable {
    case transfer, logsOnly = "logs_only", rescue
}

/// `stage_out` (R27): mode, files, bytes, seconds; then the counters, each omitted when 0 or empty.
public struct StageOutStats: Sendable, Hashable {
    public var mode: StageOutMode
    public var files: Int
    public var bytes: Int64
    public var seconds: Double
    public var errors: Int
    public var deleted: Int
    /// Input-dir files renamed aside as `<name>.qq-kept-<job id>` before a result took their name
    /// (qq-run extension, R99 as changed by issue 8).
    public var kept: Int
    public var notCopied: Int
    /// Up to 20 relative paths (all are in `<work_dir>/.qq-run-not-copied`).
    public var notCopiedPaths: [String]

    public init(mode: StageOutMode, files: Int = 0, bytes: Int64 = 0, seconds: Double = 0, errors: Int = 0,
                deleted: Int = 0, kept: Int = 0, notCopied: Int = 0, notCopiedPaths: [String] = []) {
        self.mode = mode; self.files = files; self.bytes = bytes; self.seconds = seconds; self.errors = errors
        self.deleted = deleted; self.kept = kept; self.notCopied = notCopied; self.notCopiedPaths = notCopiedPaths
    }
}

/// `usage` (R96): the script's process tree.
public struct Usage: Sendable, Hashable {
    /// Largest single process's peak RSS, kB.
    public var maxRSS: Int64
    public var userCPU: Double
    public var sysCPU: Double
    public init(maxRSS: Int64, userCPU: Double, sysCPU: Double) { self.maxRSS = maxRSS; self.userCPU = userCPU; self.sysCPU = sysCPU }
}

/// An unknown top-level key: its key and the exact text of its lines (key line included),
/// written back verbatim after the known fields (R29, R35).
public struct RawEntry: Sendable, Hashable {
    public var key: String
    public var text: String
    public init(key: String, text: String) { self.key = key; self.text = text }
}

/// One job's state file.
public struct InfoRecord: Sendable, Hashable {
    // §4.2, in table order.
    public var batchSystem: BatchSystemName
    public var qqVersion: String
    public var username: String
    public var jobID: String
    public var jobName: String
    public var scriptName: String
    public var queue: String
    public var jobType: JobType
    public var inputMachine: String
    public var inputDir: String
    public var jobState: NaiveState
    public var submissionTime: Timestamp
    public var stdoutFile: String
    public var stderrFile: String
    public var resources: Resources
    public var excludedFiles: [String]
    public var includedFiles: [String]
    /// nil when absent (then `[success]` applies, R98); qq-run always writes it in plain mode.
    public var transferMode: [String]?
    public var depend: [String]
    public var loopInfo: LoopInfo?
    public var account: String?
    public var server: String?
    public var interpreter: String?
    public var startTime: Timestamp?
    public var mainNode: String?
    public var allNodes: [String]
    public var workDir: String?
    public var completionTime: Timestamp?
    public var jobExitCode: Int?

    // §4.5 extension fields, in table order.
    public var runner: String?
    public var runnerPID: Int?
    public var cluster: String?
    public var pidNamespace: String?
    public var phase: Phase?
    public var heartbeat: Timestamp?
    public var heartbeatInterval: Int?
    public var restarts: Int?
    public var arrayJobID: String?
    public var arrayTaskID: String?
    public var killReason: KillReason?
    public var scriptExitCode: Int?
    public var error: String?
    public var signals: [String]
    public var stageIn: StageInStats?
    public var stageOut: StageOutStats?
    public var usage: Usage?
    public var synchronized: Bool?
    public var wiped: Timestamp?

    /// Unknown top-level keys, in their original order.
    public var unknownEntries: [RawEntry]

    public init(batchSystem: BatchSystemName, qqVersion: String, username: String, jobID: String,
                jobName: String, scriptName: String, queue: String, jobType: JobType = .standard,
                inputMachine: String, inputDir: String, jobState: NaiveState, submissionTime: Timestamp,
                stdoutFile: String, stderrFile: String, resources: Resources = Resources()) {
        self.batchSystem = batchSystem; self.qqVersion = qqVersion; self.username = username
        self.jobID = jobID; self.jobName = jobName; self.scriptName = scriptName; self.queue = queue
        self.jobType = jobType; self.inputMachine = inputMachine; self.inputDir = inputDir
        self.jobState = jobState; self.submissionTime = submissionTime; self.stdoutFile = stdoutFile
        self.stderrFile = stderrFile; self.resources = resources
        excludedFiles = []; includedFiles = []; transferMode = nil; depend = []; loopInfo = nil
        account = nil; server = nil; interpreter = nil; startTime = nil; mainNode = nil; allNodes = []
        workDir = nil; completionTime = nil; jobExitCode = nil
        runner = nil; runnerPID = nil; cluster = nil; pidNamespace = nil; phase = nil; heartbeat = nil
        heartbeatInterval = nil; restarts = nil; arrayJobID = nil; arrayTaskID = nil; killReason = nil
        scriptExitCode = nil; error = nil; signals = []; stageIn = nil; stageOut = nil; usage = nil
        synchronized = nil; wiped = nil; unknownEntries = []
    }

    /// R25.
    public var usesScratch: Bool { resources.usesScratch }

    /// The effective transfer policy tokens (`[success]` when absent).
    public var effectiveTransferMode: [String] { transferMode ?? ["success"] }
}

/// The work-dir marker `.qq-run-marker` (R45).
public struct WorkDirMarker: Sendable, Hashable {
    public var jobID: String
    public var infoFile: String
    public var inputDir: String
    public var batchSystem: BatchSystemName
    public var cluster: String?
    public var pidNamespace: String?
    public var mainNode: String
    public var created: Timestamp
    public var runner: String

    public init(jobID: String, infoFile: String, inputDir: String, batchSystem: BatchSystemName,
                cluster: String? = nil, pidNamespace: String? = nil, mainNode: String, created: Timestamp,
                runner: String) {
        self.jobID = jobID; self.infoFile = infoFile; self.inputDir = inputDir; self.batchSystem = batchSystem
        self.cluster = cluster; self.pidNamespace = pidNamespace; self.mainNode = mainNode
        self.created = created; self.runner = runner
    }
}

/// R8: two job ids denote the same job when the parts before their first `.` are equal.
public func shortJobID(_ id: String) -> Substring {
    id.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(id)
}

public func sameJob(_ a: String, _ b: String) -> Bool { shortJobID(a) == shortJobID(b) }

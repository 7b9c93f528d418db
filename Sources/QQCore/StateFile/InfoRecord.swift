/// The state file (`<job>.qqinfo`) as a value: every field qq defines (SPEC §4.2–4.4), then
/// qq-run's extension fields (§4.5), then unknown top-level keys kept verbatim (R29, R35).
/// The codec (`InfoFileCodec`) turns text into this and back; nothing here does I/O.

/// Batch systems named in state files (§5.1). The raw value is the exact, case-sensitive name.
package enum BatchSystemName: String, Sendable, CaseIterable {
    case pbs = "PBS"
    case slurm = "Slurm"
    case slurmIT4I = "SlurmIT4I"
    case slurmLumi = "SlurmLumi"
    case local = "Local"

    package var isSlurmFamily: Bool { self == .slurm || self == .slurmIT4I || self == .slurmLumi }
}

/// The state written in the file: the "naive" state (R20). Unrecognised text reads as `unknown`.
package enum NaiveState: String, Sendable, CaseIterable {
    case queued, running, finished, failed, killed, unknown

    /// Lowercase match; empty or unrecognised text is `unknown` (field 11).
    package init(reading text: String) { self = NaiveState(rawValue: text.lowercased()) ?? .unknown }
}

/// `job_type`, read case-insensitively (field 8). Unknown text is kept as it is.
package enum JobType: Sendable, Hashable {
    case standard, loop, continuous
    case other(String)

    package init(reading text: String) {
        switch text.lowercased() {
        case "standard": self = .standard
        case "loop": self = .loop
        case "continuous": self = .continuous
        default: self = .other(text)
        }
    }

    package var text: String {
        switch self {
        case .standard: return "standard"
        case .loop: return "loop"
        case .continuous: return "continuous"
        case .other(let t): return t
        }
    }
}

/// What qq-run is doing (extension field `phase`).
package enum Phase: String, Sendable, CaseIterable {
    case setup, stageIn = "stage_in", running, stageOut = "stage_out", rescue, done
}

/// Why a job was killed (extension field `kill_reason`, R112).
package enum KillReason: String, Sendable, CaseIterable {
    case cancelled, timeout, preempted, signal, lost
}

/// The `resources` mapping (R21). Only these keys exist; each is optional.
package struct Resources: Sendable, Hashable {
    package var nnodes: Int?
    package var ncpus: Int?
    package var ncpusPerNode: Int?
    package var mem: Size?
    package var memPerNode: Size?
    package var memPerCPU: Size?
    package var ngpus: Int?
    package var ngpusPerNode: Int?
    /// `H:MM:SS`, as written (hours unbounded).
    package var walltime: String?
    /// The work-dir *type* (`scratch`, `flash`, `input_dir`, `job_dir`, `scratch_local`, …).
    package var workDir: String?
    package var workSize: Size?
    package var workSizePerNode: Size?
    package var workSizePerCPU: Size?
    /// `props`, in file order: key → value (`'true'`, `'false'` or a value).
    package var props: [KeyValue]

    package init(nnodes: Int? = nil, ncpus: Int? = nil, ncpusPerNode: Int? = nil, mem: Size? = nil,
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
    package var usesScratch: Bool {
        guard let t = workDir else { return true }
        let n = t.lowercased().filter { $0 != "-" && $0 != "_" }
        return n != "inputdir" && n != "jobdir"
    }
}

package struct KeyValue: Sendable, Hashable {
    package var key: String
    package var value: String
    package init(_ key: String, _ value: String) { self.key = key; self.value = value }
}

/// `loop_info` (§4.4), copied through unchanged.
package struct LoopInfo: Sendable, Hashable {
    package var start: Int
    package var end: Int
    package var archive: String?
    package var archiveFormat: String?
    package var current: Int?
    package var archiveMode: [String]

    package init(start: Int, end: Int, archive: String? = nil, archiveFormat: String? = nil,
                current: Int? = nil, archiveMode: [String] = []) {
        self.start = start; self.end = end; self.archive = archive; self.archiveFormat = archiveFormat
        self.current = current; self.archiveMode = archiveMode
    }
}

/// `stage_in` (R27).
package struct StageInStats: Sendable, Hashable {
    package var files: Int
    package var bytes: Int64
    package var seconds: Double
    /// Files the copy engine kept in flight at the end (issue 13); nil in files that do not say.
    package var streams: Int?
    package init(files: Int, bytes: Int64, seconds: Double, streams: Int? = nil) {
        self.files = files; self.bytes = bytes; self.seconds = seconds; self.streams = streams
    }
}

/// `stage_out.mode`.
package enum StageOutMode: String, Sendable, CaseIterable {
    case transfer, logsOnly = "logs_only", rescue
}

/// `stage_out` (R27): mode, files, bytes, seconds; then the counters, each omitted when 0 or empty.
package struct StageOutStats: Sendable, Hashable {
    package var mode: StageOutMode
    package var files: Int
    package var bytes: Int64
    package var seconds: Double
    package var errors: Int
    package var deleted: Int
    /// Input-dir files renamed aside as `<name>.qq-kept-<job id>` before a result took their name
    /// (qq-run extension, R99 as changed by issue 8).
    package var kept: Int
    package var notCopied: Int
    /// Up to 20 relative paths (all are in `<work_dir>/.qq-run-not-copied`).
    package var notCopiedPaths: [String]
    /// As `StageInStats.streams`.
    package var streams: Int?

    package init(mode: StageOutMode, files: Int = 0, bytes: Int64 = 0, seconds: Double = 0, errors: Int = 0,
                deleted: Int = 0, kept: Int = 0, notCopied: Int = 0, notCopiedPaths: [String] = [], streams: Int? = nil) {
        self.mode = mode; self.files = files; self.bytes = bytes; self.seconds = seconds; self.errors = errors
        self.deleted = deleted; self.kept = kept; self.notCopied = notCopied; self.notCopiedPaths = notCopiedPaths
        self.streams = streams
    }
}

/// `sync` (issue 12): the periodic sync's rounds so far.
package struct SyncStats: Sendable, Hashable {
    /// Rounds completed.
    package var count: Int
    /// When the last round ended.
    package var last: Timestamp
    /// Totals over all rounds.
    package var files: Int
    package var bytes: Int64
    package var seconds: Double
    /// Files left for a later round (they changed while being copied, or could not be copied).
    package var skipped: Int
    package init(count: Int, last: Timestamp, files: Int, bytes: Int64, seconds: Double, skipped: Int) {
        self.count = count; self.last = last; self.files = files; self.bytes = bytes; self.seconds = seconds; self.skipped = skipped
    }
}

/// `progress` (issue 12 item 5): a copy under way, while it runs.
package struct CopyProgressStats: Sendable, Hashable {
    /// `stage_in`, `stage_out` or `sync`.
    package var phase: String
    package var files: Int
    /// nil when the walk does not know the total in advance.
    package var filesTotal: Int?
    package var bytes: Int64
    package var bytesTotal: Int64?
    /// Bytes per second since `started`.
    package var rate: Double
    package var started: Timestamp
    package init(phase: String, files: Int, filesTotal: Int?, bytes: Int64, bytesTotal: Int64?, rate: Double, started: Timestamp) {
        self.phase = phase; self.files = files; self.filesTotal = filesTotal; self.bytes = bytes
        self.bytesTotal = bytesTotal; self.rate = rate; self.started = started
    }
}

/// `usage` (R96): the script's process tree.
package struct Usage: Sendable, Hashable {
    /// Largest single process's peak RSS, kB.
    package var maxRSS: Int64
    package var userCPU: Double
    package var sysCPU: Double
    package init(maxRSS: Int64, userCPU: Double, sysCPU: Double) { self.maxRSS = maxRSS; self.userCPU = userCPU; self.sysCPU = sysCPU }
}

/// An unknown top-level key: its key and the exact text of its lines (key line included),
/// written back verbatim after the known fields (R29, R35).
package struct RawEntry: Sendable, Hashable {
    package var key: String
    package var text: String
    package init(key: String, text: String) { self.key = key; self.text = text }
}

/// One job's state file.
package struct InfoRecord: Sendable, Hashable {
    // §4.2, in table order.
    package var batchSystem: BatchSystemName
    package var qqVersion: String
    package var username: String
    package var jobID: String
    package var jobName: String
    package var scriptName: String
    package var queue: String
    package var jobType: JobType
    package var inputMachine: String
    package var inputDir: String
    package var jobState: NaiveState
    package var submissionTime: Timestamp
    package var stdoutFile: String
    package var stderrFile: String
    package var resources: Resources
    package var excludedFiles: [String]
    package var includedFiles: [String]
    /// nil when absent (then `[success]` applies, R98); qq-run always writes it in plain mode.
    package var transferMode: [String]?
    package var depend: [String]
    package var loopInfo: LoopInfo?
    package var account: String?
    package var server: String?
    package var interpreter: String?
    package var startTime: Timestamp?
    package var mainNode: String?
    package var allNodes: [String]
    package var workDir: String?
    package var completionTime: Timestamp?
    package var jobExitCode: Int?

    // §4.5 extension fields, in table order.
    package var runner: String?
    package var runnerPID: Int?
    package var cluster: String?
    package var pidNamespace: String?
    package var phase: Phase?
    package var heartbeat: Timestamp?
    package var heartbeatInterval: Int?
    package var restarts: Int?
    package var arrayJobID: String?
    package var arrayTaskID: String?
    package var killReason: KillReason?
    package var scriptExitCode: Int?
    package var error: String?
    package var signals: [String]
    package var stageIn: StageInStats?
    package var stageOut: StageOutStats?
    package var usage: Usage?
    package var sync: SyncStats?
    package var progress: CopyProgressStats?
    package var synchronized: Bool?
    package var wiped: Timestamp?
    /// Loop and continuous jobs (issue 11): the next cycle's job id, once submitted (plain mode).
    package var nextJobID: String?
    /// Why the next cycle could not be submitted, with the command to submit it by hand.
    package var resubmitError: String?
    // Issue 14, after R27's table: the job's environment as qq-run set it up.
    package var envScript: String?
    /// `env` entries, `NAME=VALUE`.
    package var envVariables: [String]
    package var container: String?
    package var containerMounts: [String]
    package var prologue: String?
    package var prologueExitCode: Int?
    package var epilogue: String?
    package var epilogueExitCode: Int?

    /// Unknown top-level keys, in their original order.
    package var unknownEntries: [RawEntry]

    package init(batchSystem: BatchSystemName, qqVersion: String, username: String, jobID: String,
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
        synchronized = nil; sync = nil; progress = nil; wiped = nil; nextJobID = nil; resubmitError = nil; unknownEntries = []
        envScript = nil; envVariables = []; container = nil; containerMounts = []
        prologue = nil; prologueExitCode = nil; epilogue = nil; epilogueExitCode = nil
    }

    /// R25.
    package var usesScratch: Bool { resources.usesScratch }

    /// The effective transfer policy tokens (`[success]` when absent).
    package var effectiveTransferMode: [String] { transferMode ?? ["success"] }
}

/// The work-dir marker `.qq-run-marker` (R45).
package struct WorkDirMarker: Sendable, Hashable {
    package var jobID: String
    package var infoFile: String
    package var inputDir: String
    package var batchSystem: BatchSystemName
    package var cluster: String?
    package var pidNamespace: String?
    package var mainNode: String
    package var created: Timestamp
    package var runner: String

    package init(jobID: String, infoFile: String, inputDir: String, batchSystem: BatchSystemName,
                cluster: String? = nil, pidNamespace: String? = nil, mainNode: String, created: Timestamp,
                runner: String) {
        self.jobID = jobID; self.infoFile = infoFile; self.inputDir = inputDir; self.batchSystem = batchSystem
        self.cluster = cluster; self.pidNamespace = pidNamespace; self.mainNode = mainNode
        self.created = created; self.runner = runner
    }
}

/// R8: two job ids denote the same job when the parts before their first `.` are equal.
package func shortJobID(_ id: String) -> Substring {
    id.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(id)
}

package func sameJob(_ a: String, _ b: String) -> Bool { shortJobID(a) == shortJobID(b) }

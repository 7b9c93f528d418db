/// What a batch system says about one job (R58–R63), independent of which system said it.

/// R63: the batch state, in qq's names.
public enum BatchState: String, Sendable, CaseIterable {
    case running, queued, finished, failed, held, exiting, waiting, moving, suspended, unknown

    /// R58 "batch-live": the scheduler still holds the job as active.
    public var isBatchLive: Bool {
        switch self {
        case .queued, .held, .waiting, .running, .suspended, .exiting, .moving: return true
        case .finished, .failed, .unknown: return false
        }
    }

    /// R63, Slurm table. `state` is the first word of `JobState`; `reason` decides held vs queued.
    public static func fromSlurm(_ state: String, reason: String?) -> BatchState {
        switch state.uppercased() {
        case "RUNNING", "CONFIGURING", "RESIZING", "SIGNALING": return .running
        case "PENDING":
            if let reason, reason.contains("Dependency") || reason == "JobHeldUser" || reason == "JobHeldAdmin" {
                return .held
            }
            return .queued
        case "REQUEUED", "REQUEUE_FED": return .queued
        case "REQUEUE_HOLD", "RESV_DEL_HOLD": return .held
        case "COMPLETED": return .finished
        case "BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "TIMEOUT",
             "SPECIAL_EXIT": return .failed
        case "PREEMPTED", "SUSPENDED", "STOPPED": return .suspended
        case "COMPLETING", "STAGE_OUT": return .exiting
        default: return .unknown
        }
    }

    /// R63, PBS table. `exitStatus` is `Exit_status` (F and X jobs are failed without one).
    public static func fromPBS(_ state: String, exitStatus: Int?) -> BatchState {
        switch state {
        case "R", "B": return .running
        case "Q": return .queued
        case "H": return .held
        case "W": return .waiting
        case "T", "M": return .moving
        case "S", "U": return .suspended
        case "E": return .exiting
        case "F", "X": return exitStatus == 0 ? .finished : .failed
        default: return .unknown
        }
    }
}

/// The scheduler's estimate of when and where a pending job starts (R127 "Planned start").
public struct StartEstimate: Sendable, Hashable {
    public var time: Timestamp
    /// Already in display form: Slurm's `SchedNodeList` as given, PBS nodes joined by ` + `.
    public var nodes: String
    public init(time: Timestamp, nodes: String) { self.time = time; self.nodes = nodes }
}

/// The fields of one scheduler record that R59–R62 and the panel use.
public struct BatchJobRecord: Sendable, Hashable {
    public var jobID: String
    public var state: BatchState
    /// The scheduler's own word: Slurm `JobState` (first word), PBS `job_state`.
    public var rawState: String
    /// Slurm `Reason`, absent values removed.
    public var reason: String?
    /// PBS `comment`.
    public var comment: String?
    /// Slurm `BatchHost`.
    public var batchHost: String?
    /// Nodes of the job: Slurm `NodeList` expanded, PBS `exec_host2`/`exec_host` cleaned.
    public var nodes: [String]
    public var estimate: StartEstimate?
    public var submitTime: Timestamp?
    public var startTime: Timestamp?
    public var timeLimit: String?
    public var workDir: String?
    public var jobName: String?
    /// Slurm partition, PBS queue; set by the pending-jobs listing.
    public var partition: String?
    public var arrayJobID: String?
    public var arrayTaskID: String?
    /// PBS `Exit_status`.
    public var exitStatus: Int?
    /// PBS `Variable_List`.
    public var variables: [String: String]
    /// Every field as parsed (Slurm `Key=Value`, PBS `key = value`).
    public var fields: [String: String]

    public init(jobID: String, state: BatchState, rawState: String, reason: String? = nil, comment: String? = nil,
                batchHost: String? = nil, nodes: [String] = [], estimate: StartEstimate? = nil,
                submitTime: Timestamp? = nil, startTime: Timestamp? = nil, timeLimit: String? = nil,
                workDir: String? = nil, jobName: String? = nil, partition: String? = nil, arrayJobID: String? = nil,
                arrayTaskID: String? = nil, exitStatus: Int? = nil, variables: [String: String] = [:],
                fields: [String: String] = [:]) {
        self.jobID = jobID; self.state = state; self.rawState = rawState; self.reason = reason
        self.comment = comment; self.batchHost = batchHost; self.nodes = nodes; self.estimate = estimate
        self.submitTime = submitTime; self.startTime = startTime; self.timeLimit = timeLimit
        self.workDir = workDir; self.jobName = jobName; self.partition = partition; self.arrayJobID = arrayJobID
        self.arrayTaskID = arrayTaskID; self.exitStatus = exitStatus; self.variables = variables
        self.fields = fields
    }

    /// The node where the batch script runs (R127 booting): Slurm `BatchHost`, else the first node.
    public var mainNode: String? { batchHost ?? nodes.first }
}

/// R58: the three kinds of answer.
public enum BatchAnswer: Sendable, Hashable {
    case found(BatchJobRecord)
    /// Authoritative: the scheduler answered and does not know the job.
    case notFound
    /// The command is missing, timed out or failed; or a not_found that is not authoritative.
    case unavailable(reason: String)

    /// R63: not_found and unavailable map to unknown.
    public var state: BatchState {
        if case .found(let r) = self { return r.state }
        return .unknown
    }

    public var record: BatchJobRecord? {
        if case .found(let r) = self { return r }
        return nil
    }

    public var kindName: String {
        switch self {
        case .found: return "found"
        case .notFound: return "not_found"
        case .unavailable: return "unavailable"
        }
    }

    /// R58 "batch-live".
    public var isBatchLive: Bool { state.isBatchLive }
}

/// Slurm's words for "no value" (R59). Empty text counts as absent too.
public func isAbsentSlurmValue(_ value: String) -> Bool {
    switch value {
    case "", "None", "Unknown", "N/A", "NONE", "UNLIMITED", "INFINITE", "(null)": return true
    default: return false
    }
}

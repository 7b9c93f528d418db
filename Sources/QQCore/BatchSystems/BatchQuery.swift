/// What a batch system says about one job (R58–R63), independent of which system said it.

/// R63: the batch state, in qq's names.
package enum BatchState: String, Sendable, CaseIterable {
    case running, queued, finished, failed, held, exiting, waiting, moving, suspended, unknown

    /// R58 "batch-live": the scheduler still holds the job as active.
    package var isBatchLive: Bool {
        switch self {
        case .queued, .held, .waiting, .running, .suspended, .exiting, .moving: return true
        case .finished, .failed, .unknown: return false
        }
    }

    /// R63, Slurm table. `state` is the first word of `JobState`; `reason` decides held vs queued.
    package static func fromSlurm(_ state: String, reason: String?) -> BatchState {
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
    package static func fromPBS(_ state: String, exitStatus: Int?) -> BatchState {
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
package struct StartEstimate: Sendable, Hashable {
    package var time: Timestamp
    /// Already in display form: Slurm's `SchedNodeList` as given, PBS nodes joined by ` + `.
    package var nodes: String
    package init(time: Timestamp, nodes: String) { self.time = time; self.nodes = nodes }
}

/// The fields of one scheduler record that R59–R62 and the panel use.
package struct BatchJobRecord: Sendable, Hashable {
    package var jobID: String
    package var state: BatchState
    /// The scheduler's own word: Slurm `JobState` (first word), PBS `job_state`.
    package var rawState: String
    /// Slurm `Reason`, absent values removed.
    package var reason: String?
    /// PBS `comment`.
    package var comment: String?
    /// Slurm `BatchHost`.
    package var batchHost: String?
    /// Nodes of the job: Slurm `NodeList` expanded, PBS `exec_host2`/`exec_host` cleaned.
    package var nodes: [String]
    package var estimate: StartEstimate?
    package var submitTime: Timestamp?
    package var startTime: Timestamp?
    package var timeLimit: String?
    package var workDir: String?
    package var jobName: String?
    /// Slurm partition, PBS queue; set by the pending-jobs listing.
    package var partition: String?
    package var arrayJobID: String?
    package var arrayTaskID: String?
    /// PBS `Exit_status`.
    package var exitStatus: Int?
    /// PBS `Variable_List`.
    package var variables: [String: String]
    /// Every field as parsed (Slurm `Key=Value`, PBS `key = value`).
    package var fields: [String: String]

    package init(jobID: String, state: BatchState, rawState: String, reason: String? = nil, comment: String? = nil,
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
    package var mainNode: String? { batchHost ?? nodes.first }
}

/// R58: the three kinds of answer.
package enum BatchAnswer: Sendable, Hashable {
    case found(BatchJobRecord)
    /// Authoritative: the scheduler answered and does not know the job.
    case notFound
    /// The command is missing, timed out or failed; or a not_found that is not authoritative.
    case unavailable(reason: String)

    /// R63: not_found and unavailable map to unknown.
    package var state: BatchState {
        if case .found(let r) = self { return r.state }
        return .unknown
    }

    package var record: BatchJobRecord? {
        if case .found(let r) = self { return r }
        return nil
    }

    package var kindName: String {
        switch self {
        case .found: return "found"
        case .notFound: return "not_found"
        case .unavailable: return "unavailable"
        }
    }

    /// R58 "batch-live".
    package var isBatchLive: Bool { state.isBatchLive }
}

/// Slurm's words for "no value" (R59). Empty text counts as absent too.
package func isAbsentSlurmValue(_ value: String) -> Bool {
    switch value {
    case "", "None", "Unknown", "N/A", "NONE", "UNLIMITED", "INFINITE", "(null)": return true
    default: return false
    }
}

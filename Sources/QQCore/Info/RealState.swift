/// The state qq-info shows: the file's naive state combined with the batch answer (R122–R125).
package enum RealState: String, Sendable, CaseIterable {
    case queued, held, suspended, waiting, running, booting, killed, failed, finished, exiting
    case inconsistent, unknown, lost

    /// As shown to people (R123): lowercase, `in an inconsistent state` spelled out.
    package var text: String { self == .inconsistent ? "in an inconsistent state" : rawValue }

    /// As written in JSON (R130).
    package var jsonName: String { rawValue }

    /// R123: qq's table, exactly.
    package static func combining(naive: NaiveState, batch: BatchState) -> RealState {
        switch naive {
        case .unknown:
            return .unknown
        case .queued:
            switch batch {
            case .running: return .booting
            case .queued, .moving: return .queued
            case .held: return .held
            case .waiting: return .waiting
            case .suspended: return .suspended
            case .finished, .failed, .exiting, .unknown: return .inconsistent
            }
        case .running:
            switch batch {
            case .running: return .running
            case .suspended: return .suspended
            default: return .inconsistent
            }
        case .failed:
            switch batch {
            case .running: return .exiting
            case .failed, .exiting, .moving, .suspended, .unknown: return .failed
            case .queued, .finished, .held, .waiting: return .inconsistent
            }
        case .finished:
            switch batch {
            case .running: return .exiting
            case .finished, .exiting, .moving, .suspended, .unknown: return .finished
            case .queued, .failed, .held, .waiting: return .inconsistent
            }
        case .killed:
            return batch == .running ? .exiting : .killed
        }
    }

    /// The naive state taken as it is: `--no-batch` (R118) and unavailable answers (R123).
    package static func fromNaive(_ naive: NaiveState) -> RealState {
        switch naive {
        case .queued: return .queued
        case .running: return .running
        case .finished: return .finished
        case .failed: return .failed
        case .killed: return .killed
        case .unknown: return .unknown
        }
    }
}

/// Everything qq-info decided about one job, beyond the file itself.
package struct JobStatus: Sendable, Hashable {
    package var realState: RealState
    /// nil when no query was made (`--no-batch`, or naive state `unknown`).
    package var answer: BatchAnswer?
    /// Seconds since the file was last modified, when the file has a `heartbeat` (never negative).
    package var heartbeatAge: Int?
    /// Shown under the state: `(batch system unavailable: …)` or `(batch system not queried)`.
    package var batchNote: String?

    package init(realState: RealState, answer: BatchAnswer?, heartbeatAge: Int? = nil, batchNote: String? = nil) {
        self.realState = realState; self.answer = answer; self.heartbeatAge = heartbeatAge; self.batchNote = batchNote
    }

    /// R122–R124. `answer` nil means not queried; `fileMTime` and `now` are epoch seconds.
    package static func evaluate(record: InfoRecord, answer: BatchAnswer?, fileMTime: Int?, now: Int,
                                clockSkew: Double) -> JobStatus {
        let age: Int? = (record.heartbeat != nil) ? fileMTime.map { max(0, now - $0) } : nil
        guard record.jobState != .unknown else {
            return JobStatus(realState: .unknown, answer: answer, heartbeatAge: age)
        }
        guard let answer else {
            return JobStatus(realState: .fromNaive(record.jobState), answer: nil, heartbeatAge: age,
                             batchNote: "(batch system not queried)")
        }
        if case .unavailable(let reason) = answer {
            return JobStatus(realState: .fromNaive(record.jobState), answer: answer, heartbeatAge: age,
                             batchNote: "(batch system unavailable: \(reason))")
        }
        var real = RealState.combining(naive: record.jobState, batch: answer.state)
        if isLost(record: record, answer: answer, heartbeatAge: age, clockSkew: clockSkew) { real = .lost }
        return JobStatus(realState: real, answer: answer, heartbeatAge: age)
    }

    /// R124.
    static func isLost(record: InfoRecord, answer: BatchAnswer, heartbeatAge: Int?, clockSkew: Double) -> Bool {
        guard record.jobState == .queued || record.jobState == .running, record.heartbeat != nil else { return false }
        let authoritative: Bool
        switch answer {
        case .notFound: authoritative = true
        case .found(let r): authoritative = r.state == .finished || r.state == .failed
        case .unavailable: authoritative = false
        }
        guard authoritative else { return false }
        // Local: not_found is definitive (R62 looked at the process itself).
        if record.batchSystem == .local, case .notFound = answer { return true }
        guard let heartbeatAge else { return false }
        return HeartbeatFreshness(record: record, clockSkew: clockSkew).isSilent(age: heartbeatAge)
    }
}

/// R58: why a job may still be alive. Destructive tools never act on such a job.
package enum LiveEvidence: Sendable, Hashable {
    /// The scheduler holds the job in a live state.
    case batch(BatchState)
    /// The info file has a fresh heartbeat; the value is its age in seconds (file mtime).
    case heartbeat(age: Int)

    /// R133 row 0.
    package func refusal(jobID: String) -> String {
        switch self {
        case .batch(let s): return "Job '\(jobID)' is still \(s.rawValue) in the batch system."
        case .heartbeat(let age):
            return "Job '\(jobID)' wrote a heartbeat \(formatDuration(seconds: age)) ago and may still be active."
        }
    }

    /// R58: batch-live, or a `heartbeat` with `phase` not `done` and a file mtime younger than
    /// 3 × `heartbeat_interval` (default 60) + the clock skew (`HeartbeatFreshness`). nil: not
    /// possibly live.
    package static func of(record: InfoRecord, answer: BatchAnswer?, fileMTime: Int?, now: Int,
                          clockSkew: Double) -> LiveEvidence? {
        if let answer, answer.isBatchLive { return .batch(answer.state) }
        guard record.heartbeat != nil, record.phase != .done, let mtime = fileMTime else { return nil }
        let age = max(0, now - mtime)
        return HeartbeatFreshness(record: record, clockSkew: clockSkew).isFresh(age: age) ? .heartbeat(age: age) : nil
    }
}

extension BatchAnswer {
    /// R58: the scheduler's word can be trusted to say the job ended: not_found (the systems
    /// already turn a foreign cluster's not_found into unavailable), or found finished or failed.
    package var provesEnded: Bool {
        switch self {
        case .notFound: return true
        case .found(let r): return r.state == .finished || r.state == .failed
        case .unavailable: return false
        }
    }
}

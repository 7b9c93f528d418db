import Glibc

/// What the job's phases need from the state file's keeper; the phases' unit tests use an
/// in-memory fake.
protocol StateFileKeeping: AnyObject {
    var path: String { get }
    var jobID: String { get }
    var record: InfoRecord { get set }
    var wroteKilled: Bool { get set }
    var stopped: Bool { get }
    var stopOutcome: StateKeeper.Outcome? { get }
    var pendingSignals: [String] { get set }
    func write(retry: RetryPolicy?, stop: (any StopSignal)?, _ update: (inout InfoRecord) -> Void) -> StateKeeper.Outcome
}

/// Keeps the job's state file: every write re-reads the file first and checks that it still
/// belongs to this job, does not say `killed` (unless qq-run wrote that), and is not locked by
/// `qq kill` (R39). All writes happen on the main thread, one at a time (R41).
package final class StateKeeper: StateFileKeeping {
    package enum Outcome: Equatable {
        case written
        /// The file says `killed` and qq-run did not write it (Python `qq kill`).
        case killedElsewhere
        /// The file now holds another job's id.
        case otherJob(String)
        /// The file has no write bits (qq kill's lock) and does not say killed.
        case locked
        /// Failed, and worth another attempt (I/O errors, a torn or missing reload).
        case failed(String)
        /// Failed for a reason that waiting does not fix (R105: EACCES, EPERM, ENOSPC, EDQUOT,
        /// EROFS, …); never retried.
        case refused(String)
    }

    package let path: String
    package let jobID: String
    /// qq-managed mode keeps every submitter field exactly as read (R72).
    package let managed: Bool
    /// What qq-run means to write.
    package var record: InfoRecord
    /// Set when qq-run itself wrote `killed`, so later writes (K2) go through.
    package var wroteKilled = false
    /// Set when a reload showed `killed` by someone else or another job (R97): nothing more is written.
    package private(set) var stopped = false
    package private(set) var stopOutcome: Outcome?
    /// Early-warning signals waiting for the next write (R114).
    package var pendingSignals: [String] = []

    package init(path: String, jobID: String, managed: Bool, record: InfoRecord) {
        self.path = path; self.jobID = jobID; self.managed = managed; self.record = record
    }

    /// Applies `update` to the record and writes it through R39's reload-check. With `retry`, failed
    /// writes (unreadable file, I/O errors) are retried by the policy; a lock or a foreign file is not.
    @discardableResult
    package func write(retry: RetryPolicy? = nil, stop: (any StopSignal)? = nil,
                      _ update: (inout InfoRecord) -> Void = { _ in }) -> Outcome {
        if stopped { return stopOutcome ?? .failed("updates stopped") }
        update(&record)
        record.heartbeat = Timestamp.now()
        if !pendingSignals.isEmpty {
            record.signals.append(contentsOf: pendingSignals)
            pendingSignals.removeAll()
        }
        struct Retryable: Error, CustomStringConvertible { var description: String }
        func attempt() throws(Retryable) -> Outcome {
            let outcome = writeOnce()
            if case .failed(let why) = outcome { throw Retryable(description: why) }
            return outcome
        }
        do {
            if let retry {
                return try retry.run(stop: stop, attempt)
            }
            return try attempt()
        } catch {
            return .failed(error.description)
        }
    }

    private func writeOnce() -> Outcome {
        for _ in 0..<2 {
            let before = FileSystem.lstat(path)
            let reloaded: InfoRecord
            do {
                reloaded = try InfoFile.load(path: path)
            } catch {
                return .failed("Could not reload qq info file '\(path)': \(error)")
            }
            guard sameJob(reloaded.jobID, jobID) else { return stop(.otherJob(reloaded.jobID)) }
            if reloaded.jobState == .killed && !wroteKilled { return stop(.killedElsewhere) }
            guard let st = before, st.permissionBits & 0o222 != 0 else {
                return before == nil ? .failed("qq info file '\(path)' disappeared") : .locked
            }
            var toWrite: InfoRecord
            if managed {
                toWrite = reloaded
                toWrite.overlayRuntimeFields(from: record)
            } else {
                toWrite = record
                toWrite.unknownEntries = reloaded.unknownEntries
            }
            let text = InfoFileCodec.encode(toWrite)
            // Immediately before replacing the file, make sure nobody changed or locked it since the reload.
            if let now = FileSystem.lstat(path), now.size == st.size, now.mtimeTotalNanos == st.mtimeTotalNanos,
               now.permissionBits == st.permissionBits {
                do {
                    try InfoFile.writeAtomically(text, to: path)
                    return .written
                } catch {
                    return error.isPermanent ? .refused(error.description) : .failed(error.description)
                }
            }
        }
        return .failed("qq info file '\(path)' kept changing while it was being updated")
    }

    private func stop(_ outcome: Outcome) -> Outcome {
        stopped = true
        stopOutcome = outcome
        return outcome
    }
}

extension InfoRecord {
    /// Copies the fields qq-run owns in qq-managed mode (R72): `job_state`, fields 24–29 and the
    /// extension fields.
    mutating func overlayRuntimeFields(from r: InfoRecord) {
        jobState = r.jobState
        startTime = r.startTime; mainNode = r.mainNode; allNodes = r.allNodes; workDir = r.workDir
        completionTime = r.completionTime; jobExitCode = r.jobExitCode
        runner = r.runner; runnerPID = r.runnerPID; cluster = r.cluster; pidNamespace = r.pidNamespace
        phase = r.phase; heartbeat = r.heartbeat; heartbeatInterval = r.heartbeatInterval; restarts = r.restarts
        arrayJobID = r.arrayJobID; arrayTaskID = r.arrayTaskID; killReason = r.killReason
        scriptExitCode = r.scriptExitCode; error = r.error; signals = r.signals; stageIn = r.stageIn
        stageOut = r.stageOut; usage = r.usage; synchronized = r.synchronized; wiped = r.wiped
    }
}

extension StateFileKeeping {
    /// One write without retries (heartbeats, K1).
    @discardableResult
    func write(_ update: (inout InfoRecord) -> Void = { _ in }) -> StateKeeper.Outcome {
        write(retry: nil, stop: nil, update)
    }
}

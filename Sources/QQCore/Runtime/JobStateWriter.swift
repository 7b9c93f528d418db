/// The state file as the runtime writes it: every write goes through the keeper's R39 checks and
/// carries what the background facts have learned by then (R77).
struct JobStateWriter {
    let context: JobContext
    let keeper: any StateFileKeeping
    let facts: BackgroundFacts

    var record: InfoRecord { keeper.record }
    var infoPath: String { context.infoPath }

    /// With `retry`, failed writes are retried by the job's policy (R105), cut short by `stop`.
    @discardableResult
    func write(retry: Bool = false, stop: (any StopSignal)? = nil,
               _ update: (inout InfoRecord) -> Void = { _ in }) -> StateKeeper.Outcome {
        let walltimeKnown = context.jobEnv.walltimeSeconds != nil || context.plainOptions?.walltime.flatMap(parseWalltime) != nil
        return keeper.write(retry: retry ? context.retryPolicy : nil, stop: stop) { r in
            facts.apply(to: &r, walltimeKnownOtherwise: walltimeKnown)
            update(&r)
        }
    }

    /// True once a reload showed the file killed by someone else or taken by another job (R97):
    /// nothing more is written and qq-run ends with 93.
    var wentForeign: Bool {
        switch keeper.stopOutcome {
        case .killedElsewhere?, .otherJob?: return true
        default: return false
        }
    }

    /// H: rewrite the heartbeat with any early-warning signals; failures are logged and tried again
    /// at the next tick (R97).
    func heartbeat(_ supervisor: any JobSupervisor) {
        guard !keeper.stopped else { return }
        keeper.pendingSignals.append(contentsOf: supervisor.takePendingWarnings())
        let outcome = write()
        switch outcome {
        case .written: break
        case .killedElsewhere, .otherJob:
            Log.warning("The info file now says '\(outcome == .killedElsewhere ? "killed" : "another job")'; no further updates will be written.")
        case .locked:
            Log.debug("The info file is locked; heartbeats stopped.")
        case .failed(let why), .refused(let why):
            Log.warning("Heartbeat not written: \(why)")
        }
    }

    /// Logs a write that turned the file foreign, once.
    func noteForeign(_ outcome: StateKeeper.Outcome, alreadyForeign: Bool) {
        switch outcome {
        case .killedElsewhere, .otherJob:
            if !alreadyForeign {
                Log.warning("The info file now says '\(outcome == .killedElsewhere ? "killed" : "another job")'; no further updates will be written.")
            }
        default: break
        }
    }
}

import Testing
@testable import QQCore

@Suite struct InfoStateTests {
    /// R123's table, written out as in the spec: one row per naive state, columns in the order
    /// running, queued, finished, failed, held, exiting, waiting, moving, suspended, unknown.
    static let columns: [BatchState] = [.running, .queued, .finished, .failed, .held, .exiting, .waiting, .moving,
                                        .suspended, .unknown]
    static let table: [(NaiveState, [String])] = [
        (.queued, ["booting", "queued", "inconsistent", "inconsistent", "held", "inconsistent", "waiting", "queued", "suspended", "inconsistent"]),
        (.running, ["running", "inconsistent", "inconsistent", "inconsistent", "inconsistent", "inconsistent", "inconsistent", "inconsistent", "suspended", "inconsistent"]),
        (.failed, ["exiting", "inconsistent", "inconsistent", "failed", "inconsistent", "failed", "inconsistent", "failed", "failed", "failed"]),
        (.finished, ["exiting", "inconsistent", "finished", "inconsistent", "inconsistent", "finished", "inconsistent", "finished", "finished", "finished"]),
        (.killed, ["exiting", "killed", "killed", "killed", "killed", "killed", "killed", "killed", "killed", "killed"]),
        (.unknown, ["unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown", "unknown"]),
    ]

    @Test func everyCellOfTheR123TableMatches() {
        for (naive, row) in Self.table {
            for (batch, expected) in zip(Self.columns, row) {
                #expect(RealState.combining(naive: naive, batch: batch).rawValue == expected,
                        "naive \(naive) × batch \(batch)")
            }
        }
    }

    @Test func inconsistentIsSpelledOut() {
        #expect(RealState.inconsistent.text == "in an inconsistent state")
        #expect(RealState.inconsistent.jsonName == "inconsistent")
    }

    @Test func unavailableAnswerShowsTheNaiveStateWithANote() {
        let status = JobStatus.evaluate(record: sampleRecord(state: .running),
                                        answer: .unavailable(reason: "'scontrol' not found on PATH"),
                                        fileMTime: nil, now: 0, clockSkew: 60)
        #expect(status.realState == .running)
        #expect(status.batchNote == "(batch system unavailable: 'scontrol' not found on PATH)")
    }

    @Test func notQueriedShowsTheNaiveStateWithANote() {
        let status = JobStatus.evaluate(record: sampleRecord(state: .killed), answer: nil, fileMTime: nil, now: 0,
                                        clockSkew: 60)
        #expect(status.realState == .killed)
        #expect(status.batchNote == "(batch system not queried)")
    }

    @Test func notFoundUsesTheTableAsUnknown() {
        let status = JobStatus.evaluate(record: sampleRecord(state: .queued), answer: .notFound, fileMTime: nil,
                                        now: 0, clockSkew: 60)
        #expect(status.realState == .inconsistent)
        #expect(status.batchNote == nil)
    }

    func heartbeatRecord(_ state: NaiveState, interval: Int? = 60) -> InfoRecord {
        var r = sampleRecord(state: state)
        r.heartbeat = ts("2025-03-14 09:30:00")
        r.heartbeatInterval = interval
        return r
    }

    @Test func staleHeartbeatWithAuthoritativeNotFoundIsLost() {
        let now = 10_000
        let s = JobStatus.evaluate(record: heartbeatRecord(.running), answer: .notFound, fileMTime: now - 241,
                                   now: now, clockSkew: 60)
        #expect(s.realState == .lost)
        #expect(s.heartbeatAge == 241)
    }

    @Test func heartbeatJustInsideTheLimitIsNotLost() {
        let now = 10_000
        let s = JobStatus.evaluate(record: heartbeatRecord(.running), answer: .notFound, fileMTime: now - 240,
                                   now: now, clockSkew: 60)
        #expect(s.realState == .inconsistent)
    }

    @Test func finishedOrFailedBatchStateCountsAsAuthoritative() {
        for state in ["COMPLETED", "TIMEOUT"] {
            let s = JobStatus.evaluate(record: heartbeatRecord(.queued), answer: .found(Examples.slurmRecord(state)),
                                       fileMTime: 0, now: 10_000, clockSkew: 60)
            #expect(s.realState == .lost)
        }
    }

    @Test func defaultIntervalIsSixtyWhenAbsent() {
        let s = JobStatus.evaluate(record: heartbeatRecord(.running, interval: nil), answer: .notFound,
                                   fileMTime: 10_000 - 200, now: 10_000, clockSkew: 0)
        #expect(s.realState == .lost)
    }

    @Test func fileWithoutHeartbeatIsNeverLost() {
        let s = JobStatus.evaluate(record: sampleRecord(state: .running), answer: .notFound, fileMTime: 0,
                                   now: 1_000_000, clockSkew: 0)
        #expect(s.realState == .inconsistent)
    }

    @Test func zeroIntervalIsNeverLost() {
        let s = JobStatus.evaluate(record: heartbeatRecord(.running, interval: 0), answer: .notFound, fileMTime: 0,
                                   now: 1_000_000, clockSkew: 0)
        #expect(s.realState == .inconsistent)
    }

    @Test func suspendedOrUnavailableIsNeverLost() {
        let suspended = JobStatus.evaluate(record: heartbeatRecord(.running), answer: .found(Examples.slurmRecord("SUSPENDED")),
                                           fileMTime: 0, now: 1_000_000, clockSkew: 0)
        #expect(suspended.realState == .suspended)
        let unavailable = JobStatus.evaluate(record: heartbeatRecord(.running), answer: .unavailable(reason: "x"),
                                             fileMTime: 0, now: 1_000_000, clockSkew: 0)
        #expect(unavailable.realState == .running)
    }

    @Test func negativeAgeCountsAsZero() {
        let s = JobStatus.evaluate(record: heartbeatRecord(.running), answer: .notFound, fileMTime: 2_000,
                                   now: 1_000, clockSkew: 0)
        #expect(s.heartbeatAge == 0)
        #expect(s.realState == .inconsistent)
    }

    @Test func localNotFoundIsLostAtOnce() {
        var r = sampleRecord(system: .local, state: .running)
        r.heartbeat = ts("2025-03-14 09:30:00")
        let s = JobStatus.evaluate(record: r, answer: .notFound, fileMTime: 1_000, now: 1_001, clockSkew: 60)
        #expect(s.realState == .lost)
    }

    @Test func naiveUnknownStaysUnknownWithoutNote() {
        let s = JobStatus.evaluate(record: sampleRecord(state: .unknown), answer: nil, fileMTime: nil, now: 0,
                                   clockSkew: 60)
        #expect(s.realState == .unknown)
        #expect(s.batchNote == nil)
    }
}

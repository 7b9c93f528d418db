/// R58/R124: the one rule for "is this job's heartbeat fresh": the info file's mtime is younger
/// than 3 × the job's `heartbeat_interval` (60 when the file has none) + the clock skew between
/// hosts. qq-run (before replacing another job's file), qq-info (lost verdict, panel) and the
/// destructive tools (possibly live) all ask this one value, so they cannot disagree.
package struct HeartbeatFreshness: Sendable, Hashable {
    /// The job's promised interval in seconds; 0 or less means it writes no heartbeats.
    package var interval: Int
    /// `Settings.clockSkew`: how far the writer's clock may be ahead of ours.
    package var clockSkew: Double

    package init(interval: Int, clockSkew: Double) { self.interval = interval; self.clockSkew = clockSkew }
    package init(record: InfoRecord, clockSkew: Double) {
        self.init(interval: record.heartbeatInterval ?? 60, clockSkew: clockSkew)
    }

    /// Seconds of silence after which the heartbeat is no longer fresh.
    package var limit: Double { 3 * Double(max(0, interval)) + clockSkew }

    /// The heartbeat, `age` seconds old (by file mtime), still counts.
    package func isFresh(age: Int) -> Bool { Double(age) < limit }

    /// The job promised heartbeats and its file is older than the limit: the evidence R124 needs
    /// to call a job lost. A job without heartbeats (interval 0) is never silent. At exactly the
    /// limit a heartbeat is neither fresh nor silent (R58 says "younger", R124 "older").
    package func isSilent(age: Int) -> Bool { interval > 0 && Double(age) > limit }
}

import Glibc

/// A long copy as the user can follow it (issue 12 item 5): the state file's `progress` (files and
/// bytes done, of the total when the walk knows it, the rate, when it started), written at most
/// every `Settings.progressInterval` (5 s) and only when it changed; and an INFO line at most every
/// 30 s. It drives the supervisor's loop while the copy runs on its worker threads, together with
/// the heartbeat, which keeps its own interval.
final class StagingProgress {
    let counter = CopyProgress()
    private let phase: String
    private let totals: (files: Int, bytes: Int64)?
    private let startedAt = Timestamp.now()
    private let start = monotonicSeconds()
    private var lastWrite = monotonicSeconds()
    private var lastLog = monotonicSeconds()
    private var lastWritten: (files: Int, bytes: Int64) = (0, 0)
    private var nextBeat: Double?
    private let state: JobStateWriter
    private let supervisor: any JobSupervisor
    private let label: String

    /// `beats` false: someone else's tick writes the heartbeat (a sync round, during the script).
    init(phase: String, label: String, totals: (files: Int, bytes: Int64)?, state: JobStateWriter, supervisor: any JobSupervisor,
         beats: Bool = true) {
        self.phase = phase
        self.label = label
        self.totals = totals
        self.state = state
        self.supervisor = supervisor
        nextBeat = beats ? state.context.heartbeatInterval.map { monotonicSeconds() + $0 } : nil
    }

    /// The loop's tick interval: the shorter of the progress interval and the heartbeat's.
    var tickInterval: Double {
        min(state.context.settings.progressInterval, state.context.heartbeatInterval ?? .infinity)
    }

    func tick() {
        let now = monotonicSeconds()
        let done = counter.done
        if now - lastWrite >= state.context.settings.progressInterval - 0.01, done != lastWritten {
            lastWrite = now
            lastWritten = done
            let record = snapshot(done, now: now)
            state.write { r in r.progress = record }
        } else if let due = nextBeat, let beat = state.context.heartbeatInterval, now >= due - 0.05 {
            state.heartbeat(supervisor)
            nextBeat = now + beat
        }
        if now - lastLog >= 30 {
            lastLog = now
            Log.info(StagingProgress.describe(snapshot(done, now: now), label: label))
        }
    }

    private func snapshot(_ done: (files: Int, bytes: Int64), now: Double) -> CopyProgressStats {
        let elapsed = max(now - start, 0.001)
        return CopyProgressStats(phase: phase, files: done.files, filesTotal: totals?.files, bytes: done.bytes,
                                 bytesTotal: totals?.bytes, rate: roundedSeconds(Double(done.bytes) / elapsed), started: startedAt)
    }

    /// `Staging in: 4,211/10,001 files, 1.2gb/3.4gb, 35mb/s, about 00:01:02 left` (qq-info and the log).
    package static func describe(_ p: CopyProgressStats, label: String? = nil) -> String {
        "\(label ?? phaseLabel(p.phase)): " + counts(p)
    }

    package static func phaseLabel(_ phase: String) -> String {
        phase == "stage_in" ? "Staging in" : phase == "sync" ? "Syncing" : "Staging out"
    }

    /// `4,211/10,001 files, 1.2gb/3.4gb, 35mb/s, about 00:01:02 left`.
    package static func counts(_ p: CopyProgressStats) -> String {
        var text = grouped(p.files)
        if let t = p.filesTotal { text += "/\(grouped(t))" }
        text += " files, \(Size.format(bytes: p.bytes))"
        if let t = p.bytesTotal { text += "/\(Size.format(bytes: t))" }
        text += ", \(Size.format(bytes: Int64(p.rate)))/s"
        if let t = p.bytesTotal, p.rate > 0, t > p.bytes {
            text += ", about \(formatDuration(seconds: Int((Double(t - p.bytes) / p.rate).rounded()))) left"
        }
        return text
    }

    /// 4211 → `4,211`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}

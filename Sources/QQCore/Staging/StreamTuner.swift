import Glibc
import Synchronization

/// How many entries a tree copy keeps in flight when `QQ_COPY_STREAMS` does not fix it (issue 13).
/// Where each operation waits on a round trip (GlusterFS, Lustre, NFS) more streams hide the latency,
/// up to what the servers give; where the kernel's own work is the cost (tmpfs, a local disk) streams
/// beyond the job's CPUs only queue on locks. So the copy starts with R103's old default,
/// min(max(cpus, 4), ceiling) — with the ceiling when a side is a network file system: a stage-out
/// of a hundred results is over before a tuner could climb — and after each window of `window`
/// seconds looks at its throughput and at its own CPU time in that window:
/// - the process kept its CPUs busy → the kernel (or the engine) is the bottleneck: one stream per CPU;
/// - otherwise the streams are waiting: double them while throughput still grows by `gain`, and step
///   back to the last count once it does not.
/// The first window is a warm-up (opening, listing, starting threads) and only starts the next.
struct StreamTuner: Sendable, Equatable {
    /// The job's CPUs.
    let cpus: Int
    /// The most streams ever (`CopyEngine.defaultStreams`).
    let ceiling: Int
    private(set) var limit: Int
    private(set) var settled = false
    private var lastRate: Double?
    private var previousLimit: Int?

    /// A window counts as CPU-bound when the process used this share of its CPUs.
    static let busyShare = 0.75
    /// More streams must raise throughput by this factor to count as growth.
    static let gain = 1.10
    /// Seconds per measurement window, and the least work (entries) it must hold to be judged.
    static let window = 0.05
    static let minimumUnits = 64

    init(cpus: Int, ceiling: Int, networked: Bool = false) {
        self.cpus = max(1, cpus)
        self.ceiling = max(1, ceiling)
        limit = networked ? self.ceiling : min(max(self.cpus, 4), self.ceiling)
    }

    /// One window: `rate` entries per second, `busyCores` the process's CPU seconds per second.
    /// Returns the limit for the next window.
    mutating func observe(rate: Double, busyCores: Double) -> Int {
        if settled { return limit }
        if busyCores >= StreamTuner.busyShare * Double(cpus) {
            limit = min(limit, cpus)
            settled = true
            return limit
        }
        if let last = lastRate, rate < last * StreamTuner.gain {
            limit = previousLimit ?? limit  // the last doubling did not pay: take it back
            settled = true
            return limit
        }
        lastRate = rate
        if limit >= ceiling {
            settled = true
        } else {
            previousLimit = limit
            limit = min(limit * 2, ceiling)
        }
        return limit
    }
}

/// A `StreamTuner` fed by the workers of one copy: whoever handles an entry after the window ended
/// takes the measurement (one at a time; the others go on at once).
final class StreamControl: Sendable {
    private struct Window {
        var tuner: StreamTuner
        var start: Double
        var cpu: Double
        var units: Int
        var warm: Bool
    }
    private let state: Mutex<Window>
    private let due: Atomic<Int64>

    init(tuner: StreamTuner) {
        let t = monotonicSeconds()
        state = Mutex(Window(tuner: tuner, start: t, cpu: StreamControl.processCPU(), units: 0, warm: false))
        due = Atomic(Int64((t + StreamTuner.window) * 1e9))
    }

    var limit: Int { state.withLock { $0.tuner.limit } }

    /// `units`: entries handled so far. Returns a new limit when it changed.
    func tick(units: Int) -> Int? {
        let d = due.load(ordering: .relaxed)
        if d == Int64.max { return nil }  // settled, or another worker is measuring
        let now = monotonicSeconds()
        guard Int64(now * 1e9) >= d,
              due.compareExchange(expected: d, desired: Int64.max, ordering: .relaxed).exchanged else { return nil }
        let cpu = StreamControl.processCPU()
        let (changed, settled): (Int?, Bool) = state.withLock { w in
            if units - w.units < StreamTuner.minimumUnits { return (nil, false) }  // too little to judge yet
            let elapsed = now - w.start
            if !w.warm {
                w.warm = true
                w.start = now; w.cpu = cpu; w.units = units
                return (nil, false)
            }
            let before = w.tuner.limit
            let (rate, busy) = (Double(units - w.units) / elapsed, (cpu - w.cpu) / elapsed)
            let next = w.tuner.observe(rate: rate, busyCores: busy)
            Log.debug("Copy streams \(before) -> \(next): \(Int(rate)) entries/s, \(Int(busy * 100)) % CPU in the last \(Int(elapsed * 1000)) ms.")
            w.start = now; w.cpu = cpu; w.units = units
            return (next == before ? nil : next, w.tuner.settled)
        }
        if !settled { due.store(Int64((now + StreamTuner.window) * 1e9), ordering: .relaxed) }
        return changed
    }

    /// CPU seconds of all the process's threads so far.
    static func processCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

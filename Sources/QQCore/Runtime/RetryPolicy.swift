import Glibc

/// Bounded exponential backoff with jitter (R105).
package struct RetryPolicy: Sendable {
    package var attempts: Int
    package var initialDelay: Double
    package var maxDelay: Double
    package var total: Double

    package init(attempts: Int = 8, initialDelay: Double = 1, maxDelay: Double = 60, total: Double = 300) {
        self.attempts = attempts; self.initialDelay = initialDelay; self.maxDelay = maxDelay; self.total = total
    }

    package static func from(_ settings: Settings) -> RetryPolicy {
        RetryPolicy(attempts: settings.retryAttempts, initialDelay: settings.retryInitialDelay,
                    maxDelay: settings.retryMaxDelay, total: settings.retryTotal)
    }

    /// The wait after failed attempt `k` (1-based), before jitter.
    package func baseDelay(afterAttempt k: Int) -> Double {
        min(maxDelay, initialDelay * Double(1 << min(max(k - 1, 0), 30)))
    }

    /// Runs `body` until it succeeds, the attempts run out, the next wait would pass the total, or
    /// `stop` says a terminating signal arrived (which also cuts a wait short). `isRetryable`
    /// decides per error. Each failed attempt that will be retried logs
    /// `<error> (attempt k of n; retrying in d s).`
    package func run<T, E: Error>(isRetryable: (E) -> Bool = { _ in true }, stop: (any StopSignal)? = nil,
                                 _ body: () throws(E) -> T) throws(E) -> T {
        let start = monotonicSeconds()
        var k = 0
        while true {
            k += 1
            do {
                return try body()
            } catch {
                guard isRetryable(error), k < attempts, !(stop?.isStopping ?? false) else { throw error }
                var g = SystemRandomNumberGenerator()
                let jitter = 0.8 + Double(g.next() % 4001) / 10000.0
                let delay = baseDelay(afterAttempt: k) * jitter
                if monotonicSeconds() + delay - start > total { throw error }
                Log.warning("\(error) (attempt \(k) of \(attempts); retrying in \(formatSeconds(delay)) s).")
                let slept = stop?.pause(delay) ?? RetryPolicy.sleep(delay)
                if !slept { throw error }
            }
        }
    }

    /// Sleeps; returns false if woken early by a terminating signal (the runner installs a hook).
    package static func sleep(_ seconds: Double) -> Bool {
        sleepUninterrupted(seconds: seconds)
        return true
    }
}

/// Seconds with one decimal, as in log lines and panels (`1.8`).
package func formatSeconds(_ s: Double) -> String {
    let tenths = Int((max(0, s) * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

/// Seconds as a float field: at least one digit after the point, at most 3 decimals (§4.6).
package func roundedSeconds(_ s: Double) -> Double { (max(0, s) * 1000).rounded() / 1000 }

/// Something that says a terminating signal arrived, cutting retries short (R105).
package protocol StopSignal: AnyObject {
    var isStopping: Bool { get }
    /// Waits `seconds`, serving signals; false when a terminating signal arrived.
    func pause(_ seconds: Double) -> Bool
}

import Glibc
import Synchronization

/// Plain threads for blocking work (batch queries, name resolution). Swift's cooperative pool
/// stops at the core count, and these jobs mostly wait on other processes.

private final class ThreadBody: @unchecked Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Starts `body` on a new thread. Returns the thread, or nil when it could not be created.
/// `nonisolated` so the closure is never inferred to be main-actor-bound (swift-linux.md trap).
nonisolated func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t? {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        let body = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
        body.run()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<ThreadBody>.fromOpaque(box).release()
        return nil
    }
    return thread
}

/// Starts `body` on a detached thread (nobody joins it); runs it here if no thread can be made.
nonisolated func startDetachedThread(_ body: @escaping @Sendable () -> Void) {
    if let t = startThread(body) { pthread_detach(t) } else { body() }
}

/// Runs `work(i)` for every i in 0..<count on up to `limit` threads and returns the results in
/// index order. Falls back to the calling thread when a thread cannot be created.
nonisolated func concurrentMap<T: Sendable>(count: Int, limit: Int,
                                            _ work: @escaping @Sendable (Int) -> T) -> [T] {
    if count == 0 { return [] }
    if count == 1 || limit <= 1 { return (0..<count).map(work) }
    let results = Mutex<[T?]>(Array(repeating: nil, count: count))
    let next = Atomic<Int>(0)
    let worker: @Sendable () -> Void = {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { return }
            let r = work(i)
            results.withLock { $0[i] = r }
        }
    }
    var threads: [pthread_t] = []
    for _ in 0..<min(limit, count) - 1 {
        if let t = startThread(worker) { threads.append(t) }
    }
    worker()
    for t in threads { pthread_join(t, nil) }
    return results.withLock { r in r.map { $0! } }
}

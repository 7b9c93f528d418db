import CQQSystem
import Glibc

/// A bounded pool of real threads (R103: `QQ_COPY_STREAMS`) working through a LIFO stack of tasks.
/// Blocking file I/O wants threads, not the cooperative pool (swift-linux.md). LIFO keeps the walk
/// depth-first, so few directories are open at once. Threads are started only while there is more
/// queued work than idle workers, so a copy of one file starts none. The calling thread is a worker.
/// At most `limit` tasks run at once; `setLimit` changes it during the run (the stream tuner, issue 13).
final class WorkPool<Task, Context: AnyObject>: @unchecked Sendable {
    private let lock: UnsafeMutableRawPointer
    private var stack: [Task] = []
    /// Tasks pushed and not yet finished.
    private var outstanding = 0
    private var idle = 0
    /// Tasks running now, and how many may.
    private var active = 0
    private var limit: Int
    private var threads: [pthread_t] = []
    private var contexts: [Context] = []
    private let maxWorkers: Int
    private var handler: ((Task, Context) -> Void)?
    private let makeContext: () -> Context

    init(workers: Int, makeContext: @escaping () -> Context) {
        guard let l = cqq_waitlock_create() else { fatalError("cannot allocate a mutex") }
        lock = l
        maxWorkers = max(1, workers)
        limit = maxWorkers
        self.makeContext = makeContext
    }

    deinit { cqq_waitlock_destroy(lock) }

    func push(_ task: Task) { push(CollectionOfOne(task)) }

    func push<C: Collection>(_ tasks: C) where C.Element == Task {
        if tasks.isEmpty { return }
        cqq_waitlock_lock(lock)
        stack.append(contentsOf: tasks)
        outstanding += tasks.count
        var wake = min(idle, tasks.count)
        let extra = tasks.count - wake
        while wake > 0 { cqq_waitlock_signal(lock); wake -= 1 }
        startThreads(extra)
        cqq_waitlock_unlock(lock)
    }

    /// Lets up to `n` (1…workers) tasks run at once from now on: more wakes idle workers and starts
    /// threads for queued work; fewer lets the running tasks finish and parks their workers.
    func setLimit(_ n: Int) {
        cqq_waitlock_lock(lock)
        let old = limit
        limit = max(1, min(n, maxWorkers))
        if limit > old {
            cqq_waitlock_broadcast(lock)
            startThreads(stack.count - idle)
        }
        cqq_waitlock_unlock(lock)
    }

    /// Starts up to `wanted` more threads, never more than `limit` workers in all (lock held).
    private func startThreads(_ wanted: Int) {
        var extra = wanted
        while extra > 0 && threads.count + 1 < limit {
            guard let t = startThread({ [self] in self.workerLoop() }) else { break }
            threads.append(t)
            extra -= 1
        }
    }

    /// Runs `initial` and everything the handler pushes, on this thread and up to `workers − 1`
    /// more; returns each worker's context once all tasks are done.
    func run(_ initial: [Task], handler: @escaping (Task, Context) -> Void) -> [Context] {
        self.handler = handler
        // The caller takes the first task itself: a one-task copy starts no thread.
        if let first = initial.first {
            cqq_waitlock_lock(lock)
            stack.append(first)
            outstanding += 1
            cqq_waitlock_unlock(lock)
            push(initial.dropFirst())
        }
        workerLoop()
        cqq_waitlock_lock(lock)
        let started = threads
        cqq_waitlock_unlock(lock)
        for t in started { pthread_join(t, nil) }
        self.handler = nil  // breaks the cycle pool → handler → owner
        return contexts
    }

    private func workerLoop() {
        let context = makeContext()
        cqq_waitlock_lock(lock)
        contexts.append(context)
        let handler = self.handler!
        while true {
            if active < limit, let task = stack.popLast() {
                active += 1
                cqq_waitlock_unlock(lock)
                handler(task, context)
                cqq_waitlock_lock(lock)
                active -= 1
                outstanding -= 1
                if outstanding == 0 { cqq_waitlock_broadcast(lock) }
                continue
            }
            if outstanding == 0 { break }
            idle += 1
            cqq_waitlock_wait(lock)
            idle -= 1
        }
        cqq_waitlock_unlock(lock)
    }
}

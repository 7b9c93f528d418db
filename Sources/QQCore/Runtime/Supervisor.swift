import CQQSystem
import Glibc
import Synchronization

/// What the job's phases need from the supervisor: the terminating signal, the script's process
/// tree, and long work run off the main thread while signals are served. `Supervisor` is the real
/// one; the phases' unit tests use a fake that needs no signals or children.
protocol JobSupervisor: StopSignal, ChildReaping, AnyObject {
    var terminationSignal: Int32? { get }
    /// Monotonic time the terminating signal arrived (R113's t_S). Safe from any thread.
    var terminationTime: Double? { get }
    /// Set by the first terminating signal; safe from the copy threads.
    var stopWasRequested: Bool { get }
    var scriptPID: pid_t? { get }
    var scriptStatus: Int32? { get }
    var scriptExitCode: Int? { get }
    var scriptExitedBeforeTermination: Bool { get }
    var usage: Usage { get }
    func waitForEvents(timeout: Double)
    func serve(until done: () -> Bool, deadline: Double?, tickInterval: Double?, tick: () -> Void)
    func runBlocking<T: Sendable>(tickInterval: Double?, tick: () -> Void, _ work: @escaping @Sendable () -> T) -> T
    func takePendingWarnings() -> [String]
    func pastRescueDeadline(_ window: RescueWindow, margin: Double) -> Bool
    @discardableResult func terminateProcessTree(first: Int32, grace: Double) -> Int
    func spawnScript(executable: String, arguments: [String], environment: [String], workDir: String,
                     stdoutFD: Int32, stderrFD: Int32, statusFD: Int32?, takeTerminal: Bool) -> Int32?
    func waitForScript(tickInterval: Double?, tick: () -> Void)
    func runStep(_ request: SpawnRequest, tickInterval: Double?, tick: () -> Void) -> StepEnd
}

extension JobSupervisor {
    @discardableResult
    func terminateProcessTree(grace: Double) -> Int { terminateProcessTree(first: SIGTERM, grace: grace) }
    func serve(until done: () -> Bool, deadline: Double) { serve(until: done, deadline: deadline, tickInterval: nil, tick: {}) }
}

/// The script's process tree and qq-run's signals, driven by one event loop on the main thread
/// (R92, R95a, R107). Signal handlers only write the signal number to a self-pipe; the loop reads
/// it, reaps children on SIGCHLD, and wakes for heartbeats. Long work (staging) runs on a worker
/// thread while the loop keeps serving signals, so every write of the state file stays on the
/// main thread (R41).
package final class Supervisor: @unchecked Sendable, StopSignal, JobSupervisor {
    /// Set once by the first terminating signal; read by the copy engine between files.
    package let stopRequested = Atomic<Bool>(false)
    /// The first terminating signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU).
    package private(set) var terminationSignal: Int32?
    /// Monotonic time the terminating signal arrived (R113's t_S), as a Double's bit pattern
    /// (0: no signal yet), readable from the copy threads.
    private let terminationTimeBits = Atomic<UInt64>(0)
    /// Early-warning signals received, as `'<NAME> <time>'`, not yet written to the state file.
    private var pendingWarnings: [String] = []
    /// R114: USR1/USR2 go to the script's whole process group (`QQ_FORWARD_SIGNALS_TO=group`).
    var forwardWarningsToGroup = false

    package private(set) var scriptPID: pid_t?
    package private(set) var scriptStatus: Int32?
    /// Monotonic time the script's main process was reaped.
    package private(set) var scriptExitTime: Double?
    /// The running prologue or epilogue (issue 14) and its wait status once reaped.
    private var stepPID: pid_t?
    private var stepStatus: Int32?
    /// R96: sums and maximum over the script and the orphans it left.
    package private(set) var userCPU = 0.0
    package private(set) var sysCPU = 0.0
    package private(set) var maxRSS: Int64 = 0

    private let pipeRead: Int32
    private let pipeWrite: Int32
    private static let workDoneByte: UInt8 = 255

    /// Helper commands (scontrol, …): pid → wait status once reaped.
    private let helpers = Mutex<[pid_t: Int32?]>([:])
    private var terminalForeground = false

    package init() {
        var fds: [Int32] = [-1, -1]
        if cqq_pipe_cloexec(&fds, 1) != 0 { fds = [-1, -1] }
        pipeRead = fds[0]
        pipeWrite = fds[1]
    }

    /// R84 step 1 / R107: record terminating, warning, CONT and CHLD signals; ignore PIPE and TTOU.
    package func installSignalHandlers() {
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXCPU, SIGUSR1, SIGUSR2, SIGCONT, SIGCHLD] {
            _ = cqq_install_pipe_handler(sig, pipeWrite)
        }
        _ = cqq_signal_ignore(SIGPIPE)
        _ = cqq_signal_ignore(SIGTTOU)
        // The handlers run on whichever thread the kernel picks; make sure none is blocked.
        var empty = sigset_t()
        cqq_sigset_empty(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
    }

    package var isStopping: Bool { terminationSignal != nil }

    var stopWasRequested: Bool { stopRequested.load(ordering: .acquiring) }

    /// Monotonic time the terminating signal arrived (R113's t_S). Safe from any thread.
    var terminationTime: Double? {
        let bits = terminationTimeBits.load(ordering: .acquiring)
        return bits == 0 ? nil : Double(bitPattern: bits)
    }

    /// True once a terminating signal arrived and less than `margin` seconds are left before the
    /// rescue deadline: copies started now could not finish in time. Safe from any thread.
    func pastRescueDeadline(_ window: RescueWindow, margin: Double) -> Bool {
        guard let t = terminationTime else { return false }
        return monotonicSeconds() >= window.deadline(signalTime: t, start: t) - margin
    }

    /// The early-warning signals not yet written, handed over once.
    func takePendingWarnings() -> [String] {
        defer { pendingWarnings.removeAll() }
        return pendingWarnings
    }

    /// R96: the script's process tree so far.
    var usage: Usage { Usage(maxRSS: maxRSS, userCPU: roundedSeconds(userCPU), sysCPU: roundedSeconds(sysCPU)) }

    package func pause(_ seconds: Double) -> Bool {
        serve(until: { isStopping }, deadline: monotonicSeconds() + seconds)
        return !isStopping
    }

    // MARK: The event loop

    /// Serves events until `done()` is true or `deadline` (monotonic) passes. `tick` runs whenever
    /// `tickInterval` seconds have passed since the last tick (heartbeats).
    package func serve(until done: () -> Bool, deadline: Double? = nil, tickInterval: Double? = nil,
                      tick: () -> Void = {}) {
        var nextTick = tickInterval.map { monotonicSeconds() + $0 }
        while !done() {
            let now = monotonicSeconds()
            if let d = deadline, now >= d { return }
            if let t = nextTick, now >= t, let interval = tickInterval {
                tick()
                nextTick = now + interval
                continue
            }
            var timeout = -1.0
            if let d = deadline { timeout = d - now }
            if let t = nextTick { timeout = timeout < 0 ? t - now : min(timeout, t - now) }
            waitForEvents(timeout: timeout)
        }
    }

    /// Waits up to `timeout` seconds (negative: forever) for one batch of events and handles them.
    package func waitForEvents(timeout: Double) {
        var p = pollfd(fd: pipeRead, events: Int16(POLLIN), revents: 0)
        let ms: Int32 = timeout < 0 ? -1 : Int32(min(max(timeout * 1000, 0).rounded(.up), 2_000_000_000))
        let r = poll(&p, 1, ms)
        if r > 0 { drainPipe() }
    }

    private func drainPipe() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipeRead, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            for b in buffer[0..<n] { handle(Int32(b)) }
        }
    }

    private func handle(_ byte: Int32) {
        if byte == Int32(Supervisor.workDoneByte) { return }
        let sig = byte
        switch sig {
        case SIGCHLD:
            reap()
        case SIGUSR1, SIGUSR2:
            let name = signalName(sig)
            pendingWarnings.append("\(name) \(Timestamp.now())")
            if let pid = scriptPID, scriptStatus == nil {
                kill(forwardWarningsToGroup ? -pid : pid, sig)
                Log.info("Received SIG\(name); forwarded to the script (pid \(pid)).")
            } else {
                Log.info("Received SIG\(name) before the script started; recorded, not forwarded.")
            }
        case SIGCONT:
            if let pid = scriptPID, scriptStatus == nil { kill(-pid, SIGCONT) }
        default:
            if terminationSignal == nil {
                let now = monotonicSeconds()
                terminationSignal = sig
                terminationTimeBits.store(now.bitPattern, ordering: .releasing)
                stopRequested.store(true, ordering: .releasing)
            } else {
                Log.info("Received SIG\(signalName(sig)) during shutdown; ignored.")
            }
        }
    }

    /// Runs `work` on a worker thread while the loop serves events, and returns its result.
    package func runBlocking<T: Sendable>(tickInterval: Double? = nil, tick: () -> Void = {},
                                         _ work: @escaping @Sendable () -> T) -> T {
        let box = ResultBox<T>()
        let writeFD = pipeWrite
        startDetachedThread {
            box.set(work())
            var b = Supervisor.workDoneByte
            _ = write(writeFD, &b, 1)
        }
        serve(until: { box.isSet }, tickInterval: tickInterval, tick: tick)
        return box.take()
    }

    // MARK: Children

    /// Reaps every exited child (R95a) and dispatches its status by pid.
    package func reap() {
        while true {
            var status: Int32 = 0
            var usage = rusage()
            let pid = wait4(-1, &status, WNOHANG, &usage)
            if pid <= 0 { return }
            let isHelper = helpers.withLock { h -> Bool in
                guard h.keys.contains(pid) else { return false }
                h[pid] = .some(status)
                return true
            }
            if isHelper { continue }
            if cqq_wifstopped(status) != 0 { continue }
            userCPU += Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            sysCPU += Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            maxRSS = max(maxRSS, Int64(usage.ru_maxrss))
            if pid == stepPID { stepStatus = status }
            if pid == scriptPID {
                scriptStatus = status
                scriptExitTime = monotonicSeconds()
                restoreTerminal()
            }
        }
    }

    /// Spawns the script (R90) in a new process group, same session, with default signal
    /// dispositions, an empty mask, only fds 0–2 inherited, in `workDir`.
    package func spawnScript(executable: String, arguments: [String], environment: [String], workDir: String,
                            stdoutFD: Int32, stderrFD: Int32, statusFD: Int32?, takeTerminal: Bool) -> Int32? {
        _ = cqq_set_child_subreaper()  // R93: orphans come back to qq-run
        let spawned = SpawnRequest(executable: executable, arguments: [executable] + arguments, environment: environment,
                                   stdoutFD: stdoutFD, stderrFD: stderrFD, workDir: workDir, newProcessGroup: true,
                                   statusFD: statusFD).spawn()
        guard let pid = spawned.pid else { return spawned.error }
        scriptPID = pid
        if takeTerminal, cqq_tcsetpgrp(0, pid) == 0 {
            terminalForeground = true
            // A script that touched the terminal before it became the foreground group was stopped
            // by SIGTTIN/SIGTTOU; let it go on.
            kill(-pid, SIGCONT)
        }
        return nil
    }

    private func restoreTerminal() {
        if terminalForeground {
            _ = cqq_tcsetpgrp(0, getpgrp())
            terminalForeground = false
        }
    }

    /// Runs a job step (prologue, epilogue) to its end while serving events. It is user code like
    /// the script: in its own process group, counted in `usage`, and, when a terminating signal
    /// comes first (`.interrupted`), left to the process tree's termination, which treats it as an
    /// orphan. Spawned on the main thread, which is the only one that reaps, so it cannot be missed.
    func runStep(_ request: SpawnRequest, tickInterval: Double?, tick: () -> Void) -> StepEnd {
        if terminationSignal != nil { return .interrupted }
        _ = cqq_set_child_subreaper()
        var request = request
        request.newProcessGroup = true
        let spawned = request.spawn()
        guard let pid = spawned.pid else { return .notStarted(errno: spawned.error) }
        stepPID = pid
        stepStatus = nil
        defer { stepPID = nil }
        serve(until: { stepStatus != nil || terminationSignal != nil }, tickInterval: tickInterval, tick: tick)
        guard let status = stepStatus else { return .interrupted }
        return .exited(code: exitCode(ofStatus: status) ?? ExitStatus.internalError.jobExitCode)
    }

    /// Blocks (serving events) until the script's main process has exited.
    package func waitForScript(tickInterval: Double?, tick: () -> Void) {
        serve(until: { scriptStatus != nil || terminationSignal != nil }, tickInterval: tickInterval, tick: tick)
    }

    /// True when the script ended before the terminating signal arrived (its code is its own).
    package var scriptExitedBeforeTermination: Bool {
        guard let exited = scriptExitTime, let signalled = terminationTime else { return false }
        return exited < signalled
    }

    /// R94: exit status, or 128 + the signal that killed it.
    package var scriptExitCode: Int? { scriptStatus.flatMap(exitCode(ofStatus:)) }

    /// Direct children of qq-run that are not helper commands: adopted orphans and the script.
    private func childProcesses() -> [pid_t] {
        var result: [pid_t] = []
        let helperPIDs = helpers.withLock { Set($0.keys) }
        guard case .success(let tasks) = DirectoryReader.entries(atPath: "/proc/self/task") else { return result }
        for task in tasks {
            let name = task.text
            if name.first == "." { continue }
            guard let text = try? FileSystem.readSmallFile("/proc/self/task/\(name)/children") else { continue }
            for item in text.split(separator: " ") {
                if let pid = pid_t(item.trimmingBlanks), !helperPIDs.contains(pid) { result.append(pid) }
            }
        }
        return result
    }

    /// True while any process of the script's process group exists.
    private func groupAlive() -> Bool {
        guard let pid = scriptPID else { return false }
        return kill(-pid, 0) == 0
    }

    /// Terminates the script's process group and every adopted orphan (R95, R108 step 5): `first`
    /// to the group plus SIGCONT (0: the caller already signalled the group), SIGTERM once to each
    /// orphan, then SIGKILL to whatever is left when `grace` seconds have passed; repeats until
    /// nothing is left. Returns how many processes it found besides the script's main process.
    @discardableResult
    package func terminateProcessTree(first: Int32 = SIGTERM, grace: Double) -> Int {
        let deadline = monotonicSeconds() + grace
        var seen = Set<pid_t>()
        var signaled = Set<pid_t>()
        var killing = false
        var groupSignaled = first == 0
        while true {
            reap()
            // The script's main process is reached through its group, never signalled on its own.
            let orphans = childProcesses().filter { $0 != scriptPID }
            let group = groupAlive()
            if orphans.isEmpty && !group { break }
            seen.formUnion(orphans)
            if group, let pid = scriptPID { for p in processesInGroup(pid) where p != pid { seen.insert(p) } }
            if !killing && monotonicSeconds() >= deadline { killing = true }
            if killing {
                if let pid = scriptPID, group { kill(-pid, SIGKILL) }
                for c in orphans { kill(c, SIGKILL) }
            } else {
                if !groupSignaled, let pid = scriptPID, group {
                    kill(-pid, first)
                    kill(-pid, SIGCONT)
                    groupSignaled = true
                }
                for c in orphans where !signaled.contains(c) {
                    kill(c, SIGTERM)
                    kill(c, SIGCONT)
                    signaled.insert(c)
                }
            }
            waitForEvents(timeout: killing ? 0.02 : min(0.05, max(0, deadline - monotonicSeconds())))
        }
        reap()
        return seen.count
    }

    /// Pids whose process group is `pgid`, from /proc.
    private func processesInGroup(_ pgid: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        guard case .success(let entries) = DirectoryReader.entries(atPath: "/proc") else { return result }
        for e in entries {
            let name = e.text
            guard let pid = pid_t(name), let stat = try? FileSystem.readSmallFile("/proc/\(name)/stat"),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command: state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, pid_t(fields[2]) == pgid { result.append(pid) }
        }
        return result
    }
}

extension Supervisor: ChildReaping {
    package func spawnRegistered(_ spawn: () -> (pid: pid_t?, error: Int32)) -> (pid: pid_t?, error: Int32) {
        helpers.withLock { h in
            let r = spawn()
            if let pid = r.pid { h[pid] = .some(nil) }
            return r
        }
    }

    package func waitForExit(pid: pid_t) -> Int32 {
        while true {
            let done: Int32?? = helpers.withLock { h in
                if let entry = h[pid], let status = entry { h[pid] = nil; return .some(status) }
                return .none
            }
            if case .some(.some(let status)) = done { return status }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { _ = helpers.withLock { $0.removeValue(forKey: pid) }; return status }
            if r < 0 && errno == ECHILD {
                // The main loop reaped it between our two looks: take its status from the registry.
                if let s = helpers.withLock({ h -> Int32? in let v = h[pid] ?? nil; if v != nil { h[pid] = nil }; return v }) {
                    return s
                }
            }
            usleep(5_000)
        }
    }
}

/// R94: the exit status, or 128 + the signal that killed the process.
func exitCode(ofStatus s: Int32) -> Int? {
    if cqq_wifexited(s) != 0 { return Int(cqq_wexitstatus(s)) }
    if cqq_wifsignaled(s) != 0 { return 128 + Int(cqq_wtermsig(s)) }
    return nil
}

/// SIGTERM → "TERM".
package func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGTERM: return "TERM"
    case SIGINT: return "INT"
    case SIGHUP: return "HUP"
    case SIGQUIT: return "QUIT"
    case SIGXCPU: return "XCPU"
    case SIGUSR1: return "USR1"
    case SIGUSR2: return "USR2"
    case SIGKILL: return "KILL"
    case SIGCONT: return "CONT"
    default: return "\(sig)"
    }
}

/// A value handed from a worker thread to the main thread.
final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let state = Mutex<T?>(nil)
    func set(_ value: T) { state.withLock { $0 = value } }
    var isSet: Bool { state.withLock { $0 != nil } }
    func take() -> T {
        state.withLock { v -> T in
            guard let value = v else { fatalError("ResultBox.take() before set()") }
            return value
        }
    }
}

import Glibc

/// Local jobs have no scheduler; liveness comes from the runner process itself (R62).
package struct LocalSystem: BatchSystem {
    package var name: BatchSystemName { .local }
    /// Injectable for tests; defaults to the real host, process table and namespace.
    var host: @Sendable () -> String = { thisHostName() }
    var processIsRunner: @Sendable (Int) -> Bool = { localProcessIsRunner(pid: $0) }
    var ownPIDNamespace: @Sendable () -> String? = { readOwnPIDNamespace() }

    package init() {}

    package func queryJob(_ jobID: String, record: InfoRecord?, environment: Environment, options: BatchQueryOptions,
                         reaping: any ChildReaping) -> BatchAnswer {
        guard let record else { return .unavailable(reason: "a Local job can only be checked through its info file") }
        let jobHost = record.mainNode ?? record.inputMachine
        let sameHost = hostsEqual(jobHost, host())
        if sameHost, let pid = record.runnerPID, pid > 0, processIsRunner(pid) {
            return .found(BatchJobRecord(jobID: jobID, state: .running, rawState: "RUNNING", nodes: [jobHost]))
        }
        if let theirs = record.pidNamespace, let ours = ownPIDNamespace(), theirs != ours {
            return .unavailable(reason: "the job ran in another PID namespace (\(theirs))")
        }
        if sameHost { return .notFound }
        return .unavailable(reason: "the job ran on '\(jobHost)'; run qq-info there")
    }
}

/// The process exists and `/proc/<pid>/comm` starts with `qq-run`.
func localProcessIsRunner(pid: Int) -> Bool {
    guard pid > 0, pid <= Int(Int32.max) else { return false }
    if kill(pid_t(pid), 0) != 0 && errno != EPERM { return false }
    guard let comm = try? FileSystem.readSmallFile("/proc/\(pid)/comm") else { return false }
    return comm.hasPrefix("qq-run")
}

/// Target of `/proc/self/ns/pid`, e.g. `pid:[4026531836]`.
func readOwnPIDNamespace() -> String? { FileSystem.readLink("/proc/self/ns/pid") }


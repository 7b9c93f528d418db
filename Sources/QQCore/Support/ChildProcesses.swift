import Glibc

/// Who reaps child processes. qq-run reaps every child with `wait4(-1)` (R95a), so a helper
/// command (scontrol, …) must be spawned and waited for through the same registry; other tools
/// simply `waitpid` their own child. `CommandRunner` takes one of these.
package protocol ChildReaping: Sendable {
    /// Runs `spawn`, which calls `posix_spawn` and returns the pid (or nil with an errno), while
    /// holding the registry lock, so the pid is registered before it can be reaped.
    func spawnRegistered(_ spawn: () -> (pid: pid_t?, error: Int32)) -> (pid: pid_t?, error: Int32)
    /// Blocks until `pid` has exited and returns its raw wait status.
    func waitForExit(pid: pid_t) -> Int32
}

/// Plain `waitpid` on the one child: right for every tool but qq-run's supervised phase.
package struct DirectReaping: ChildReaping {
    package init() {}
    package func spawnRegistered(_ spawn: () -> (pid: pid_t?, error: Int32)) -> (pid: pid_t?, error: Int32) { spawn() }
    package func waitForExit(pid: pid_t) -> Int32 {
        var status: Int32 = 0
        // The child's end cannot be known: report it as failed (exit 255), never as success.
        guard case .success = retryingOnInterrupt({ waitpid(pid, &status, 0) }) else { return 255 << 8 }
        return status
    }
}

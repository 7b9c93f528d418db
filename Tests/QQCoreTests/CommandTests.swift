import CQQSystem
import Glibc
import Testing
@testable import QQCore

@Suite struct CommandTests {
    @Test func findExecutableTakesTheFirstExecutableRegularFileOnPath() {
        let fakes = FakeCommands()
        fakes.add("tool", "exit 0")
        writeText(fakes.dir.file("plain"), "x", mode: 0o644)
        let path = "/nonexistent:" + fakes.dir.path + ":/usr/bin:/bin"
        #expect(findExecutable("tool", path: path) == fakes.dir.file("tool"))
        #expect(findExecutable("plain", path: fakes.dir.path) == nil)
        #expect(findExecutable("sh", path: path) != nil)
        #expect(findExecutable("no-such-program-qq", path: path) == nil)
        #expect(findExecutable("tool", path: nil) == nil)
    }

    /// Issue 10: a child whose end could not be waited for was reported as "exited 0".
    @Test func aChildThatCannotBeWaitedForIsNeverReportedAsSuccess() {
        let status = DirectReaping().waitForExit(pid: getpid())  // not our child: waitpid fails with ECHILD
        #expect(cqq_wifexited(status) != 0)
        #expect(cqq_wexitstatus(status) != 0)
    }

    @Test func findExecutableSkipsDirectories() {
        let fakes = FakeCommands()
        mkdir(fakes.dir.file("sub"), 0o755)
        mkdir(fakes.dir.file("sub/tool"), 0o755)
        #expect(findExecutable("tool", path: fakes.dir.file("sub")) == nil)
    }

    @Test func runnerCapturesStdoutStderrAndExitCode() {
        let fakes = FakeCommands()
        fakes.add("talk", "echo out; echo err >&2; exit 3")
        let r = CommandRunner(environment: fakes.environment(), timeout: 10).run(["talk"])
        #expect(r.exitStatus == 3)
        #expect(r.stdout == "out\n")
        #expect(r.stderr == "err\n")
        #expect(!r.succeeded)
        #expect(r.failureDescription() == "'talk' exited with code 3: err")
    }

    @Test func runnerPassesArgumentsWithoutAShell() {
        let fakes = FakeCommands()
        fakes.add("args", "for a in \"$@\"; do echo \"[$a]\"; done")
        let r = CommandRunner(environment: fakes.environment(), timeout: 10).run(["args", "a b", "$HOME", "*"])
        #expect(r.stdout == "[a b]\n[$HOME]\n[*]\n")
    }

    @Test func missingProgramIsASpawnErrorNamingIt() {
        let fakes = FakeCommands()
        let r = CommandRunner(environment: fakes.environment(systemPath: false), timeout: 10).run(["scontrol"])
        #expect(r.spawnError == ENOENT)
        #expect(r.failureDescription() == "'scontrol' not found on PATH")
    }

    @Test func stdinIsDevNull() {
        let fakes = FakeCommands()
        fakes.add("readin", "cat; echo done")
        let r = CommandRunner(environment: fakes.environment(), timeout: 5).run(["readin"])
        #expect(r.stdout == "done\n")
    }

    @Test func slowCommandIsKilledAtTheTimeout() {
        let fakes = FakeCommands()
        fakes.add("slow", "echo started; exec sleep 10")
        let start = monotonicSeconds()
        let r = CommandRunner(environment: fakes.environment(), timeout: 0.3).run(["slow"])
        #expect(monotonicSeconds() - start < 3)
        #expect(r.timedOut)
        #expect(r.signal == SIGKILL)
        #expect(r.stdout == "started\n")
        #expect(r.failureDescription(timeout: 0.3) == "'slow' timed out after 0.3 s")
    }

    @Test func childGetsEmptySignalMaskAndDefaultDispositions() {
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR1)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &block, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let fakes = FakeCommands()
        fakes.add("mask", "grep -E '^Sig(Blk|Ign):' /proc/self/status")
        let r = CommandRunner(environment: fakes.environment(), timeout: 10).run(["mask"])
        // Signals 1–31 only: glibc keeps its internal real-time signals (32, 33) as they are.
        func mask(_ name: String) -> UInt64? {
            let line = r.stdout.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            return line.flatMap { UInt64($0.dropFirst(name.count + 1).trimmingBlanks, radix: 16) }
        }
        #expect(mask("SigBlk").map { $0 & 0x7FFF_FFFF } == 0)
        #expect(mask("SigIgn").map { $0 & 0x7FFF_FFFF } == 0)
    }

    @Test func descriptorsAboveTwoAreNotInherited() {
        let fd = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        defer { close(fd) }
        let fakes = FakeCommands()
        fakes.add("fds", "ls /proc/$$/fd")
        let r = CommandRunner(environment: fakes.environment(), timeout: 10).run(["fds"])
        let fds = r.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(fds.contains(1))
        #expect(!fds.contains(Int(fd)))
    }
}

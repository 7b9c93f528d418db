// qq-info --tail and --follow on a real one-host Slurm (issue 12, items 4 and 6d).

import Glibc
import Synchronization
import Testing
@testable import QQCore

@Suite("Real Slurm: qq-info --tail and --follow", .serialized, .enabled(if: SlurmCluster.shouldRun, "no Slurm cluster (start it with scripts/slurm-harness.sh)"))
struct SlurmLiveOutputTests {
    @Test("qq-info --follow prints a running job's lines as they are written, then its state line, and exits 0")
    func followPrintsLinesAsTheyAreWritten() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("live-follow")
        try dirs.put("job.sh", qqScript("""
            for i in 1 2 3 4 5 6 7 8; do echo "line $i"; sleep 0.5; done
            echo "oops" >&2
            """))
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        defer { SlurmCluster.scancel(job.id) }
        let info = "\(dirs.input)/job.qqinfo"
        try SlurmCluster.waitForPhase(info, [.running], job: job)

        // qq-info writes into a file the test reads while it runs: what a user sees, as it comes.
        let out = "\(dirs.base)/follow.out"
        let finished = Mutex<CommandResult?>(nil)
        let argv = ["sh", "-c", "exec qq-info --follow \"$1\" > \"$2\"", "sh", info, out]
        let e = try SlurmCluster.baseEnvironment(for: .current)
        startDetachedThread {
            let r = Command.run(argv, environment: e, cwd: dirs.input, timeout: 60)
            finished.withLock { $0 = r }
        }
        var countsWhileWriting: Set<Int> = []
        let deadline = Clock.now + 60
        while Clock.now < deadline, finished.withLock({ $0 == nil }) {
            let seen = (Files.read(out) ?? "").split(separator: "\n").filter { $0.hasPrefix("line ") }.count
            if seen < 8 { countsWhileWriting.insert(seen) }
            Clock.sleep(0.1)
        }
        let result = try #require(finished.withLock { $0 }, "qq-info --follow did not exit within 60 s")
        let text = Files.read(out) ?? ""
        keepSample("qq-info-follow.txt", text)

        // Lines came while the script was still writing (fewer than all 8), and more came later.
        #expect(countsWhileWriting.contains { $0 >= 2 }, "seen while the job wrote: \(countsWhileWriting.sorted())\n\(text)")
        #expect(countsWhileWriting.filter { $0 > 0 }.count >= 2, "output did not grow while following: \(countsWhileWriting.sorted())")
        #expect(result.exitCode == 0, "\(result)")
        // Every line once, in order, each under its stream's header, and the --short line last.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        #expect(lines.popLast() == "\(job.id)    finished", "\(text)")
        let streams = linesByStream(lines)
        #expect(streams["job.out"] == (1...8).map { "line \($0)" }, "\(text)")
        #expect(streams["job.err"] == ["oops"], "\(text)")
    }

    @Test("qq-info --tail 3 on a finished job prints the last 3 lines of its stdout and stderr from the input dir")
    func tailOfAFinishedJob() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("live-tail")
        try dirs.put("job.sh", qqScript("""
            for i in $(seq 1 10); do echo "line $i"; done
            for i in 1 2 3 4 5; do echo "warn $i" >&2; done
            """))
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(job)
        let r = try runTool(["qq-info", "--tail", "3", "\(dirs.input)/job.qqinfo"], dirs: dirs)
        keepSample("qq-info-tail.txt", r.stdout)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "==> job.out <==\nline 8\nline 9\nline 10\n\n==> job.err <==\nwarn 3\nwarn 4\nwarn 5\n", "\(r)")
    }

    @Test("qq-info --follow on a job that has ended prints its tail and its state line and exits 0")
    func followOnAFinishedJobEndsAtOnce() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("live-ended")
        try dirs.put("job.sh", qqScript("echo one; echo two; echo bad >&2; exit 4"))
        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(job)
        let start = Clock.now
        let r = try runTool(["qq-info", "--follow", "--tail", "1", "\(dirs.input)/job.qqinfo"], dirs: dirs)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "==> job.out <==\ntwo\n\n==> job.err <==\nbad\n\(job.id)    failed\n", "\(r)")
        #expect(Clock.now - start < 5, "qq-info --follow waited on a job that had ended")
    }

    @Test("qq-info --tail 1 over two jobs starts every line with its job id")
    func severalJobsArePrefixedByTheirJobID() throws {
        try SlurmCluster.require()
        let dirs = try TestDirs("live-two")
        try dirs.put("a.sh", qqScript("echo a-first; echo a-last"))
        try dirs.put("b.sh", qqScript("echo b-first; echo b-last"))
        let a = try SlurmCluster.submit("a.sh", dirs: dirs)
        let b = try SlurmCluster.submit("b.sh", dirs: dirs)
        try SlurmCluster.waitForEnd(a)
        try SlurmCluster.waitForEnd(b)
        let r = try runTool(["qq-info", "--tail=1", "\(dirs.input)/a.qqinfo", "\(dirs.input)/b.qqinfo"], dirs: dirs)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "\(a.id): ==> a.out <==\n\(a.id): a-last\n\n\(a.id): ==> a.err <==\n\n"
                + "\(b.id): ==> b.out <==\n\(b.id): b-last\n\n\(b.id): ==> b.err <==\n", "\(r)")
    }
}

/// The lines of `tail`-style output grouped under their `==> name <==` headers.
private func linesByStream(_ lines: [String]) -> [String: [String]] {
    var streams: [String: [String]] = [:]
    var current = ""
    for line in lines {
        if line.hasPrefix("==> "), line.hasSuffix(" <==") {
            current = String(line.dropFirst(4).dropLast(4))
            streams[current, default: []] += []
        } else {
            streams[current, default: []].append(line)
        }
    }
    return streams
}

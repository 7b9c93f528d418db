// Issue 8, item 13: before stage-in, qq-run compares what will be staged (bytes and inodes) with
// statvfs of the scratch file system and fails fast (91, recorded, work dir removed, input intact)
// instead of running into ENOSPC half-way. A small tmpfs is the scratch root. The "too few bytes"
// case is SlurmFaultTests.scratchFull (4 MB into a 2 MB tmpfs); this file has the inode case and the
// unit cases of the decision.
//
// Needs root (mount). Run alone:
//   swift build --build-tests && QQ_TEST_FULL=1 swift test --skip-build --filter Preflight

import Foundation
import Glibc
import Testing
@testable import QQCore

@Suite("Pre-flight check on scratch (issue 8, item 13)")
struct PreflightTests {
    func need(bytes: Int64, files: Int, directories: Int = 0) -> StageInNeed {
        var n = StageInNeed()
        n.bytes = bytes; n.files = files; n.directories = directories
        return n
    }

    @Test func aStageInThatFitsWithTheMarginPasses() {
        let free = ScratchSpace(freeBytes: 100 << 20, freeInodes: 10_000, blockSize: 4096)
        #expect(Preflight.refusal(need: need(bytes: 50 << 20, files: 500), free: free, root: "/scratch", system: .slurm) == nil)
    }

    @Test func tooFewBytesIsRefusedNamingBothNumbersAndTheAlternatives() throws {
        let free = ScratchSpace(freeBytes: 2_000_000, freeInodes: 10_000, blockSize: 4096)
        let text = try #require(Preflight.refusal(need: need(bytes: 4_198_400, files: 2), free: free, root: "/scratch", system: .slurm))
        #expect(text.contains("4198400 bytes") && text.contains("2000000 bytes"))
        #expect(text.contains("work-dir=input_dir") && text.contains("exclude="))
        #expect(!text.contains("LUMI"))
    }

    @Test func theMarginRefusesAStageInThatWouldFillTheFileSystem() {
        // 10 MB of input into 20 MB free: it would fit, but leave less than the 16 MiB margin.
        let free = ScratchSpace(freeBytes: 20 << 20, freeInodes: nil, blockSize: 4096)
        #expect(Preflight.refusal(need: need(bytes: 10 << 20, files: 1), free: free, root: "/scratch", system: .slurm) != nil)
    }

    @Test func tooFewInodesIsRefusedNamingBothNumbers() throws {
        let free = ScratchSpace(freeBytes: 1 << 40, freeInodes: 150, blockSize: 4096)
        let text = try #require(Preflight.refusal(need: need(bytes: 1 << 20, files: 300, directories: 3), free: free,
                                                  root: "/scratch", system: .slurm))
        #expect(text.contains("needs 303 inodes") && text.contains("only 150 inodes are free"))
    }

    @Test func aFileSystemWithoutAnInodeLimitIsNotRefusedForInodes() {
        let free = ScratchSpace(freeBytes: 1 << 40, freeInodes: nil, blockSize: 4096)
        #expect(Preflight.refusal(need: need(bytes: 1 << 20, files: 5_000_000), free: free, root: "/scratch", system: .slurm) == nil)
    }

    @Test func onLumiTheMessageNamesFlashAndScratch() throws {
        let free = ScratchSpace(freeBytes: 0, freeInodes: 0, blockSize: 4096)
        let text = try #require(Preflight.refusal(need: need(bytes: 1, files: 1), free: free, root: "/flash/proj", system: .slurmLumi))
        #expect(text.contains("work-dir=flash") && text.contains("work-dir=scratch"))
    }

    @Test func theMeasureCountsWhatTheStageInCopiesAndLeavesOutTheExclusions() {
        let t = WorkArea("qq-measure")
        defer { t.cleanup() }
        t.write("in/a.txt", "12345")                       // one block
        t.write("in/sub/b.dat", String(repeating: "x", count: 5000))  // two blocks
        t.write("in/big_inputs/huge.dat", String(repeating: "y", count: 100_000))
        symlink("a.txt", t.file("in/link"))
        t.write("lib/inc.txt", "i")
        var filter = StageFilter()
        filter.addExclude("big_inputs/")
        let m = StageInNeed.measure(from: t.file("in"), filter: filter, included: [t.file("lib")], blockSize: 4096)
        #expect(m.files == 4)           // a.txt, sub/b.dat, link, lib/inc.txt
        #expect(m.directories == 2)     // sub, lib
        #expect(m.bytes == 4096 + 8192 + 4096 + 2 * 4096)
    }
}

@Suite("Pre-flight check on a tmpfs scratch (issue 8, item 13)", .serialized,
       .enabled(if: SlurmCluster.shouldRunAsOtherUser, "needs root and a Slurm cluster (scripts/slurm-harness.sh start)"))
struct SlurmPreflightTests {
    let me = TestUser.current

    @Test("Too few inodes (tmpfs nr_inodes=150, 300 input files): refused before stage-in, failed/91, error names both numbers, no work dir, input intact")
    func tooFewInodes() throws {
        let dirs = try TestDirs("p-inodes")
        let mount = try TmpfsMount(at: dirs.scratch, size: "64m,nr_inodes=150")
        defer { mount.unmount() }
        try dirs.put("job.sh", """
            #!/usr/bin/env -S qq-run
            echo ran > "$QQ_IT_PROBE/ran"
            """)
        for d in 0..<3 { for f in 0..<100 { try dirs.put("many/d\(d)/f\(f).txt", "\(d) \(f)\n") } }
        let before = InputSnapshot.take(dirs.input)
        let infoPath = "\(dirs.input)/job.qqinfo"

        let job = try SlurmCluster.submit("job.sh", dirs: dirs)
        let rec = try #require(try SlurmCluster.waitForEnd(job, timeout: 60).first)
        let why = job.diagnostics()
        #expect(rec.state == "FAILED", why)
        #expect(rec.exitCode == "91:0", why)
        #expect(InputSnapshot.damage(dirs.input, before: before).isEmpty, why)

        let info = try InfoFile.load(path: infoPath, tornReadRetries: 0)
        #expect(info.jobState == .failed, why)
        #expect(info.jobExitCode == 91, why)
        let error = info.error ?? ""
        // 300 files + job.sh + many, d0..d2 = 305 inodes needed; fewer than 150 free.
        #expect(error.contains("Stage-in does not fit") && error.contains("needs 305 inodes"), "error: '\(error)'")
        let free = error.range(of: #"only (\d+) inodes are free"#, options: .regularExpression).map { String(error[$0]) } ?? ""
        let freeCount = Int(free.split(separator: " ").dropFirst().first ?? "") ?? -1
        #expect(freeCount >= 0 && freeCount < 150, "error: '\(error)'")
        #expect(error.contains("work-dir=input_dir") && error.contains("exclude="), "error: '\(error)'")
        #expect(dirs.probeFile("ran") == nil, "the script must not run")
        #expect(!Files.exists("\(dirs.scratch)/\(me.name)/qq-jobs/job_\(job.id)"), "no work dir may be left\n\(why.rawValue)")
        #expect(info.stageIn == nil, "nothing was staged")
    }
}

/// The pre-flight check makes the 2 MB-tmpfs job fail before copying; an ENOSPC that still happens
/// during the copy (other writers filled the file system after the check) must end it at once (R105).
@Suite("ENOSPC during stage-in (behind the pre-flight check)", .enabled(if: getuid() == 0, "needs root (mount)"))
struct StageInFullDuringCopyTests {
    @Test func aFullFileSystemDuringTheCopyEndsTheStageInAtOnceWithoutRetries() throws {
        let t = WorkArea("qq-enospc")
        defer { t.cleanup() }
        for i in 0..<4 { t.write("in/part\(i).dat", String(repeating: "z", count: 600_000)) }
        t.makeDirs(t.file("work"))
        let mount = try TmpfsMount(at: t.file("work"), size: "1m")
        defer { mount.unmount() }
        let engine = CopyEngine(streams: 1, retry: RetryPolicy(attempts: 8, initialDelay: 1, maxDelay: 1, total: 30))
        var manifest = Manifest()
        let t0 = monotonicSeconds()
        let stats = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.first?.code == ENOSPC)
        #expect(stats.failures.first?.endsTheCopy == true)
        #expect(monotonicSeconds() - t0 < 1, "ENOSPC is never retried")
    }
}

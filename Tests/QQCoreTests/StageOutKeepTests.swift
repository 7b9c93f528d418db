// Issue 8, item 7: a stage-out never destroys an input-dir file that was not staged in, or that
// changed since it was staged. The job's version takes the name; the input dir's version is first
// renamed to `<name>.qq-kept-<job id>` beside it (R99 as changed by issue 8).

import Glibc
import Testing
@testable import QQCore

@Suite struct StageOutKeepTests {
    let keep = StageOutKeep(jobID: "4242", replaceable: [PathBytes("job.out".utf8)])

    /// Stages `in` into `work` with `filter`, returning the manifest.
    func stageIn(_ t: WorkArea, filter: StageFilter = StageFilter()) -> Manifest {
        t.makeDirs(t.file("work"))
        var manifest = Manifest()
        let stats = CopyEngine(streams: 4).stageIn(from: t.file("in"), to: t.file("work"), filter: filter, manifest: &manifest)
        #expect(stats.failures.isEmpty)
        return manifest
    }

    func stageOut(_ t: WorkArea, _ manifest: Manifest, engine: CopyEngine = CopyEngine(streams: 4)) -> CopyEngine.StageOutResult {
        engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: manifest, controlFiles: [], includedNames: [], keep: keep)
    }

    @Test func anInputFileEditedDuringTheJobIsKeptAsQQKeptWhenTheJobAlsoChangedIt() {
        let t = WorkArea("qq-keep-edit")
        defer { t.cleanup() }
        t.write("in/input.dat", "v1\n")
        let manifest = stageIn(t)
        t.write("in/input.dat", "edited by the user while the job ran\n")
        t.write("work/input.dat", "v2 from the job\n")
        let out = stageOut(t, manifest)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/input.dat") == "v2 from the job\n")
        #expect(t.read("in/input.dat.qq-kept-4242") == "edited by the user while the job ran\n")
        #expect(out.kept == [KeptFile(path: PathBytes("input.dat".utf8), keptAs: PathBytes("input.dat.qq-kept-4242".utf8),
                                      reason: .changedSinceStageIn)])
    }

    @Test func anExcludedInputFileIsKeptWhenTheJobWritesTheSameName() {
        let t = WorkArea("qq-keep-excl")
        defer { t.cleanup() }
        t.write("in/big_inputs/data.bin", "the user's unstaged original")
        t.write("in/small.txt", "s")
        var filter = StageFilter()
        filter.addExclude("big_inputs/")
        let manifest = stageIn(t, filter: filter)
        #expect(!t.exists("work/big_inputs"))
        t.write("work/big_inputs/data.bin", "written by the job")
        let out = stageOut(t, manifest)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/big_inputs/data.bin") == "written by the job")
        #expect(t.read("in/big_inputs/data.bin.qq-kept-4242") == "the user's unstaged original")
        #expect(out.kept.map(\.reason) == [.notStagedIn])
        #expect(out.kept.map(\.keptAs) == [PathBytes("big_inputs/data.bin.qq-kept-4242".utf8)])
    }

    @Test func aStagedFileTheUserDidNotTouchIsReplacedWithoutAKeptCopy() {
        let t = WorkArea("qq-keep-untouched")
        defer { t.cleanup() }
        t.write("in/ckpt.dat", "step 1")
        let manifest = stageIn(t)
        t.write("work/ckpt.dat", "step 2")
        let out = stageOut(t, manifest)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/ckpt.dat") == "step 2")
        #expect(out.kept.isEmpty)
        #expect(Files.list(t.file("in")) == ["ckpt.dat"])
    }

    @Test func aNameAbsentAtStageInAndNowIsNoConflict() {
        let t = WorkArea("qq-keep-free")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        let manifest = stageIn(t)
        t.write("work/result/new.txt", "new")
        let out = stageOut(t, manifest)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/result/new.txt") == "new")
        #expect(out.kept.isEmpty)
    }

    @Test func aStagedFileTheUserDeletedDuringTheJobIsSimplyWritten() {
        let t = WorkArea("qq-keep-deleted")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        let manifest = stageIn(t)
        unlink(t.file("in/a.txt"))
        t.write("work/a.txt", "job")
        let out = stageOut(t, manifest)
        #expect(t.read("in/a.txt") == "job")
        #expect(out.kept.isEmpty)
    }

    @Test func aFileCreatedInTheInputDirDuringTheJobIsKept() {
        let t = WorkArea("qq-keep-created")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        let manifest = stageIn(t)
        t.write("in/out.txt", "the user's own out.txt")
        t.write("work/out.txt", "the job's out.txt")
        let out = stageOut(t, manifest)
        #expect(t.read("in/out.txt") == "the job's out.txt")
        #expect(t.read("in/out.txt.qq-kept-4242") == "the user's own out.txt")
        #expect(out.kept.map(\.reason) == [.notStagedIn])
    }

    @Test func anExistingKeptNameIsNeverOverwritten() {
        let t = WorkArea("qq-keep-unique")
        defer { t.cleanup() }
        t.write("in/input.dat", "v1")
        let manifest = stageIn(t)
        t.write("in/input.dat", "second edit")
        t.write("in/input.dat.qq-kept-4242", "kept by an earlier attempt")
        t.write("work/input.dat", "job")
        let out = stageOut(t, manifest)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/input.dat") == "job")
        #expect(t.read("in/input.dat.qq-kept-4242") == "kept by an earlier attempt")
        #expect(t.read("in/input.dat.qq-kept-4242.2") == "second edit")
    }

    @Test func theKeptVersionIsRenamedNotCopied() {
        let t = WorkArea("qq-keep-rename")
        defer { t.cleanup() }
        t.write("in/input.dat", "v1")
        let manifest = stageIn(t)
        t.write("in/input.dat", "user edit")
        let inode = FileSystem.lstat(t.file("in/input.dat"))?.inode
        t.write("work/input.dat", "job")
        _ = stageOut(t, manifest)
        #expect(inode != nil && FileSystem.lstat(t.file("in/input.dat.qq-kept-4242"))?.inode == inode)
    }

    @Test func aLargeFileCopiedInRangesKeepsTheInputVersionToo() {
        let t = WorkArea("qq-keep-split")
        defer { t.cleanup() }
        t.write("in/big.dat", "small original")
        let manifest = stageIn(t)
        t.write("in/big.dat", "user edit")
        let content = String(repeating: "0123456789abcdef", count: 1 << 17)  // 2 MiB
        t.write("work/big.dat", content)
        var engine = CopyEngine(streams: 4)
        engine.splitThreshold = 1 << 20
        let out = stageOut(t, manifest, engine: engine)
        #expect(out.stats.failures.isEmpty)
        #expect(t.read("in/big.dat") == content)
        #expect(t.read("in/big.dat.qq-kept-4242") == "user edit")
        #expect(out.kept.count == 1)
    }

    @Test func aSymlinkInTheWayIsKeptAsALink() {
        let t = WorkArea("qq-keep-link")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        let manifest = stageIn(t)
        symlink("a.txt", t.file("in/link"))
        t.write("work/link", "a regular result")
        let out = stageOut(t, manifest)
        #expect(t.read("in/link") == "a regular result")
        #expect(FileSystem.lstat(t.file("in/link.qq-kept-4242"))?.isSymlink == true)
        #expect(out.kept.count == 1)
    }

    @Test func theJobsLogsReplaceAnEarlierJobsLogs() {
        let t = WorkArea("qq-keep-logs")
        defer { t.cleanup() }
        t.write("in/job.out", "log of the previous run")
        var filter = StageFilter()
        filter.topLevelNames = [PathBytes("job.out".utf8)]
        let manifest = stageIn(t, filter: filter)
        t.write("work/job.out", "log of this run")
        let out = stageOut(t, manifest)
        #expect(t.read("in/job.out") == "log of this run")
        #expect(out.kept.isEmpty)
    }

    @Test func aResultThatFailsVerificationLeavesTheInputVersionUnderItsName() {
        let t = WorkArea("qq-keep-fail")
        defer { t.cleanup() }
        t.write("in/a.txt", "a")
        let manifest = stageIn(t)
        t.write("in/out.txt", "the user's")
        t.write("work/out.txt", "the job's result")
        var engine = CopyEngine(streams: 1, retry: RetryPolicy(attempts: 1))
        engine.faultInjection = { _, fd in _ = [UInt8](repeating: 120, count: 3).withUnsafeBytes { pwrite(fd, $0.baseAddress, 3, 100) } }
        let out = stageOut(t, manifest, engine: engine)
        #expect(out.stats.failures.count == 1)
        #expect(t.read("in/out.txt") == "the user's")
        #expect(!t.exists("in/out.txt.qq-kept-4242"))
        #expect(out.kept.isEmpty)
    }

    @Test func theWarningNamesBothFiles() {
        let k = KeptFile(path: PathBytes("input.dat".utf8), keptAs: PathBytes("input.dat.qq-kept-7".utf8), reason: .changedSinceStageIn)
        let text = k.warning(inputDir: "/home/u/run", copied: true)
        #expect(text == "'/home/u/run/input.dat' changed in the input directory since stage-in: the input directory's version was kept as '/home/u/run/input.dat.qq-kept-7'; the job's version is now '/home/u/run/input.dat'.")
    }

    // MARK: State file and qq-info

    func finishedRecord(kept: Int) -> InfoRecord {
        var r = InfoRecord(batchSystem: .slurm, qqVersion: "0.1", username: "u", jobID: "4242", jobName: "job.sh",
                           scriptName: "job.sh", queue: "debug", inputMachine: "vm", inputDir: "/tmp/in", jobState: .finished,
                           submissionTime: Timestamp(year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5),
                           stdoutFile: "job.out", stderrFile: "job.err")
        r.stageOut = StageOutStats(mode: .transfer, files: 3, bytes: 10, seconds: 0.1, kept: kept)
        return r
    }

    @Test func stageOutKeptRoundTripsThroughTheStateFile() throws {
        let r = finishedRecord(kept: 2)
        let text = InfoFileCodec.encode(r)
        #expect(text.contains("\n  kept: 2\n"))
        let back = try InfoFileCodec.decode(text, path: "x.qqinfo")
        #expect(back.stageOut?.kept == 2)
        #expect(InfoFileCodec.encode(back) == text)
    }

    @Test func qqInfoShowsTheKeptFilesInTheStagingSection() {
        var r = finishedRecord(kept: 2)
        let rows = InfoPanel.stagingRows(r)
        #expect(rows.contains { $0.key == "Kept:" && $0.value == "2 input-dir files as *.qq-kept-4242" })
        r.stageOut?.kept = 0
        #expect(!InfoPanel.stagingRows(r).contains { $0.key == "Kept:" })
    }
}

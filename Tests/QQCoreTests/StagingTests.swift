import Glibc
import Testing
@testable import QQCore

@Suite struct StageFilterTests {
    func filter(_ entries: [String]) -> StageFilter {
        var f = StageFilter()
        entries.forEach { f.addExclude($0) }
        return f
    }

    func path(_ p: String) -> [PathBytes] { p.split(separator: "/").map { PathBytes($0.utf8) } }

    @Test func anEntryWithoutSlashMatchesAtAnyDepth() {
        let f = filter(["*.log"])
        #expect(f.skips(path("a.log")))
        #expect(f.skips(path("sub/deep/b.log")))
        #expect(!f.skips(path("a.txt")))
    }

    @Test func anEntryWithSlashMatchesOnlyThatPath() {
        let f = filter(["sub/x"])
        #expect(f.skips(path("sub/x")))
        #expect(!f.skips(path("x")))
        #expect(!f.skips(path("other/sub/x")))
    }

    @Test func globsMatchWithinOneComponentAndTrailingSlashIsIgnored() {
        let f = filter(["tmp/*.dat", "cache/"])
        #expect(f.skips(path("tmp/a.dat")))
        #expect(!f.skips(path("tmp/deep/a.dat")))
        #expect(f.skips(path("cache")))
        #expect(f.skips(path("x/cache")))
    }

    @Test func topLevelNamesAreSkippedOnlyAtTheTop() {
        var f = StageFilter()
        f.topLevelNames = [PathBytes("job.out".utf8)]
        #expect(f.skips(path("job.out")))
        #expect(!f.skips(path("sub/job.out")))
    }
}

@Suite struct CopyEngineTests {
    @Test func stageInCopiesContentModesTimesSymlinksAndEmptyDirectories() throws {
        let t = WorkArea("qq-stage")
        defer { t.cleanup() }
        t.write("in/a.txt", "alpha", mode: 0o640)
        t.write("in/sub/deep/b.txt", "beta")
        t.write("in/run.sh", "#!/bin/bash\n", mode: 0o755)
        t.makeDirs(t.file("in/empty"))
        symlink("a.txt", t.file("in/link"))
        symlink("/etc/passwd", t.file("in/outside"))
        _ = runShell("touch -d '2020-01-02 03:04:05' '\(t.file("in/a.txt"))'")
        t.makeDirs(t.file("work"))
        var manifest = Manifest()
        let stats = CopyEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        #expect(stats.files == 5)
        #expect(t.read("work/a.txt") == "alpha")
        #expect(t.read("work/sub/deep/b.txt") == "beta")
        #expect(FileSystem.lstat(t.file("work/a.txt"))?.permissionBits == 0o640 & ~UInt32(FileSystem.umask))
        #expect(FileSystem.lstat(t.file("work/run.sh"))?.permissionBits == 0o755 & ~UInt32(FileSystem.umask))
        #expect(FileSystem.lstat(t.file("work/a.txt"))?.mtimeSeconds == FileSystem.lstat(t.file("in/a.txt"))?.mtimeSeconds)
        #expect(FileSystem.lstat(t.file("work/link"))?.isSymlink == true)
        #expect(FileSystem.lstat(t.file("work/outside"))?.isSymlink == true)
        #expect(FileSystem.lstat(t.file("work/empty"))?.isDirectory == true)
        #expect(manifest.entries.count == 5)
    }

    @Test func awkwardNamesSurvive() throws {
        let t = WorkArea("qq-names")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        t.makeDirs(t.file("work"))
        let names: [PathBytes] = [PathBytes("with space".utf8), PathBytes("new\nline".utf8), [0x66, 0xFF, 0x6F]]
        for n in names {
            let p = PathBytes(t.file("in/").utf8) + n
            let fd = withCName(p) { open($0, O_WRONLY | O_CREAT, 0o644) }
            #expect(fd >= 0)
            close(fd)
        }
        var manifest = Manifest()
        let stats = CopyEngine().stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        #expect(stats.failures.isEmpty)
        for n in names {
            let p = PathBytes(t.file("work/").utf8) + n
            #expect(withCName(p) { access($0, F_OK) } == 0, "missing \(n.displayText)")
        }
        #expect(PathBytes([0x66, 0xFF, 0x6F]).displayText == "f\\xFFo")
    }

    @Test func stageOutCopiesOnlyNewAndChangedFiles() throws {
        let t = WorkArea("qq-out")
        defer { t.cleanup() }
        t.write("in/keep.txt", "original")
        t.write("in/change.txt", "v1")
        t.write("in/gone.txt", "bye")
        t.makeDirs(t.file("work"))
        let engine = CopyEngine()
        var manifest = Manifest()
        _ = engine.stageIn(from: t.file("in"), to: t.file("work"), filter: StageFilter(), manifest: &manifest)
        // The user edits an input file the job does not touch: it must not be overwritten.
        t.write("in/keep.txt", "edited by the user")
        t.write("work/change.txt", "v2 from the job")
        t.write("work/new/result.dat", "42")
        unlink(t.file("work/gone.txt"))
        t.write("work/.qq-run-marker", "marker")
        let out = engine.stageOut(from: t.file("work"), to: t.file("in"), manifest: manifest,
                                  controlFiles: [PathBytes(".qq-run-marker".utf8)], includedNames: [])
        #expect(out.stats.failures.isEmpty)
        #expect(out.stats.files == 2)
        #expect(t.read("in/keep.txt") == "edited by the user")
        #expect(t.read("in/change.txt") == "v2 from the job")
        #expect(t.read("in/new/result.dat") == "42")
        #expect(t.read("in/gone.txt") == "bye")
        #expect(out.deleted == [PathBytes("gone.txt".utf8)])
        #expect(!t.exists("in/.qq-run-marker"))
    }

    @Test func stageOutLeavesResultsUnderIncludedPathsInTheWorkDir() throws {
        let t = WorkArea("qq-incl")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        t.write("work/lib/new.txt", "x")
        let out = CopyEngine().stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(),
                                        controlFiles: [], includedNames: [PathBytes("lib".utf8)])
        #expect(out.underIncludedPaths == [PathBytes("lib/new.txt".utf8)])
        #expect(!t.exists("in/lib"))
    }

    @Test func aDirectoryWhereTheInputHasAFileIsAnErrorForThatEntryOnly() throws {
        let t = WorkArea("qq-clash")
        defer { t.cleanup() }
        t.write("in/clash", "a file")
        t.write("work/clash/inner.txt", "x")
        t.write("work/fine.txt", "ok")
        let out = CopyEngine().stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(),
                                        controlFiles: [], includedNames: [])
        #expect(out.stats.failures.count >= 1)
        #expect(t.read("in/clash") == "a file")
        #expect(t.read("in/fine.txt") == "ok")
    }

    @Test func noPartialFileIsLeftBehind() throws {
        let t = WorkArea("qq-part")
        defer { t.cleanup() }
        t.makeDirs(t.file("in"))
        t.write("work/a.txt", "data")
        _ = CopyEngine().stageOut(from: t.file("work"), to: t.file("in"), manifest: Manifest(), controlFiles: [], includedNames: [])
        #expect(runShell("ls -a '\(t.file("in"))' | grep -q qq-part") != 0)
    }
}

@Suite struct SafeDeleteTests {
    @Test func deletesATreeStrictlyUnderTheRoot() throws {
        let t = WorkArea("qq-del")
        defer { t.cleanup() }
        t.write("root/u/qq-jobs/job_1/a/b.txt", "x")
        symlink("/etc", t.file("root/u/qq-jobs/job_1/etc-link"))
        let outcome = try SafeDelete.deleteDirectory(t.file("root/u/qq-jobs/job_1"), under: t.file("root"))
        #expect(outcome.gone)
        #expect(!t.exists("root/u/qq-jobs/job_1"))
        #expect(FileSystem.stat("/etc/passwd") != nil)
    }

    @Test func refusesTheRootItselfAndPathsOutsideIt() {
        let t = WorkArea("qq-del2")
        defer { t.cleanup() }
        t.makeDirs(t.file("root/u"))
        #expect(throws: SafeDelete.Refusal.self) { try SafeDelete.deleteDirectory(t.file("root"), under: t.file("root")) }
        #expect(throws: SafeDelete.Refusal.self) { try SafeDelete.deleteDirectory("/", under: t.file("root")) }
        #expect(throws: SafeDelete.Refusal.self) { try SafeDelete.deleteDirectory(t.file("root/u/../../x"), under: t.file("root")) }
        #expect(t.exists("root/u"))
    }

    @Test func refusesAWorkDirReachedThroughASymlink() {
        let t = WorkArea("qq-del3")
        defer { t.cleanup() }
        t.write("elsewhere/precious.txt", "keep")
        t.makeDirs(t.file("root/u/qq-jobs"))
        symlink(t.file("elsewhere"), t.file("root/u/qq-jobs/job_1"))
        #expect(throws: SafeDelete.Refusal.self) { try SafeDelete.deleteDirectory(t.file("root/u/qq-jobs/job_1"), under: t.file("root")) }
        symlink(t.file("elsewhere"), t.file("root/v"))
        #expect(throws: SafeDelete.Refusal.self) { try SafeDelete.deleteDirectory(t.file("root/v/precious"), under: t.file("root")) }
        #expect(t.read("elsewhere/precious.txt") == "keep")
    }

    @Test func aMissingDirectoryIsAlreadyGone() throws {
        let t = WorkArea("qq-del4")
        defer { t.cleanup() }
        t.makeDirs(t.file("root"))
        #expect(try SafeDelete.deleteDirectory(t.file("root/u/qq-jobs/job_9"), under: t.file("root")).gone)
    }
}

@Suite struct WorkDirLayoutTests {
    func layout(_ t: WorkArea, system: BatchSystemName = .slurm, account: String? = nil, type: String = "scratch") throws -> WorkDirLayout {
        var s = Settings()
        s.scratchRoot = t.file("scratch")
        s.flashRoot = t.file("flash")
        return try WorkDirLayout.resolve(system: system, type: type, jobID: "42", account: account, settings: s, environment: Environment())
    }

    @Test func slurmWorkDirIsRootUserQQJobsJobID() throws {
        let t = WorkArea("qq-wd")
        defer { t.cleanup() }
        t.makeDirs(t.file("scratch"))
        let created = try layout(t).create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        #expect(created.path == t.file("scratch/jdoe/qq-jobs/job_42"))
        #expect(FileSystem.stat(created.path)?.permissionBits == 0o700)
        #expect(FileSystem.stat(t.file("scratch/jdoe"))?.permissionBits == 0o700)
    }

    @Test func lumiFlashUsesTheLowercasedAccountAndNeverCreatesIt() throws {
        let t = WorkArea("qq-wd2")
        defer { t.cleanup() }
        let l = try layout(t, system: .slurmLumi, account: "Proj_1", type: "flash")
        #expect(throws: WorkDirLayout.LayoutError.missingRoot(t.file("flash"))) {
            try l.create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        }
        t.makeDirs(t.file("flash"))
        #expect(throws: WorkDirLayout.LayoutError.missingProjectDir(path: t.file("flash/proj_1"), storage: "flash")) {
            try l.create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        }
        t.makeDirs(t.file("flash/proj_1"))
        let created = try l.create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        #expect(created.path == t.file("flash/proj_1/jdoe/qq-jobs/job_42"))
    }

    @Test func anUnusableUserDirFallsBackToUser2() throws {
        let t = WorkArea("qq-wd3")
        defer { t.cleanup() }
        t.write("scratch/jdoe", "a plain file, not a directory")
        let created = try layout(t).create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        #expect(created.path == t.file("scratch/jdoe2/qq-jobs/job_42"))
    }

    @Test func aStaleJobDirOfAnOlderJobIsNotReused() throws {
        let t = WorkArea("qq-wd4")
        defer { t.cleanup() }
        t.write("scratch/jdoe/qq-jobs/job_42/stale.txt", "old")
        let created = try layout(t).create(user: "jdoe", jobID: "42", attempts: 3, restartCount: 0) { _ in false }
        #expect(created.path == t.file("scratch/jdoe/qq-jobs/job_42_2"))
        #expect(t.read("scratch/jdoe/qq-jobs/job_42/stale.txt") == "old")
    }

    @Test func itAndLumiNeedAnAccount() {
        let t = WorkArea("qq-wd5")
        defer { t.cleanup() }
        #expect(throws: WorkDirLayout.LayoutError.noAccount(jobID: "42")) { try layout(t, system: .slurmIT4I) }
        #expect(throws: WorkDirLayout.LayoutError.unsupportedType(type: "flash", system: .slurm)) { try layout(t, type: "flash") }
    }
}

import Glibc
import Testing
@testable import QQCore

/// Issue 11 item 4: qq-clear and qq-wipe leave a loop job's archive alone.

private func clear(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem)
    -> (code: Int32, out: String, log: [String]) {
    let t = CleanupTranscript()
    let code = QQClearCommand.execute(arguments: args, environment: world.environment(),
                                      context: cleanupContext(system, t))
    return (code.code, t.stdout, t.logLines)
}

private func wipe(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem,
                  env: [String: String] = [:]) -> (code: Int32, out: String, log: [String]) {
    let t = CleanupTranscript()
    let code = QQWipeCommand.execute(arguments: args, environment: world.environment(env),
                                     context: cleanupContext(system, t))
    return (code.code, t.stdout, t.logLines)
}

@Suite(.serialized) struct CleanupLoopArchiveTests {
    init() { Log.setLevel(.critical) }

    @Test func clearInTheInputDirRemovesTheFailedCurrentCycleAndLeavesTheArchive() {
        let world = CleanupWorld()
        let (current, _) = world.makeLoop(current: .failed)
        for n in ["md+0003.out", "md+0003.err"] { writeText(world.input + "/" + n, "log\n") }
        let before = world.snapshot(world.archive)
        let r = clear(["--force", world.input], world, slurmAnswers(["103": "FAILED"]))
        #expect(r.code == 0)
        #expect(!exists(current) && !exists(world.input + "/md+0003.out"))
        #expect(world.snapshot(world.archive) == before)
    }

    @Test func clearInsideTheArchiveKeepsTheArchivedCyclesRecords() {
        let world = CleanupWorld()
        world.makeCycle(1, state: .failed, archived: true)
        world.makeCycle(2, state: .killed, archived: true)
        world.makeCycle(3, state: .finished, archived: true)
        for n in 1...3 { _ = world.makeArchivedFiles(n) }
        let before = world.snapshot(world.archive)
        let r = clear(["--force", world.archive], world, slurmAnswers([:]))
        #expect(r.code == 0)
        #expect(world.snapshot(world.archive) == before)
        #expect(r.log == [
            "INFO Keeping the records of 3 archived loop cycles (md0001.qqinfo, md0002.qqinfo, md0003.qqinfo): they are a loop job's history, which qq-clear never removes.",
            "INFO Nothing to clear.",
        ])
    }

    @Test func archivedRecordsAreNotAskedOfTheBatchSystem() {
        let world = CleanupWorld()
        world.makeLoop()
        let system = slurmAnswers([:])
        _ = clear([world.archive], world, system)
        #expect(system.calls.isEmpty)
    }

    @Test func archivedRecordsAreKeptAfterTheProjectDirMoved() {
        let world = CleanupWorld()
        // loop_info.archive still names where the project used to be.
        world.makeCycle(2, state: .failed, archived: true, archive: "/old/place/storage")
        let r = clear(["--force", world.archive], world, slurmAnswers([:]))
        #expect(exists(world.archive + "/md0002.qqinfo"))
        #expect(r.log.first == "INFO Keeping the record of 1 archived loop cycle (md0002.qqinfo): it is a loop job's history, which qq-clear never removes.")
    }

    @Test func anArchiveThatIsTheInputDirKeepsPastCyclesAndClearsTheCurrentOne() {
        let world = CleanupWorld()
        world.makeInfo("102", state: .failed, name: "md0002.qqinfo") { r in
            r.jobName = "md+0002.sh"; r.jobType = .loop; r.stdoutFile = "md+0002.out"; r.stderrFile = "md+0002.err"
            r.loopInfo = LoopInfo(start: 1, end: 10, archive: world.input, archiveFormat: "md%04d", current: 2)
        }
        let current = world.makeInfo("103", state: .failed, name: "md+0003.qqinfo") { r in
            r.jobName = "md+0003.sh"; r.jobType = .loop; r.stdoutFile = "md+0003.out"; r.stderrFile = "md+0003.err"
            r.loopInfo = LoopInfo(start: 1, end: 10, archive: world.input, archiveFormat: "md%04d", current: 3)
        }
        _ = clear([world.input], world, slurmAnswers([:]))
        #expect(exists(world.input + "/md0002.qqinfo"))
        #expect(!exists(current))
    }

    @Test func wipeOnAnArchivedCycleDeletesItsWorkDirAndRecordsTheWipeInTheArchivedFile() throws {
        let world = CleanupWorld()
        world.makeLoop()
        let record = world.makeCycle(2, state: .killed, archived: true) { $0.killReason = .timeout; $0.synchronized = false }
        let wd = world.makeWorkDir("102", infoFile: world.input + "/md+0002.qqinfo")
        let archiveBefore = world.snapshot(world.archive).filter { $0.key != record }
        let inputBefore = world.snapshot(world.input).filter { !$0.key.hasPrefix(world.archive + "/") }
        let r = wipe([record, "-y"], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.code == 0)
        #expect(!exists(wd))
        #expect(world.snapshot(world.archive).filter { $0.key != record } == archiveBefore)
        #expect(world.snapshot(world.input).filter { !$0.key.hasPrefix(world.archive + "/") } == inputBefore)
        let after = try InfoFile.load(path: record)
        #expect(after.wiped != nil)
        #expect(after.jobState == .killed && after.jobName == "md+0002.sh")
    }

    @Test func wipeByTheJobIdOfAnArchivedCycleFindsItInTheArchive() {
        let world = CleanupWorld()
        world.makeLoop()
        world.makeCycle(2, state: .failed, archived: true)
        let wd = world.makeWorkDir("102")
        let saved = getcwd(nil, 0)
        defer { if let saved { chdir(saved); free(saved) } }
        chdir(world.input)
        let r = wipe(["102", "-y"], world, slurmAnswers([:]), env: ["QQ_BATCH_SYSTEM": "Local"])
        #expect(r.code == 0)
        #expect(!exists(wd))
    }

    @Test func wipeRefusesAWorkDirThatHoldsTheLoopsArchive() {
        let world = CleanupWorld()
        let wd = world.makeWorkDir("103")
        let record = world.makeCycle(3, state: .failed, archived: false, archive: wd + "/storage") { $0.workDir = wd }
        world.makeDirectories(wd + "/storage")
        writeText(wd + "/storage/md0002.xtc", "two days of simulation\n")
        let r = wipe([record, "-y"], world, slurmAnswers(["103": "FAILED"]))
        #expect(r.code == 91)
        #expect(exists(wd + "/storage/md0002.xtc"))
        #expect(r.log.contains("ERROR Working directory '\(wd)' contains or lies in the archive '\(wd)/storage' of the loop job; refusing to delete it."))
    }

    @Test func theOrphanSweepFindsAPastCyclesRecordInTheArchive() throws {
        let world = CleanupWorld()
        let (_, archived) = world.makeLoop()  // cycle 2: finished and synchronized, its file archived
        let wd = world.makeWorkDir("102", infoFile: world.input + "/md+0002.qqinfo")
        let r = wipe(["--orphans", "--yes"], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.code == 0)
        #expect(!exists(wd))
        #expect(try InfoFile.load(path: archived[1]).wiped != nil)
    }
}

import Glibc
import Testing
@testable import QQCore

/// Issue 11 item 4: qq-info shows the whole loop, its past cycles read from the archive.

private let loopNow = ts("2025-03-14 12:00:00").epochSeconds

private func info(_ args: [String], _ world: borrowing CleanupWorld, _ system: CannedBatchSystem,
                  env: [String: String] = [:]) -> (code: Int32, out: String) {
    let ctx = InfoContext(now: { loopNow }, batchSystem: { _ in system }, loadInfo: testLoader)
    let (code, out, _) = QQInfoCommand.execute(arguments: args, environment: world.environment(env), context: ctx)
    return (code.code, out)
}

/// The normalized lines of the LOOP section (from its title to the next section's).
private func loopSection(_ out: String) -> [String] {
    let lines = normalizePanel(out).lines
    guard let start = lines.firstIndex(of: "LOOP") else { return [] }
    let rest = lines[(start + 1)...]
    return Array(rest.prefix { !["STATE", "LOOP"].contains($0) })
}

@Suite(.serialized) struct InfoLoopTests {
    init() { Log.setLevel(.critical) }

    @Test func panelListsTheArchivedCyclesAndTheCurrentOneInALoopSection() {
        let world = CleanupWorld()
        world.makeLoop()
        let r = info([world.input], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.code == 0)
        #expect(normalizePanel(r.out).lines.contains("Job type: loop [3/10]"))
        #expect(loopSection(r.out) == [
            "Archive: \(world.archive) (2 archived cycles)",
            "Cycle State Job id Started at Run time",
            "1 finished 101 2025-03-14 09:01:00 00:30:01",
            "2 finished 102 2025-03-14 10:01:00 00:30:02",
            "3 running 103 2025-03-14 11:01:00 00:59:00",
        ])
    }

    @Test func theLoopSectionComesBeforeTheStateAndInsideTheBorders() {
        let world = CleanupWorld()
        world.makeLoop()
        let r = info([world.input], world, slurmAnswers(["103": "RUNNING"]))
        let titles = normalizePanel(r.out).lines.filter { ["HISTORY", "LOOP", "STATE"].contains($0) }
        #expect(titles == ["HISTORY", "LOOP", "STATE"])
        for line in r.out.split(separator: "\n") where line.hasPrefix("│") {
            #expect(line.count == 80 && line.hasSuffix("│"))
        }
    }

    @Test func onlyTheCurrentCycleIsAskedOfTheBatchSystem() {
        let world = CleanupWorld()
        world.makeLoop()
        let system = slurmAnswers(["103": "RUNNING"])
        _ = info([world.input], world, system)
        #expect(system.calls.filter { $0 != "list" } == ["103"])  // "list": the queue listing of jobs not started yet
    }

    @Test func anArchivedCycleShowsTheStateItsFileSays() {
        let world = CleanupWorld()
        world.makeCycle(1, state: .killed, archived: true) { $0.killReason = .timeout }
        world.makeCycle(2, state: .failed, archived: true)
        world.makeCycle(3, state: .running, archived: false)
        // Were the archived cycles asked, these answers would turn them into `exiting`.
        let r = info(["--short", world.input], world, slurmAnswers(["101": "RUNNING", "102": "RUNNING", "103": "RUNNING"]))
        #expect(r.out == "101    killed    cycle 1/10\n102    failed    cycle 2/10\n103    running    cycle 3/10\n")
    }

    @Test func dataFilesAndLogsInTheArchiveAreNotCycles() {
        let world = CleanupWorld()
        world.makeLoop()
        writeText(world.archive + "/md0002_old.qqinfo", "not qq's name for a cycle\n")
        writeText(world.archive + "/notes.qqinfo", "neither\n")
        let r = info(["--short", world.input], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.out.split(separator: "\n").count == 3)
    }

    @Test func shortPrintsOneLinePerCycleWithItsNumber() {
        let world = CleanupWorld()
        world.makeLoop()
        let r = info(["-s", world.input], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.out == "101    finished    cycle 1/10\n102    finished    cycle 2/10\n103    running    cycle 3/10\n")
    }

    @Test func jsonCarriesEveryCycleWithItsStateAndRunTime() {
        let world = CleanupWorld()
        world.makeLoop()
        let r = info(["--json", world.input], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.code == 0)
        #expect(r.out.contains("""
                  "loop_cycles": [
                    {
                      "cycle": 1,
                      "archived": true,
                      "info_file": "\(world.archive)/md0001.qqinfo",
                      "job_id": "101",
                      "job_name": "md+0001.sh",
                      "real_state": "finished",
                      "job_state": "finished",
                      "submission_time": "2025-03-14 09:00:00",
                      "start_time": "2025-03-14 09:01:00",
                      "completion_time": "2025-03-14 09:31:01",
                      "run_time_s": 1801,
                      "job_exit_code": 0,
                      "error": null
                    },
            """))
        #expect(r.out.contains("""
                      "cycle": 3,
                      "archived": false,
                      "info_file": "\(world.input)/md+0003.qqinfo",
                      "job_id": "103",
                      "job_name": "md+0003.sh",
                      "real_state": "running",
            """))
        #expect(r.out.contains("\"run_time_s\": 3540"))
        #expect(r.out.contains("\"loop_archive_error\": null"))
    }

    @Test func aStandardJobHasNoLoopCyclesInJson() {
        let world = CleanupWorld()
        world.makeInfo("7", state: .failed)
        let r = info(["--json", world.input], world, slurmAnswers([:]))
        #expect(r.out.contains("\"loop_cycles\": null"))
    }

    @Test func theFirstCycleWithAnEmptyArchiveLooksAsBefore() {
        let world = CleanupWorld()
        world.makeDirectories(world.archive)
        world.makeCycle(1, state: .running, archived: false)
        let system = slurmAnswers(["101": "RUNNING"])
        #expect(loopSection(info([world.input], world, system).out).isEmpty)
        #expect(info(["-s", world.input], world, system).out == "101    running\n")
    }

    @Test func aFinishedCycleWaitingForTheNextOneIsListedOnce() {
        let world = CleanupWorld()
        world.makeCycle(1, state: .finished, archived: true)
        world.makeCycle(2, state: .finished, archived: false)  // archived when cycle 3 starts
        world.makeCycle(3, state: .queued, archived: false)
        let r = info(["-s", world.input], world, slurmAnswers(["102": "COMPLETED", "103": "PENDING"]))
        #expect(r.out == "101    finished    cycle 1/10\n102    finished    cycle 2/10\n103    queued    cycle 3/10\n")
    }

    @Test func anUnreadableArchivedRecordIsShownAsSuch() {
        let world = CleanupWorld()
        world.makeLoop()
        writeText(world.archive + "/md0002.qqinfo", "job_id: [\n")
        let r = info([world.input], world, slurmAnswers(["103": "RUNNING"]))
        #expect(r.code == 0)
        let section = loopSection(r.out)
        #expect(section.contains("2 unreadable - - -"))
        #expect(section.contains { $0.hasPrefix("md0002.qqinfo: ") })
    }

    @Test func anArchivedCyclesOwnPanelHasNoLoopSection() {
        let world = CleanupWorld()
        let (_, archived) = world.makeLoop()
        let r = info([archived[1]], world, slurmAnswers([:]))
        #expect(r.code == 0)
        #expect(normalizePanel(r.out).lines.contains("Job name: md+0002.sh"))
        #expect(loopSection(r.out).isEmpty)
    }

    @Test func theJobIdOfAnArchivedCycleFindsItsFileInTheArchive() {
        let world = CleanupWorld()
        world.makeLoop()
        let saved = getcwd(nil, 0)
        defer { if let saved { chdir(saved); free(saved) } }
        chdir(world.input)
        let r = info(["-s", "102"], world, slurmAnswers([:]), env: ["QQ_BATCH_SYSTEM": "Local"])
        #expect(r.code == 0)
        #expect(r.out == "102    finished\n")
    }

    @Test func aHundredArchivedCyclesNeedOneQueryAndAreAllListed() {
        let world = CleanupWorld()
        for n in 1...100 { world.makeCycle(n, state: .finished, archived: true) }
        world.makeCycle(101, state: .running, archived: false)
        let system = slurmAnswers(["10101": "RUNNING"])
        let r = info(["-s", world.input], world, system)
        #expect(r.out.split(separator: "\n").count == 101)
        #expect(system.calls.filter { $0 != "list" } == ["10101"])
    }

    @Test(arguments: [
        ("md%04d", "md0002", 2), ("md%04d", "md12345", 12345), ("md2_%04d", "md2_0012", 12), ("run%d", "run12", 12),
        ("md%04d", "md0002_old", nil), ("md%04d", "xmd0002", nil), ("md%04d", "md+0002", nil), ("md%04d", "md02", nil),
        ("md", "md", nil),
    ] as [(String, String, Int?)])
    func anArchiveFileIsACycleOnlyWhenItsWholeStemIsACycleName(format: String, stem: String, cycle: Int?) {
        #expect(ArchiveFormat(format).cycle(named: stem) == cycle)
    }
}

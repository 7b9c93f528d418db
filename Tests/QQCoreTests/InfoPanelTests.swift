import Testing
@testable import QQCore

private func reference(_ name: String) -> String { readText(TestPaths.fixtures + "/info/" + name) ?? "" }

private func render(_ record: InfoRecord, _ answer: BatchAnswer?, now: Int = Examples.renderTime,
                    mtime: Int? = nil, columns: Int = 100, colors: Bool = false) -> String {
    let status = JobStatus.evaluate(record: record, answer: answer, fileMTime: mtime, now: now, clockSkew: 60)
    return InfoPanel.render(record: record, status: status,
                            options: PanelOptions(terminalColumns: columns, colors: colors, now: now))
}

private func pbsAnswer(_ state: String, exit: Int? = nil, comment: String? = nil) -> BatchAnswer {
    .found(BatchJobRecord(jobID: "1234567.pbs-m1.metacentrum.cz", state: BatchState.fromPBS(state, exitStatus: exit),
                          rawState: state, comment: comment, exitStatus: exit))
}

@Suite struct InfoPanelTests {
    @Test func queuedPBSPanelMatchesAppendixB() {
        let out = render(Examples.queuedPBS, pbsAnswer("Q", comment: "Not Running: Insufficient amount of resource: ncpus"))
        #expect(normalizePanel(out) == normalizePanel(reference("appendix-b-queued-pbs.txt")))
    }

    @Test func runningLoopPanelMatchesAppendixBIncludingTheWrappedDetail() {
        let out = render(Examples.runningLoop, .found(Examples.slurmRecord("RUNNING", batchHost: "cn123")))
        #expect(normalizePanel(out) == normalizePanel(reference("appendix-b-running-loop.txt")))
        #expect(out.contains("│               node "))  // the wrapped word starts in the value column
    }

    @Test func failedPBSPanelMatchesAppendixBFragment() {
        let out = render(Examples.failedPBS, pbsAnswer("F", exit: 1))
        #expect(panel(out, containsFragment: reference("appendix-b-failed-pbs-fragment.txt")), "\(out)")
    }

    @Test func longPathWithoutSpacesIsCutAtTheValueColumnWidth() {
        let out = render(Examples.failedPBS, pbsAnswer("F", exit: 1), columns: 80)
        let lines = out.split(separator: "\n")
        let i = lines.firstIndex { $0.contains("Working directory:") }!
        #expect(lines[i] == "│   Working directory:  /scratch.ssd/jdoe/job_1234567.pbs-m1.metacentrum.cz/   │")
        #expect(lines[i + 1] == "│                       main                                                   │")
    }

    @Test func everyLineIsThePanelWidth() {
        for columns in [80, 240, 300, 400] {
            let out = render(Examples.killedArrayTask, .found(Examples.slurmRecord("TIMEOUT")), columns: columns)
            for line in out.split(separator: "\n") { #expect(line.count == max(columns / 3, 80)) }
        }
    }

    @Test func bordersAreRoundedAndTheTitleCentered() {
        let out = render(Examples.runningLoop, nil, columns: 80)
        let lines = out.split(separator: "\n")
        #expect(lines.first == "╭──────────────────────────────── JOB: 2345678 ────────────────────────────────╮")
        let bottom = "╰" + String(repeating: "─", count: 78) + "╯"
        #expect(lines.last.map(String.init) == bottom)
        #expect(lines.contains("│─────────────────────────────────── STATE ────────────────────────────────────│"))
    }

    @Test func workingNodesAreJoinedWithPlus() {
        let out = render(Examples.runningLoop, nil)
        #expect(normalizePanel(out).lines.contains("Working nodes: cn123 + cn124"))
        #expect(!out.contains("Working node:"))
    }

    @Test func finishedLumiPanelMatchesTheReferenceTexts() {
        let n = normalizePanel(render(Examples.finishedLumi, .found(Examples.slurmRecord("COMPLETED"))))
        #expect(n.lines.contains("Working node: nid001234"))
        #expect(n.resources == ["nnodes: 1", "ncpus-per-node: 64", "mem-per-node: 100gb", "walltime: 0:30:00", "work-dir: flash"])
        #expect(Array(n.lines.drop { $0 != "HISTORY" }) == [
            "HISTORY", "Submitted at: 2025-03-14 09:00:00", "was queued for 00:05:00", "Started at: 2025-03-14 09:05:00",
            "was running for 00:20:13", "Finished at: 2025-03-14 09:25:13",
            "STATE", "Job state: Job has finished", "Completed at 2025-03-14 09:25:13",
        ])
    }

    @Test func killedPBSPanelHasKilledLabelAndNoReason() {
        let n = normalizePanel(render(Examples.killedPBS, pbsAnswer("F", exit: 271)))
        #expect(n.lines.contains("Killed at: 2025-03-14 11:02:03"))
        #expect(n.lines.suffix(2) == ["Job state: Job has been killed", "Killed at 2025-03-14 11:02:03"])
    }

    @Test func stagingUsageAndTimeoutNoteMatchAppendixB() {
        let out = render(Examples.killedArrayTask, .found(Examples.slurmRecord("TIMEOUT")))
        #expect(panel(out, containsFragment: reference("appendix-b-qq-run-additions-fragment.txt")), "\(out)")
    }

    @Test func workDirRowSaysRemovedOrWiped() {
        var r = Examples.killedArrayTask
        r.synchronized = true
        #expect(normalizePanel(render(r, nil)).lines.contains("Work dir: removed"))
        r.wiped = ts("2025-03-15 08:00:00")
        #expect(normalizePanel(render(r, nil)).lines.contains("Work dir: wiped at 2025-03-15 08:00:00"))
    }

    @Test func stageOutShowsLogsOnlyAndErrors() {
        var r = Examples.killedArrayTask
        r.stageOut = StageOutStats(mode: .logsOnly, files: 2, bytes: 3 * 1024 * 1024, seconds: 1.26, errors: 2)
        #expect(normalizePanel(render(r, nil)).lines.contains("Stage out: 2 files, 3mb in 1.3 s (logs only), 2 errors"))
    }

    @Test func sectionsWithoutRowsAreLeftOut() {
        let n = normalizePanel(render(Examples.runningLoop, nil))
        #expect(!n.lines.contains("STAGING"))
        #expect(!n.lines.contains("USAGE"))
    }

    @Test func lostJobShowsTheLostMessage() {
        var r = Examples.killedArrayTask
        r.jobState = .running
        r.completionTime = nil
        r.heartbeat = ts("2025-03-14 09:30:00")
        let n = normalizePanel(render(r, .notFound, now: 100_000, mtime: 1_000, columns: 400))
        #expect(n.lines.suffix(2) == ["Job state: Job has been lost",
                                      "No sign of life from qq-run since 2025-03-14 09:30:00; the batch job is no longer active"])
    }

    @Test func runningJobShowsHeartbeatAgeAndStageOutPhase() {
        var r = Examples.runningLoop
        r.heartbeat = ts("2025-03-14 11:59:30")
        r.heartbeatInterval = 60
        r.phase = .stageOut
        let now = Examples.renderTime
        let fresh = normalizePanel(render(r, .found(Examples.slurmRecord("RUNNING")), now: now, mtime: now - 30)).lines
        #expect(fresh.contains("Transferring results to the input directory"))
        #expect(fresh.contains("Last heartbeat 00:00:30 ago"))
        // Silent by the lost verdict's rule (HeartbeatFreshness): older than 3 × 60 s + 60 s skew.
        let stale = normalizePanel(render(r, .found(Examples.slurmRecord("RUNNING")), now: now, mtime: now - 241)).lines
        #expect(stale.contains("No heartbeat for 00:04:01"))
    }

    @Test func pendingSlurmJobShowsPlannedStartOrReason() {
        var batch = Examples.slurmRecord("PENDING", reason: "Resources")
        let r = sampleRecord(state: .queued)
        #expect(normalizePanel(render(r, .found(batch))).lines.contains("Reason: Resources"))
        batch.estimate = StartEstimate(time: ts("2025-03-14 13:00:00"), nodes: "node[07-08]")
        let lines = normalizePanel(render(r, .found(batch))).lines
        #expect(lines.contains("Planned start within 01:00:00 on 'node[07-08]'"))
        #expect(!lines.contains("Reason: Resources"))
    }

    @Test func bootingJobNamesTheBatchHost() {
        let lines = normalizePanel(render(sampleRecord(state: .queued), .found(Examples.slurmRecord("RUNNING", batchHost: "node07")))).lines
        #expect(lines.suffix(2) == ["Job state: Job is booting", "Preparing working directory on 'node07'"])
    }

    @Test func exitingMessagesDependOnTheExitCode() {
        var r = Examples.finishedLumi
        let running = BatchAnswer.found(Examples.slurmRecord("RUNNING"))
        #expect(normalizePanel(render(r, running)).lines.suffix(1) == ["Job is finishing successfully"])
        r.jobState = .failed; r.jobExitCode = 2
        #expect(normalizePanel(render(r, running)).lines.suffix(1) == ["Job is failing [exit code: 2]"])
        #expect(normalizePanel(render(r, running)).lines.contains("Failed at: 2025-03-14 09:25:13"))
        r.jobState = .killed; r.jobExitCode = nil
        #expect(normalizePanel(render(r, running)).lines.suffix(1) == ["Job is being killed"])
    }

    @Test func failedJobShowsTheErrorNote() {
        var r = Examples.failedPBS
        r.error = "Stage-out failed: 'results/a.dat' differs after copying."
        #expect(normalizePanel(render(r, pbsAnswer("F", exit: 1))).lines.last == r.error)
    }

    @Test func unavailableNoteEndsTheStateSection() {
        let lines = normalizePanel(render(Examples.runningLoop, .unavailable(reason: "'scontrol' not found on PATH"), columns: 400)).lines
        #expect(lines.suffix(3) == ["Job state: Job is running", "Running for 01:58:58 on 'cn123.karolina.it4i.cz' and 1 other node",
                                    "(batch system unavailable: 'scontrol' not found on PATH)"])
    }

    @Test func inconsistentAndUnknownDetails() {
        #expect(normalizePanel(render(Examples.runningLoop, .notFound)).lines.suffix(2) ==
                ["Job state: Job is in an inconsistent state", "The batch system and qq disagree on the status of the job"])
        var r = Examples.runningLoop
        r.jobState = .unknown
        #expect(normalizePanel(render(r, nil)).lines.suffix(2) ==
                ["Job state: Job is in an unknown state", "Job is in a state that qq does not recognize"])
    }

    @Test func shortLinesMatchAppendixB() {
        let lines = [
            InfoPanel.shortLine(record: Examples.queuedPBS, status: JobStatus(realState: .queued, answer: nil), colors: false),
            InfoPanel.shortLine(record: Examples.runningLoop, status: JobStatus(realState: .running, answer: nil), colors: false),
            InfoPanel.shortLine(record: Examples.finishedLumi, status: JobStatus(realState: .finished, answer: nil), colors: false),
        ]
        #expect(lines.joined(separator: "\n") + "\n" == reference("appendix-b-short-lines.txt"))
    }

    @Test func colorsUseTheR131Palette() {
        let out = render(Examples.finishedLumi, .found(Examples.slurmRecord("COMPLETED")), colors: true)
        #expect(out.contains("\u{1B}[1;92mJob has finished\u{1B}[0m"))
        #expect(out.contains("\u{1B}[38;5;244mCompleted at 2025-03-14 09:25:13\u{1B}[0m"))
        #expect(out.contains("\u{1B}[1m"))
        let short = InfoPanel.shortLine(record: Examples.finishedLumi, status: JobStatus(realState: .inconsistent, answer: nil), colors: true)
        #expect(short == "9876543    \u{1B}[38;5;249min an inconsistent state\u{1B}[0m")
        #expect(!render(Examples.finishedLumi, nil, colors: false).contains("\u{1B}"))
    }

    @Test func wrapBreaksAtSpacesAndCutsLongWords() {
        #expect(InfoPanel.wrap("aaa bbb ccc", width: 7) == ["aaa bbb", "ccc"])
        #expect(InfoPanel.wrap("abcdefghij", width: 4) == ["abcd", "efgh", "ij"])
        #expect(InfoPanel.wrap("x abcdefghij", width: 4) == ["x", "abcd", "efgh", "ij"])
        #expect(InfoPanel.wrap("", width: 4) == [""])
    }

    @Test func cpuEfficiencyUsesR91CPUCount() {
        var r = Examples.killedArrayTask
        r.resources.ncpus = nil
        r.resources.ncpusPerNode = 1
        r.resources.nnodes = 2
        #expect(normalizePanel(render(r, nil)).lines.contains("CPU efficiency: 88.9%"))
        r.startTime = nil
        #expect(!normalizePanel(render(r, nil)).lines.contains { $0.hasPrefix("CPU efficiency") })
    }
}

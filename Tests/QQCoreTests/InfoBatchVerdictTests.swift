import Testing
@testable import QQCore

/// R127: the batch system's own verdict gets its own note, one text per Slurm state.
@Suite struct InfoBatchVerdictTests {
    func stateLines(_ slurmState: String, naive: NaiveState = .killed) -> [String] {
        var r = sampleRecord(state: naive)
        r.startTime = ts("2025-03-14 09:30:00"); r.completionTime = ts("2025-03-14 09:40:00")
        let status = JobStatus.evaluate(record: r, answer: .found(Examples.slurmRecord(slurmState)), fileMTime: nil,
                                        now: ts("2025-03-14 10:00:00").epochSeconds, clockSkew: 60)
        return normalizePanel(InfoPanel.render(record: r, status: status, options: PanelOptions(now: 0))).lines
    }

    @Test(arguments: [("TIMEOUT", "time limit reached"), ("OUT_OF_MEMORY", "out of memory"),
                      ("NODE_FAIL", "node failure"), ("PREEMPTED", "preempted"), ("DEADLINE", "deadline reached")])
    func eachFailureStateHasItsMessage(state: String, text: String) {
        #expect(stateLines(state).contains("Batch system: \(text) (\(state))"))
    }

    @Test(arguments: ["COMPLETED", "FAILED", "CANCELLED", "RUNNING"])
    func ordinaryStatesAddNoVerdict(state: String) {
        #expect(!stateLines(state).contains { $0.hasPrefix("Batch system: ") })
    }

    @Test func cpuEfficiencyIsAgainstTheAllocatedCpus() {
        var r = sampleRecord(state: .finished)   // ncpus 2
        r.startTime = ts("2025-03-14 09:00:00"); r.completionTime = ts("2025-03-14 09:10:00")
        r.usage = Usage(maxRSS: 1024, userCPU: 900, sysCPU: 60)   // 960 s of 2 × 600 s
        let rows = InfoPanel.usageRows(r, now: 0).map { "\($0.key) \($0.value)" }
        #expect(rows == ["Max RSS (largest process): 1mb", "User CPU: 00:15:00", "System CPU: 00:01:00", "CPU efficiency: 80.0%"])
    }

    @Test func cpuEfficiencyIsOmittedWithoutAStartTime() {
        var r = sampleRecord(state: .failed)
        r.usage = Usage(maxRSS: 1, userCPU: 1, sysCPU: 1)
        #expect(!InfoPanel.usageRows(r, now: 0).contains { $0.key == "CPU efficiency:" })
    }
}

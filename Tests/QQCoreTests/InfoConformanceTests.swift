import Glibc
import Testing
@testable import QQCore

/// Scenario 17a: the reference fixtures recorded from real Slurm and the Python qq, read from
/// `<repo>/../shared/fixtures` only when that folder exists (as in CI, R148).
private let sharedFixturesExist = (FileSystem.stat(TestPaths.sharedFixtures)?.isDirectory == true)

/// Every `.qqinfo` below `qqinfo/`, as (path, text).
private func referenceStateFiles() -> [(String, String)] {
    var out: [(String, String)] = []
    func walk(_ dir: String) {
        guard let d = opendir(dir) else { return }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(d)
        for name in names.sorted() {
            let path = dir + "/" + name
            if (FileSystem.stat(path)?.isDirectory == true) { walk(path) } else if name.hasSuffix(".qqinfo"), let text = readText(path) { out.append((path, text)) }
        }
    }
    walk(TestPaths.sharedFixtures + "/qqinfo")
    return out
}

/// `01:58:58`, `1d 02:00:00` → seconds.
private func parseDuration(_ text: Substring) -> Int? {
    var total = 0
    for part in text.split(separator: " ") {
        if part.hasSuffix("w"), let w = Int(part.dropLast()) { total += w * 604_800; continue }
        if part.hasSuffix("d"), let d = Int(part.dropLast()) { total += d * 86_400; continue }
        let hms = part.split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        total += hms[0] * 3600 + hms[1] * 60 + hms[2]
    }
    return total
}

private let messageToNaive: [String: NaiveState] = [
    "Job is queued": .queued, "Job is running": .running, "Job has finished": .finished,
    "Job has failed": .failed, "Job has been killed": .killed,
]

/// The batch answer the reference render implies (what the scheduler said when it was taken),
/// and the moment it was taken, derived from its "… for <D>" durations.
private func impliedAnswerAndNow(record: InfoRecord, stateLines: [String]) -> (BatchAnswer, Int) {
    let pbs = record.batchSystem == .pbs
    var now = (record.completionTime ?? record.startTime ?? record.submissionTime).epochSeconds
    var comment: String?
    for (i, line) in stateLines.enumerated() {
        if line.hasPrefix("In queue for "), let d = parseDuration(line.dropFirst("In queue for ".count)) {
            now = (record.startTime ?? record.submissionTime).epochSeconds + d
            if i + 1 < stateLines.count { comment = stateLines[i + 1] }
        }
        if line.hasPrefix("Running for "), let on = line.firstRange(of: " on "),
           let d = parseDuration(line[line.index(line.startIndex, offsetBy: "Running for ".count)..<on.lowerBound]) {
            now = (record.startTime ?? record.submissionTime).epochSeconds + d
        }
    }
    let (slurm, pbsState, exit): (String, String, Int?) = switch record.jobState {
    case .queued: ("PENDING", "Q", nil)
    case .running: ("RUNNING", "R", nil)
    case .finished: ("COMPLETED", "F", 0)
    case .failed: ("FAILED", "F", 1)
    default: ("CANCELLED", "F", 271)
    }
    var batch: BatchJobRecord
    if pbs {
        batch = BatchJobRecord(jobID: record.jobID, state: BatchState.fromPBS(pbsState, exitStatus: exit),
                               rawState: pbsState, comment: comment, exitStatus: exit)
    } else {
        let reason = comment.flatMap { $0.hasPrefix("Reason: ") ? String($0.dropFirst(8)) : nil }
        batch = BatchJobRecord(jobID: record.jobID, state: BatchState.fromSlurm(slurm, reason: reason),
                               rawState: slurm, reason: reason)
    }
    return (.found(batch), now)
}

@Suite(.enabled(if: sharedFixturesExist, "needs ../shared/fixtures (reference fixtures, present in CI)"))
struct InfoConformanceTests {
    /// 17a, first half: every reference state file parses and renders. Zero-byte files are torn
    /// snapshots taken while Python qq rewrote the file (R37); they have nothing to parse.
    @Test func everyReferenceStateFileParsesAndRenders() throws {
        let files = referenceStateFiles()
        #expect(files.count >= 20)
        for (path, text) in files where !text.isEmpty {
            do {
                let record = try decodeInfoText(text, path: path)
                let status = JobStatus.evaluate(record: record, answer: .notFound, fileMTime: nil, now: 0, clockSkew: 60)
                let panel = InfoPanel.render(record: record, status: status, options: PanelOptions(now: 0))
                #expect(panel.contains("JOB: \(record.jobID)"))
            } catch {
                Issue.record("\(path): \(error)")
            }
        }
    }

    /// 17a, second half: for each recorded `qq info` render whose state file is among the
    /// fixtures (same job id and state), our panel matches per R126; short lines match exactly.
    @Test func panelsMatchTheRecordedQQInfoRenders() throws {
        var records: [InfoRecord] = []
        for (path, text) in referenceStateFiles() where !text.isEmpty {
            if let r = try? decodeInfoText(text, path: path) { records.append(r) }
        }
        let renders = ["examples-rendered.txt", "e2e-success-info-running.txt", "e2e-success-info-finished.txt",
                       "fail-exit3-info.txt", "multinode-info.txt", "qqkill-info-running.txt", "qqkill-info-after.txt",
                       "qqkill-queued-info-before.txt", "qqkill-queued-info-after.txt", "walltime-info.txt"]
        var compared = 0
        for name in renders {
            guard let text = readText(TestPaths.sharedFixtures + "/qq-info-output/" + name) else { continue }
            let shortLines = Set(text.split(separator: "\n").filter { $0.contains("    ") && !$0.contains("│") }.map(String.init))
            for reference in splitPanels(text) {
                let ref = normalizePanel(reference)
                let id = String(ref.lines.first?.dropFirst("JOB: ".count) ?? "")
                guard let stateIndex = ref.lines.firstIndex(where: { $0.hasPrefix("Job state: ") }),
                      let naive = messageToNaive[String(ref.lines[stateIndex].dropFirst("Job state: ".count))] else {
                    Issue.record("\(name): no known state in panel of job \(id)"); continue
                }
                // Renders of jobs whose state files were not kept (ids 43, 45) have no partner.
                guard let record = records.first(where: { $0.jobID == id && $0.jobState == naive }) else { continue }
                let (answer, now) = impliedAnswerAndNow(record: record, stateLines: Array(ref.lines[stateIndex...].dropFirst()))
                let status = JobStatus.evaluate(record: record, answer: answer, fileMTime: nil, now: now, clockSkew: 60)
                let ours = InfoPanel.render(record: record, status: status, options: PanelOptions(terminalColumns: 80, now: now))
                #expect(normalizePanel(ours) == ref, "\(name), job \(id):\n\(ours)")
                if !shortLines.isEmpty {
                    #expect(shortLines.contains(InfoPanel.shortLine(record: record, status: status, colors: false)))
                }
                compared += 1
            }
        }
        // 5 example panels + 6 lifecycle panels have partners.
        #expect(compared == 11)
    }
}

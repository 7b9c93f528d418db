import Glibc
@testable import QQCore

/// A loop job `md.sh` (`md%04d`, cycles 1…10) in a `CleanupWorld`'s input dir, written by the real
/// codec as qq leaves it: the current cycle's `md+000N.qqinfo` in the input dir, and past cycles
/// moved into the archive under qq's names (`storage/md0002.qqinfo`, `.out`, `.err`) next to data
/// files (`md0002.cpt`, `md0003.tpr`). Cycle N is job `10N`, submitted N hours after 09:00, started
/// a minute later, and (when ended) completed 30 min + N s after its start.
extension CleanupWorld {
    var archive: String { input + "/storage" }

    /// One cycle's info file: in the archive under its archive name when `archived`, else in the
    /// input dir under its job's name. `archive` overrides where `loop_info.archive` points.
    @discardableResult
    func makeCycle(_ n: Int, state: NaiveState, archived: Bool, archive: String? = nil,
                   edit: (inout InfoRecord) -> Void = { _ in }) -> String {
        let jobName = LoopNames.jobName(scriptName: "md.sh", cycle: n)
        let stem = LoopNames.stem(ofJobName: jobName)
        let name = archived ? ArchiveFormat("md%04d").name(cycle: n) : stem
        if archived { makeDirectories(self.archive) }
        return makeInfo("10\(n)", state: state, name: (archived ? "storage/" : "") + name + ".qqinfo") { r in
            r.jobName = jobName
            r.scriptName = "md.sh"
            r.jobType = .loop
            r.stdoutFile = stem + ".out"
            r.stderrFile = stem + ".err"
            r.loopInfo = LoopInfo(start: 1, end: 10, archive: archive ?? self.archive, archiveFormat: "md%04d",
                                  current: n, archiveMode: ["success"])
            let submitted = ts("2025-03-14 09:00:00").epochSeconds + (n - 1) * 3600
            r.submissionTime = Timestamp(epochSeconds: submitted)
            if r.startTime != nil { r.startTime = Timestamp(epochSeconds: submitted + 60) }
            if r.completionTime != nil { r.completionTime = Timestamp(epochSeconds: submitted + 60 + 1800 + n) }
            edit(&r)
        }
    }

    /// An archived cycle's logs as qq moves them (`md0002.out`, `md0002.err`) and its data files.
    func makeArchivedFiles(_ n: Int) -> [String] {
        let name = ArchiveFormat("md%04d").name(cycle: n)
        let paths = [".out", ".err", ".cpt", ".xtc"].map { archive + "/" + name + $0 }
            + [archive + "/" + ArchiveFormat("md%04d").name(cycle: n + 1) + ".tpr"]
        for p in paths { writeText(p, "data of cycle \(n)\n") }
        return paths
    }

    /// A typical loop in cycle 3: cycles 1 and 2 archived (finished), cycle 3 current in `state`.
    @discardableResult
    func makeLoop(current state: NaiveState = .running) -> (current: String, archived: [String]) {
        let archived = [1, 2].map { makeCycle($0, state: .finished, archived: true) { $0.synchronized = true } }
        for n in [1, 2] { _ = makeArchivedFiles(n) }
        return (makeCycle(3, state: state, archived: false), archived)
    }

    /// Every file under `dir` with its contents, to check that nothing changed.
    func snapshot(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        guard case .success(let entries) = DirectoryReader.entries(atPath: dir) else { return out }
        for e in entries {
            let path = dir + "/" + e.text
            if FileSystem.lstat(path)?.isDirectory == true {
                out.merge(snapshot(path)) { a, _ in a }
            } else {
                out[path] = readText(path) ?? "<unreadable>"
            }
        }
        return out
    }
}

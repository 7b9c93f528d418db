import Glibc

/// Where a loop job keeps its past cycles (SPEC §10 item 2): `loop_info.archive`, holding each
/// cycle's runtime files under qq's archive names (`md0002.qqinfo`, `md0002.out`) next to the
/// simulation's data. qq-info reads it to show the whole loop; qq-clear, qq-wipe and the job-id
/// lookup use it to find and to leave alone the loop's records.
enum ArchivedCycles {
    /// The archive of a loop job's record, absolute (a relative one is taken in the input dir); nil
    /// for other job types and for a loop without an archive.
    static func archiveDirectory(of r: InfoRecord) -> String? {
        guard r.jobType == .loop, let archive = r.loopInfo?.archive, !archive.isEmpty else { return nil }
        return FileSystem.normalizeLexically(archive, relativeTo: r.inputDir)
    }

    static func format(of r: InfoRecord) -> ArchiveFormat {
        ArchiveFormat(r.loopInfo?.archiveFormat ?? ArchiveFormat.defaultText)
    }

    /// Whether an info file's stem is an archived cycle's name: `md0002` for `md%04d`. A format
    /// without a placeholder names every cycle alike (`md`).
    static func isCycleName(_ stem: String, format: ArchiveFormat) -> Bool {
        format.hasPlaceholder ? format.cycle(named: stem) != nil : stem == format.name(cycle: 0)
    }

    /// The archived cycles' records in `dir`: its `*.qqinfo` files (R119) whose stem is a cycle name,
    /// sorted by path. The data files next to them (`md0002.cpt`) are not cycles.
    static func cycleRecordPaths(in dir: String, format: ArchiveFormat) throws(SystemError) -> [String] {
        try Discovery.infoFiles(in: dir)
            .filter { isCycleName(LoopNames.fileStem(FileSystem.baseName($0)), format: format) }
            .sorted()
    }

    /// Whether the info file at `path` is an archived cycle's record rather than a job's own file:
    /// a loop job's record that is not named after its job (`md0002.qqinfo` of `md+0002.sh`) and
    /// lies in its own archive, or is named as an archived cycle (an archive moved with its input
    /// dir still says where it used to be).
    static func isArchivedRecord(path: String, record r: InfoRecord) -> Bool {
        guard r.jobType == .loop, r.loopInfo != nil else { return false }
        let name = FileSystem.baseName(path)
        guard name != replacingSuffix(of: r.jobName, with: ".qqinfo") else { return false }
        if let archive = archiveDirectory(of: r),
           sameDirectory(archive, FileSystem.directoryName(FileSystem.normalizeLexically(path))) { return true }
        return isCycleName(LoopNames.fileStem(name), format: format(of: r))
    }

    /// The same directory, by path or by device and inode (a symlinked or bind-mounted path).
    static func sameDirectory(_ a: String, _ b: String) -> Bool {
        if FileSystem.normalizeLexically(a) == FileSystem.normalizeLexically(b) { return true }
        guard let x = FileSystem.stat(a), let y = FileSystem.stat(b) else { return false }
        return x.identity == y.identity
    }

    /// R120 for a cycle that was archived: the newest record of job `id` in the archives of the loop
    /// jobs whose info files lie in `directory` (a cycle's file moves there when the next one starts).
    static func newestMatch(inArchivesOf directory: String, id: String, loader: InfoLoader) -> LoadedInfo? {
        guard let paths = try? Discovery.infoFiles(in: directory) else { return nil }
        var archives: [String] = []
        for path in paths.sorted() {
            guard case .success(let info) = Discovery.load(path, retries: 1, loader: loader),
                  let archive = archiveDirectory(of: info.record), !archives.contains(archive),
                  !sameDirectory(archive, directory) else { continue }
            archives.append(archive)
        }
        for archive in archives {
            if let match = JobIDResolver.newestMatch(in: archive, id: id, loader: loader) { return match }
        }
        return nil
    }
}

/// One cycle of a loop job, as the LOOP section, `--short` and `--json` show it.
struct CycleRecord: Sendable {
    /// From the file's archive name, else its `loop_info.current`; nil when neither says.
    var cycle: Int?
    var path: String
    /// Read from the archive. Its state is the one its file says: the cycle has ended, and asking
    /// the batch system about every past cycle would cost one query each.
    var archived: Bool
    /// nil when the archived file could not be read (`error` says why).
    var record: InfoRecord?
    var state: RealState?
    var error: String?

    /// Seconds from `start_time` to `completion_time`, or to now for a cycle of this scan that has
    /// not completed; nil when it never started (or an archived one has no completion time).
    func runSeconds(now: Int) -> Int? {
        guard let r = record, let start = r.startTime else { return nil }
        if let end = r.completionTime { return max(0, end.epochSeconds - start.epochSeconds) }
        return archived ? nil : max(0, now - start.epochSeconds)
    }
}

/// Every cycle of one loop found on disk: the archived ones and the loop's info files that qq-info
/// was shown (usually one: the current cycle; two while a finished cycle waits for the next to start
/// and archive it).
struct LoopHistory: Sendable {
    var archive: String
    /// By cycle, then submission time.
    var cycles: [CycleRecord]
    /// Why the archive could not be listed; a missing archive is no error (qq creates it when the
    /// first cycle starts).
    var archiveError: String?

    var archivedCount: Int { cycles.filter(\.archived).count }

    /// Shown when it tells more than the job's own panel does.
    var isWorthShowing: Bool { cycles.count > 1 || archiveError != nil }

    /// The history of each job: nil for jobs that are not loops with an archive, and for archived
    /// cycles' own files (a panel per past cycle needs no copy of the whole loop). Each archive is
    /// read once; only files are read, no batch system is asked.
    static func gather(_ jobs: [(LoadedInfo, JobStatus)], loader: InfoLoader) -> [LoopHistory?] {
        struct Key: Hashable { var archive: String; var format: String }
        var keys: [Key?] = []
        var members: [Key: [Int]] = [:]
        var order: [Key] = []
        for (i, (info, _)) in jobs.enumerated() {
            guard let archive = ArchivedCycles.archiveDirectory(of: info.record),
                  !ArchivedCycles.isArchivedRecord(path: info.path, record: info.record) else { keys.append(nil); continue }
            let key = Key(archive: archive, format: ArchivedCycles.format(of: info.record).text)
            keys.append(key)
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(i)
        }
        var built: [Key: LoopHistory] = [:]
        for key in order {
            var history = read(archive: key.archive, format: ArchiveFormat(key.format), loader: loader)
            for i in members[key] ?? [] {
                let (info, status) = jobs[i]
                let path = FileSystem.normalizeLexically(info.path)
                history.cycles.removeAll { FileSystem.normalizeLexically($0.path) == path }
                history.cycles.append(CycleRecord(cycle: info.record.loopInfo?.current, path: info.path, archived: false,
                                                record: info.record, state: status.realState))
            }
            history.cycles.sort { a, b in
                if a.cycle != b.cycle { return (a.cycle ?? Int.max) < (b.cycle ?? Int.max) }
                let ta = a.record?.submissionTime.epochSeconds ?? 0, tb = b.record?.submissionTime.epochSeconds ?? 0
                return ta != tb ? ta < tb : a.path < b.path
            }
            built[key] = history
        }
        return keys.map { $0.flatMap { built[$0] } }
    }

    /// The archived cycles in `archive`, each read once without torn-read retries (an archived file
    /// is no longer written).
    static func read(archive: String, format: ArchiveFormat, loader: InfoLoader) -> LoopHistory {
        let paths: [String]
        do { paths = try ArchivedCycles.cycleRecordPaths(in: archive, format: format) } catch {
            return LoopHistory(archive: archive, cycles: [], archiveError: error.code == ENOENT ? nil : error.description)
        }
        let cycles = paths.map { path -> CycleRecord in
            let named = format.cycle(named: LoopNames.fileStem(FileSystem.baseName(path)))
            switch loader(path, 0) {
            case .success(let r):
                return CycleRecord(cycle: named ?? r.loopInfo?.current, path: path, archived: true, record: r,
                                 state: .fromNaive(r.jobState))
            case .failure(let e):
                return CycleRecord(cycle: named, path: path, archived: true, error: e.description)
            }
        }
        return LoopHistory(archive: archive, cycles: cycles)
    }
}

import Glibc

/// `qq-clear` (§13): removes the runtime files of dead jobs from one directory.
package enum QQClearCommand {
    package static let usage = """
        usage: qq-clear [DIR] [--force] [--dry-run]
               qq-clear --help | --version
        """

    package static let help = """
        \(usage)

        Removes the runtime files (<job>.qqinfo, <job>.qqout and the .out/.err files named in the
        info files) of jobs that are no longer alive, from DIR or the current directory. Files
        that no info file names are never touched; a named file whose name does not end in .out,
        .err or .qqout is reported and kept. Files of finished jobs are kept unless --force is
        given; files of jobs that may still be running are always kept.

        options:
          --force     also remove the files of finished jobs, and of jobs in an unknown state that
                      the batch system confirms have ended
          --dry-run   list the files that would be removed; remove nothing
          -h, --help  show this help and exit
          --version   show the version and exit
        """

    struct Options: Sendable {
        var directory: String?
        var force = false
        var dryRun = false
    }

    static func parse(_ arguments: [String]) -> CommandLineRequest<Options> {
        ArgumentScanner.request(arguments, flags: ["--force", "--dry-run"], into: Options()) {
            o, word throws(ArgumentScanner.Problem) in
            switch word {
            case .positional(let dir):
                if o.directory != nil { throw .invalid("only one DIR can be given") }
                o.directory = dir
            case .flag("--force"): o.force = true
            case .flag("--dry-run"): o.dryRun = true
            default: break  // each flag named above has its case
            }
        }
    }

    package static func run(arguments: [String], environment: Environment) -> ExitStatus {
        execute(arguments: arguments, environment: environment, context: .live())
    }

    static func execute(arguments: [String], environment: Environment, context: CleanupContext) -> ExitStatus {
        CleanupContext.execute(tool: "qq-clear", help: help, usage: usage, arguments: arguments, environment: environment,
                               context: context, parse: parse) { o, context in
            clear(o, environment: environment, context: context)
        }
    }

    /// R142: may this job's files be deleted?
    static func mayDelete(_ job: EvaluatedJob, force: Bool) -> Bool {
        if job.live != nil { return false }
        let endedForSure = job.status.answer?.provesEnded ?? false
        switch job.status.realState {
        case .queued, .held, .waiting, .booting, .running, .suspended, .exiting: return false
        case .killed, .failed, .lost: return true
        case .inconsistent: return endedForSure
        case .finished: return force
        case .unknown: return force && endedForSure
        }
    }

    static func clear(_ o: Options, environment: Environment, context: CleanupContext) -> ExitStatus {
        let cwd = FileSystem.logicalCurrentDirectory(environment: environment)
        let dir = FileSystem.normalizeLexically(o.directory ?? cwd, relativeTo: cwd)
        let paths: [String]
        do { paths = try Discovery.infoFiles(in: dir) } catch {
            context.error(error.description)
            return .failed
        }
        var loaded: [LoadedInfo] = []
        for path in paths.sorted() {
            switch Discovery.load(path, loader: context.info.loadInfo) {
            case .success(let info): loaded.append(info)
            case .failure(let f): context.warning("Skipping unreadable info file '\(path)': \(f.message)")
            }
        }
        // Issue 11 item 4: an archived loop cycle's record (`storage/md0002.qqinfo`) is the loop's
        // history, not a job's leftover. It is kept with every file it names, and not queried.
        let archived = loaded.filter { ArchivedCycles.isArchivedRecord(path: $0.path, record: $0.record) }.map(\.path)
        if !archived.isEmpty {
            loaded.removeAll { archived.contains($0.path) }
            context.info(keepingArchiveMessage(archived))
        }
        let jobs = CleanupJobs.evaluate(loaded, environment: environment, context: context.info)

        // Every candidate file with the verdict of each job that names it (R141: both must agree).
        var verdicts: [String: [Bool]] = [:]
        var order: [String] = []
        var owners: [String: [Int]] = [:]
        func note(_ path: String, _ ok: Bool, _ job: Int) {
            guard let st = FileSystem.lstat(path), st.isRegular else { return }
            if verdicts[path] == nil { order.append(path) }
            verdicts[path, default: []].append(ok)
            owners[path, default: []].append(job)
        }
        var foreign: [String] = []
        for (i, job) in jobs.enumerated() {
            let ok = mayDelete(job, force: o.force)
            let r = job.record
            note(job.info.path, ok, i)
            for (field, name) in [("stdout_file", r.stdoutFile), ("stderr_file", r.stderrFile),
                                  ("job_name", replacingSuffix(of: r.jobName, with: ".qqout"))]
            where isPlainName(name) {
                let path = FileSystem.joinPath(dir, name)
                guard hasLogSuffix(name) else {
                    // An info file is only text: a name without qq's suffixes may be anyone's data.
                    if FileSystem.lstat(path) != nil && !foreign.contains(path) {
                        foreign.append(path)
                        context.warning("Keeping '\(path)': the info file '\(job.info.path)' names it as \(field), but qq-clear "
                                        + "removes as logs only files ending in .out, .err or .qqout. "
                                        + "Remove it yourself if it is a log you no longer need.")
                    }
                    continue
                }
                note(path, ok, i)
            }
        }
        // Unreadable info files are never deleted and protect nothing else by name: their names
        // are unknown. They were skipped above.

        let removable = order.filter { verdicts[$0]?.allSatisfy { $0 } == true }
        let protected = order.count - removable.count
        let temporaries = staleTemporaries(in: dir, jobs: jobs, force: o.force, now: context.info.now())

        if order.isEmpty && temporaries.isEmpty {
            context.info("Nothing to clear.")
            return .success
        }
        let rerun = "Rerun as '\(context.command("clear")) --force' to clear them forcibly."
        if removable.isEmpty && temporaries.isEmpty {
            context.info("No qq files could be safely cleared. \(rerun)")
            return .success
        }

        // Info files last, so that a failure leaves the job's record in place.
        let infoPaths = Set(jobs.map(\.info.path))
        let sorted = removable.filter { !infoPaths.contains($0) } + temporaries + removable.filter { infoPaths.contains($0) }
        if o.dryRun {
            for p in sorted { context.out(p + "\n") }
            context.info("\(sorted.count) qq \(sorted.count == 1 ? "file" : "files") would be removed.")
            return .success
        }
        var removed = 0
        var failed = false
        for path in sorted {
            if infoPaths.contains(path), let job = jobs.first(where: { $0.info.path == path }) {
                noteRemainingWorkDir(job, context: context)
            }
            if unlink(path) == 0 || errno == ENOENT {
                removed += 1
            } else {
                context.error(SystemError.fromErrno("remove", path).description)
                failed = true
            }
        }
        context.info("Removed \(removed) qq \(removed == 1 ? "file" : "files").")
        if protected > 0 {
            context.info("\(protected) qq files could not be safely cleared. \(rerun)")
        }
        return failed ? .failed : .success
    }

    /// What qq-clear says about the archived cycles' records it keeps (few named, many as a range).
    static func keepingArchiveMessage(_ paths: [String]) -> String {
        let names = paths.sorted().map(FileSystem.baseName)
        let list = names.count <= 3 ? names.joined(separator: ", ") : "\(names[0]) … \(names[names.count - 1])"
        let what = names.count == 1 ? "the record of 1 archived loop cycle" : "the records of \(names.count) archived loop cycles"
        return "Keeping \(what) (\(list)): \(names.count == 1 ? "it is" : "they are") a loop job's history, which qq-clear never removes."
    }

    /// R143: the work dir outlives the info file; say how to remove it later.
    static func noteRemainingWorkDir(_ job: EvaluatedJob, context: CleanupContext) {
        let r = job.record
        guard let wd = r.workDir, r.synchronized != true, r.wiped == nil,
              FileSystem.normalizeLexically(wd) != FileSystem.normalizeLexically(r.inputDir),
              !WorkDirSafety.presence(of: wd).isGone else { return }
        context.info("Note: the working directory '\(wd)' of job '\(r.jobID)' still exists; it can be removed later with '\(context.command("wipe")) --orphans --include-unsynced --yes'.")
    }

    /// The suffixes of the logs qq and qq-run create. With `.qqinfo` (the info file itself, found by
    /// its suffix) these are the only files qq-clear removes. A log name ending in `.qqinfo` is
    /// refused too: it would be another job's info file, which goes only on its own verdict.
    static let logSuffixes = [".out", ".err", ".qqout"]

    /// `name` ends in a log suffix and has something before it (`.out` alone is not a log name).
    static func hasLogSuffix(_ name: String) -> Bool {
        logSuffixes.contains { name.hasSuffix($0) && name.count > $0.count }
    }

    /// A bare file name: no `/`, not `.` or `..`, not empty.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && name != "." && name != ".."
    }

    /// R141: qq-run's temporary files older than 1 h: `.<info name>.tmp-*` and
    /// `.<info name>.replaced-*` of jobs whose files may be deleted, and `.*.qq-part-*`.
    static func staleTemporaries(in dir: String, jobs: [EvaluatedJob], force: Bool, now: Int) -> [String] {
        let prefixes = jobs.filter { mayDelete($0, force: force) }.flatMap { job -> [String] in
            let name = FileSystem.baseName(job.info.path)
            return [".\(name).tmp-", ".\(name).replaced-"]
        }
        guard case .success(let entries) = DirectoryReader.entries(atPath: dir) else { return [] }
        var out: [String] = []
        for e in entries {
            let name = e.text
            guard name.hasPrefix(".") else { continue }
            let matches = prefixes.contains { name.hasPrefix($0) && name.count > $0.count }
                || (name.dropFirst().contains(".qq-part-"))
            guard matches, let st = FileSystem.lstat(dir + "/" + name), st.isRegular,
                  now - Int(st.mtimeSeconds) >= 3600 else { continue }
            out.append(dir + "/" + name)
        }
        return out.sorted()
    }
}

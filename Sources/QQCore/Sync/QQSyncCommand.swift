import Glibc
import Synchronization

/// `qq-sync [TARGET] [FILE…]` (issue 12 item 3): brings a running job's results home now, from its
/// work dir into its input dir, with stage-out's engine and rules (temporary name, verification,
/// rename; an input-dir file that changed since stage-in is kept as `<name>.qq-kept-<job id>`). It
/// runs where the work dir is visible (the Slurm family's shared scratch, from a login node). It
/// never writes the job's state file; what it copied goes into the work dir's `.qq-run-synced`,
/// which the job's stage-out reads, so it neither copies those again nor keeps them aside.
package enum QQSyncCommand {
    package static let usage = """
        usage: qq-sync [TARGET] [FILE...]
               qq-sync --help | --version
        """

    package static let help = """
        \(usage)

        Copies the results of a running job from its working directory into its input directory
        now: the named FILEs (paths relative to the working directory), or every file that is new
        or changed since stage-in. TARGET is a job id, an info file or a directory with one
        (default: the current directory). Files go through a temporary name and are verified
        before they take their names; an input-dir file that changed since stage-in is kept as
        <name>.qq-kept-<job id>. The job's state file is not changed.

        options:
          -h, --help  show this help and exit
          --version   show the version and exit
        """

    struct Options: Sendable {
        var words: [String] = []
    }

    static func parse(_ arguments: [String]) -> CommandLineRequest<Options> {
        ArgumentScanner.request(arguments, flags: [], into: Options()) { o, word throws(ArgumentScanner.Problem) in
            switch word {
            case .positional(let w): o.words.append(w)
            case .flag(let f), .option(let f, _): throw .unknownOption(f)
            }
        }
    }

    package static func run(arguments: [String], environment: Environment) -> ExitStatus {
        execute(arguments: arguments, environment: environment, context: .live())
    }

    static func execute(arguments: [String], environment: Environment, context: CleanupContext) -> ExitStatus {
        CleanupContext.execute(tool: "qq-sync", help: help, usage: usage, arguments: arguments, environment: environment,
                               context: context, parse: parse) { o, context in
            sync(o, environment: environment, context: context)
        }
    }

    /// The first word is the target when it names a job (an id, an info file, a directory);
    /// otherwise every word is a file and the job is the current directory's.
    static func split(_ words: [String]) -> (target: String?, files: [String]) {
        guard let first = words.first else { return (nil, []) }
        let st = FileSystem.stat(first)
        let isJob = st?.isDirectory == true || first.hasSuffix(".qqinfo")
            || (st == nil && !first.isEmpty && first.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "_" || $0.isLetter) }
                && first.first?.isNumber == true)
        return isJob ? (first, Array(words.dropFirst())) : (nil, words)
    }

    static func sync(_ o: Options, environment: Environment, context: CleanupContext) -> ExitStatus {
        let cwd = FileSystem.logicalCurrentDirectory(environment: environment)
        let (target, files) = split(o.words)
        let (jobs, errors) = JobLookup.collectJobs(target.map { [$0] } ?? [], environment: environment,
                                                   context: context.info, directory: cwd)
        for e in errors { context.error(e.message) }
        let evaluated = CleanupJobs.evaluate(jobs, environment: environment, context: context.info)
        guard !evaluated.isEmpty else { return .failed }
        // Several info files (a directory of earlier jobs): the running one is meant.
        let running = evaluated.filter { $0.status.realState == .running }
        guard let job = running.last else {
            let j = evaluated[evaluated.count - 1]
            context.error("Job '\(j.record.jobID)' is \(j.status.realState.rawValue): qq-sync copies from the working directory of a running job. \(j.status.realState == .finished ? "Its results came back when it ended." : "Use qq-info to see where its results are.")")
            return .failed
        }
        let r = job.record
        guard r.usesScratch else {
            context.error("Job '\(r.jobID)' runs in its input directory '\(r.inputDir)': its results are there already.")
            return .failed
        }
        guard let workDir = r.workDir else {
            context.error("Job '\(r.jobID)' has no working directory yet (it is still being set up); try again in a moment.")
            return .failed
        }
        guard FileSystem.stat(workDir)?.isDirectory == true else {
            let why = FileSystem.stat(workDir) == nil ? String(cString: strerror(errno)) : "not a directory"
            let host = context.host ?? thisHostName()
            context.error("The working directory '\(workDir)' of job '\(r.jobID)' cannot be reached from '\(host)': \(why). qq-sync copies over a file system this machine shares with the job's node ('\(r.mainNode ?? "unknown")'); run it where that scratch is mounted.")
            return .failed
        }
        var manifest = Manifest.read(from: workDir)
        for (rel, entry) in Manifest.read(from: workDir, name: WorkDir.syncedName).entries { manifest.entries[rel] = entry }
        let settings = context.info.settings
        let engine = CopyEngine(streams: settings.copyStreams, verifyChecksum: settings.verifyChecksum, retry: RetryPolicy(attempts: 2, initialDelay: 0.1, maxDelay: 0.1, total: 1))
        let keep = StageOutKeep(jobID: r.jobID, replaceable: [PathBytes(r.stdoutFile.utf8), PathBytes(r.stderrFile.utf8)])
        let result: CopyEngine.StageOutResult
        var refusedPaths = false
        if files.isEmpty {
            result = engine.stageOut(from: workDir, to: r.inputDir, manifest: manifest, controlFiles: WorkDir.controlFileNames,
                                     includedNames: Set(r.includedFiles.map { PathBytes(FileSystem.baseName($0).utf8) }), keep: keep)
        } else {
            var named = CopyEngine.StageOutResult()
            for file in files {
                let rel = FileSystem.normalizeLexically(file, relativeTo: "/").dropFirst()
                guard !rel.isEmpty, !file.hasPrefix("/"), !file.split(separator: "/").contains("..") else {
                    context.error("'\(file)' is not a path inside the working directory; give it relative to '\(workDir)'.")
                    refusedPaths = true
                    continue
                }
                engine.syncNamedFile(String(rel), from: workDir, to: r.inputDir, manifest: manifest, keep: keep, into: &named)
            }
            result = named
        }
        var synced = Manifest.read(from: workDir, name: WorkDir.syncedName)
        for (rel, entry) in result.copied { synced.entries[rel] = entry }
        if !result.copied.isEmpty {
            do { try synced.write(to: workDir, name: WorkDir.syncedName) } catch {
                context.log(.warning, "Could not record the copied files in '\(workDir)/\(WorkDir.syncedName)' (\(error)); stage-out will copy them again.")
            }
        }
        for f in result.stats.failures { context.error("Could not copy '\(f.path.displayText)': \(f).") }
        let names = result.copied.keys.map(\.displayText).sorted()
        let list = names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", …" : "")
        context.info("Copied \(result.stats.files) file(s) (\(Size.format(bytes: result.stats.bytes))) of job '\(r.jobID)' from '\(workDir)' to '\(r.inputDir)' in \(formatSeconds(result.stats.seconds)) s\(names.isEmpty ? "." : ": " + list + ".")")
        return result.stats.failures.isEmpty && !refusedPaths ? .success : .failed
    }
}

extension CopyEngine {
    /// One named file (a path relative to the work dir), with stage-out's rules: only when it is
    /// new or changed since the manifest says, through a temporary name, verified, the input dir's
    /// version kept aside when it is not the staged one. Directories on the way are created.
    func syncNamedFile(_ rel: String, from workDir: String, to inputDir: String, manifest: Manifest,
                       keep: StageOutKeep, into result: inout StageOutResult) {
        let t0 = monotonicSeconds()
        defer { result.stats.seconds += monotonicSeconds() - t0 }
        let relBytes = PathBytes(rel.utf8)
        let parts = rel.split(separator: "/").map(String.init)
        guard let name = parts.last else { return }
        let parent = parts.dropLast().joined(separator: "/")
        let source = parent.isEmpty ? workDir : workDir + "/" + parent
        var destination = inputDir
        for part in parts.dropLast() {
            destination += "/" + part
            if mkdir(destination, 0o777) != 0 && errno != EEXIST {
                result.stats.failures.append(CopyFailure(path: relBytes, code: errno, operation: "create the directory of"))
                return
            }
        }
        guard let st = FileSystem.lstat(source + "/" + name) else {
            result.stats.failures.append(CopyFailure(path: relBytes, code: errno, operation: "find"))
            return
        }
        guard st.isRegular else {
            result.stats.failures.append(CopyFailure(path: relBytes, code: EINVAL, operation: "copy (not a regular file)"))
            return
        }
        if let e = manifest.entries[relBytes], Manifest.matches(e.work, st) { return }  // unchanged: nothing to do
        let roots: CopyRoots
        switch CopyRoots.open(source: source, followingSource: false, destination: destination, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): result.stats.failures.append(f); return
        }
        let src = roots.source.rawValue, dst = roots.destination.rawValue  // the closure below cannot capture `roots`
        let z = zName(PathBytes(name.utf8))
        let staged = manifest.entries[relBytes].map { ($0.sourceSize, $0.sourceMtimeNanos) }
        let rule = parent.isEmpty && keep.replaceable.contains(relBytes) ? nil : KeepRule(suffix: keep.suffix, staged: staged)
        let shared = CopyShared()
        let outcome = withRetries {
            copyRegularOnce(src, z, dst, z, rel: relBytes, direct: false, splitAt: nil,
                            shared: shared, scratch: CopyScratch(), keep: rule)
        }
        for kept in shared.kept.withLock({ $0 }) { Log.warning(kept.warning(inputDir: inputDir, copied: true)) }
        switch outcome {
        case .success(.copied(let copy, let after)):
            result.stats.files += 1
            result.stats.bytes += copy.size
            result.copied[relBytes] = ManifestEntry(work: after, sourceSize: copy.size, sourceMtimeNanos: copy.mtimeTotalNanos)
        case .success: result.stats.failures.append(CopyFailure(path: relBytes, code: ENOENT, operation: "copy (it vanished)"))
        case .failure(let f): result.stats.failures.append(f)
        }
    }
}

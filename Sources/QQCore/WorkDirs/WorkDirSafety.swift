import CQQSystem
import Glibc

/// Why a work dir must not be deleted (R134, R135). The descriptions are the spec's messages.
/// Every refusal holds even with `qq-wipe --force`, and qq-run uses the same checks before it
/// removes its own work dir.
package enum WorkDirRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// `work_dir` or `main_node` missing.
    case noWorkDir
    /// The work dir is the input dir, an ancestor of it, or inside it (lexically or by dev/ino).
    case inputDirectory
    /// R135: not `<root>/…/qq-jobs/job_<id>` under a known scratch root.
    case notInKnownLocation(String)
    case symlink(String)
    case notOwned(String)
    /// Exists but is not a directory.
    case notADirectory(String)
    /// `.qq-run-marker` names another job.
    case markerNamesOtherJob(workDir: String, other: String)
    /// `.qq-run-marker` exists but cannot be read (a symlink, unreadable, invalid).
    case markerUnreadable(workDir: String, reason: String)
    /// Node-local storage on another host.
    case otherNode(workDir: String, node: String)
    /// The work dir could not be examined (anything but ENOENT): it may still be there, so it is
    /// neither deleted nor taken as gone. `blocker` is the first directory on the way that this
    /// user cannot search, when that is the cause.
    case cannotExamine(workDir: String, error: SystemError, blocker: String?)

    package var description: String {
        switch self {
        case .noWorkDir: return "Job does not have a working directory."
        case .inputDirectory:
            return "Working directory of the job is the input directory of the job. Cannot delete the input directory."
        case .notInKnownLocation(let wd):
            return "Working directory '\(wd)' is not inside a known scratch location; refusing to delete it."
        case .symlink(let wd): return "Working directory '\(wd)' is a symbolic link; refusing to delete it."
        case .notOwned(let wd): return "Working directory '\(wd)' is not owned by you; refusing to delete it."
        case .notADirectory(let wd): return "Working directory '\(wd)' is not a directory; refusing to delete it."
        case .markerNamesOtherJob(let wd, let other):
            return "Working directory '\(wd)' belongs to job '\(other)' according to its marker; refusing to delete it."
        case .markerUnreadable(let wd, let reason):
            return "Working directory '\(wd)' has a marker that cannot be read (\(reason)); refusing to delete it."
        case .otherNode(let wd, let node): return "Working directory '\(wd)' is on node '\(node)'; run qq-wipe there."
        case .cannotExamine(let wd, let error, let blocker):
            let fix = blocker.map { "'\($0)' cannot be searched by you: restore its permissions (e.g. chmod u+rwx '\($0)') and try again." }
                ?? "Fix the cause and try again."
            return "Cannot examine the working directory '\(wd)': \(error.reason). It may still exist, so it is neither deleted nor taken as deleted. \(fix)"
        }
    }
}

/// A work dir that matched R135: the scratch root it lies under (what `SafeDelete` opens) and the
/// path itself.
package struct ScratchLocation: Sendable, Hashable {
    package var root: String
    package var path: String

    package init(root: String, path: String) { self.root = root; self.path = path }

    /// R135: PBS's fixed scratch roots.
    package static let pbsDefaultRoots = ["/scratch", "/scratch.ssd", "/scratch.shared", "/scratch.shm", "/dev/shm/scratch.shm"]

    /// The roots of R51 for `system` from the settings (`scratch_root`, `flash_root`, or the
    /// defaults), then `wipe_roots`. PBS: `wipe_roots`, then its
    /// fixed list.
    package static func knownRoots(system: BatchSystemName, environment: Environment, settings: Settings) -> [String] {
        var roots: [String] = []
        switch system {
        case .slurm: roots.append(settings.scratchRoot ?? "/scratch")
        case .slurmIT4I: roots.append(settings.scratchRoot ?? "/scratch/project")
        case .slurmLumi:
            roots.append(settings.scratchRoot ?? "/scratch")
            roots.append(settings.flashRoot ?? "/flash")
        case .local: roots.append(settings.scratchRoot ?? environment.nonEmpty("TMPDIR") ?? "/tmp")
        case .pbs: break
        }
        roots = roots.filter { $0.hasPrefix("/") }.map { FileSystem.normalizeLexically($0) }
        roots += settings.wipeRoots
        if system == .pbs { roots += pbsDefaultRoots }
        var seen = Set<String>()
        return roots.filter { seen.insert($0).inserted }
    }

    /// The user name (R11) and its fallback names (R52): `jdoe`, `jdoe2`, … up to `attempts`.
    package static func userNames(environment: Environment, attempts: Int) -> [String] {
        let user = userName(environment: environment)
        return (1...max(1, attempts)).map { $0 == 1 ? user : user + String($0) }
    }

    /// R135: `workDir` is strictly under a known scratch root in the layout of `system` for job
    /// `jobID`. Returns the matching location, or nil.
    package static func match(workDir: String, jobID: String, system: BatchSystemName,
                             environment: Environment, settings: Settings) -> ScratchLocation? {
        guard workDir.hasPrefix("/"), FileSystem.normalizeLexically(workDir) == workDir,
              !workDir.split(separator: "/", omittingEmptySubsequences: false).dropFirst().contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else { return nil }
        let roots = knownRoots(system: system, environment: environment, settings: settings)
        let users = Set(userNames(environment: environment, attempts: settings.scratchAttempts))
        for root in roots {
            let prefix = root == "/" ? "/" : root + "/"
            guard workDir.hasPrefix(prefix) else { continue }
            let rest = workDir.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            if layoutMatches(rest, jobID: jobID, system: system, users: users) {
                return ScratchLocation(root: root, path: workDir)
            }
        }
        return nil
    }

    /// The components below the root, against the system's layout.
    static func layoutMatches(_ c: [String], jobID: String, system: BatchSystemName, users: Set<String>) -> Bool {
        switch system {
        case .slurm, .local:
            return c.count == 3 && users.contains(c[0]) && c[1] == "qq-jobs" && isJobDirName(c[2], jobID: jobID)
        case .slurmIT4I, .slurmLumi:
            return c.count == 4 && !c[0].isEmpty && users.contains(c[1]) && c[2] == "qq-jobs"
                && isJobDirName(c[3], jobID: jobID)
        case .pbs:
            let names: Set<String> = ["job_" + jobID, "job_" + String(shortJobID(jobID))]
            if c.count == 2 { return names.contains(c[0]) && c[1] == "main" }
            if c.count == 3 { return users.contains(c[0]) && names.contains(c[1]) && c[2] == "main" }
            return false
        }
    }

    /// `job_<id>` or `job_<id>_<k>` (k ≥ 2), with the id sanitized as in R51.
    package static func isJobDirName(_ name: String, jobID: String) -> Bool {
        let base = WorkDirLayout.jobDirName(jobID)
        if name == base { return true }
        guard name.hasPrefix(base + "_") else { return false }
        let k = name.dropFirst(base.count + 1)
        return !k.isEmpty && k.allSatisfy { $0.isASCII && $0.isNumber } && (Int(k) ?? 0) >= 2
    }
}

/// The checks of R134 and R135 that apply before any work dir is deleted, whoever deletes it.
package enum WorkDirSafety {
    /// What the checks found: where the work dir is, and whether it still exists.
    package struct Verdict: Sendable, Hashable {
        package var location: ScratchLocation
        /// False when the work dir no longer exists (then nothing was checked beyond the layout).
        package var exists: Bool
    }

    /// R134's checks (work dir known, input dir, location, symlink, owner, marker, host) in that
    /// order, for the work dir `workDir` of the job in `record`. `host` is this host (R10).
    package static func check(workDir: String?, record: InfoRecord, environment: Environment,
                             settings: Settings, host: String? = nil) -> Result<Verdict, WorkDirRefusal> {
        guard let workDir, !workDir.isEmpty, let node = record.mainNode, !node.isEmpty else { return .failure(.noWorkDir) }
        if overlapsInputDir(workDir: workDir, inputDir: record.inputDir) { return .failure(.inputDirectory) }
        guard let location = ScratchLocation.match(workDir: workDir, jobID: record.jobID, system: record.batchSystem,
                                                   environment: environment, settings: settings) else {
            return .failure(.notInKnownLocation(workDir))
        }
        let st: FileStatus
        switch presence(of: workDir) {
        case .gone: return .success(Verdict(location: location, exists: false))
        case .unknown(let error):
            // EACCES: a directory on the way denies search; name it so the user knows what to fix.
            let blocker = error.code == EACCES ? firstUnsearchable(from: location.root, to: workDir) : nil
            return .failure(.cannotExamine(workDir: workDir, error: error, blocker: blocker))
        case .present(let s): st = s
        }
        if st.isSymlink { return .failure(.symlink(workDir)) }
        if !st.isDirectory { return .failure(.notADirectory(workDir)) }
        if st.uid != getuid() { return .failure(.notOwned(workDir)) }
        if let refusal = markerRefusal(workDir: workDir, jobID: record.jobID) { return .failure(refusal) }
        if isNodeLocal(record), !hostsEqual(node, host ?? thisHostName()) {
            return .failure(.otherNode(workDir: workDir, node: node))
        }
        return .success(Verdict(location: location, exists: true))
    }

    /// Whether a path is there, by `lstat`.
    package enum Presence: Sendable {
        case present(FileStatus)
        /// ENOENT: the only answer that proves it is gone.
        case gone
        /// Any other failure (EACCES on a parent, EIO, ELOOP, ENOTDIR…): it may still be there.
        case unknown(SystemError)

        package var isGone: Bool { if case .gone = self { return true }; return false }
    }

    /// The one rule every deleter and recorder shares: only ENOENT means gone.
    package static func presence(of path: String) -> Presence {
        if let st = FileSystem.lstat(path) { return .present(st) }
        let code = errno
        return code == ENOENT ? .gone : .unknown(SystemError(code: code, operation: "examine", path: path))
    }

    /// The first directory from `root` down to the parent of `path` that this user cannot search
    /// (`access(X_OK)`), to name in the message; nil when none is.
    static func firstUnsearchable(from root: String, to path: String) -> String? {
        let rootN = FileSystem.normalizeLexically(root)
        guard FileSystem.isSameOrInside(path, rootN), path != rootN else { return nil }
        var current = rootN
        if access(current, X_OK) != 0 { return current }
        let below = path.dropFirst(rootN == "/" ? 1 : rootN.count + 1).split(separator: "/").dropLast()
        for c in below {
            current = (current == "/" ? "" : current) + "/" + c
            if access(current, X_OK) != 0 { return current }
        }
        return nil
    }

    /// The marker, if present, must name `jobID` (R8). Read with `O_NOFOLLOW`.
    package static func markerRefusal(workDir: String, jobID: String) -> WorkDirRefusal? {
        let path = workDir + "/.qq-run-marker"
        switch presence(of: path) {
        case .gone: return nil
        case .unknown(let error): return .markerUnreadable(workDir: workDir, reason: error.reason)
        case .present: break
        }
        do {
            let marker = try InfoFile.loadMarker(path: path)
            return sameJob(marker.jobID, jobID) ? nil : .markerNamesOtherJob(workDir: workDir, other: marker.jobID)
        } catch {
            if case .unreadable(let e) = error, e.code == ELOOP {
                return .markerUnreadable(workDir: workDir, reason: "it is a symbolic link")
            }
            return .markerUnreadable(workDir: workDir, reason: error.description)
        }
    }

    /// Node-local storage: PBS scratch types other than `scratch_shared`, and Local (R134 Host).
    static func isNodeLocal(_ r: InfoRecord) -> Bool {
        switch r.batchSystem {
        case .local: return true
        case .pbs: return (r.resources.workDir ?? "scratch_local") != "scratch_shared"
        default: return false
        }
    }

    /// The work dir equals the input dir, is an ancestor of it, or lies inside it: lexically (R9),
    /// and by device and inode along the real parents of both.
    package static func overlapsInputDir(workDir: String, inputDir: String) -> Bool {
        let wd = FileSystem.normalizeLexically(workDir)
        let input = FileSystem.normalizeLexically(inputDir)
        if FileSystem.isSameOrInside(wd, input) || FileSystem.isSameOrInside(input, wd) { return true }
        guard let wdID = FileSystem.lstat(wd)?.identity else { return false }
        if let inputID = FileSystem.stat(input)?.identity {
            if FileSystem.identitiesOfSelfAndParents(input).contains(wdID) { return true }   // wd ⊇ input
            if FileSystem.identitiesOfSelfAndParents(wd).contains(inputID) { return true }   // wd ⊆ input
        }
        return false
    }
}

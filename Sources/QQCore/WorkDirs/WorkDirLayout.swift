import CQQSystem
import Glibc

/// Where a scratch work dir goes (R51) and how it is created (R52–R54).
package struct WorkDirLayout: Sendable, Equatable {
    package var system: BatchSystemName
    /// The scratch root (`/scratch`, `/flash`, `$TMPDIR`, or its override).
    package var root: String
    /// `<root>/<account lowercased>` for IT4I and LUMI; nil otherwise.
    package var accountDir: String?
    /// The storage word used in messages: `scratch` or `flash`.
    package var storage: String

    package enum LayoutError: Error, Sendable, Equatable, CustomStringConvertible {
        case unsupportedType(type: String, system: BatchSystemName)
        case noAccount(jobID: String)
        case missingRoot(String)
        case rootNotDirectory(String)
        case missingProjectDir(path: String, storage: String)
        /// Every fallback user dir was unusable; `transient` when at least one reason may pass with
        /// time (then the whole attempt is worth retrying), false when all of them were permanent.
        case exhausted(storage: String, jobID: String, attempts: Int, reasons: [String], transient: Bool)

        package var description: String {
            switch self {
            case .unsupportedType(let t, let s): return "Unsupported working directory type '\(t)' for batch system '\(s.rawValue)'."
            case .noAccount(let id): return "No account is defined for job '\(id)'."
            case .missingRoot(let r): return "Scratch root '\(r)' does not exist. Set QQ_SCRATCH_ROOT or use work-dir=input_dir."
            case .rootNotDirectory(let r): return "Scratch root '\(r)' is not a directory. Set QQ_SCRATCH_ROOT to a directory or use work-dir=input_dir."
            case .missingProjectDir(let p, let s): return "Project directory '\(p)' does not exist on \(s)."
            case .exhausted(let s, let id, let n, let reasons, _):
                return "Could not create a working directory on \(s) for job '\(id)' after \(n) attempts: "
                    + reasons.joined(separator: "; ")
                    + ". Ask your administrator for a usable directory, set QQ_SCRATCH_ROOT, or use work-dir=input_dir."
            }
        }
    }

    /// The work-dir types each system supports (§5.1).
    package static func supportedTypes(_ system: BatchSystemName) -> [String] {
        switch system {
        case .slurm, .slurmIT4I, .local: return ["scratch", "input_dir", "job_dir"]
        case .slurmLumi: return ["scratch", "flash", "input_dir", "job_dir"]
        case .pbs: return ["scratch_local", "scratch_ssd", "scratch_shared", "scratch_shm", "input_dir", "job_dir"]
        }
    }

    /// The layout for a scratch type of `system` (R51). `type` is `scratch` or, on LUMI, `flash`.
    package static func resolve(system: BatchSystemName, type: String, jobID: String, account: String?,
                               settings: Settings, environment env: Environment) throws(LayoutError) -> WorkDirLayout {
        guard supportedTypes(system).contains(type) else { throw .unsupportedType(type: type, system: system) }
        switch system {
        case .slurm:
            return WorkDirLayout(system: system, root: settings.scratchRoot ?? "/scratch", accountDir: nil, storage: "scratch")
        case .local:
            let tmp = env.nonEmpty("TMPDIR") ?? "/tmp"
            return WorkDirLayout(system: system, root: settings.scratchRoot ?? tmp, accountDir: nil, storage: "scratch")
        case .slurmIT4I, .slurmLumi:
            guard let account, !account.isEmpty else { throw .noAccount(jobID: jobID) }
            let root: String
            if system == .slurmLumi && type == "flash" {
                root = settings.flashRoot ?? "/flash"
            } else {
                root = settings.scratchRoot ?? (system == .slurmIT4I ? "/scratch/project" : "/scratch")
            }
            let storage = type == "flash" ? "flash" : "scratch"
            return WorkDirLayout(system: system, root: root, accountDir: root + "/" + account.lowercased(), storage: storage)
        case .pbs:
            throw .unsupportedType(type: type, system: system)
        }
    }

    /// `job_<id>` with every character outside `[A-Za-z0-9._-]` replaced by `_` (R51).
    package static func jobDirName(_ jobID: String) -> String {
        "job_" + String(jobID.map { c in
            (c.isASCII && (c.isLetter || c.isNumber)) || c == "." || c == "_" || c == "-" ? c : "_"
        })
    }

    /// Where the first attempt of `create` puts the work dir: `<base>/<user>/qq-jobs/job_<id>`.
    package func plannedPath(user: String, jobID: String) -> String {
        (accountDir ?? root) + "/" + user + "/qq-jobs/" + WorkDirLayout.jobDirName(jobID)
    }

    /// A created (or reused) work dir.
    package struct Created: Sendable, Equatable {
        package var path: String
        /// True when an existing directory was reused (R54): it is never removed on an early abort.
        package var reused: Bool
    }

    /// Creates `<base>/<u>/qq-jobs/job_<id>` trying the fallback user names (R52) and reusing or
    /// skipping an existing job dir (R54). `markerBelongsToThisJob` reads a marker and says whether
    /// it names this job and info file (for a requeued job, `restartCount` ≥ 1). A user dir that is
    /// unusable for good (EACCES, not owned, not a directory, …) moves on to the next fallback at
    /// once, with one WARNING line per attempt saying why.
    package func create(user: String, jobID: String, attempts: Int, restartCount: Int,
                       markerBelongsToThisJob: (String) -> Bool) throws(LayoutError) -> Created {
        guard let rootStatus = FileSystem.stat(root) else { throw .missingRoot(root) }
        guard rootStatus.isDirectory else { throw .rootNotDirectory(root) }
        let base: String
        if let accountDir {
            guard FileSystem.stat(accountDir)?.isDirectory == true else {
                throw .missingProjectDir(path: accountDir, storage: storage)
            }
            base = accountDir
        } else {
            base = root
        }
        let count = max(1, attempts)
        var reasons: [String] = []
        var transient = false
        for attempt in 1...count {
            let u = attempt == 1 ? user : user + String(attempt)
            let jobsDir = base + "/" + u + "/qq-jobs"
            let outcome = ensureUsableDirectory(base + "/" + u).flatMap { _ in ensureUsableDirectory(jobsDir) }
                .flatMap { _ in createJobDir(in: jobsDir, jobID: jobID, restartCount: restartCount,
                                             markerBelongsToThisJob: markerBelongsToThisJob) }
            switch outcome {
            case .success(let created):
                return created
            case .failure(let problem):
                reasons.append(problem.reason)
                transient = transient || !problem.permanent
                let next = attempt < count ? "; trying '\(base)/\(user)\(attempt + 1)'" : ""
                Log.warning("Working directory attempt \(attempt) of \(count): \(problem.reason)\(next).")
            }
        }
        throw .exhausted(storage: storage, jobID: jobID, attempts: count, reasons: reasons, transient: transient)
    }

    /// Why one fallback user dir could not hold the job's work dir.
    struct Unusable: Error {
        var reason: String
        /// True when waiting cannot help (R105): permissions, ownership, file types, read-only.
        var permanent: Bool
        init(_ reason: String, permanent: Bool = true) { self.reason = reason; self.permanent = permanent }
        init(_ error: SystemError) { self.init(error.description, permanent: error.isPermanent) }
    }

    /// `job_<id>`, or `job_<id>_<k>` past an older job's dir with the same id (R54).
    private func createJobDir(in jobsDir: String, jobID: String, restartCount: Int,
                              markerBelongsToThisJob: (String) -> Bool) -> Result<Created, Unusable> {
        let name = WorkDirLayout.jobDirName(jobID)
        for k in 1...1000 {
            let candidate = jobsDir + "/" + (k == 1 ? name : name + "_\(k)")
            if mkdir(candidate, 0o700) == 0 {
                chmod(candidate, 0o700)
                if k > 1 {
                    Log.warning("'\(jobsDir)/\(name)' belongs to an older job with the same id; using '\(candidate)'.")
                }
                return .success(Created(path: candidate, reused: false))
            }
            guard errno == EEXIST else { return .failure(Unusable(SystemError.fromErrno("create directory", candidate))) }
            if let st = FileSystem.lstat(candidate), st.isDirectory, st.uid == getuid() {
                if restartCount >= 1 && markerBelongsToThisJob(candidate) { return .success(Created(path: candidate, reused: true)) }
                if isEmptyDirectory(candidate) { return .success(Created(path: candidate, reused: true)) }
            }
        }
        return .failure(Unusable("'\(jobsDir)' holds 1000 directories named after job '\(jobID)'"))
    }

    /// A directory of the current user that it can write and search (created with mode 0700 if
    /// missing), or the reason it is unusable (R52).
    private func ensureUsableDirectory(_ path: String) -> Result<Void, Unusable> {
        if let st = FileSystem.lstat(path) {
            var target = st
            if st.isSymlink {
                guard st.uid == getuid() else { return .failure(Unusable("'\(path)' is a symbolic link not owned by you")) }
                guard let followed = FileSystem.stat(path) else { return .failure(Unusable("'\(path)' is a broken symbolic link")) }
                target = followed
            }
            guard target.isDirectory else { return .failure(Unusable("'\(path)' exists but is not a directory")) }
            guard target.uid == getuid() else { return .failure(Unusable("'\(path)' is not owned by you")) }
            guard access(path, W_OK | X_OK) == 0 else {
                return .failure(Unusable("'\(path)' is not writable and searchable by you"))
            }
            return .success(())
        }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            return .failure(Unusable(SystemError.fromErrno("create directory", path)))
        }
        chmod(path, 0o700)  // the umask may have changed the mode (R52)
        return .success(())
    }

    private func isEmptyDirectory(_ path: String) -> Bool {
        guard case .success(let fd) = FileDescriptor.openDirectory(path),
              case .success(let entries) = fd.entries() else { return false }
        return entries.isEmpty
    }
}

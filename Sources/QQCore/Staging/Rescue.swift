import CQQSystem
import Glibc
import Synchronization

extension CopyEngine {
    /// What a rescue did (R113).
    public struct RescueResult: Sendable {
        public var stats = CopyStatistics()
        /// Results not copied: the budget ran out, or the copy failed.
        public var notCopied: [PathBytes] = []
        /// Results written next to an existing input file as `<name>.rescued`.
        public var renamed: [PathBytes] = []
    }

    /// Copies the new and changed results of `workDir` (R99's rules) into `inputDir`, smallest first,
    /// starting no file after `deadline − 0.5 s` (monotonic seconds) and abandoning one still in
    /// flight then. A rescue never replaces an existing file of the input dir: such a result is
    /// written next to it as `<name>.rescued`.
    public func rescue(from workDir: String, to inputDir: String, manifest: Manifest, controlFiles: Set<PathBytes>,
                       includedNames: Set<PathBytes>, skipTopLevel: Set<PathBytes>, deadline: Double) -> RescueResult {
        var result = RescueResult()
        let t0 = monotonicSeconds()
        let src = cqq_openat(AT_FDCWD, workDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        let dst = cqq_openat(AT_FDCWD, inputDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        defer { if src >= 0 { close(src) }; if dst >= 0 { close(dst) } }
        guard src >= 0, dst >= 0 else {
            result.stats.failures.append(CopyFailure(path: PathBytes(workDir.utf8), code: errno, operation: "open directory"))
            return result
        }
        var candidates: [(components: [PathBytes], size: Int64)] = []
        collectResults(src, prefix: [], manifest: manifest, controlFiles: controlFiles.union(skipTopLevel),
                       includedNames: includedNames, into: &candidates)
        candidates.sort { $0.size < $1.size }
        // Up to `streams` at once, still smallest first: each worker takes the next smallest file.
        enum Outcome: Sendable { case copied(Int64, PathBytes?), failed(CopyFailure), notStarted }
        let fatal = Atomic<Bool>(false)
        let engine = self
        let list = candidates
        let outcomes = concurrentMap(count: list.count, limit: streams) { index -> Outcome in
            if fatal.load(ordering: .relaxed) || monotonicSeconds() >= deadline - 0.5 {  // the rescue runs after the signal: no shouldStop here
                return .notStarted
            }
            switch engine.rescueOne(list[index].components, src, dst, manifest: manifest, deadline: deadline - 0.5) {
            case .success(let (bytes, renamedTo)): return .copied(bytes, renamedTo)
            case .failure(let f):
                if f.endsTheCopy { fatal.store(true, ordering: .relaxed) }
                return .failed(f)
            }
        }
        for (candidate, outcome) in zip(list, outcomes) {
            let rel = joined(candidate.components)
            switch outcome {
            case .copied(let bytes, let renamedTo):
                if bytes < 0 { continue }  // already back (an interrupted stage-out copied it)
                result.stats.files += 1
                result.stats.bytes += bytes
                if let renamedTo {
                    result.renamed.append(rel)
                    Log.warning("Rescued '\(inputDir)/\(rel.displayText)' as '\(inputDir)/\(renamedTo.displayText)'; the input version was kept.")
                }
            case .failed(let f):
                Log.warning("Could not rescue '\(rel.displayText)': \(f).")
                result.stats.failures.append(f)
                result.notCopied.append(rel)
            case .notStarted:
                result.notCopied.append(rel)
            }
        }
        result.stats.seconds = monotonicSeconds() - t0
        return result
    }

    private func collectResults(_ dir: Int32, prefix: [PathBytes], manifest: Manifest, controlFiles: Set<PathBytes>,
                                includedNames: Set<PathBytes>, into out: inout [(components: [PathBytes], size: Int64)]) {
        guard case .success(let names) = listDirectory(dir) else { return }
        for name in names {
            if prefix.isEmpty && (controlFiles.contains(name) || includedNames.contains(name)) { continue }
            guard let st = withCName(name, { FileSystem.lstat(at: dir, $0) }) else { continue }
            let components = prefix + [name]
            if st.isDirectory {
                let sub = withCName(name) { cqq_openat(dir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
                guard sub >= 0 else { continue }
                collectResults(sub, prefix: components, manifest: manifest, controlFiles: controlFiles,
                               includedNames: includedNames, into: &out)
                close(sub)
            } else if st.isRegular || st.isSymlink, !manifest.isUnchanged(joined(components), st) {
                out.append((components, st.isRegular ? st.size : 0))
            }
        }
    }

    /// Copies one result; returns the bytes copied (−1: it was already back, nothing copied) and,
    /// when the input had a file of that name, the `.rescued` name used instead.
    fileprivate func rescueOne(_ components: [PathBytes], _ srcRoot: Int32, _ dstRoot: Int32, manifest: Manifest,
                           deadline: Double) -> Result<(Int64, PathBytes?), CopyFailure> {
        let rel = joined(components)
        guard let name = components.last else { return .failure(CopyFailure(path: rel, code: EINVAL, operation: "copy")) }
        var srcDir = dup(srcRoot)
        var dstDir = dup(dstRoot)
        defer { close(srcDir); close(dstDir) }
        for part in components.dropLast() {
            let s = withCName(part) { cqq_openat(srcDir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
            if s < 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "open directory of")) }
            close(srcDir); srcDir = s
            let created = withCName(part) { mkdirat(dstDir, $0, 0o700) } == 0
            let d = withCName(part) { cqq_openat(dstDir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) }
            if d < 0 { return .failure(CopyFailure(path: rel, code: errno, operation: "create the directory of")) }
            if created, let st = FileSystem.fstat(s) { fchmod(d, mode_t(st.permissionBits & 0o777) & ~umask | 0o700) }
            close(dstDir); dstDir = d
        }
        guard let st = withCName(name, { FileSystem.lstat(at: srcDir, $0) }) else {
            return .failure(CopyFailure(path: rel, code: errno, operation: "stat"))
        }
        var target = name
        var renamed: PathBytes?
        if let existing = withCName(name, { FileSystem.lstat(at: dstDir, $0) }) {
            // Already back (an interrupted stage-out copied it): nothing to rescue.
            if existing.isRegular, st.isRegular, existing.size == st.size, existing.mtimeTotalNanos == st.mtimeTotalNanos {
                return .success((-1, nil))
            }
            target = name + PathBytes(".rescued".utf8)
            renamed = joined(Array(components.dropLast()) + [target])
        }
        if st.isSymlink {
            return copySymlink(srcDir, name, dstDir, target, source: st).map { _ in (0, renamed) }
        }
        return copyFile(srcDir, name, dstDir, target, source: st, viaTemporaryName: true, deadline: deadline)
            .map { (copy, _) in (copy.size, renamed) }
    }
}

import CQQSystem
import Glibc
import Synchronization

extension CopyEngine {
    /// What a rescue did (R113).
    package struct RescueResult: Sendable {
        package var stats = CopyStatistics()
        /// Results not copied: the budget ran out, or the copy failed.
        package var notCopied: [PathBytes] = []
        /// Results written next to an existing input file as `<name>.rescued`.
        package var renamed: [PathBytes] = []
    }

    /// Copies the new and changed results of `workDir` (R99's rules) into `inputDir`, smallest first,
    /// starting no file after `deadline − 0.5 s` (monotonic seconds) and abandoning one still in
    /// flight then. A rescue never replaces an existing file of the input dir: such a result is
    /// written next to it as `<name>.rescued` — unless `keep` is given: then results take their real
    /// names and the input dir's version in the way is kept aside as stage-out does (a loop cycle
    /// continued after its time limit needs its checkpoint under its own name, issue 11 item 3).
    package func rescue(from workDir: String, to inputDir: String, manifest: Manifest, controlFiles: Set<PathBytes>,
                       includedNames: Set<PathBytes>, skipTopLevel: Set<PathBytes>, deadline: Double,
                       keep: StageOutKeep? = nil) -> RescueResult {
        var result = RescueResult()
        let t0 = monotonicSeconds()
        let roots: CopyRoots
        switch CopyRoots.open(source: workDir, followingSource: false, destination: inputDir, followingDestination: true) {
        case .success(let r): roots = r
        case .failure(let f): result.stats.failures.append(f); return result  // names the directory that did not open
        }
        let src = roots.source.rawValue, dst = roots.destination.rawValue
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
            switch engine.rescueOne(list[index].components, src, dst, manifest: manifest, deadline: deadline - 0.5,
                                    keep: keep, inputDir: inputDir) {
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
        result.stats.streams = min(streams, max(list.count, 1))
        result.stats.seconds = monotonicSeconds() - t0
        return result
    }

    private func collectResults(_ dir: Int32, prefix: [PathBytes], manifest: Manifest, controlFiles: Set<PathBytes>,
                                includedNames: Set<PathBytes>, into out: inout [(components: [PathBytes], size: Int64)]) {
        guard case .success(let entries) = DirectoryReader.entries(dir) else { return }
        for entry in entries {
            let name = entry.name
            if prefix.isEmpty && (controlFiles.contains(name) || includedNames.contains(name)) { continue }
            guard let st = lstatZ(dir, entry.z) else { continue }
            let components = prefix + [name]
            if st.isDirectory {
                guard case .success(let sub) = FileDescriptor.openDirectory(entry.z, relativeTo: dir) else { continue }
                collectResults(sub.rawValue, prefix: components, manifest: manifest, controlFiles: controlFiles,
                               includedNames: includedNames, into: &out)
            } else if st.isRegular || st.isSymlink, !manifest.isUnchanged(joined(components), st) {
                out.append((components, st.isRegular ? st.size : 0))
            }
        }
    }

    /// Copies one result; returns the bytes copied (−1: it was already back, nothing copied) and,
    /// when the input had a file of that name, the `.rescued` name used instead.
    fileprivate func rescueOne(_ components: [PathBytes], _ srcRoot: Int32, _ dstRoot: Int32, manifest: Manifest,
                           deadline: Double, keep: StageOutKeep?, inputDir: String) -> Result<(Int64, PathBytes?), CopyFailure> {
        let rel = joined(components)
        guard let name = components.last else { return .failure(CopyFailure(path: rel, code: EINVAL, operation: "copy")) }
        // The directories on the way, each opened relative to the one before (never through a symlink).
        var srcOwned: FileDescriptor? = nil, dstOwned: FileDescriptor? = nil
        var srcDir = srcRoot, dstDir = dstRoot
        for part in components.dropLast() {
            let z = zName(part)
            switch FileDescriptor.openDirectory(z, relativeTo: srcDir) {
            case .success(let s): srcDir = s.rawValue; srcOwned = consume s
            case .failure(let e): return .failure(CopyFailure(path: rel, code: e.code, operation: "open directory of"))
            }
            let created = withZ(z) { mkdirat(dstDir, $0, 0o700) } == 0
            switch FileDescriptor.openDirectory(z, relativeTo: dstDir) {
            case .success(let d):
                if created, let st = FileSystem.fstat(srcDir) { _ = d.setPermissions(mode_t(st.permissionBits & 0o777) & ~umask | 0o700) }
                dstDir = d.rawValue; dstOwned = consume d
            case .failure(let e): return .failure(CopyFailure(path: rel, code: e.code, operation: "create the directory of"))
            }
        }
        defer { _ = srcOwned.take(); _ = dstOwned.take() }
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
            if keep == nil {
                target = name + PathBytes(".rescued".utf8)
                renamed = joined(Array(components.dropLast()) + [target])
            }
        }
        // With `keep`, the result takes its real name and an input-dir version in the way is kept aside.
        let rule = keep.map { k in KeepRule(suffix: k.suffix, staged: manifest.entries[rel].map { ($0.sourceSize, $0.sourceMtimeNanos) }) }
        let shared = CopyShared()
        defer { for kept in shared.kept.withLock({ $0 }) { Log.warning(kept.warning(inputDir: inputDir, copied: true)) } }
        if st.isSymlink {
            return copySymlink(srcDir, name, dstDir, target, source: st).map { _ in (0, renamed) }
        }
        return copyFile(srcDir, name, dstDir, target, source: st, viaTemporaryName: true, deadline: deadline, keep: rule, shared: shared)
            .map { (copy, _) in (copy.size, renamed) }
    }
}

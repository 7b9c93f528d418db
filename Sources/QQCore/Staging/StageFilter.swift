import Glibc

/// What stage-in leaves out (R85, R86). Paths are relative to the input dir, as bytes.
package struct StageFilter: Sendable {
    /// Exact names skipped at the top level only (info file, logs, control files, batch output files).
    package var topLevelNames: Set<PathBytes> = []
    /// Name prefixes skipped at the top level (`.<info name>.tmp-`, `.<info name>.replaced-`).
    package var topLevelPrefixes: [PathBytes] = []
    /// Exclude entries (R86): one list of components per entry; a single component matches at any depth.
    package var excludes: [[PathBytes]] = []
    /// Exact relative paths skipped (the batch system's own output files of this job).
    package var exactPaths: Set<[PathBytes]> = []

    package init() {}

    /// Adds an exclude entry as the user wrote it, relative to the input dir (already made relative).
    /// `anchored` entries match only their own path, and literally (no globs).
    package mutating func addExclude(_ relative: String, anchored: Bool = false) {
        if anchored {
            exactPaths.insert(relative.split(separator: "/").map { PathBytes($0.utf8) })
            return
        }
        var entry = relative
        while entry.hasSuffix("/") { entry.removeLast() }
        while entry.hasPrefix("./") { entry.removeFirst(2) }
        let parts = entry.split(separator: "/").filter { $0 != "." }.map { PathBytes($0.utf8) }
        if !parts.isEmpty { excludes.append(parts) }
    }

    /// True when the entry `components` (relative path, split) is skipped.
    package func skips(_ components: [PathBytes]) -> Bool {
        guard let name = components.last else { return false }
        return skips(parents: components.dropLast(), name: name)
    }

    /// The same test for `name` inside the directory `parents` (no array of the full path is built).
    func skips<P: RandomAccessCollection>(parents: P, name: PathBytes) -> Bool where P.Element == PathBytes, P.Index == Int {
        let depth = parents.count + 1
        if !exactPaths.isEmpty {
            for p in exactPaths where p.count == depth && p.last == name && p.dropLast().elementsEqual(parents) { return true }
        }
        if depth == 1 {
            if topLevelNames.contains(name) { return true }
            for p in topLevelPrefixes where name.starts(with: p) { return true }
        }
        for pattern in excludes {
            if pattern.count == 1 {
                if globMatches(pattern[0], name) { return true }
            } else if pattern.count == depth {
                if globMatches(pattern[depth - 1], name)
                    && zip(pattern.dropLast(), parents).allSatisfy({ globMatches($0, $1) }) { return true }
            }
        }
        return false
    }
}

/// `*`, `?` and `[…]` within one path component (R86), by fnmatch(3).
func globMatches(_ pattern: PathBytes, _ name: PathBytes) -> Bool {
    if !pattern.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }) {
        return pattern == name
    }
    return (pattern + [0]).withUnsafeBufferPointer { p in
        (name + [0]).withUnsafeBufferPointer { n in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { pp in
                n.baseAddress!.withMemoryRebound(to: CChar.self, capacity: n.count) { nn in
                    fnmatch(pp, nn, FNM_PERIOD) == 0
                }
            }
        }
    }
}

/// The names of a loop job's cycles and of its archived files (SPEC §10 items 1, 2, 5 and 7), exactly
/// as the Python qq forms them, so that either qq reads what the other wrote. Matching is literal:
/// qq turns the names into unescaped regular expressions (§10 "Fixes required").
package enum LoopNames {
    /// qq's loop-name insert, `+%04d`.
    package static func cycleTag(_ cycle: Int) -> String { "+" + zeroPadded(cycle, width: 4) }

    /// §10 item 1: the script name split at its first `.`, the cycle tag inserted before the rest:
    /// `md.sh` cycle 3 → `md+0003.sh`, `my.job.sh` → `my+0003.job.sh`, `qq_loop_md` → `qq_loop_md+0003`.
    package static func jobName(scriptName: String, cycle: Int) -> String {
        if let dot = scriptName.firstIndex(of: ".") {
            return String(scriptName[..<dot]) + cycleTag(cycle) + String(scriptName[dot...])
        }
        return scriptName + cycleTag(cycle)
    }

    /// The script name a loop job name was made from, when it carries a cycle tag (`md+0004.sh` →
    /// `md.sh`); nil otherwise. Plain mode names a resubmitted cycle this way in `squeue`.
    package static func scriptName(fromJobName name: String) -> String? {
        let dot = name.firstIndex(of: ".") ?? name.endIndex
        let stem = name[..<dot]
        guard let plus = stem.lastIndex(of: "+") else { return nil }
        let digits = stem[stem.index(after: plus)...]
        guard digits.count >= 4, digits.allSatisfy({ $0.isASCII && $0.isNumber }), plus != stem.startIndex else { return nil }
        return String(stem[..<plus]) + String(name[dot...])
    }

    /// The first part of a loop job name, cut at its first `.`: the stem every runtime file of that
    /// cycle contains (`md+0002.qqinfo`, `md+0002.out`; §10 item 2).
    package static func stem(ofJobName name: String) -> String {
        name.firstIndex(of: ".").map { String(name[..<$0]) } ?? name
    }

    /// Python's `Path.suffix`: the last `.` and what follows, unless the name starts with it or ends with it.
    package static func suffix(ofFileName name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex, name.index(after: dot) != name.endIndex else { return "" }
        return String(name[dot...])
    }

    /// Python's `Path.stem`: the name without `suffix(ofFileName:)`.
    package static func fileStem(_ name: String) -> String {
        String(name.dropLast(suffix(ofFileName: name).count))
    }

    /// qq's runtime-file suffixes: files with these are the job's own records, never the
    /// simulation's data (`.qqinfo`, `.qqout`, `.out`, `.err`).
    package static let runtimeSuffixes: Set<String> = [".qqinfo", ".qqout", ".out", ".err"]

    package static func isRuntimeFile(_ name: String) -> Bool { runtimeSuffixes.contains(suffix(ofFileName: name)) }

    /// The value of the first run of ASCII digits in `text` (§10 item 7), nil when there is none.
    package static func firstNumber(in text: String) -> Int? {
        var value: Int?
        for c in text.utf8 {
            if c >= 0x30 && c <= 0x39 {
                let (m, o1) = (value ?? 0).multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(c - 0x30))
                if o1 || o2 { return nil }
                value = s
            } else if value != nil {
                break
            }
        }
        return value
    }

    static func zeroPadded(_ n: Int, width: Int) -> String {
        let digits = String(n.magnitude)
        let pad = String(repeating: "0", count: max(0, width - digits.count - (n < 0 ? 1 : 0)))
        return (n < 0 ? "-" : "") + pad + digits
    }
}

/// `loop_info.archive_format`: a printf-style pattern such as `md%04d` (default `job%04d`). It names a
/// cycle's files (`md0003`) and recognises archived files of any cycle, as qq does: `%0Nd` is exactly
/// N digits, `%d` one or more, `%%` a percent sign, everything else literal. A name matches when its
/// stem *contains* a match (qq's `re.search`).
package struct ArchiveFormat: Sendable, Hashable, CustomStringConvertible {
    package static let defaultText = "job%04d"

    private enum Piece: Sendable, Hashable {
        case literal(Character)
        /// Exactly `width` digits; 0 means one or more.
        case digits(width: Int)
    }

    package let text: String
    private let pieces: [Piece]

    package init(_ text: String) {
        self.text = text
        var pieces: [Piece] = []
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            if chars[i] == "%" {
                if i + 1 < chars.count, chars[i + 1] == "%" { pieces.append(.literal("%")); i += 2; continue }
                var j = i + 1
                var width = ""
                while j < chars.count, chars[j].isASCII, chars[j].isNumber { width.append(chars[j]); j += 1 }
                if j < chars.count, chars[j] == "d", width.isEmpty || width.hasPrefix("0") {
                    pieces.append(.digits(width: Int(width) ?? 0))
                    i = j + 1
                    continue
                }
            }
            pieces.append(.literal(chars[i]))
            i += 1
        }
        self.pieces = pieces
    }

    package var description: String { text }

    /// True when the format names cycles at all (`md%04d`); a format without a placeholder names
    /// the same files in every cycle.
    package var hasPlaceholder: Bool { pieces.contains { if case .digits = $0 { return true } else { return false } } }

    /// `archive_format % cycle`: `md%04d`, 3 → `md0003`.
    package func name(cycle: Int) -> String {
        var out = ""
        for p in pieces {
            switch p {
            case .literal(let c): out.append(c)
            case .digits(let width): out += LoopNames.zeroPadded(cycle, width: width)
            }
        }
        return out
    }

    /// Whether `stem` contains a match of the pattern (any cycle).
    package func matches(stem: String) -> Bool {
        let s = Array(stem)
        if pieces.isEmpty { return true }
        for start in 0..<max(s.count, 1) where match(s, start, 0) { return true }
        return false
    }

    private func match(_ s: [Character], _ at: Int, _ piece: Int) -> Bool {
        if piece == pieces.count { return true }
        switch pieces[piece] {
        case .literal(let c):
            return at < s.count && s[at] == c && match(s, at + 1, piece + 1)
        case .digits(let width):
            var n = 0
            while at + n < s.count, s[at + n].isASCII, s[at + n].isNumber { n += 1 }
            if width > 0 { return n >= width && match(s, at + width, piece + 1) }
            if n == 0 { return false }
            for k in stride(from: n, through: 1, by: -1) where match(s, at + k, piece + 1) { return true }
            return false
        }
    }

    /// §10 item 3: the archived files of `cycle` are those whose stem contains `name(cycle:)`.
    package func isFile(_ fileName: String, ofCycle cycle: Int) -> Bool {
        LoopNames.fileStem(fileName).contains(name(cycle: cycle))
    }

    /// §10 item 7: the cycle the archive says comes next: the largest first digit run among the stems
    /// of archived files that match the pattern, never below `start`.
    package func currentCycle(archiveFileNames names: [String], start: Int) -> Int {
        var cycle = start
        for name in names {
            let stem = LoopNames.fileStem(name)
            guard matches(stem: stem), let n = LoopNames.firstNumber(in: stem) else { continue }
            cycle = max(cycle, n)
        }
        return cycle
    }
}

extension ArchiveFormat {
    /// The cycle whose name (`name(cycle:)`) is all of `stem`: `md0002` → 2 for `md%04d`; nil for
    /// `md0002_old`, `xmd0002`, `md+0002` or a format without a placeholder. qq renames a cycle's
    /// runtime files in the archive so (§10 item 2: `md+0002.qqinfo` → `md0002.qqinfo`), which tells
    /// an archived cycle's record from the data files next to it and from a current cycle's file.
    package func cycle(named stem: String) -> Int? {
        guard hasPlaceholder else { return nil }
        let chars = Array(stem)
        // Every digit run that could be the placeholder's, checked by naming that cycle back.
        for start in chars.indices where chars[start].isASCII && chars[start].isNumber {
            var value = 0
            for c in chars[start...] {
                guard c.isASCII, let d = c.wholeNumberValue else { break }
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(d)
                if o1 || o2 { break }
                value = s
                if name(cycle: value) == stem { return value }
            }
        }
        return nil
    }
}

/// `# qq key=value` directives in a plain-mode script (R78), in qq submit's syntax.
package struct Directives: Sendable, Equatable {
    /// Normalised key → value; a later directive overrides an earlier one.
    package var values: [String: String] = [:]
    /// Every value of each key, in script order, for the keys that may repeat (`env`).
    package var all: [String: [String]] = [:]
    /// Lines that looked like directives but had no value.
    package var malformed: [String] = []

    package init() {}

    package subscript(key: String) -> String? { values[key] }

    package static func parse(scriptText: String) -> Directives {
        var d = Directives()
        var first = true
        for rawLine in scriptText.split(separator: "\n", omittingEmptySubsequences: false) {
            // Only a `#!` line is a shebang; a script run as `bash job.sh` may start with a directive.
            if first, rawLine.hasPrefix("#!") { first = false; continue }
            first = false
            let line = rawLine.trimmingBlanks
            if line.isEmpty { continue }
            guard line.hasPrefix("#") else { break }
            var rest = line.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
            guard rest.count >= 2, rest.prefix(2).lowercased() == "qq" else { continue }
            rest = rest.dropFirst(2)
            // `#qqfoo` is not a directive: `qq` must be followed by a blank (or end the line).
            if let c = rest.first, c != " " && c != "\t" { continue }
            var content = rest
            if let hash = content.firstIndex(of: "#") { content = content[..<hash] }
            let text = content.trimmingBlanks
            guard let split = text.firstIndex(where: { $0 == " " || $0 == "\t" || $0 == "=" }) else {
                if !text.isEmpty { d.malformed.append(line) }
                continue
            }
            let key = String(text[..<split])
            let value = text[split...].drop(while: { $0 == " " || $0 == "\t" || $0 == "=" }).trimmingBlanks
            if value.isEmpty { d.malformed.append(line); continue }
            d.values[normalizeKey(key)] = value
            d.all[normalizeKey(key), default: []].append(value)
        }
        return d
    }

    /// R78 step 7: `-` → `_`, `_` before inner uppercase letters, lowercase, `workdir`/`worksize` fixed.
    package static func normalizeKey(_ key: String) -> String {
        var out = ""
        for (i, c) in key.replacingDash.enumerated() {
            if i > 0, c.isUppercase { out.append("_") }
            out.append(contentsOf: c.lowercased())
        }
        return out.replacingAll("workdir", with: "work_dir").replacingAll("worksize", with: "work_size")
    }
}

extension String {
    fileprivate var replacingDash: String { String(map { $0 == "-" ? "_" : $0 }) }

    /// Replaces every occurrence of `target` (no Foundation).
    package func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

/// Splits a list option: entries separated by `:`, `,` or whitespace (R79, §4.6).
package func splitListOption(_ text: String) -> [String] {
    text.split(whereSeparator: { $0 == ":" || $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
}

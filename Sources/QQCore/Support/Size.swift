/// A size in kilobytes (1 kB = 1024 bytes), the unit of qq's `resources` Sizes (R24).
package struct Size: Sendable, Hashable {
    package var kilobytes: Int64
    package init(kilobytes: Int64) { self.kilobytes = kilobytes }

    /// Parses a plain string such as `16gb`, `500mb`, `10 m` or `2G` (R24): digits, optional blanks,
    /// a case-insensitive unit; a one-letter unit other than `b` gets a `b` appended.
    package init?(parsing text: String) {
        let trimmed = text.trimmingBlanks
        var digits = ""
        var rest = Substring(trimmed)
        while let c = rest.first, c.isASCII, c.isNumber { digits.append(c); rest = rest.dropFirst() }
        guard !digits.isEmpty, let value = Int64(digits) else { return nil }
        var unit = rest.trimmingBlanks.lowercased()
        if unit.isEmpty { unit = "kb" }
        if unit.count == 1 && unit != "b" { unit += "b" }
        guard let kb = Size.kilobytes(value: value, unit: unit) else { return nil }
        self.kilobytes = kb
    }

    /// `value` in `unit` (kb, mb, gb, tb, pb, or b) as kilobytes; nil for an unknown unit.
    package static func kilobytes(value: Int64, unit: String) -> Int64? {
        switch unit.lowercased() {
        case "b": return value == 0 ? 0 : 1
        case "kb": return value
        case "mb": return value.multipliedReportingOverflow(by: 1024).partialValue
        case "gb": return value.multipliedReportingOverflow(by: 1024 * 1024).partialValue
        case "tb": return value.multipliedReportingOverflow(by: 1024 * 1024 * 1024).partialValue
        case "pb": return value.multipliedReportingOverflow(by: 1024 * 1024 * 1024 * 1024).partialValue
        default: return nil
        }
    }

    /// The human form of R104: the largest of pb…kb whose rounded value is within 10 %.
    package var humanReadable: String { Size.format(kilobytes: kilobytes) }

    package static func format(kilobytes kb: Int64) -> String {
        if kb <= 0 { return "0kb" }
        let units: [(String, Double)] = [("pb", 1024.0 * 1024 * 1024 * 1024), ("tb", 1024.0 * 1024 * 1024),
                                         ("gb", 1024.0 * 1024), ("mb", 1024.0)]
        let v = Double(kb)
        for (name, factor) in units where v / factor >= 1 {
            let exact = v / factor
            let rounded = exact.rounded(.toNearestOrEven)
            if abs(rounded - exact) / exact <= 0.10 { return "\(Int64(rounded))\(name)" }
        }
        return "\(kb)kb"
    }

    /// Bytes shown as R104 (bytes are rounded up to whole kilobytes).
    package static func format(bytes: Int64) -> String {
        format(kilobytes: bytes <= 0 ? 0 : (bytes + 1023) / 1024)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    package var trimmingBlanks: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isBlank($0) }) else { return "" }
        let end = lastIndex(where: { !isBlank($0) }) ?? start
        return String(self[start...end])
    }
}

/// Slurm hostlist expansion (R56): `nid[001-003,007]`, `cn[08-10],gpu1`, `rack[1-2]-n[01-02]`.

package struct HostlistError: Error, Sendable, Hashable, CustomStringConvertible {
    package var list: String
    package var problem: String
    package init(list: String, problem: String) { self.list = list; self.problem = problem }
    package var description: String { "Cannot expand the node list '\(list)': \(problem)." }
}

package enum Hostlist {
    /// The most names an expansion may produce (R56 rule 5).
    package static let maximumNames = 100_000

    /// Expands `list`. An empty list expands to no names. Malformed input, or more than `limit`
    /// names, is an error; callers then fall back to this host with a warning (R55).
    package static func expand(_ list: String, limit: Int = maximumNames) throws(HostlistError) -> [String] {
        if list.isEmpty { return [] }
        let items = try splitItems(list)
        var names: [String] = []
        for item in items {
            let parts = try parseItem(item, list: list)
            // Count first, so a huge range fails before anything is allocated.
            var count = 1
            for case .group(let numbers) in parts {
                let (product, overflow) = count.multipliedReportingOverflow(by: numbers.count)
                if overflow || product > limit { throw tooMany(list, limit) }
                count = product
            }
            if names.count + count > limit { throw tooMany(list, limit) }
            appendProduct(parts, into: &names)
        }
        return names
    }

    private static func tooMany(_ list: String, _ limit: Int) -> HostlistError {
        HostlistError(list: list, problem: "it names more than \(limit) hosts")
    }

    /// Rule 1: split at commas outside brackets.
    private static func splitItems(_ list: String) throws(HostlistError) -> [Substring] {
        var items: [Substring] = []
        var depth = 0
        var start = list.startIndex
        var i = list.startIndex
        while i < list.endIndex {
            switch list[i] {
            case "[":
                depth += 1
                if depth > 1 { throw HostlistError(list: list, problem: "nested '['") }
            case "]":
                depth -= 1
                if depth < 0 { throw HostlistError(list: list, problem: "']' without '['") }
            case "," where depth == 0:
                items.append(list[start..<i])
                start = list.index(after: i)
            default: break
            }
            i = list.index(after: i)
        }
        if depth != 0 { throw HostlistError(list: list, problem: "'[' without ']'") }
        items.append(list[start...])
        for item in items where item.isEmpty { throw HostlistError(list: list, problem: "empty host name") }
        return items
    }

    private enum Part {
        case literal(Substring)
        case group([String])
    }

    /// Rules 2 and 3: literal text and bracket groups of numbers and ranges.
    private static func parseItem(_ item: Substring, list: String) throws(HostlistError) -> [Part] {
        var parts: [Part] = []
        var rest = item
        while !rest.isEmpty {
            guard let open = rest.firstIndex(of: "[") else { parts.append(.literal(rest)); break }
            if open > rest.startIndex { parts.append(.literal(rest[rest.startIndex..<open])) }
            guard let close = rest[open...].firstIndex(of: "]") else {
                throw HostlistError(list: list, problem: "'[' without ']'")
            }
            let body = rest[rest.index(after: open)..<close]
            parts.append(.group(try expandGroup(body, list: list)))
            rest = rest[rest.index(after: close)...]
        }
        return parts
    }

    private static func expandGroup(_ body: Substring, list: String) throws(HostlistError) -> [String] {
        if body.isEmpty { throw HostlistError(list: list, problem: "empty brackets") }
        var out: [String] = []
        for element in body.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = element.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2, bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isDigit) })
            else { throw HostlistError(list: list, problem: "'\(element)' is not a number or a range") }
            if bounds.count == 1 {
                out.append(String(bounds[0]))
                continue
            }
            guard let low = Int(bounds[0]), let high = Int(bounds[1]) else {
                throw HostlistError(list: list, problem: "'\(element)' is out of range")
            }
            guard low <= high else {
                throw HostlistError(list: list, problem: "range '\(element)' runs backwards")
            }
            if high - low >= maximumNames || out.count + (high - low + 1) > maximumNames {
                throw tooMany(list, maximumNames)
            }
            // The width of the lower bound, leading zeros included, is kept (rule 3).
            let width = bounds[0].count
            for n in low...high { out.append(zeroPadded(n, width: width)) }
        }
        return out
    }

    /// Rule 4: cartesian product, leftmost group varying slowest.
    private static func appendProduct(_ parts: [Part], into names: inout [String]) {
        var partial = [""]
        for part in parts {
            switch part {
            case .literal(let text):
                partial = partial.map { $0 + text }
            case .group(let numbers):
                var next: [String] = []
                next.reserveCapacity(partial.count * numbers.count)
                for prefix in partial { for n in numbers { next.append(prefix + n) } }
                partial = next
            }
        }
        names.append(contentsOf: partial)
    }
}

private func isDigit(_ c: Character) -> Bool { c >= "0" && c <= "9" }

func zeroPadded(_ n: Int, width: Int) -> String {
    var s = String(n)
    if s.count < width { s = String(repeating: "0", count: width - s.count) + s }
    return s
}

import Glibc

/// A snapshot of environment variables. Passed explicitly so tests can run the logic with a
/// made-up environment and so the script's environment (R91) is built from a value, not from globals.
package struct Environment: Sendable, Hashable {
    package var values: [String: String]
    /// Names in their original order, so the script sees the environment in a stable order.
    package private(set) var order: [String]

    package init(_ values: [String: String] = [:]) {
        self.values = values
        self.order = values.keys.sorted()
    }

    /// The environment of this process.
    package static func current() -> Environment {
        var env = Environment()
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                let key = String(s[..<eq])
                if env.values[key] == nil { env.order.append(key) }
                env.values[key] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return env
    }

    package subscript(name: String) -> String? {
        get { values[name] }
        set {
            if newValue != nil, values[name] == nil { order.append(name) }
            if newValue == nil { order.removeAll { $0 == name } }
            values[name] = newValue
        }
    }

    /// The value when it is set and non-empty.
    package func nonEmpty(_ name: String) -> String? {
        guard let v = values[name], !v.isEmpty else { return nil }
        return v
    }

    /// `NAME=value` strings in order, for `posix_spawn`.
    package var entries: [String] { order.compactMap { k in values[k].map { "\(k)=\($0)" } } }
}

import Glibc

/// R10: this host's name, determined once per process.
package func thisHostName() -> String { HostName.cached }

private enum HostName {
    // Swift initialises globals and static lets exactly once, thread-safely.
    static let cached: String = determine()

    /// qq's `socket.getfqdn()` answered from /etc/hosts only: no resolver, no NSS (a static binary
    /// cannot load the node's NSS modules), no helper thread. A name known only to DNS stays short,
    /// which R12 treats as equal to its full form. See share/doc/decisions.md.
    static func determine() -> String {
        let plain = gethostnameString()
        if plain.contains(".") || plain.isEmpty { return plain }
        let hosts: String
        do { hosts = try FileSystem.readSmallFile("/etc/hosts") } catch {
            Log.debug("Cannot read /etc/hosts (\(error.description)); using the host name '\(plain)'.")
            return plain
        }
        if let full = fullyQualifiedName(of: plain, hostsFile: hosts) { return full }
        Log.debug("/etc/hosts gives no name with a domain for '\(plain)'; using '\(plain)' (DNS is not asked).")
        return plain
    }
}

/// The kernel's node name (what `uname -n` and `gethostname()` return; no NSS involved).
func gethostnameString() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// What `socket.getfqdn(host)` finds through the `files` source: the address of the first
/// /etc/hosts line naming `host`, then the first name with a `.` among all lines for that address
/// (glibc's `multi on`), in file order. A `localhost…` name is never the answer unless `host` is
/// `localhost` itself (R10).
func fullyQualifiedName(of host: String, hostsFile text: String) -> String? {
    let wanted = host.lowercased()
    var entries: [(address: [UInt8], names: [Substring])] = []
    for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
        let line = rawLine.prefix { $0 != "#" }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, let address = addressBytes(fields[0]) else { continue }
        entries.append((address, Array(fields.dropFirst())))
    }
    guard let address = entries.first(where: { $0.names.contains { $0.lowercased() == wanted } })?.address
    else { return nil }
    for entry in entries where entry.address == address {
        for name in entry.names where name.contains(".") {
            if name.lowercased().hasPrefix("localhost") && wanted != "localhost" { continue }
            return String(name)
        }
    }
    return nil
}

/// The binary form of an IPv4 or IPv6 address, so `::1` and `0:0::1` are the same address.
private func addressBytes(_ text: Substring) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 16)
    let s = String(text)
    if s.contains(":") {
        guard inet_pton(AF_INET6, s, &buffer) == 1 else { return nil }
        return [6] + buffer
    }
    guard inet_pton(AF_INET, s, &buffer) == 1 else { return nil }
    return [4] + buffer.prefix(4)
}

/// R12: equal ignoring case, or one has no domain part and the parts before the first `.` agree.
package func hostsEqual(_ a: String, _ b: String) -> Bool {
    let la = a.lowercased(), lb = b.lowercased()
    if la == lb { return true }
    guard !la.contains(".") || !lb.contains(".") else { return false }
    let sa = la.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    let sb = lb.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return !sa.isEmpty && sa == sb
}

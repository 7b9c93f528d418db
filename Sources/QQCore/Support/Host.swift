import Glibc
import Synchronization

/// R10: this host's name, determined once per process.
public func thisHostName() -> String { HostName.cached }

private enum HostName {
    // Swift initialises globals and static lets exactly once, thread-safely.
    static let cached: String = determine()

    static func determine() -> String {
        let plain = gethostnameString()
        if plain.contains(".") || plain.isEmpty { return plain }
        if let canonical = canonicalName(of: plain, budget: 1.0), canonical.contains("."),
           !canonical.lowercased().hasPrefix("localhost") || plain.lowercased() == "localhost" {
            return canonical
        }
        return plain
    }
}

func gethostnameString() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// getaddrinfo(AI_CANONNAME) on a helper thread: a slow resolver must not hold qq-run up for
/// more than `budget` seconds. On timeout nil is returned and the thread is left to finish.
nonisolated func canonicalName(of host: String, budget: Double) -> String? {
    let shared = SharedAnswer()
    let thread = startThread {
        let name = resolveCanonical(host)
        shared.mutex.withLock { $0 = (true, name) }
    }
    guard let thread else { return nil }
    pthread_detach(thread)
    let deadline = monotonicSeconds() + budget
    while true {
        let state = shared.mutex.withLock { $0 }
        if state.done { return state.name }
        if monotonicSeconds() >= deadline {
            Log.debug("Resolving the canonical name of '\(host)' took longer than \(formatSeconds(budget)) s; using '\(host)'.")
            return nil
        }
        usleep(1000)
    }
}

/// Keeps the mutex alive for a detached thread that may outlive the caller.
private final class SharedAnswer: Sendable {
    let mutex = Mutex<(done: Bool, name: String?)>((false, nil))
}

private func resolveCanonical(_ host: String) -> String? {
    var hints = addrinfo()
    hints.ai_flags = AI_CANONNAME
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
    defer { freeaddrinfo(list) }
    guard let name = first.pointee.ai_canonname else { return nil }
    return String(cString: name)
}

/// R12: equal ignoring case, or one has no domain part and the parts before the first `.` agree.
public func hostsEqual(_ a: String, _ b: String) -> Bool {
    let la = a.lowercased(), lb = b.lowercased()
    if la == lb { return true }
    guard !la.contains(".") || !lb.contains(".") else { return false }
    let sa = la.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    let sb = lb.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return !sa.isEmpty && sa == sb
}

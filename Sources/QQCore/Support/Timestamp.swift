import Glibc

/// A wall-clock time as qq writes it: `YYYY-MM-DD HH:MM:SS`, local time of the writing host,
/// no time zone (SPEC §0, §4.6). Kept as its fields so that what was read is written back as it was.
package struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var year: Int
    package var month: Int
    package var day: Int
    package var hour: Int
    package var minute: Int
    package var second: Int

    package init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second
    }

    /// The local time of an epoch second.
    package init(epochSeconds: Int) {
        var t = time_t(epochSeconds)
        var parts = tm()
        localtime_r(&t, &parts)
        self.init(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                  hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }

    package static func now() -> Timestamp { Timestamp(epochSeconds: Int(time(nil))) }

    /// Parses `YYYY-MM-DD HH:MM:SS`, also with a `T` separator (Slurm's form). Nothing else.
    package init?(parsing text: Substring) {
        let b = Array(text.utf8)
        guard b.count == 19, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
        func num(_ from: Int, _ to: Int) -> Int? {
            var v = 0
            for i in from..<to {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13),
              let mi = num(14, 16), let s = num(17, 19),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61 else { return nil }
        self.init(year: y, month: mo, day: d, hour: h, minute: mi, second: s)
    }

    package init?(parsing text: String) { self.init(parsing: Substring(text)) }

    /// Epoch seconds, reading the fields as local time of this host.
    package var epochSeconds: Int {
        var parts = tm()
        parts.tm_year = Int32(year - 1900); parts.tm_mon = Int32(month - 1); parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour); parts.tm_min = Int32(minute); parts.tm_sec = Int32(second)
        parts.tm_isdst = -1
        return Int(mktime(&parts))
    }

    package var description: String {
        func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var y = String(year)
        while y.count < 4 { y = "0" + y }
        return "\(y)-\(p2(month))-\(p2(day)) \(p2(hour)):\(p2(minute)):\(p2(second))"
    }

    package static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.year, a.month, a.day, a.hour, a.minute, a.second) < (b.year, b.month, b.day, b.hour, b.minute, b.second)
    }
}

/// Durations as qq shows them: `[<w>w ][<d>d ]HH:MM:SS`, negative counted as 0 (R127).
package func formatDuration(seconds: Int) -> String {
    var s = max(0, seconds)
    let w = s / 604_800; s %= 604_800
    let d = s / 86_400; s %= 86_400
    let h = s / 3600; s %= 3600
    let m = s / 60; s %= 60
    func p2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    var out = ""
    if w > 0 { out += "\(w)w " }
    if d > 0 { out += "\(d)d " }
    return out + "\(p2(h)):\(p2(m)):\(p2(s))"
}

/// Monotonic seconds, for measuring how long something took.
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

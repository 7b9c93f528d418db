import Glibc
// TEMPORARY: replaced by the batch-query engineer's Command.swift at merge.
public func findExecutable(_ name: String, path: String?) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for dir in (path ?? "/usr/bin:/bin").split(separator: ":") {
        let candidate = String(dir) + "/" + name
        if let st = FileSystem.stat(candidate), st.isRegular, access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
// TEMPORARY (replaced at merge): R10 and R11.
public func thisHostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    gethostname(&buf, 255)
    return String(cString: buf)
}
public func userName(environment: Environment) -> String {
    for k in ["LOGNAME", "USER", "LNAME", "USERNAME"] { if let v = environment.nonEmpty(k) { return v } }
    if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { return String(cString: n) }
    return "\(getuid())"
}
// TEMPORARY (replaced at merge): R56.
public func expandHostlist(_ list: String) throws -> [String] { [list] }

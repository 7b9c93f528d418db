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
